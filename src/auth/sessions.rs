//! Sessions (one per signed-in device) with rotating refresh tokens (A5–A7), and the per-request check that an
//! access token's session is still alive.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde::Serialize;

use crate::auth::Viewer;
use crate::auth::jwt::JwtKeys;
use crate::db::schema::{refresh_tokens, sessions, users};
use crate::db::{Db, Role, now};
use crate::error::{AppError, AppResult};
use crate::text_enum;
use crate::util::{random_token, sha256_hex};

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

/// What a successful sign-in or refresh answers.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenPair {
    /// Short-lived JWT for `Authorization: Bearer …`.
    pub access_token: String,
    /// Long-lived opaque token for `POST /api/v1/auth/refresh`; each use returns a new one.
    pub refresh_token: String,
    /// Always `Bearer`.
    #[schema(example = "Bearer")]
    pub token_type: String,
    /// Seconds until the access token expires.
    #[schema(example = 900)]
    pub expires_in: u64,
}

#[derive(Insertable)]
#[diesel(table_name = sessions)]
struct NewSession<'a> {
    id: &'a str,
    user_id: i64,
    created_at: NaiveDateTime,
    last_used_at: NaiveDateTime,
    expires_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = refresh_tokens)]
struct NewRefreshToken<'a> {
    token_hash: &'a str,
    session_id: &'a str,
    created_at: NaiveDateTime,
    expires_at: NaiveDateTime,
}

fn invalid_refresh() -> AppError {
    AppError::rejected(
        StatusCode::UNAUTHORIZED,
        "INVALID_REFRESH_TOKEN",
        "the refresh token is invalid, expired or revoked",
    )
}

/// Signs a user in on a new device: a session, its first refresh token and an access token.
pub async fn start(
    db: &Db,
    keys: &JwtKeys,
    user_id: i64,
    user_uuid: &str,
    role: Role,
    ttl: Duration,
) -> AppResult<TokenPair> {
    let session_id = uuid::Uuid::new_v4().to_string();
    let refresh = random_token(32);
    let at = now();
    let expires = at + chrono::Duration::from_std(ttl).map_err(AppError::internal)?;
    let hash = sha256_hex(&refresh);
    crate::db_transaction!(db, |conn| {
        diesel::insert_into(sessions::table)
            .values(&NewSession {
                id: &session_id,
                user_id,
                created_at: at,
                last_used_at: at,
                expires_at: expires,
            })
            .execute(conn)
            .await?;
        diesel::insert_into(refresh_tokens::table)
            .values(&NewRefreshToken {
                token_hash: &hash,
                session_id: &session_id,
                created_at: at,
                expires_at: expires,
            })
            .execute(conn)
            .await?;
        Ok(())
    })?;
    Ok(TokenPair {
        access_token: keys.issue(user_uuid, role, &session_id)?,
        refresh_token: refresh,
        token_type: "Bearer".into(),
        expires_in: keys.ttl.as_secs(),
    })
}

/// A presented refresh token with its session and user, as the refresh decision needs them.
#[derive(Queryable)]
struct PresentedToken {
    session_id: String,
    revoked_at: Option<NaiveDateTime>,
    session_expires: NaiveDateTime,
    rotated_at: Option<NaiveDateTime>,
    token_expires: NaiveDateTime,
    user_uuid: String,
    role: Role,
    active: bool,
}

enum Rotation {
    Rotated {
        session_id: String,
        user_uuid: String,
        role: Role,
    },
    Reused {
        session_id: String,
    },
}

/// Trades a refresh token for a new pair (A6). The old token dies; presenting it again later revokes the whole
/// session, since only a thief or a confused client would hold a rotated token.
pub async fn refresh(
    db: &Db,
    keys: &JwtKeys,
    cache: &SessionCache,
    token: &str,
    ttl: Duration,
) -> AppResult<TokenPair> {
    let hash = sha256_hex(token);
    let fresh = random_token(32);
    let fresh_hash = sha256_hex(&fresh);
    let at = now();
    let expires = at + chrono::Duration::from_std(ttl).map_err(AppError::internal)?;
    let outcome = crate::db_transaction!(db, |conn| {
        let found: Option<PresentedToken> = refresh_tokens::table
            .inner_join(sessions::table.inner_join(users::table))
            .filter(refresh_tokens::token_hash.eq(&hash))
            .select((
                sessions::id,
                sessions::revoked_at,
                sessions::expires_at,
                refresh_tokens::rotated_at,
                refresh_tokens::expires_at,
                users::uuid,
                users::role,
                users::is_active,
            ))
            .first(conn)
            .await
            .optional()?;
        let Some(PresentedToken {
            session_id,
            revoked_at,
            session_expires,
            rotated_at,
            token_expires,
            user_uuid,
            role,
            active,
        }) = found
        else {
            return Err(invalid_refresh());
        };
        if revoked_at.is_some() || session_expires < at || token_expires < at || !active {
            return Err(invalid_refresh());
        }
        // Rotate atomically: of two concurrent uses of one token, exactly one wins; the other is a reuse.
        let rotated = diesel::update(
            refresh_tokens::table
                .filter(refresh_tokens::token_hash.eq(&hash))
                .filter(refresh_tokens::rotated_at.is_null()),
        )
        .set(refresh_tokens::rotated_at.eq(at))
        .execute(conn)
        .await?;
        if rotated_at.is_some() || rotated == 0 {
            diesel::update(sessions::table.find(&session_id))
                .set((
                    sessions::revoked_at.eq(at),
                    sessions::revoked_reason.eq(RevokeReason::ReuseDetected),
                ))
                .execute(conn)
                .await?;
            return Ok(Rotation::Reused { session_id });
        }
        diesel::insert_into(refresh_tokens::table)
            .values(&NewRefreshToken {
                token_hash: &fresh_hash,
                session_id: &session_id,
                created_at: at,
                expires_at: expires,
            })
            .execute(conn)
            .await?;
        diesel::update(sessions::table.find(&session_id))
            .set((sessions::last_used_at.eq(at), sessions::expires_at.eq(expires)))
            .execute(conn)
            .await?;
        Ok(Rotation::Rotated {
            session_id,
            user_uuid,
            role,
        })
    })?;
    match outcome {
        Rotation::Reused { session_id } => {
            cache.forget_session(&session_id);
            tracing::warn!(session = %session_id, "refresh token reused: session revoked");
            Err(AppError::rejected(
                StatusCode::UNAUTHORIZED,
                "REFRESH_TOKEN_REUSED",
                "this refresh token was already used; the session is revoked, sign in again",
            ))
        }
        Rotation::Rotated {
            session_id,
            user_uuid,
            role,
        } => Ok(TokenPair {
            access_token: keys.issue(&user_uuid, role, &session_id)?,
            refresh_token: fresh,
            token_type: "Bearer".into(),
            expires_in: keys.ttl.as_secs(),
        }),
    }
}

/// Ends one session (logout).
pub async fn revoke(db: &Db, cache: &SessionCache, session_id: &str, reason: RevokeReason) -> AppResult<()> {
    let at = now();
    crate::db_run!(db, |conn| {
        diesel::update(sessions::table.find(session_id).filter(sessions::revoked_at.is_null()))
            .set((sessions::revoked_at.eq(at), sessions::revoked_reason.eq(reason)))
            .execute(conn)
            .await
            .map_err(AppError::from)
    })?;
    cache.forget_session(session_id);
    Ok(())
}

/// Ends every session of a user except `keep` (write inside the caller's transaction with this macro).
#[macro_export]
macro_rules! revoke_user_sessions {
    ($conn:expr, $user_id:expr, $keep:expr, $reason:expr, $at:expr) => {{
        use diesel::ExpressionMethods;
        let keep: Option<&str> = $keep;
        let mut target = diesel::update($crate::db::schema::sessions::table)
            .filter($crate::db::schema::sessions::user_id.eq($user_id))
            .filter($crate::db::schema::sessions::revoked_at.is_null())
            .into_boxed();
        if let Some(keep) = keep {
            target = target.filter($crate::db::schema::sessions::id.ne(keep.to_string()));
        }
        target
            .set((
                $crate::db::schema::sessions::revoked_at.eq($at),
                $crate::db::schema::sessions::revoked_reason.eq($reason),
            ))
            .execute($conn)
            .await
    }};
}

/// Short-lived memory of session checks, so that an authenticated request does not always cost a query.
/// A revocation made by this instance is seen at once; one made by another instance within `ttl`.
pub struct SessionCache {
    ttl: Duration,
    entries: Mutex<HashMap<String, (Instant, Option<Viewer>)>>,
}

impl SessionCache {
    pub fn new(ttl: Duration) -> SessionCache {
        SessionCache {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Instant, Option<Viewer>)>> {
        self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn forget_session(&self, session_id: &str) {
        self.entries().insert(session_id.to_string(), (Instant::now(), None));
    }

    pub fn forget_user(&self, user_id: i64) {
        self.entries()
            .retain(|_, (_, viewer)| viewer.as_ref().is_none_or(|v| v.user_id != user_id));
    }

    /// The viewer of a live session: not revoked, not expired, its user active. Role comes from the database,
    /// so a role change applies within `ttl` without waiting for the access token to expire.
    pub async fn viewer(&self, db: &Db, session_id: &str) -> AppResult<Option<Viewer>> {
        if let Some((checked, viewer)) = self.entries().get(session_id)
            && checked.elapsed() < self.ttl
        {
            return Ok(viewer.clone());
        }
        let at = now();
        let row: Option<(i64, String, Role)> = crate::db_run!(db, |conn| {
            sessions::table
                .inner_join(users::table)
                .filter(sessions::id.eq(session_id))
                .filter(sessions::revoked_at.is_null())
                .filter(sessions::expires_at.gt(at))
                .filter(users::is_active.eq(true))
                .select((users::id, users::uuid, users::role))
                .first(conn)
                .await
                .optional()
                .map_err(AppError::from)
        })?;
        let viewer = row.map(|(user_id, user_uuid, role)| Viewer {
            user_id,
            user_uuid,
            role,
            session_id: session_id.to_string(),
        });
        let mut entries = self.entries();
        if entries.len() > 50_000 {
            let ttl = self.ttl;
            entries.retain(|_, (checked, _)| checked.elapsed() < ttl);
        }
        entries.insert(session_id.to_string(), (Instant::now(), viewer.clone()));
        Ok(viewer)
    }
}
