//! Start-up: connect, migrate, seed, assemble the state, and serve until told to stop.

use std::future::Future;
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::auth::authenticator::Authenticator;
use crate::auth::jwt::JwtKeys;
use crate::auth::ratelimit::RateLimiter;
use crate::auth::sessions::SessionCache;
use crate::catalog::seed;
use crate::config::Settings;
use crate::db::{Db, PoolOptions, migrate};
use crate::graphql::build_schema;
use crate::http::metrics;
use crate::jobs::worker::Worker;
use crate::notify::Mailer;
use crate::state::AppState;
use crate::storage::Storage;

/// Opens the database, applies pending migrations, seeds the demo catalog into an empty database when
/// configured, and builds the state the router serves.
pub async fn prepare(settings: Settings) -> anyhow::Result<AppState> {
    let db = Db::connect(
        &settings.database_url,
        &PoolOptions {
            max_size: settings.db_pool_size,
            ..PoolOptions::default()
        },
    )?;
    let applied = migrate::run_pending(&db).await?;
    if !applied.is_empty() {
        tracing::info!(versions = ?applied, backend = db.backend().name(), "applied migrations");
    }
    if settings.seed_demo {
        let inserted = seed::seed_demo_if_empty(&db).await?;
        if inserted > 0 {
            tracing::info!(movies = inserted, "seeded the demo catalog into an empty database");
        }
    }
    state_for(settings, db)
}

/// The state over an already migrated database.
pub fn state_for(settings: Settings, db: Db) -> anyhow::Result<AppState> {
    let schema = build_schema(db.clone(), &settings.graphql);
    let metrics = settings.metrics.then(metrics::recorder);
    let auth = Arc::new(Authenticator {
        keys: JwtKeys::new(&settings.jwt_secret, settings.auth.access_token_ttl),
        sessions: SessionCache::new(settings.auth.session_cache_ttl),
    });
    let limiter = Arc::new(RateLimiter::new(settings.auth.rate_limit_window));
    let mailer = Mailer::from_settings(&settings.mail)?;
    let storage = Storage::from_settings(&settings.storage)?;
    Ok(AppState {
        settings: Arc::new(settings),
        db,
        schema,
        metrics,
        auth,
        limiter,
        mailer,
        storage,
    })
}

/// Serves until `shutdown` resolves, then finishes the requests in flight, stops the worker after its current
/// job, and closes the pool.
pub async fn serve(
    state: AppState,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let db = state.db.clone();
    let (stop_worker, stop_signal) = tokio::sync::watch::channel(false);
    let worker = state.settings.run_worker.then(|| {
        let settings = &state.settings;
        let worker = Worker::new(
            state.db.clone(),
            state.mailer.clone(),
            settings.worker_poll,
            settings.job_backoff_base,
        );
        tokio::spawn(worker.run(stop_signal))
    });
    let router = crate::http::build_router(state);
    let served = axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await;
    let _ = stop_worker.send(true);
    if let Some(worker) = worker {
        let _ = worker.await;
    }
    db.close();
    Ok(served?)
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM (what orchestrators send).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
