//! Emailed single-use links (activation, password reset), issued when the email is sent.
//!
//! The job that sends such an email carries only the user and the purpose; the worker issues the token in
//! the moment it sends, so the link rests nowhere but in the email itself — not in the jobs table while the
//! email waits, nor after it failed (H7). A retry issues a fresh token, and the previous one dies.

use serde::{Deserialize, Serialize};

use crate::accounts::models::{TokenPurpose, UserRow};
use crate::accounts::{repo, tokens};
use crate::db::Db;
use crate::jobs::{JobHandler, JobKind};
use crate::notify::{Mailer, templates};

/// Activation links live 24 hours (A1).
pub const ACTIVATION_TTL: chrono::Duration = chrono::Duration::hours(24);
/// Reset links live one hour (A8).
pub const RESET_TTL: chrono::Duration = chrono::Duration::hours(1);

/// Email `user_id` a fresh link for `purpose`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SendLink {
    pub user_id: i64,
    pub purpose: TokenPurpose,
}

impl JobKind for SendLink {
    const KIND: &'static str = "email.link";
}

impl SendLink {
    pub fn activation(user_id: i64) -> SendLink {
        SendLink {
            user_id,
            purpose: TokenPurpose::Activation,
        }
    }

    pub fn password_reset(user_id: i64) -> SendLink {
        SendLink {
            user_id,
            purpose: TokenPurpose::PasswordReset,
        }
    }
}

/// Whether an account may still receive a link for `purpose`: activation for unverified accounts, reset for
/// active ones; never for a disabled account (H4).
pub fn eligible(user: &UserRow, purpose: TokenPurpose) -> bool {
    match purpose {
        TokenPurpose::Activation => !user.email_verified && user.disabled_at.is_none(),
        TokenPurpose::PasswordReset => user.is_active(),
    }
}

/// Issues the token and sends the email.
pub struct LinkMailer {
    db: Db,
    mailer: Mailer,
    frontend_url: String,
}

impl LinkMailer {
    pub fn new(db: Db, mailer: Mailer, frontend_url: String) -> LinkMailer {
        LinkMailer {
            db,
            mailer,
            frontend_url,
        }
    }
}

impl JobHandler<SendLink> for LinkMailer {
    async fn run(&self, job: SendLink) -> anyhow::Result<()> {
        let frontend = self.frontend_url.as_str();
        let email = self
            .db
            .transaction(async |conn| {
                // The account may have changed since the email was asked for (verified, disabled, deleted).
                let Some(user) = repo::user_by_id(conn, job.user_id).await? else {
                    return Ok(None);
                };
                if !eligible(&user, job.purpose) {
                    return Ok(None);
                }
                let email = match job.purpose {
                    TokenPurpose::Activation => {
                        let token = tokens::issue(conn, user.id, job.purpose, ACTIVATION_TTL).await?;
                        templates::activation(&user.email, frontend, &token)
                    }
                    TokenPurpose::PasswordReset => {
                        let token = tokens::issue(conn, user.id, job.purpose, RESET_TTL).await?;
                        templates::password_reset(&user.email, frontend, &token)
                    }
                };
                Ok(Some(email))
            })
            .await
            .map_err(|error| anyhow::anyhow!("{error:?}"))?;
        match email {
            Some(email) => self.mailer.send(&email).await,
            None => Ok(()),
        }
    }
}
