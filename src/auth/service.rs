//! Sessions as the rest of the service sees them: sign a user in, trade a refresh token, end a session, and
//! turn an `Authorization: Bearer` header into a `Viewer` (the JWT must verify and its session must be alive).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode, header};
use serde::Serialize;

use crate::auth::Viewer;
use crate::auth::jwt::JwtKeys;
use crate::auth::sessions::{self, NewRefreshToken, NewSession, PresentedToken, RevokeReason, SessionsChanged};
use crate::db::{Db, Role, now};
use crate::error::{AppError, AppResult};
use crate::util::{random_token, sha256_hex};

/// What a successful sign-in or refresh answers.
#[derive(Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenPair {
    /// Short-lived JWT for `Authorization: Bearer …`.
    pub access_token: String,
    /// Long-lived opaque token for `POST /api/v1/auth/refresh`; each use returns a new one. Absent when the
    /// client asked for it in a cookie (`refreshTokenIn: "cookie"`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// Always `Bearer`.
    #[schema(example = "Bearer")]
    pub token_type: String,
    /// Seconds until the access token expires.
    #[schema(example = 900)]
    pub expires_in: u64,
}

crate::redacted_debug!(TokenPair {
    shown: [token_type, expires_in],
    secret: [access_token, refresh_token]
});

/// The identity handle: cheap to clone, shared by REST handlers, the GraphQL handler and the docs gate.
#[derive(Clone)]
pub struct Auth {
    inner: Arc<AuthInner>,
}

struct AuthInner {
    db: Db,
    keys: JwtKeys,
    cache: SessionCache,
    rules: SessionRules,
}

/// How long sessions and refresh tokens live (A5, A6, H6).
#[derive(Debug, Clone, Copy)]
pub struct SessionRules {
    /// A refresh token's life; each refresh renews the session by this much (up to `max_age`).
    pub refresh_ttl: Duration,
    /// No session outlives this from its sign-in.
    pub max_age: Duration,
    /// A rotated refresh token presented again within this is a client racing itself, not a thief.
    pub reuse_window: Duration,
    /// How long an instance trusts its cached view of a session.
    pub cache_ttl: Duration,
}

/// What a disabled account's sign-in, refresh and tokens answer.
pub fn account_disabled() -> AppError {
    AppError::rejected(
        StatusCode::FORBIDDEN,
        "ACCOUNT_DISABLED",
        "this account has been disabled by an administrator",
    )
}

fn session_revoked() -> AppError {
    AppError::rejected(
        StatusCode::UNAUTHORIZED,
        "SESSION_REVOKED",
        "the session of this token has ended; sign in again",
    )
}

pub fn invalid_refresh() -> AppError {
    AppError::rejected(
        StatusCode::UNAUTHORIZED,
        "INVALID_REFRESH_TOKEN",
        "the refresh token is invalid, expired or revoked",
    )
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

impl Auth {
    pub fn new(db: Db, keys: JwtKeys, rules: SessionRules) -> Auth {
        Auth {
            inner: Arc::new(AuthInner {
                db,
                keys,
                cache: SessionCache::new(rules.cache_ttl),
                rules,
            }),
        }
    }

    fn pair(&self, user_uuid: &str, role: Role, session_id: &str, refresh_token: String) -> AppResult<TokenPair> {
        let keys = &self.inner.keys;
        Ok(TokenPair {
            access_token: keys.issue(user_uuid, role, session_id)?,
            refresh_token: Some(refresh_token),
            token_type: "Bearer".into(),
            expires_in: keys.ttl.as_secs(),
        })
    }

    fn refresh_expiry(&self, from: chrono::NaiveDateTime) -> AppResult<chrono::NaiveDateTime> {
        Ok(from + chrono::Duration::from_std(self.inner.rules.refresh_ttl).map_err(AppError::internal)?)
    }

    /// Signs a user in on a new device: a session, its first refresh token and an access token.
    pub async fn start_session(&self, user_id: i64, user_uuid: &str, role: Role) -> AppResult<TokenPair> {
        let session_id = uuid::Uuid::new_v4().to_string();
        let refresh = random_token(32);
        let hash = sha256_hex(&refresh);
        let at = now();
        let expires_at = self.refresh_expiry(at)?;
        let session = NewSession {
            id: &session_id,
            user_id,
            created_at: at,
            last_used_at: at,
            expires_at,
        };
        let token = NewRefreshToken {
            token_hash: &hash,
            session_id: &session_id,
            created_at: at,
            expires_at,
        };
        self.inner
            .db
            .transaction(async |conn| {
                sessions::insert_session(conn, &session).await?;
                sessions::insert_refresh_token(conn, &token).await?;
                Ok(())
            })
            .await?;
        self.pair(user_uuid, role, &session_id, refresh)
    }

    /// Trades a refresh token for a new pair (A6). The old token dies; presenting it again after the reuse
    /// window revokes the whole session, since only a thief or a confused client would hold a rotated token.
    /// Within the window (two tabs of one app refreshing at once) it gets a fresh pair of the same session
    /// (H6). A session ends at its maximum age, however often it was refreshed.
    pub async fn refresh(&self, token: &str) -> AppResult<TokenPair> {
        let hash = sha256_hex(token);
        let fresh = random_token(32);
        let fresh_hash = sha256_hex(&fresh);
        let at = now();
        let rules = self.inner.rules;
        let max_age = chrono::Duration::from_std(rules.max_age).map_err(AppError::internal)?;
        let reuse_window = chrono::Duration::from_std(rules.reuse_window).map_err(AppError::internal)?;
        let renewed = self.refresh_expiry(at)?;
        let outcome = self
            .inner
            .db
            .transaction(async |conn| {
                let Some(presented) = sessions::presented_token(conn, &hash).await? else {
                    return Err(invalid_refresh());
                };
                let PresentedToken {
                    session_id,
                    session_created,
                    revoked_at,
                    session_expires,
                    rotated_at,
                    token_expires,
                    user_uuid,
                    role,
                    user_disabled_at,
                } = presented;
                if user_disabled_at.is_some() {
                    return Err(account_disabled());
                }
                let session_end = session_created + max_age;
                if revoked_at.is_some() || session_expires < at || token_expires < at || session_end <= at {
                    return Err(invalid_refresh());
                }
                let expires_at = renewed.min(session_end);
                // Of concurrent uses of one token exactly one rotates it. A use that finds it rotated within
                // the reuse window (or loses the race right now) is the same client racing itself; later, a
                // thief or a confused client: the session ends.
                let won = rotated_at.is_none() && sessions::mark_rotated(conn, &hash, at).await?;
                let racing = rotated_at.is_none_or(|rotated| at - rotated <= reuse_window);
                if !won && !racing {
                    sessions::revoke(conn, &session_id, RevokeReason::ReuseDetected, at).await?;
                    return Ok(Rotation::Reused { session_id });
                }
                let next = NewRefreshToken {
                    token_hash: &fresh_hash,
                    session_id: &session_id,
                    created_at: at,
                    expires_at,
                };
                sessions::insert_refresh_token(conn, &next).await?;
                sessions::extend(conn, &session_id, at, expires_at).await?;
                Ok(Rotation::Rotated {
                    session_id,
                    user_uuid,
                    role,
                })
            })
            .await?;
        match outcome {
            Rotation::Reused { session_id } => {
                self.inner.cache.forget_session(&session_id);
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
            } => self.pair(&user_uuid, role, &session_id, fresh),
        }
    }

    /// Ends one session (logout); every instance hears of it.
    pub async fn end_session(&self, session_id: &str, reason: RevokeReason) -> AppResult<()> {
        let at = now();
        self.inner
            .db
            .transaction(async |conn| Ok(sessions::revoke(conn, session_id, reason, at).await?))
            .await?;
        self.inner.cache.forget_session(session_id);
        Ok(())
    }

    /// Ends the session a refresh token belongs to (a browser's logout with the refresh cookie, its access
    /// token possibly expired). A token that names no session ends nothing.
    pub async fn end_session_of_refresh(&self, token: &str) -> AppResult<()> {
        let hash = sha256_hex(token);
        let mut conn = self.inner.db.conn().await?;
        let presented = sessions::presented_token(&mut conn, &hash).await?;
        drop(conn);
        match presented {
            Some(presented) => self.end_session(&presented.session_id, RevokeReason::Logout).await,
            None => Ok(()),
        }
    }

    /// Acts on a notice that sessions ended or a user changed (from this instance or another): what this
    /// instance remembers of them is dropped, so the next check reads the database.
    pub fn hear(&self, change: &SessionsChanged) {
        match change {
            SessionsChanged::Session(id) => self.inner.cache.forget_session(id),
            SessionsChanged::User(id) => self.inner.cache.forget_user(*id),
        }
    }

    /// Drops everything this instance remembers of sessions (notices may have been missed).
    pub fn forget_all(&self) {
        self.inner.cache.forget_all();
    }

    /// Drops what this instance remembers of a user's sessions, after their sessions, role or state changed.
    pub fn forget_user(&self, user_id: i64) {
        self.inner.cache.forget_user(user_id);
    }

    /// None without an Authorization header; an error for a header that does not authenticate.
    pub async fn viewer(&self, headers: &HeaderMap) -> AppResult<Option<Viewer>> {
        let Some(value) = headers.get(header::AUTHORIZATION) else {
            return Ok(None);
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .filter(|token| !token.is_empty())
            .ok_or_else(|| {
                AppError::rejected(
                    StatusCode::UNAUTHORIZED,
                    "INVALID_TOKEN",
                    "Authorization must be `Bearer <access token>`",
                )
            })?;
        self.viewer_of_token(token).await.map(Some)
    }

    /// The signed-in user an access token stands for; its refusal (`INVALID_TOKEN`, `SESSION_REVOKED`, …)
    /// otherwise. (A WebSocket carries its token in the connection's first message, not in a header.)
    pub async fn viewer_of_token(&self, token: &str) -> AppResult<Viewer> {
        self.token_holder(token).await.map(|(viewer, _)| viewer)
    }

    /// The signed-in user an access token stands for, and when the token expires (seconds since the epoch):
    /// a WebSocket keeps both, to check the session again later and to close when the token runs out.
    pub async fn token_holder(&self, token: &str) -> AppResult<(Viewer, i64)> {
        let claims = self.inner.keys.verify(token)?;
        let viewer = self.check_session(&claims.sid, &claims.sub, Freshness::Cached).await?;
        Ok((viewer, claims.exp))
    }

    /// The viewer of a session that is still alive and belongs to `user_uuid`; `SESSION_REVOKED` or
    /// `ACCOUNT_DISABLED` otherwise. `Freshness::Database` reads the database whatever this instance remembers
    /// (after a notice that the session may have ended).
    pub async fn check_session(&self, session_id: &str, user_uuid: &str, freshness: Freshness) -> AppResult<Viewer> {
        match self.session_state(session_id, freshness).await? {
            SessionState::Live(viewer) if viewer.user_uuid == user_uuid => Ok(viewer),
            SessionState::Disabled => Err(account_disabled()),
            SessionState::Live(_) | SessionState::Ended => Err(session_revoked()),
        }
    }

    /// What a session is now. The role comes from the database, so a role change applies within the cache's
    /// lifetime without waiting for the access token to expire.
    async fn session_state(&self, session_id: &str, freshness: Freshness) -> AppResult<SessionState> {
        let cache = &self.inner.cache;
        if freshness == Freshness::Cached
            && let Some(state) = cache.get(session_id)
        {
            return Ok(state);
        }
        let asked = Instant::now();
        let mut conn = self.inner.db.conn().await?;
        let owner = sessions::session_owner(&mut conn, session_id).await?;
        let state = match owner {
            Some(owner) if owner.user_disabled_at.is_some() => SessionState::Disabled,
            Some(owner) if owner.revoked_at.is_none() && owner.expires_at > now() => SessionState::Live(Viewer {
                user_id: owner.user_id,
                user_uuid: owner.user_uuid,
                role: owner.role,
                session_id: session_id.to_string(),
            }),
            _ => SessionState::Ended,
        };
        cache.put(session_id, state.clone(), asked);
        Ok(state)
    }
}

/// Whether a session check may use what this instance remembers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// A check made within `SESSION_CACHE_SECS` may answer.
    Cached,
    /// Read the database.
    Database,
}

/// A session as the check of an access token sees it.
#[derive(Debug, Clone)]
enum SessionState {
    Live(Viewer),
    /// Revoked, expired or unknown.
    Ended,
    /// Its user was disabled by an admin.
    Disabled,
}

/// Short-lived memory of session checks, so that an authenticated request does not always cost a query.
/// A revocation made by this instance is seen at once; one made by another instance within `ttl`.
struct SessionCache {
    ttl: Duration,
    inner: Mutex<CacheInner>,
}

#[derive(Default)]
struct CacheInner {
    entries: HashMap<String, (Instant, SessionState)>,
    /// When each user's sessions were last forgotten, so that a lookup that began before then does not write
    /// its older answer back afterwards.
    forgotten_users: HashMap<i64, Instant>,
    /// When everything was last forgotten (notices may have been missed), for the same reason.
    all_forgotten: Option<Instant>,
}

/// Past this many entries, expired ones are dropped before another is added.
const SESSION_CACHE_SWEEP_AT: usize = 50_000;

impl SessionCache {
    fn new(ttl: Duration) -> SessionCache {
        SessionCache {
            ttl,
            inner: Mutex::new(CacheInner::default()),
        }
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, CacheInner> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The remembered state while a recent check is remembered.
    fn get(&self, session_id: &str) -> Option<SessionState> {
        let inner = self.inner();
        let (checked, state) = inner.entries.get(session_id)?;
        (checked.elapsed() < self.ttl).then(|| state.clone())
    }

    /// Remembers what a lookup that began at `asked` found — unless the session or its user was forgotten
    /// (logged out, revoked, changed) since: then the lookup's answer may predate that, and is dropped.
    fn put(&self, session_id: &str, state: SessionState, asked: Instant) {
        let mut inner = self.inner();
        let ttl = self.ttl;
        if inner.entries.len() > SESSION_CACHE_SWEEP_AT {
            inner.entries.retain(|_, (checked, _)| checked.elapsed() < ttl);
            inner.forgotten_users.retain(|_, at| at.elapsed() < ttl);
        }
        let newer_entry = inner
            .entries
            .get(session_id)
            .is_some_and(|(checked, _)| *checked > asked);
        let user_forgotten = match &state {
            SessionState::Live(viewer) => inner.forgotten_users.get(&viewer.user_id).is_some_and(|at| *at > asked),
            _ => false,
        };
        let all_forgotten = inner.all_forgotten.is_some_and(|at| at > asked);
        if !newer_entry && !user_forgotten && !all_forgotten {
            inner.entries.insert(session_id.to_string(), (Instant::now(), state));
        }
    }

    fn forget_session(&self, session_id: &str) {
        self.inner()
            .entries
            .insert(session_id.to_string(), (Instant::now(), SessionState::Ended));
    }

    fn forget_all(&self) {
        let mut inner = self.inner();
        inner.entries.clear();
        inner.all_forgotten = Some(Instant::now());
    }

    /// Drops every remembered state of a user's sessions (and the remembered bans, which name no user: the
    /// next check of such a session reads the database again).
    fn forget_user(&self, user_id: i64) {
        let mut inner = self.inner();
        inner.entries.retain(|_, (_, state)| match state {
            SessionState::Live(viewer) => viewer.user_id != user_id,
            SessionState::Disabled => false,
            SessionState::Ended => true,
        });
        inner.forgotten_users.insert(user_id, Instant::now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live(user_id: i64) -> SessionState {
        SessionState::Live(Viewer {
            user_id,
            user_uuid: "u".into(),
            role: Role::User,
            session_id: "s".into(),
        })
    }

    /// H6: a lookup that read the database before a logout does not bring the session back afterwards.
    #[test]
    fn a_slow_lookup_cannot_undo_a_revocation() {
        let cache = SessionCache::new(Duration::from_secs(60));
        let asked = Instant::now();
        std::thread::sleep(Duration::from_millis(2));
        cache.forget_session("s");
        cache.put("s", live(1), asked);
        assert!(matches!(cache.get("s"), Some(SessionState::Ended)));

        let asked = Instant::now();
        std::thread::sleep(Duration::from_millis(2));
        cache.forget_user(2);
        cache.put("t", live(2), asked);
        assert!(
            cache.get("t").is_none(),
            "the user's sessions were forgotten after the lookup began"
        );

        cache.put("u", live(3), Instant::now());
        assert!(matches!(cache.get("u"), Some(SessionState::Live(_))));
    }
}
