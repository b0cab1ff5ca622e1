//! Account emails anyone can trigger (activation links, reset links, "you already have an account"), decided
//! and issued by the worker when the email is sent.
//!
//! The job carries only what the request knew: a registration (its user and reserved token) or an address and
//! what was asked for it. The worker looks the account up, decides whether it gets an email at all, spends
//! one unit of the account's email budget, and issues the link in the moment it sends — so the request path
//! does the same work whether or not the address has an account (H8), no inbox can be flooded through the
//! API (H8), and the link rests nowhere but in the email itself (H7). A retry issues a fresh token.

use serde::{Deserialize, Serialize};

use crate::accounts::models::{TokenPurpose, UserRow};
use crate::accounts::{repo, tokens};
use crate::db::{Db, DbConn, now};
use crate::error::AppResult;
use crate::jobs::{JobHandler, JobKind};
use crate::notify::{Email, Mailer, templates};

/// Activation links live 24 hours (A1).
pub const ACTIVATION_TTL: chrono::Duration = chrono::Duration::hours(24);
/// Reset links live one hour (A8).
pub const RESET_TTL: chrono::Duration = chrono::Duration::hours(1);

/// An account email to decide and send.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "mail", rename_all = "snake_case")]
pub enum LinkMail {
    /// The activation link of one registration: `reservation` is the token row that holds the password it
    /// chose (see `tokens::reserve_for_registration`).
    Registration { user_id: i64, reservation: i64 },
    /// Someone asked for a new activation link or a reset link for an address, which may have no account.
    Requested { email: String, purpose: TokenPurpose },
    /// Someone tried to register an address that already has a verified account.
    AccountExists { user_id: i64 },
}

impl JobKind for LinkMail {
    const KIND: &'static str = "email.link";
}

/// How many account emails one address may receive, per window (ACCOUNT_EMAILS_PER_HOUR).
#[derive(Debug, Clone, Copy)]
pub struct MailBudget {
    pub per_window: i32,
    pub window: chrono::Duration,
}

impl MailBudget {
    pub fn per_hour(emails: u32) -> MailBudget {
        MailBudget {
            per_window: i32::try_from(emails).unwrap_or(i32::MAX),
            window: chrono::Duration::hours(1),
        }
    }
}

/// Whether the account may get the email at all. Never a disabled account (H4); activation only while the
/// address is unverified; a reset for any account that is not disabled (an unverified one is verified by
/// completing it, H4); the "already registered" notice only for verified accounts.
fn wanted(user: &UserRow, mail: &LinkMail) -> bool {
    if user.disabled_at.is_some() {
        return false;
    }
    match mail {
        LinkMail::Registration { .. }
        | LinkMail::Requested {
            purpose: TokenPurpose::Activation,
            ..
        } => !user.email_verified,
        LinkMail::Requested {
            purpose: TokenPurpose::PasswordReset,
            ..
        } => true,
        LinkMail::AccountExists { .. } => user.email_verified,
    }
}

/// Decides, issues the link, and sends.
pub struct LinkMailer {
    db: Db,
    mailer: Mailer,
    frontend_url: String,
    budget: MailBudget,
}

impl LinkMailer {
    pub fn new(db: Db, mailer: Mailer, frontend_url: String, budget: MailBudget) -> LinkMailer {
        LinkMailer {
            db,
            mailer,
            frontend_url,
            budget,
        }
    }

    /// The email to send for `mail`, with its link issued, or None.
    async fn compose(&self, conn: &mut DbConn, mail: &LinkMail) -> AppResult<Option<Email>> {
        // The account may have changed since the email was asked for (verified, disabled, deleted).
        let user = match mail {
            LinkMail::Registration { user_id, .. } | LinkMail::AccountExists { user_id } => {
                repo::user_by_id(conn, *user_id).await?
            }
            LinkMail::Requested { email, .. } => repo::user_by_email(conn, email).await?,
        };
        let Some(user) = user.filter(|user| wanted(user, mail)) else {
            return Ok(None);
        };
        let at = now();
        if !repo::spend_mail_budget(conn, user.id, at, self.budget.window, self.budget.per_window).await? {
            tracing::info!(user_id = user.id, "account email budget spent; email not sent");
            return Ok(None);
        }
        let frontend = self.frontend_url.as_str();
        let to = user.email.as_str();
        Ok(match mail {
            LinkMail::Registration { reservation, .. } => tokens::arm(conn, *reservation, user.id)
                .await?
                .map(|token| templates::activation(to, frontend, &token)),
            LinkMail::Requested {
                purpose: TokenPurpose::Activation,
                ..
            } => {
                let token = tokens::issue(conn, user.id, TokenPurpose::Activation, ACTIVATION_TTL).await?;
                Some(templates::activation_choose_password(to, frontend, &token))
            }
            LinkMail::Requested {
                purpose: TokenPurpose::PasswordReset,
                ..
            } => {
                let token = tokens::issue(conn, user.id, TokenPurpose::PasswordReset, RESET_TTL).await?;
                Some(templates::password_reset(to, frontend, &token))
            }
            LinkMail::AccountExists { .. } => Some(templates::account_exists(to, frontend)),
        })
    }
}

impl JobHandler<LinkMail> for LinkMailer {
    async fn run(&self, job: LinkMail) -> anyhow::Result<()> {
        let email = self
            .db
            .transaction(async |conn| self.compose(conn, &job).await)
            .await
            .map_err(|error| anyhow::anyhow!("{error:?}"))?;
        match email {
            Some(email) => self.mailer.send(&email).await,
            None => Ok(()),
        }
    }
}
