//! From an `Authorization: Bearer` header to a `Viewer`: the JWT must verify and its session must be alive.
//! Shared by REST handlers, the GraphQL handler and the docs gate.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};

use crate::auth::Viewer;
use crate::auth::jwt::JwtKeys;
use crate::auth::sessions::SessionCache;
use crate::db::Db;
use crate::error::{AppError, AppResult};
use crate::state::AppState;

pub struct Authenticator {
    pub keys: JwtKeys,
    pub sessions: SessionCache,
}

impl Authenticator {
    /// None without an Authorization header; an error for a header that does not authenticate.
    pub async fn viewer(&self, db: &Db, headers: &HeaderMap) -> AppResult<Option<Viewer>> {
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
        let claims = self.keys.verify(token)?;
        match self.sessions.viewer(db, &claims.sid).await? {
            Some(viewer) if viewer.user_uuid == claims.sub => Ok(Some(viewer)),
            _ => Err(AppError::rejected(
                StatusCode::UNAUTHORIZED,
                "SESSION_REVOKED",
                "the session of this token has ended; sign in again",
            )),
        }
    }
}

/// A REST handler argument that requires a signed-in user.
pub struct SignedIn(pub Viewer);

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        match state.auth.viewer(&state.db, &parts.headers).await? {
            Some(viewer) => Ok(SignedIn(viewer)),
            None => Err(AppError::Unauthenticated),
        }
    }
}
