//! The sessions and refresh_tokens tables (A5–A7). Every function takes a connection so that it can run inside
//! the caller's transaction.

use chrono::NaiveDateTime;
use diesel::QueryResult;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::db::schema::{refresh_tokens, sessions, users};
use crate::db::{DbConn, Role};
use crate::text_enum;

text_enum! {
    /// Why a session ended early.
    pub enum RevokeReason {
        Logout => "LOGOUT",
        ReuseDetected => "REUSE_DETECTED",
        PasswordChanged => "PASSWORD_CHANGED",
        PasswordReset => "PASSWORD_RESET",
        Deactivated => "DEACTIVATED",
        RoleChanged => "ROLE_CHANGED",
    }
}

/// Where the end of sessions is announced (a logout, a revocation, a user disabled or given another role), so
/// that every instance forgets what it remembers of them and closes their live sockets at once.
pub const SESSIONS_CHANNEL: &str = "cinema_sessions";

/// What one notice on `SESSIONS_CHANNEL` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionsChanged {
    /// One session ended.
    Session(String),
    /// Any or all of a user's sessions ended, or the user's state or role changed.
    User(i64),
}

impl SessionsChanged {
    fn payload(&self) -> String {
        match self {
            SessionsChanged::Session(id) => format!("session:{id}"),
            SessionsChanged::User(id) => format!("user:{id}"),
        }
    }

    /// The change a notice's payload names; None for one this version does not know.
    pub fn parse(payload: &str) -> Option<SessionsChanged> {
        match payload.split_once(':')? {
            ("session", id) => Some(SessionsChanged::Session(id.to_string())),
            ("user", id) => id.parse().ok().map(SessionsChanged::User),
            _ => None,
        }
    }

    /// Announces the change from inside the caller's transaction; heard by every instance once it commits.
    pub async fn announce(&self, conn: &mut DbConn) -> QueryResult<()> {
        crate::db::notify::notify(conn, SESSIONS_CHANNEL, &self.payload()).await
    }
}

#[derive(Insertable)]
#[diesel(table_name = sessions)]
pub struct NewSession<'a> {
    pub id: &'a str,
    pub user_id: i64,
    pub created_at: NaiveDateTime,
    pub last_used_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = refresh_tokens)]
pub struct NewRefreshToken<'a> {
    pub token_hash: &'a str,
    pub session_id: &'a str,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
}

/// A presented refresh token with its session and user, as the refresh decision needs them.
#[derive(Debug, Queryable)]
pub struct PresentedToken {
    pub session_id: String,
    pub session_created: NaiveDateTime,
    pub revoked_at: Option<NaiveDateTime>,
    pub session_expires: NaiveDateTime,
    pub rotated_at: Option<NaiveDateTime>,
    pub token_expires: NaiveDateTime,
    pub user_uuid: String,
    pub role: Role,
    pub user_disabled_at: Option<NaiveDateTime>,
}

pub async fn insert_session(conn: &mut DbConn, session: &NewSession<'_>) -> QueryResult<()> {
    crate::per_backend!(conn, |c| diesel::insert_into(sessions::table)
        .values(session)
        .execute(c)
        .await)?;
    Ok(())
}

pub async fn insert_refresh_token(conn: &mut DbConn, token: &NewRefreshToken<'_>) -> QueryResult<()> {
    crate::per_backend!(conn, |c| diesel::insert_into(refresh_tokens::table)
        .values(token)
        .execute(c)
        .await)?;
    Ok(())
}

/// The refresh token with this hash, its session and its user.
pub async fn presented_token(conn: &mut DbConn, token_hash: &str) -> QueryResult<Option<PresentedToken>> {
    crate::per_backend!(conn, |c| {
        refresh_tokens::table
            .inner_join(sessions::table.inner_join(users::table))
            .filter(refresh_tokens::token_hash.eq(token_hash))
            .select((
                sessions::id,
                sessions::created_at,
                sessions::revoked_at,
                sessions::expires_at,
                refresh_tokens::rotated_at,
                refresh_tokens::expires_at,
                users::uuid,
                users::role,
                users::disabled_at,
            ))
            .first(c)
            .await
            .optional()
    })
}

/// Marks a refresh token used, unless it already was: true for the one caller of several concurrent ones
/// whose update took effect.
pub async fn mark_rotated(conn: &mut DbConn, token_hash: &str, at: NaiveDateTime) -> QueryResult<bool> {
    let updated = crate::per_backend!(conn, |c| {
        diesel::update(
            refresh_tokens::table
                .filter(refresh_tokens::token_hash.eq(token_hash))
                .filter(refresh_tokens::rotated_at.is_null()),
        )
        .set(refresh_tokens::rotated_at.eq(at))
        .execute(c)
        .await
    })?;
    Ok(updated == 1)
}

/// Keeps a session alive until `expires_at`.
pub async fn extend(
    conn: &mut DbConn,
    session_id: &str,
    at: NaiveDateTime,
    expires_at: NaiveDateTime,
) -> QueryResult<()> {
    crate::per_backend!(conn, |c| {
        diesel::update(sessions::table.find(session_id))
            .set((sessions::last_used_at.eq(at), sessions::expires_at.eq(expires_at)))
            .execute(c)
            .await
    })?;
    Ok(())
}

/// Ends one session, unless it already ended.
/// Ends one session, and announces it (in the caller's transaction).
pub async fn revoke(conn: &mut DbConn, session_id: &str, reason: RevokeReason, at: NaiveDateTime) -> QueryResult<()> {
    crate::per_backend!(conn, |c| {
        diesel::update(sessions::table.find(session_id).filter(sessions::revoked_at.is_null()))
            .set((sessions::revoked_at.eq(at), sessions::revoked_reason.eq(reason)))
            .execute(c)
            .await
    })?;
    SessionsChanged::Session(session_id.to_string()).announce(conn).await
}

/// Ends every live session of a user except `keep`, and announces it (in the caller's transaction); returns
/// how many ended.
pub async fn revoke_all_of_user(
    conn: &mut DbConn,
    user_id: i64,
    keep: Option<&str>,
    reason: RevokeReason,
    at: NaiveDateTime,
) -> QueryResult<usize> {
    SessionsChanged::User(user_id).announce(conn).await?;
    crate::per_backend!(conn, |c| {
        let mut target = diesel::update(sessions::table)
            .filter(sessions::user_id.eq(user_id))
            .filter(sessions::revoked_at.is_null())
            .into_boxed();
        if let Some(keep) = keep {
            target = target.filter(sessions::id.ne(keep));
        }
        target
            .set((sessions::revoked_at.eq(at), sessions::revoked_reason.eq(reason)))
            .execute(c)
            .await
    })
}

/// A session with its user, as the check of an access token needs them.
#[derive(Debug, Queryable)]
pub struct SessionOwner {
    pub revoked_at: Option<NaiveDateTime>,
    pub expires_at: NaiveDateTime,
    pub user_id: i64,
    pub user_uuid: String,
    pub role: Role,
    pub user_disabled_at: Option<NaiveDateTime>,
}

/// The session `session_id` and its user, whatever state they are in.
pub async fn session_owner(conn: &mut DbConn, session_id: &str) -> QueryResult<Option<SessionOwner>> {
    crate::per_backend!(conn, |c| {
        sessions::table
            .inner_join(users::table)
            .filter(sessions::id.eq(session_id))
            .select((
                sessions::revoked_at,
                sessions::expires_at,
                users::id,
                users::uuid,
                users::role,
                users::disabled_at,
            ))
            .first(c)
            .await
            .optional()
    })
}

/// Deletes refresh tokens and sessions that expired before `at` (a session's tokens go with it); returns how
/// many rows went.
pub async fn delete_expired(conn: &mut DbConn, at: NaiveDateTime) -> QueryResult<usize> {
    let tokens = crate::per_backend!(conn, |c| {
        diesel::delete(refresh_tokens::table.filter(refresh_tokens::expires_at.lt(at)))
            .execute(c)
            .await
    })?;
    let sessions = crate::per_backend!(conn, |c| {
        diesel::delete(sessions::table.filter(sessions::expires_at.lt(at)))
            .execute(c)
            .await
    })?;
    Ok(tokens + sessions)
}
