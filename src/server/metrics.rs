//! Prometheus metrics (G7): request counts and latency by route, and pool gauges, at /metrics.

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::server::AppState;

/// The process-wide recorder (metrics has one global recorder; every app in the process shares it).
pub fn recorder() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full("http_request_duration_seconds".into()),
                    &[
                        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                    ],
                )
                .expect("bucket list is not empty")
                .install_recorder()
                .expect("no other metrics recorder is installed")
        })
        .clone()
}

/// Compares without stopping at the first difference, so the time taken tells nothing about the token.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

/// Counts and times every request under its route pattern (not its raw path, which would explode the labels).
pub async fn track(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let method = request.method().as_str().to_string();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    let labels = [("method", method), ("route", route), ("status", status)];
    metrics::counter!("http_requests_total", &labels).increment(1);
    metrics::histogram!("http_request_duration_seconds", &labels).record(started.elapsed().as_secs_f64());
    response
}

/// Metrics
///
/// Prometheus text format: `http_requests_total`, `http_request_duration_seconds`, `cinema_db_statements_total`,
/// `cinema_db_statements_prepared_total` (kept in a connection's statement cache), the pool gauges
/// `cinema_db_pool_*`, the response cache's `cinema_response_cache_*` (hits, misses, entries, bytes), and the
/// entries and bytes of the persisted queries (`cinema_persisted_queries_*`) and of the parsed documents
/// (`cinema_parsed_documents_*`). With `METRICS_TOKEN` set (required in production), only a scraper sending
/// `Authorization: Bearer <METRICS_TOKEN>` may read it; public otherwise (development). 404 when `METRICS=off`.
/// Public in development; a scraper's role in production.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "health",
    responses(
        (status = 200, description = "Metrics in the Prometheus text format.", content_type = "text/plain"),
        (status = 401, description = "`UNAUTHENTICATED`: METRICS_TOKEN is set and the request does not carry it.", body = crate::error::Problem),
        (status = 404, description = "Metrics are turned off.")
    )
)]
pub async fn render(State(state): State<AppState>, headers: axum::http::HeaderMap) -> Response {
    let Some(handle) = &state.metrics else {
        return crate::error::Problem::new(StatusCode::NOT_FOUND, "NOT_FOUND", "metrics are turned off")
            .into_response();
    };
    if let Some(token) = &state.settings.metrics_token {
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "));
        if !presented.is_some_and(|presented| constant_time_eq(presented.as_bytes(), token.as_bytes())) {
            return crate::error::AppError::Unauthenticated.into_response();
        }
    }
    let status = state.db.pool_status();
    metrics::gauge!("cinema_db_pool_size").set(status.size as f64);
    metrics::gauge!("cinema_db_pool_available").set(status.available as f64);
    metrics::gauge!("cinema_db_pool_waiting").set(status.waiting as f64);
    metrics::gauge!("cinema_db_pool_max_size").set(status.max_size as f64);
    let (hits, misses) = state.response_cache.hits_and_misses();
    metrics::counter!("cinema_response_cache_hits_total").absolute(hits);
    metrics::counter!("cinema_response_cache_misses_total").absolute(misses);
    for (name, usage) in [
        ("response_cache", state.response_cache.usage()),
        ("persisted_queries", state.persisted_queries.usage()),
        ("parsed_documents", state.parsed_documents.usage()),
    ] {
        metrics::gauge!(format!("cinema_{name}_entries")).set(usage.entries as f64);
        metrics::gauge!(format!("cinema_{name}_bytes")).set(usage.bytes as f64);
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], handle.render()).into_response()
}
