//! Request extractors shared by the REST handlers. Each is written against any router state that provides what
//! it reads (`FromRef`), so that this module names no application type and sits below the domains that use it.

use std::net::SocketAddr;

use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, FromRef, FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::auth::{Auth, Viewer};
use crate::error::AppError;

/// A handler argument that requires a signed-in user: `UNAUTHENTICATED` without a bearer token, and the
/// token's own refusal (`INVALID_TOKEN`, `SESSION_REVOKED`, …) when it does not authenticate.
pub struct SignedIn(pub Viewer);

impl<S> FromRequestParts<S> for SignedIn
where
    Auth: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Auth::from_ref(state).viewer(&parts.headers).await? {
            Some(viewer) => Ok(SignedIn(viewer)),
            None => Err(AppError::Unauthenticated),
        }
    }
}

/// Whether the first X-Forwarded-For entry names the client (only behind a proxy the deployment trusts).
#[derive(Debug, Clone, Copy)]
pub struct TrustForwardedFor(pub bool);

/// The client's address for rate limits: the socket peer, or the first X-Forwarded-For entry when the server
/// is configured to trust its proxy.
pub struct ClientAddress(pub String);

impl<S> FromRequestParts<S> for ClientAddress
where
    TrustForwardedFor: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if TrustForwardedFor::from_ref(state).0
            && let Some(forwarded) = parts.headers.get("x-forwarded-for").and_then(|v| v.to_str().ok())
            && let Some(first) = forwarded.split(',').next().map(str::trim).filter(|s| !s.is_empty())
        {
            return Ok(ClientAddress(first.to_string()));
        }
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(peer)| peer.ip().to_string());
        Ok(ClientAddress(peer.unwrap_or_else(|| "unknown".into())))
    }
}

/// A JSON body whose refusals are problem documents with a stable code, never axum's plain text.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(match rejection {
                JsonRejection::JsonDataError(error) => AppError::BadInput {
                    message: error.body_text(),
                    field: None,
                },
                JsonRejection::MissingJsonContentType(_) => AppError::rejected(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "UNSUPPORTED_MEDIA_TYPE",
                    "send the body as Content-Type: application/json",
                ),
                JsonRejection::BytesRejection(error) if error.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                    AppError::rejected(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "PAYLOAD_TOO_LARGE",
                        "the body is too large",
                    )
                }
                other => AppError::rejected(StatusCode::BAD_REQUEST, "BAD_REQUEST", other.body_text()),
            }),
        }
    }
}
