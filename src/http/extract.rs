//! Request extractors shared by the REST handlers. Each is written against any router state that provides what
//! it reads (`FromRef`), so that this module names no application type and sits below the domains that use it.

use std::net::{IpAddr, SocketAddr};

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

/// How many proxies of the deployment's own append to X-Forwarded-For in front of the server (0: none).
#[derive(Debug, Clone, Copy)]
pub struct TrustedProxyHops(pub usize);

/// The client's address for rate limits (H5): the socket peer, or — behind `hops` proxies the deployment
/// trusts — the X-Forwarded-For entry the outermost of them appended, counted from the right. Entries to the
/// left of it are whatever the client wrote, so they are never used; a missing or malformed entry falls back
/// to the peer.
pub struct ClientAddress(pub String);

impl<S> FromRequestParts<S> for ClientAddress
where
    TrustedProxyHops: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let hops = TrustedProxyHops::from_ref(state).0;
        if hops > 0
            && let Some(client) = forwarded_client(&parts.headers, hops)
        {
            return Ok(ClientAddress(client.to_string()));
        }
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(peer)| peer.ip().to_string());
        Ok(ClientAddress(peer.unwrap_or_else(|| "unknown".into())))
    }
}

/// The address `hops` entries from the right of every X-Forwarded-For header together, if it is an address.
fn forwarded_client(headers: &axum::http::HeaderMap, hops: usize) -> Option<IpAddr> {
    let mut entries = Vec::new();
    for value in headers.get_all("x-forwarded-for") {
        entries.extend(value.to_str().ok()?.split(',').map(str::trim));
    }
    let index = entries.len().checked_sub(hops)?;
    entries[index].parse::<IpAddr>().ok()
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
