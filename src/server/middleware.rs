//! Cross-cutting layers: request ids, request logs, CORS, panics, time-outs and the fallback.

use std::any::Any;

use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, Method, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tower_http::cors::{AllowOrigin, Any as AnyOrigin, CorsLayer};
use tower_http::trace::{DefaultOnResponse, MakeSpan, TraceLayer};
use tracing::{Level, Span};

use crate::config::Settings;
use crate::error::Problem;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// A span per request carrying its id, so every log line of the request names it.
#[derive(Clone, Copy)]
pub struct RequestSpan;

impl<B> MakeSpan<B> for RequestSpan {
    fn make_span(&mut self, request: &Request<B>) -> Span {
        let request_id = request
            .headers()
            .get(&REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-");
        tracing::info_span!(
            "request",
            request_id = %request_id,
            method = %request.method(),
            path = %request.uri().path(),
        )
    }
}

pub fn trace_layer() -> TraceLayer<
    tower_http::classify::SharedClassifier<tower_http::classify::ServerErrorsAsFailures>,
    RequestSpan,
    (),
    DefaultOnResponse,
> {
    TraceLayer::new_for_http()
        .make_span_with(RequestSpan)
        .on_request(())
        .on_response(DefaultOnResponse::new().level(Level::INFO))
}

/// CORS from `CORS_ORIGINS`: none listed means no cross-origin access; `*` (development only) means any. A
/// listed origin is a front end of this deployment: it may send credentials (the refresh cookie) and the
/// `X-Requested-With` header the cookie's endpoints require; `*` never gets credentials.
pub fn cors_layer(settings: &Settings) -> CorsLayer {
    let base = CorsLayer::new()
        .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            REQUEST_ID,
            HeaderName::from_static(crate::accounts::refresh_cookie::REQUESTED_WITH),
        ])
        .expose_headers([REQUEST_ID, header::RETRY_AFTER])
        .max_age(std::time::Duration::from_secs(600));
    if settings.http.cors_origins.iter().any(|o| o == "*") {
        return base.allow_origin(AnyOrigin);
    }
    let origins: Vec<HeaderValue> = settings
        .http
        .cors_origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    base.allow_origin(AllowOrigin::list(origins)).allow_credentials(true)
}

/// A panic is a bug: log it and answer a problem document instead of dropping the connection.
pub fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response<Body> {
    let detail = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown".into());
    tracing::error!(panic = %detail, "handler panicked");
    Problem::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "INTERNAL_SERVER_ERROR",
        "internal error",
    )
    .into_response()
}

pub async fn not_found() -> Response {
    Problem::new(StatusCode::NOT_FOUND, "NOT_FOUND", "no such endpoint").into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panic_answers_a_problem_without_its_message() {
        let response = panic_response(Box::new("secret in a panic message"));
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = axum::body::to_bytes(response.into_body(), 10_000).await.unwrap();
        let text = String::from_utf8(body.to_vec()).unwrap();
        assert!(
            text.contains("INTERNAL_SERVER_ERROR") && !text.contains("secret"),
            "{text}"
        );
        let response = panic_response(Box::new(String::from("owned message")));
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
