//! Account rules (A1–A3, A5, A8–A11): registration and activation, sign-in, passwords, roles and states,
//! profiles and avatars.

use std::sync::Arc;

use axum::http::StatusCode;

use crate::accounts::audit::{self, AdminAction, AdminActionRow};
use crate::accounts::avatar;
use crate::accounts::links::{ACTIVATION_TTL, LinkMail};
use crate::accounts::models::{NewUser, ProfileChanges, ProfileRow, TokenPurpose, UserFilter, UserRow};
use crate::accounts::repo;
use crate::accounts::tokens::{self, Presented};
use crate::auth::service::account_disabled;
use crate::auth::sessions::{self, RevokeReason};
use crate::auth::{Auth, TokenPair, password};
use crate::db::{Db, DbConn, Role, now};
use crate::error::{AppError, AppResult};
use crate::jobs;
use crate::notify::templates;
use crate::storage::Storage;
use crate::util::random_token;

/// What the account rules need to know of the configuration.
#[derive(Debug, Clone)]
pub struct AccountSettings {
    /// bcrypt work factor for new password hashes.
    pub bcrypt_cost: u32,
    /// This server's own address, for avatar URLs.
    pub public_url: String,
    /// Largest avatar accepted, in bytes.
    pub avatar_max_bytes: usize,
    /// How the refresh cookie is written for browsers that ask for it.
    pub refresh_cookie: crate::accounts::refresh_cookie::CookieRules,
}

/// The accounts handle: cheap to clone; what REST handlers and resolvers of the accounts domain call.
#[derive(Clone)]
pub struct Accounts {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    auth: Auth,
    storage: Storage,
    settings: AccountSettings,
}

/// What a sign-in with the right form of input came to. A wrong email or password is an outcome of its own,
/// because the caller counts it (the sign-in backoff), not only answers it.
pub enum LoginOutcome {
    SignedIn(TokenPair),
    WrongCredentials,
}

pub fn invalid_credentials() -> AppError {
    AppError::rejected(
        StatusCode::UNAUTHORIZED,
        "INVALID_CREDENTIALS",
        "wrong email or password",
    )
}

/// Why an emailed link is refused.
fn link_refused(presented: Presented) -> AppError {
    match presented {
        Presented::Expired => AppError::rejected(
            StatusCode::BAD_REQUEST,
            "TOKEN_EXPIRED",
            "this link has expired; ask for a new one",
        ),
        Presented::Taken { .. } | Presented::Unknown => AppError::rejected(
            StatusCode::BAD_REQUEST,
            "INVALID_TOKEN",
            "this link is not valid (unknown, or already used)",
        ),
    }
}

/// Registrations of one unverified address that may wait for their links at once; more are answered alike and
/// dropped (the owner can still ask for a link of their own, or reset the password).
const MAX_PENDING_REGISTRATIONS: i64 = 5;

/// What a registration answers, whatever the address: the id is the new account's when the registration
/// created one, a fresh random one otherwise, so the answer tells nobody whether the address had an account
/// (H8).
#[derive(Debug, Clone)]
pub struct Registration {
    pub id: String,
    pub email: String,
}

/// An admin action, with the emails of the admin and the account (None for an account deleted since).
#[derive(Debug, Clone)]
pub struct AdminActionEntry {
    pub row: AdminActionRow,
    pub admin_email: Option<String>,
    pub target_email: Option<String>,
}

/// Refuses a change that would leave no active admin (two admins demoting each other at once included: the
/// active admins are locked until the transaction ends).
async fn keep_an_admin(conn: &mut DbConn, losing_admin: i64) -> AppResult<()> {
    let admins = repo::active_admin_ids_locked(conn).await?;
    if admins.iter().any(|id| *id != losing_admin) {
        Ok(())
    } else {
        Err(AppError::rejected(
            StatusCode::CONFLICT,
            "LAST_ADMIN",
            "this would leave no active admin; make another admin first",
        ))
    }
}

/// The work of one registration (see `Accounts::register`); returns the id to answer.
async fn register_in(conn: &mut DbConn, email: &str, new_user: &NewUser) -> AppResult<String> {
    let Some(existing) = repo::user_by_email(conn, email).await? else {
        let user = repo::insert_user(conn, new_user).await?;
        let reservation =
            tokens::reserve_for_registration(conn, user.id, &new_user.password_hash, ACTIVATION_TTL).await?;
        jobs::enqueue(
            conn,
            &LinkMail::Registration {
                user_id: user.id,
                reservation,
            },
        )
        .await?;
        return Ok(user.uuid);
    };
    if existing.disabled_at.is_some() {
        // Nothing: a disabled account gets no links (H4), and its owner knows of the ban.
    } else if !existing.email_verified {
        if tokens::pending_registrations(conn, existing.id).await? < MAX_PENDING_REGISTRATIONS {
            let reservation =
                tokens::reserve_for_registration(conn, existing.id, &new_user.password_hash, ACTIVATION_TTL).await?;
            let mail = LinkMail::Registration {
                user_id: existing.id,
                reservation,
            };
            jobs::enqueue(conn, &mail).await?;
        }
    } else {
        jobs::enqueue(conn, &LinkMail::AccountExists { user_id: existing.id }).await?;
    }
    Ok(uuid::Uuid::new_v4().to_string())
}

fn no_such_user() -> AppError {
    AppError::not_found("no user has this id")
}

/// Email as stored: trimmed and case-folded, so uniqueness is case-insensitive (A1). Only a bare address is
/// taken — a dot-atom local part and a domain of letter, digit and hyphen labels — so that what is stored is
/// exactly where mail goes: a display name or trailing text (`x<me@mail.example>`, `me@mail.example;a.io`),
/// which a mail library could read as another recipient, is refused (H8).
pub fn normalize_email(email: &str) -> AppResult<String> {
    let email = email.trim().to_lowercase();
    let invalid = || AppError::bad_input("email", "email is not a valid address");
    if email.len() < 3 || email.len() > 254 {
        return Err(invalid());
    }
    let (local, domain) = email.split_once('@').ok_or_else(invalid)?;
    if !local_part_ok(local) || !domain_ok(domain) {
        return Err(invalid());
    }
    Ok(email)
}

/// RFC 5322 dot-atom: atext runs (letters, digits, `!#$%&'*+/=?^_`{|}~-`, and non-ASCII letters for
/// internationalised mail) joined by single dots.
fn local_part_ok(local: &str) -> bool {
    const SPECIALS: &str = "!#$%&'*+/=?^_`{|}~-";
    !local.is_empty()
        && local.len() <= 64
        && local
            .split('.')
            .all(|run| !run.is_empty() && run.chars().all(|c| c.is_alphanumeric() || SPECIALS.contains(c)))
}

/// At least two labels of letters, digits and inner hyphens, each 1 to 63 bytes.
fn domain_ok(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    labels.len() >= 2
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
}

impl Accounts {
    pub fn new(db: Db, auth: Auth, storage: Storage, settings: AccountSettings) -> Accounts {
        Accounts {
            inner: Arc::new(Inner {
                db,
                auth,
                storage,
                settings,
            }),
        }
    }

    fn db(&self) -> &Db {
        &self.inner.db
    }

    fn settings(&self) -> &AccountSettings {
        &self.inner.settings
    }

    /// How the refresh cookie is written (REST sign-in, refresh and logout).
    pub fn refresh_cookie(&self) -> crate::accounts::refresh_cookie::CookieRules {
        self.settings().refresh_cookie
    }

    /// A1: registers `email`. The answer is the same whether or not the address has an account (H8); what
    /// happens differs, in one transaction:
    /// - a new address: an unverified USER account, and an activation link bound to this password;
    /// - an unverified address: another activation link, bound to this password — the link the mailbox owner
    ///   follows decides the password, not whoever registered first (H4);
    /// - a verified address: its owner is emailed that someone tried; nothing changes;
    /// - a disabled address: nothing.
    pub async fn register(&self, email: &str, plain_password: &str) -> AppResult<Registration> {
        let email = normalize_email(email)?;
        password::check_complexity("password", plain_password)?;
        let password_hash = password::hash(plain_password, self.settings().bcrypt_cost).await?;
        let at = now();
        let new_user = NewUser {
            uuid: uuid::Uuid::new_v4().to_string(),
            email: email.clone(),
            password_hash,
            role: Role::User,
            email_verified: false,
            created_at: at,
            updated_at: at,
        };
        let register = async |conn: &mut DbConn| register_in(conn, &email, &new_user).await;
        let id = match self.db().transaction(register).await {
            // Two registrations racing for a new address: the unique index decided, and the loser now finds
            // the winner's account.
            Err(AppError::Conflict(_)) => self.db().transaction(register).await?,
            other => other?,
        };
        Ok(Registration { id, email })
    }

    /// A2: verifies the address of a valid activation token and sets the account's password: `password` when
    /// given, else the one the token's registration chose; a link sent without one (a resend) needs
    /// `password`. Every other activation link of the account dies. A disabled account stays disabled (H4).
    pub async fn activate(&self, token: &str, password: Option<&str>) -> AppResult<()> {
        let chosen = match password {
            Some(plain) => {
                password::check_complexity("password", plain)?;
                Some(password::hash(plain, self.settings().bcrypt_cost).await?)
            }
            None => None,
        };
        let at = now();
        self.db()
            .transaction(async |conn| {
                let presented = tokens::take(conn, token, TokenPurpose::Activation).await?;
                let Presented::Taken { user_id, password_hash } = presented else {
                    return Err(link_refused(presented));
                };
                let user = repo::user_by_id(conn, user_id).await?.ok_or_else(no_such_user)?;
                if user.disabled_at.is_some() {
                    return Err(account_disabled());
                }
                let Some(password_hash) = chosen.clone().or(password_hash) else {
                    return Err(AppError::bad_input(
                        "password",
                        "this link was sent without a password: choose one to activate the account",
                    ));
                };
                repo::set_password(conn, user_id, &password_hash, at).await?;
                repo::verify_email(conn, user_id, at).await?;
                tokens::delete_for_user(conn, user_id, TokenPurpose::Activation).await?;
                Ok(())
            })
            .await
    }

    /// A3: a fresh activation link for an unverified account that is not disabled. Whoever follows it chooses
    /// the password (H4). Silent otherwise (no account enumeration).
    pub async fn resend_activation(&self, email: &str) -> AppResult<()> {
        self.request_link(email, TokenPurpose::Activation).await
    }

    /// A8: a reset link for any account that is not disabled (completing it verifies an unverified address,
    /// H4); silent otherwise (no account enumeration).
    pub async fn request_password_reset(&self, email: &str) -> AppResult<()> {
        self.request_link(email, TokenPurpose::PasswordReset).await
    }

    /// Queues the request for the worker, which decides whether the address gets an email (see `links`): the
    /// request itself does the same work for every valid address, account or not (H8).
    async fn request_link(&self, email: &str, purpose: TokenPurpose) -> AppResult<()> {
        let Ok(email) = normalize_email(email) else {
            return Ok(());
        };
        let mut conn = self.db().conn().await?;
        jobs::enqueue(&mut conn, &LinkMail::Requested { email, purpose }).await?;
        Ok(())
    }

    /// A5: email and password to a new session. Wrong email and wrong password answer alike; an inactive
    /// account (with the right password) has its own code.
    pub async fn login(&self, email: &str, plain_password: &str) -> AppResult<LoginOutcome> {
        let Ok(email) = normalize_email(email) else {
            return Ok(LoginOutcome::WrongCredentials);
        };
        let mut conn = self.db().conn().await?;
        let found = repo::user_by_email(&mut conn, &email).await?;
        drop(conn);
        let Some(user) = found else {
            // Hash anyway, so that an unknown email takes as long as a wrong password and timing tells nothing.
            password::hash(plain_password, self.settings().bcrypt_cost).await?;
            return Ok(LoginOutcome::WrongCredentials);
        };
        if !password::verify(plain_password, &user.password_hash).await? {
            return Ok(LoginOutcome::WrongCredentials);
        }
        if user.disabled_at.is_some() {
            return Err(account_disabled());
        }
        if !user.email_verified {
            return Err(AppError::rejected(
                StatusCode::FORBIDDEN,
                "ACCOUNT_INACTIVE",
                "this account is not active yet: follow the link in the activation email, or ask for a new one",
            ));
        }
        Ok(LoginOutcome::SignedIn(
            self.inner.auth.start_session(user.id, &user.uuid, user.role).await?,
        ))
    }

    /// A8: a new password for a signed-in user who knows the old one. Other sessions end; a notice is mailed.
    pub async fn change_password(
        &self,
        user_id: i64,
        session_id: &str,
        old_password: &str,
        new_password: &str,
    ) -> AppResult<()> {
        let user = self.user(user_id).await?.ok_or(AppError::Unauthenticated)?;
        if !password::verify(old_password, &user.password_hash).await? {
            return Err(AppError::rejected(
                StatusCode::BAD_REQUEST,
                "WRONG_PASSWORD",
                "the current password is wrong",
            ));
        }
        password::check_complexity("newPassword", new_password)?;
        let new_hash = password::hash(new_password, self.settings().bcrypt_cost).await?;
        let at = now();
        let notice = templates::password_changed(&user.email);
        self.db()
            .transaction(async |conn| {
                repo::set_password(conn, user_id, &new_hash, at).await?;
                sessions::revoke_all_of_user(conn, user_id, Some(session_id), RevokeReason::PasswordChanged, at)
                    .await?;
                // A reset link sent before the change must not undo it.
                tokens::delete_for_user(conn, user_id, TokenPurpose::PasswordReset).await?;
                jobs::enqueue(conn, &notice).await?;
                Ok(())
            })
            .await?;
        self.inner.auth.forget_user(user_id);
        Ok(())
    }

    /// A8: a new password from a reset link. Every session of the account ends; a notice is mailed. The link
    /// proves the mailbox, so an unverified account is verified by it (H4).
    pub async fn complete_password_reset(&self, token: &str, new_password: &str) -> AppResult<()> {
        password::check_complexity("newPassword", new_password)?;
        let new_hash = password::hash(new_password, self.settings().bcrypt_cost).await?;
        let at = now();
        let user_id = self
            .db()
            .transaction(async |conn| {
                let presented = tokens::take(conn, token, TokenPurpose::PasswordReset).await?;
                let Presented::Taken { user_id, .. } = presented else {
                    return Err(link_refused(presented));
                };
                let user = repo::user_by_id(conn, user_id).await?.ok_or_else(no_such_user)?;
                if user.disabled_at.is_some() {
                    return Err(account_disabled());
                }
                repo::set_password(conn, user_id, &new_hash, at).await?;
                if !user.email_verified {
                    // The link reached the mailbox: its owner has spoken, and every registration's link dies.
                    repo::verify_email(conn, user_id, at).await?;
                    tokens::delete_for_user(conn, user_id, TokenPurpose::Activation).await?;
                }
                sessions::revoke_all_of_user(conn, user_id, None, RevokeReason::PasswordReset, at).await?;
                jobs::enqueue(conn, &templates::password_changed(&user.email)).await?;
                Ok(user_id)
            })
            .await?;
        self.inner.auth.forget_user(user_id);
        Ok(())
    }

    /// A user by internal id.
    pub async fn user(&self, user_id: i64) -> AppResult<Option<UserRow>> {
        let mut conn = self.db().conn().await?;
        Ok(repo::user_by_id(&mut conn, user_id).await?)
    }

    /// A user by public id.
    pub async fn user_by_uuid(&self, uuid: &str) -> AppResult<Option<UserRow>> {
        let mut conn = self.db().conn().await?;
        Ok(repo::user_by_uuid(&mut conn, uuid).await?)
    }

    /// A10: a page of users (`limit` rows after `offset`), newest first.
    pub async fn users(&self, filter: &UserFilter, offset: i64, limit: i64) -> AppResult<Vec<UserRow>> {
        let mut conn = self.db().conn().await?;
        Ok(repo::list_users(&mut conn, filter, offset, limit).await?)
    }

    pub async fn count_users(&self, filter: &UserFilter) -> AppResult<i64> {
        let mut conn = self.db().conn().await?;
        Ok(repo::count_users(&mut conn, filter).await?)
    }

    /// A10: an admin changes a user's role. An admin cannot change their own role (there would be no one left
    /// to undo a mistake). The new role applies within the session cache's lifetime, without a new sign-in.
    pub async fn set_role(&self, admin_id: i64, user_uuid: &str, role: Role) -> AppResult<UserRow> {
        let at = now();
        let updated = self
            .db()
            .transaction(async |conn| {
                let user = repo::user_by_uuid(conn, user_uuid).await?.ok_or_else(no_such_user)?;
                if user.id == admin_id && role != user.role {
                    return Err(AppError::Conflict("admins cannot change their own role".into()));
                }
                if user.role == Role::Admin && role != Role::Admin {
                    keep_an_admin(conn, user.id).await?;
                }
                let updated = repo::set_role(conn, user.id, role, at).await?;
                let detail = format!("{} -> {}", user.role, role);
                audit::record(conn, admin_id, AdminAction::SetRole, user.id, &detail, at).await?;
                Ok(updated)
            })
            .await?;
        self.inner.auth.forget_user(updated.id);
        Ok(updated)
    }

    /// A10: an admin activates or disables an account by hand. Activation vouches for the address and lifts a
    /// ban (the activation link becomes useless); disabling ends every session of the account and deletes its
    /// pending links, so that nothing but an admin can let it back in (H4).
    pub async fn set_active(&self, admin_id: i64, user_uuid: &str, active: bool) -> AppResult<UserRow> {
        let at = now();
        let updated = self
            .db()
            .transaction(async |conn| {
                let user = repo::user_by_uuid(conn, user_uuid).await?.ok_or_else(no_such_user)?;
                if user.id == admin_id && !active {
                    return Err(AppError::Conflict("admins cannot deactivate their own account".into()));
                }
                if active {
                    repo::verify_email(conn, user.id, at).await?;
                    tokens::delete_for_user(conn, user.id, TokenPurpose::Activation).await?;
                    let updated = repo::set_disabled(conn, user.id, None, at).await?;
                    audit::record(conn, admin_id, AdminAction::Enable, user.id, "", at).await?;
                    Ok(updated)
                } else {
                    if user.role == Role::Admin {
                        keep_an_admin(conn, user.id).await?;
                    }
                    sessions::revoke_all_of_user(conn, user.id, None, RevokeReason::Deactivated, at).await?;
                    tokens::delete_all_of_user(conn, user.id).await?;
                    let disabled_at = user.disabled_at.unwrap_or(at);
                    let updated = repo::set_disabled(conn, user.id, Some(disabled_at), at).await?;
                    audit::record(conn, admin_id, AdminAction::Disable, user.id, "", at).await?;
                    Ok(updated)
                }
            })
            .await?;
        self.inner.auth.forget_user(updated.id);
        Ok(updated)
    }

    /// A10: what admins did to accounts, newest first, with the emails of the admin and the account.
    pub async fn admin_actions(&self, offset: i64, limit: i64) -> AppResult<Vec<AdminActionEntry>> {
        let mut conn = self.db().conn().await?;
        let rows = audit::list(&mut conn, offset, limit).await?;
        let ids: Vec<i64> = rows.iter().flat_map(|r| [r.admin_id, r.target_user_id]).collect();
        let emails = audit::emails_of(&mut conn, &ids).await?;
        Ok(rows
            .into_iter()
            .map(|row| AdminActionEntry {
                admin_email: emails.get(&row.admin_id).cloned(),
                target_email: emails.get(&row.target_user_id).cloned(),
                row,
            })
            .collect())
    }

    pub async fn count_admin_actions(&self) -> AppResult<i64> {
        let mut conn = self.db().conn().await?;
        Ok(audit::count(&mut conn).await?)
    }

    pub async fn profile(&self, user_id: i64) -> AppResult<ProfileRow> {
        let mut conn = self.db().conn().await?;
        repo::profile_of(&mut conn, user_id)
            .await?
            .ok_or_else(|| AppError::not_found("no profile"))
    }

    /// A11: checks and applies a profile edit.
    pub async fn update_profile(&self, user_id: i64, mut changes: ProfileChanges) -> AppResult<ProfileRow> {
        for (field, value, max) in [
            ("firstName", &mut changes.first_name, 100),
            ("lastName", &mut changes.last_name, 100),
            ("info", &mut changes.info, 2000),
        ] {
            if let Some(Some(text)) = value {
                let trimmed = text.trim().to_string();
                if trimmed.chars().count() > max {
                    return Err(AppError::bad_input(
                        field,
                        format!("{field} is longer than {max} characters"),
                    ));
                }
                *value = Some((!trimmed.is_empty()).then_some(trimmed));
            }
        }
        if let Some(Some(born)) = changes.date_of_birth {
            let today = now().date();
            let oldest = chrono::NaiveDate::from_ymd_opt(1900, 1, 1).expect("a valid date");
            if born > today || born < oldest {
                return Err(AppError::bad_input(
                    "dateOfBirth",
                    "dateOfBirth must be between 1900-01-01 and today",
                ));
            }
        }
        changes.updated_at = Some(now());
        self.db()
            .transaction(async |conn| Ok(repo::update_profile(conn, user_id, &changes).await?))
            .await
    }

    /// Where an avatar stored under `key` is served.
    pub fn avatar_url(&self, key: &str) -> String {
        format!("{}/media/{key}", self.settings().public_url)
    }

    /// A11: stores a new avatar (PNG, JPEG or WebP, at most AVATAR_MAX_BYTES) and points the profile at it;
    /// the previous file is removed. The file is written before the profile changes, so a failure leaves the
    /// old avatar.
    pub async fn set_avatar(&self, user_id: i64, user_uuid: &str, bytes: bytes::Bytes) -> AppResult<ProfileRow> {
        let max = self.settings().avatar_max_bytes;
        if bytes.len() > max {
            return Err(AppError::bad_input(
                "file",
                format!("the avatar is larger than {} KiB", max / 1024),
            ));
        }
        // Re-encoded: metadata (EXIF positions, text chunks) and trailing bytes do not survive.
        let (bytes, extension) = avatar::clean(bytes).await?;
        let key = format!("avatars/{user_uuid}/{}.{extension}", random_token(8));
        self.inner.storage.put(&key, bytes).await.map_err(|error| {
            tracing::warn!(error = format!("{error:#}"), "could not store an avatar");
            AppError::Unavailable("file storage is unavailable; try again later".into())
        })?;
        self.replace_avatar(user_id, Some(&key)).await
    }

    /// A11: removes the avatar.
    pub async fn remove_avatar(&self, user_id: i64) -> AppResult<ProfileRow> {
        self.replace_avatar(user_id, None).await
    }

    /// Points the profile at `key` and deletes the file it pointed at before.
    async fn replace_avatar(&self, user_id: i64, key: Option<&str>) -> AppResult<ProfileRow> {
        let at = now();
        let (previous, updated) = self
            .db()
            .transaction(async |conn| {
                // Locked: of two uploads at once, the second sees the first's file and deletes it.
                let previous = repo::avatar_key_locked(conn, user_id).await?;
                let updated = repo::set_avatar_key(conn, user_id, key, at).await?;
                Ok((previous, updated))
            })
            .await?;
        // Best effort: a file left behind costs storage, not correctness (the profile no longer points at it).
        if let Some(previous) = previous
            && let Err(error) = self.inner.storage.delete(&previous).await
        {
            tracing::warn!(%error, key = %previous, "could not delete a previous avatar");
        }
        Ok(updated)
    }
}

/// Creates the first ADMIN from the command line (A10), or promotes and activates an existing account and
/// sets the given password. Returns what was done, for the operator.
pub async fn create_admin(db: &Db, email: &str, plain_password: &str, bcrypt_cost: u32) -> AppResult<String> {
    let email = normalize_email(email)?;
    password::check_complexity("password", plain_password)?;
    let password_hash = password::hash(plain_password, bcrypt_cost).await?;
    let at = now();
    let user = NewUser {
        uuid: uuid::Uuid::new_v4().to_string(),
        email: email.clone(),
        password_hash: password_hash.clone(),
        role: Role::Admin,
        email_verified: true,
        created_at: at,
        updated_at: at,
    };
    db.transaction(async |conn| {
        if repo::promote_to_admin(conn, &email, &password_hash, at).await? {
            return Ok(format!(
                "{email} already existed: it is now an active ADMIN with the given password"
            ));
        }
        repo::insert_user(conn, &user).await?;
        Ok(format!("created ADMIN {email}"))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_case_folded_and_checked() {
        assert_eq!(normalize_email("  Ann@Example.COM ").unwrap(), "ann@example.com");
        for good in [
            "o'brien+films@mail.example",
            "a.b-c@sub.mail-host.example",
            "zoë@exämple.de",
        ] {
            assert_eq!(normalize_email(good).unwrap(), good.to_lowercase(), "{good}");
        }
        for bad in [
            "",
            "ann",
            "ann@",
            "@example.com",
            "ann@example",
            "ann@@example.com",
            "a b@example.com",
            "ann@.com",
            "x<me@mail.example>",
            "me@mail.example;a.io",
            "me@mail.example,other@x.io",
            "\"quoted\"@mail.example",
            "me@mail.example (comment)",
            "a..b@mail.example",
            ".a@mail.example",
            "me@-mail.example",
            "me@mail_example.com",
        ] {
            assert!(normalize_email(bad).is_err(), "{bad}");
        }
    }
}
