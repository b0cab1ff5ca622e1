//! Liveness and readiness probes (G5).

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::{self, Db, migrate};
use crate::error::AppResult;
use crate::server::AppState;

/// How long readiness waits for the database before calling it unavailable.
const READINESS_TIMEOUT: Duration = Duration::from_secs(3);

#[derive(Debug, Serialize, ToSchema)]
pub struct Liveness {
    /// Always `ok` while the process serves requests.
    #[schema(example = "ok")]
    pub status: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Readiness {
    /// `ready`, or `unavailable` when any check failed.
    #[schema(example = "ready")]
    pub status: String,
    /// `ok`, or why the database could not be reached.
    #[schema(example = "ok")]
    pub database: String,
    /// `current`, `pending: <how many>`, or `unknown` when the database is unreachable.
    #[schema(example = "current")]
    pub migrations: String,
    /// `postgres` or `sqlite`.
    #[schema(example = "sqlite")]
    pub backend: String,
}

/// Liveness
///
/// Answers 200 while the process is up. It checks nothing else, so an orchestrator restarts the process only
/// when the process itself is stuck. Public.
#[utoipa::path(
    get,
    path = "/health/live",
    tag = "health",
    responses((status = 200, description = "The process is up.", body = Liveness))
)]
pub async fn live() -> Json<Liveness> {
    Json(Liveness { status: "ok".into() })
}

/// Readiness
///
/// Answers 200 when the database answers and every migration this binary knows is applied, 503 otherwise,
/// so that a load balancer sends traffic only to instances that can serve it. Public.
#[utoipa::path(
    get,
    path = "/health/ready",
    tag = "health",
    responses(
        (status = 200, description = "Ready to serve.", body = Readiness),
        (status = 503, description = "The database is unreachable or migrations are pending.", body = Readiness)
    )
)]
pub async fn ready(State(state): State<AppState>) -> Response {
    readiness(&state.db).await
}

/// The probes of a process that serves nothing else (`cinema worker`), so that one `cinema health` checks
/// every kind of instance.
pub fn probes_only(db: Db) -> Router {
    Router::new()
        .route("/health/live", get(live))
        .route(
            "/health/ready",
            get(|State(db): State<Db>| async move { readiness(&db).await }),
        )
        .with_state(db)
}

async fn readiness(db: &Db) -> Response {
    let backend = db.backend().name().to_string();
    let check = async {
        let mut conn = db.conn().await?;
        db::ping(&mut conn).await?;
        AppResult::Ok(migrate::pending(&mut conn).await?)
    };
    let (database, migrations) = match tokio::time::timeout(READINESS_TIMEOUT, check).await {
        Ok(Ok(pending)) if pending.is_empty() => ("ok".to_string(), "current".to_string()),
        Ok(Ok(pending)) => {
            // The versions go to the log, not to whoever asks: they tell an outsider which release runs.
            tracing::warn!(versions = ?pending, "readiness: migrations pending");
            ("ok".to_string(), format!("pending: {}", pending.len()))
        }
        Ok(Err(error)) => {
            tracing::warn!(
                code = error.code(),
                reason = error.public_message(),
                "readiness: database check failed"
            );
            (format!("error: {}", error.public_message()), "unknown".to_string())
        }
        Err(_) => ("error: timed out".to_string(), "unknown".to_string()),
    };
    let is_ready = database == "ok" && migrations == "current";
    let status = if is_ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = Readiness {
        status: if is_ready { "ready" } else { "unavailable" }.to_string(),
        database,
        migrations,
        backend,
    };
    (status, Json(body)).into_response()
}
