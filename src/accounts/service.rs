//! Account rules.

use axum::http::StatusCode;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::accounts::models::{
    NewOneTimeToken, NewProfile, NewUser, ProfileChanges, ProfileRow, TokenPurpose, UserRow,
};
use crate::accounts::repo;
use crate::auth::password;
use crate::auth::sessions::{self, RevokeReason, TokenPair};
use crate::db::schema::{one_time_tokens, profiles, users};
use crate::db::{Db, Role, now};
use crate::enqueue;
use crate::error::{AppError, AppResult};
use crate::jobs::NewJob;
use crate::notify::templates;
use crate::state::AppState;
use crate::util::{random_token, sha256_hex};

/// Activation links live 24 hours (A1); reset links one hour.
const ACTIVATION_TTL: chrono::Duration = chrono::Duration::hours(24);
const RESET_TTL: chrono::Duration = chrono::Duration::hours(1);

fn invalid_credentials() -> AppError {
    AppError::rejected(
        StatusCode::UNAUTHORIZED,
        "INVALID_CREDENTIALS",
        "wrong email or password",
    )
}

fn invalid_token() -> AppError {
    AppError::rejected(
        StatusCode::BAD_REQUEST,
        "INVALID_TOKEN",
        "this link is not valid (unknown, or already used)",
    )
}

fn expired_token() -> AppError {
    AppError::rejected(
        StatusCode::BAD_REQUEST,
        "TOKEN_EXPIRED",
        "this link has expired; ask for a new one",
    )
}

/// Writes a fresh single-use token for (user, purpose) inside the caller's transaction, replacing any older one
/// (which thereby dies), and evaluates to the plain token for the email.
macro_rules! issue_one_time_token {
    ($conn:expr, $user_id:expr, $purpose:expr, $ttl:expr) => {{
        let plain = random_token(32);
        let at = now();
        diesel::delete(
            one_time_tokens::table
                .filter(one_time_tokens::user_id.eq($user_id))
                .filter(one_time_tokens::purpose.eq($purpose)),
        )
        .execute($conn)
        .await?;
        diesel::insert_into(one_time_tokens::table)
            .values(&NewOneTimeToken {
                user_id: $user_id,
                purpose: $purpose,
                token_hash: sha256_hex(&plain),
                created_at: at,
                expires_at: at + $ttl,
            })
            .execute($conn)
            .await?;
        plain
    }};
}

/// Takes a single-use token inside the caller's transaction: evaluates to its user id, or fails with
/// INVALID_TOKEN (unknown or used) or TOKEN_EXPIRED. A taken token is deleted.
macro_rules! take_one_time_token {
    ($conn:expr, $token:expr, $purpose:expr) => {{
        let found: Option<(i64, i64, NaiveDateTime)> = one_time_tokens::table
            .filter(one_time_tokens::token_hash.eq(sha256_hex($token)))
            .filter(one_time_tokens::purpose.eq($purpose))
            .select((
                one_time_tokens::id,
                one_time_tokens::user_id,
                one_time_tokens::expires_at,
            ))
            .first($conn)
            .await
            .optional()?;
        let Some((token_id, user_id, expires_at)) = found else {
            return Err(invalid_token());
        };
        if expires_at < now() {
            return Err(expired_token());
        }
        diesel::delete(one_time_tokens::table.find(token_id))
            .execute($conn)
            .await?;
        user_id
    }};
}

/// Email as stored: trimmed and case-folded, so uniqueness is case-insensitive (A1). Refuses what cannot be
/// an address.
pub fn normalize_email(email: &str) -> AppResult<String> {
    let email = email.trim().to_lowercase();
    let invalid = || AppError::bad_input("email", "email is not a valid address");
    if email.len() < 3 || email.len() > 254 || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid());
    }
    let (local, domain) = email.split_once('@').ok_or_else(invalid)?;
    let domain_ok = !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..");
    if local.is_empty() || local.len() > 64 || !domain_ok {
        return Err(invalid());
    }
    Ok(email)
}

/// A1: a new, inactive USER account and an activation email, in one transaction.
pub async fn register(state: &AppState, email: &str, plain_password: &str) -> AppResult<UserRow> {
    let email = normalize_email(email)?;
    password::check_complexity("password", plain_password)?;
    let password_hash = password::hash(plain_password, state.settings.bcrypt_cost).await?;
    let frontend = state.settings.frontend_url.clone();
    let at = now();
    let new_user = NewUser {
        uuid: uuid::Uuid::new_v4().to_string(),
        email: email.clone(),
        password_hash,
        role: Role::User,
        is_active: false,
        created_at: at,
        updated_at: at,
    };
    let user = crate::db_transaction!(state.db, |conn| {
        let taken: i64 = users::table
            .filter(users::email.eq(&email))
            .count()
            .get_result(conn)
            .await?;
        if taken > 0 {
            return Err(email_taken());
        }
        let user: UserRow = diesel::insert_into(users::table)
            .values(&new_user)
            .returning(UserRow::as_returning())
            .get_result(conn)
            .await
            .map_err(|error| match AppError::from(error) {
                // Two registrations racing for one address: the unique index decides.
                AppError::Conflict(_) => email_taken(),
                other => other,
            })?;
        diesel::insert_into(profiles::table)
            .values(&NewProfile {
                user_id: user.id,
                updated_at: at,
            })
            .execute(conn)
            .await?;
        let token = issue_one_time_token!(conn, user.id, TokenPurpose::Activation, ACTIVATION_TTL);
        enqueue!(conn, NewJob::email(&templates::activation(&email, &frontend, &token)))?;
        Ok(user)
    })?;
    Ok(user)
}

fn email_taken() -> AppError {
    AppError::rejected(
        StatusCode::CONFLICT,
        "EMAIL_TAKEN",
        "an account with this email already exists",
    )
}

/// A2: activates the account of a valid activation token.
pub async fn activate(state: &AppState, token: &str) -> AppResult<()> {
    let at = now();
    crate::db_transaction!(state.db, |conn| {
        let user_id = take_one_time_token!(conn, token, TokenPurpose::Activation);
        diesel::update(users::table.find(user_id))
            .set((users::is_active.eq(true), users::updated_at.eq(at)))
            .execute(conn)
            .await?;
        Ok(())
    })
}

/// A3: a fresh activation email for an inactive account; silent for unknown or active accounts, so the answer
/// reveals nothing about which emails have accounts.
pub async fn resend_activation(state: &AppState, email: &str) -> AppResult<()> {
    mail_link_if(
        state,
        email,
        false,
        TokenPurpose::Activation,
        ACTIVATION_TTL,
        templates::activation,
    )
    .await
}

/// Emails a fresh single-use link to the account of `email` when its active state is `when_active`; does
/// nothing otherwise, and the caller answers the same either way (no account enumeration, A3 and A8).
async fn mail_link_if(
    state: &AppState,
    email: &str,
    when_active: bool,
    purpose: TokenPurpose,
    ttl: chrono::Duration,
    template: fn(&str, &str, &str) -> templates::Email,
) -> AppResult<()> {
    let Ok(email) = normalize_email(email) else {
        return Ok(());
    };
    let frontend = state.settings.frontend_url.clone();
    crate::db_transaction!(state.db, |conn| {
        let user: Option<(i64, bool)> = users::table
            .filter(users::email.eq(&email))
            .select((users::id, users::is_active))
            .first(conn)
            .await
            .optional()?;
        if let Some((user_id, active)) = user
            && active == when_active
        {
            let token = issue_one_time_token!(conn, user_id, purpose, ttl);
            enqueue!(conn, NewJob::email(&template(&email, &frontend, &token)))?;
        }
        Ok(())
    })
}

/// A5: email and password to a new session. Wrong email and wrong password answer alike; an inactive account
/// (with the right password) has its own code.
pub async fn login(state: &AppState, email: &str, plain_password: &str) -> AppResult<TokenPair> {
    let email = normalize_email(email).map_err(|_| invalid_credentials())?;
    let Some(user) = repo::user_by_email(&state.db, &email).await? else {
        // Hash anyway, so that an unknown email takes as long as a wrong password and timing tells nothing.
        password::hash(plain_password, state.settings.bcrypt_cost).await?;
        return Err(invalid_credentials());
    };
    if !password::verify(plain_password, &user.password_hash).await? {
        return Err(invalid_credentials());
    }
    if !user.is_active {
        return Err(AppError::rejected(
            StatusCode::FORBIDDEN,
            "ACCOUNT_INACTIVE",
            "this account is not active yet: follow the link in the activation email, or ask for a new one",
        ));
    }
    sessions::start(
        &state.db,
        &state.auth.keys,
        user.id,
        &user.uuid,
        user.role,
        state.settings.auth.refresh_token_ttl,
    )
    .await
}

/// A8: a new password for a signed-in user who knows the old one. Other sessions end; a notice is mailed.
pub async fn change_password(
    state: &AppState,
    user_id: i64,
    session_id: &str,
    old_password: &str,
    new_password: &str,
) -> AppResult<()> {
    let user = repo::user_by_id(&state.db, user_id)
        .await?
        .ok_or(AppError::Unauthenticated)?;
    if !password::verify(old_password, &user.password_hash).await? {
        return Err(AppError::rejected(
            StatusCode::BAD_REQUEST,
            "WRONG_PASSWORD",
            "the current password is wrong",
        ));
    }
    password::check_complexity("newPassword", new_password)?;
    let new_hash = password::hash(new_password, state.settings.bcrypt_cost).await?;
    let at = now();
    let notice = templates::password_changed(&user.email);
    crate::db_transaction!(state.db, |conn| {
        diesel::update(users::table.find(user_id))
            .set((users::password_hash.eq(&new_hash), users::updated_at.eq(at)))
            .execute(conn)
            .await?;
        crate::revoke_user_sessions!(conn, user_id, Some(session_id), RevokeReason::PasswordChanged, at)?;
        enqueue!(conn, NewJob::email(&notice))?;
        Ok(())
    })?;
    state.auth.sessions.forget_user(user_id);
    Ok(())
}

/// A8: a reset link for an active account; silent otherwise (no account enumeration).
pub async fn request_password_reset(state: &AppState, email: &str) -> AppResult<()> {
    mail_link_if(
        state,
        email,
        true,
        TokenPurpose::PasswordReset,
        RESET_TTL,
        templates::password_reset,
    )
    .await
}

/// A8: a new password from a reset link. Every session of the account ends; a notice is mailed.
pub async fn complete_password_reset(state: &AppState, token: &str, new_password: &str) -> AppResult<()> {
    password::check_complexity("newPassword", new_password)?;
    let new_hash = password::hash(new_password, state.settings.bcrypt_cost).await?;
    let at = now();
    let user_id = crate::db_transaction!(state.db, |conn| {
        let user_id = take_one_time_token!(conn, token, TokenPurpose::PasswordReset);
        let email: String = users::table.find(user_id).select(users::email).first(conn).await?;
        diesel::update(users::table.find(user_id))
            .set((users::password_hash.eq(&new_hash), users::updated_at.eq(at)))
            .execute(conn)
            .await?;
        crate::revoke_user_sessions!(conn, user_id, None, RevokeReason::PasswordReset, at)?;
        enqueue!(conn, NewJob::email(&templates::password_changed(&email)))?;
        Ok(user_id)
    })?;
    state.auth.sessions.forget_user(user_id);
    Ok(())
}

/// A10: an admin changes a user's role. An admin cannot change their own role (there would be no one left to
/// undo a mistake). The new role applies within the session cache's lifetime, without a new sign-in.
pub async fn set_role(state: &AppState, admin_id: i64, user_uuid: &str, role: Role) -> AppResult<UserRow> {
    let user = repo::user_by_uuid(&state.db, user_uuid)
        .await?
        .ok_or_else(|| AppError::not_found("no user has this id"))?;
    if user.id == admin_id && role != user.role {
        return Err(AppError::Conflict("admins cannot change their own role".into()));
    }
    let at = now();
    let updated = crate::db_transaction!(state.db, |conn| {
        Ok(diesel::update(users::table.find(user.id))
            .set((users::role.eq(role), users::updated_at.eq(at)))
            .returning(UserRow::as_returning())
            .get_result(conn)
            .await?)
    })?;
    state.auth.sessions.forget_user(user.id);
    Ok(updated)
}

/// A10: an admin activates or deactivates an account by hand. Deactivation ends every session of the account.
pub async fn set_active(state: &AppState, admin_id: i64, user_uuid: &str, active: bool) -> AppResult<UserRow> {
    let user = repo::user_by_uuid(&state.db, user_uuid)
        .await?
        .ok_or_else(|| AppError::not_found("no user has this id"))?;
    if user.id == admin_id && !active {
        return Err(AppError::Conflict("admins cannot deactivate their own account".into()));
    }
    let at = now();
    let updated = crate::db_transaction!(state.db, |conn| {
        let updated: UserRow = diesel::update(users::table.find(user.id))
            .set((users::is_active.eq(active), users::updated_at.eq(at)))
            .returning(UserRow::as_returning())
            .get_result(conn)
            .await?;
        if !active {
            crate::revoke_user_sessions!(conn, user.id, None, RevokeReason::Deactivated, at)?;
        } else {
            // An account activated by hand needs no activation link any more.
            diesel::delete(
                one_time_tokens::table
                    .filter(one_time_tokens::user_id.eq(user.id))
                    .filter(one_time_tokens::purpose.eq(TokenPurpose::Activation)),
            )
            .execute(conn)
            .await?;
        }
        Ok(updated)
    })?;
    state.auth.sessions.forget_user(user.id);
    Ok(updated)
}

/// A11: checks and applies a profile edit.
pub async fn update_profile(state: &AppState, user_id: i64, mut changes: ProfileChanges) -> AppResult<ProfileRow> {
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
    repo::update_profile(&state.db, user_id, &changes).await
}

/// A11: stores a new avatar (PNG, JPEG or WebP, at most AVATAR_MAX_BYTES) and points the profile at it; the
/// previous file is removed. The file is written before the profile changes, so a failure leaves the old avatar.
pub async fn set_avatar(state: &AppState, user_id: i64, user_uuid: &str, bytes: bytes::Bytes) -> AppResult<ProfileRow> {
    let max = state.settings.avatar_max_bytes;
    if bytes.len() > max {
        return Err(AppError::bad_input(
            "file",
            format!("the avatar is larger than {} KiB", max / 1024),
        ));
    }
    let Some((extension, _)) = crate::storage::image_type(&bytes) else {
        return Err(AppError::bad_input(
            "file",
            "the avatar must be a PNG, JPEG or WebP image",
        ));
    };
    let key = format!("avatars/{user_uuid}/{}.{extension}", random_token(8));
    state
        .storage
        .put(&key, bytes)
        .await
        .map_err(|e| AppError::Unavailable(format!("storage unavailable: {e}")))?;
    let previous = repo::profile_of(&state.db, user_id).await?.and_then(|p| p.avatar_key);
    let updated = repo::set_avatar_key(&state.db, user_id, Some(&key)).await?;
    delete_old_avatar(state, previous).await;
    Ok(updated)
}

/// Best effort: a file left behind costs storage, not correctness (the profile no longer points at it).
async fn delete_old_avatar(state: &AppState, key: Option<String>) {
    if let Some(key) = key
        && let Err(error) = state.storage.delete(&key).await
    {
        tracing::warn!(%error, %key, "could not delete a previous avatar");
    }
}

/// A11: removes the avatar.
pub async fn remove_avatar(state: &AppState, user_id: i64) -> AppResult<ProfileRow> {
    let previous = repo::profile_of(&state.db, user_id).await?.and_then(|p| p.avatar_key);
    let updated = repo::set_avatar_key(&state.db, user_id, None).await?;
    delete_old_avatar(state, previous).await;
    Ok(updated)
}

/// Creates the first ADMIN from the command line (A10), or promotes and activates an existing account and
/// sets the given password. Returns what was done, for the operator.
pub async fn create_admin(db: &Db, email: &str, plain_password: &str, bcrypt_cost: u32) -> AppResult<String> {
    let email = normalize_email(email)?;
    password::check_complexity("password", plain_password)?;
    let password_hash = password::hash(plain_password, bcrypt_cost).await?;
    if repo::promote_to_admin(db, &email, &password_hash).await? {
        return Ok(format!(
            "{email} already existed: it is now an active ADMIN with the given password"
        ));
    }
    let created = now();
    repo::insert_user(
        db,
        NewUser {
            uuid: uuid::Uuid::new_v4().to_string(),
            email: email.clone(),
            password_hash,
            role: Role::Admin,
            is_active: true,
            created_at: created,
            updated_at: created,
        },
    )
    .await?;
    Ok(format!("created ADMIN {email}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_case_folded_and_checked() {
        assert_eq!(normalize_email("  Ann@Example.COM ").unwrap(), "ann@example.com");
        for bad in [
            "",
            "ann",
            "ann@",
            "@example.com",
            "ann@example",
            "ann@@example.com",
            "a b@example.com",
            "ann@.com",
        ] {
            assert!(normalize_email(bad).is_err(), "{bad}");
        }
    }
}
