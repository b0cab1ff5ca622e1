//! Start-up: connect, migrate, seed, assemble the state, and serve until told to stop.

use std::future::{Future, IntoFuture};
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::accounts::cleanup::{Cleanup, DeleteExpired};
use crate::accounts::links::{LinkMail, LinkMailer, MailBudget};
use crate::accounts::refresh_cookie::CookieRules;
use crate::accounts::{AccountSettings, Accounts};
use crate::auth::jwt::JwtKeys;
use crate::auth::ratelimit::{DEFAULT_CAPACITY, RateLimiter};
use crate::auth::shared_counts::SharedCounts;
use crate::auth::{Auth, RateLimits, SessionRules};
use crate::catalog::posters::Posters;
use crate::catalog::{Catalog, seed};
use crate::community::Community;
use crate::config::Settings;
use crate::db::{Db, PoolOptions, migrate};
use crate::graphql::budgets::WriteBudgets;
use crate::graphql::pagination::CursorSeal;
use crate::http::extract::TrustedProxyHops;
use crate::jobs::{Handlers, Jobs, Worker};
use crate::notify::mailer::EmailJobs;
use crate::notify::{Email, Mailer};
use crate::payments::gateway::{Gateway, MockGateway, OwnAddress};
use crate::payments::models::Provider;
use crate::payments::models::RefundUnwanted;
use crate::payments::service::ExpireCheckout;
use crate::payments::stripe_gateway::{StripeGateway, StripeOptions};
use crate::payments::{PaymentOptions, Payments};
use crate::server::listener::{self, ConnectionLimits};
use crate::server::parsed_documents::ParsedDocuments;
use crate::server::persisted_queries::PersistedQueries;
use crate::server::response_cache::ResponseCache;
use crate::server::schema::{Domains, build_schema};
use crate::server::state::Handles;
use crate::server::{AppState, metrics};
use crate::shop::Shop;
use crate::shop::abandoned::CancelAbandonedOrders;
use crate::shop::models::OrderCanceled;
use crate::storage::Storage;

/// Opens the database, applies pending migrations, seeds the demo catalog into an empty database when
/// configured, and builds the state the router serves.
pub async fn prepare(settings: Settings) -> anyhow::Result<AppState> {
    let db = pool_of(&settings)?;
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

/// The database pool the settings describe (nothing is connected before the first use).
fn pool_of(settings: &Settings) -> anyhow::Result<Db> {
    Db::connect(
        &settings.database.url,
        &PoolOptions {
            max_size: settings.database.pool_size,
            ..PoolOptions::default()
        },
    )
}

/// The state over an already migrated database: each domain's handle gets what it uses.
pub fn state_for(settings: Settings, db: Db) -> anyhow::Result<AppState> {
    let auth_settings = &settings.auth;
    let auth = Auth::new(
        db.clone(),
        JwtKeys::new(&auth_settings.jwt_secret, auth_settings.access_token_ttl)
            .accepting_previous(auth_settings.jwt_previous_secret.as_deref()),
        SessionRules {
            refresh_ttl: auth_settings.refresh_token_ttl,
            max_age: auth_settings.session_max_age,
            reuse_window: auth_settings.refresh_reuse_window,
            cache_ttl: auth_settings.session_cache_ttl,
        },
    );
    let shared = match &settings.shared_limits {
        Some(store) => Some(SharedCounts::open(&store.redis_url, &store.key_prefix).map_err(anyhow::Error::msg)?),
        None => None,
    };
    let rate_limits = RateLimits::new(
        auth_settings.rate_limit_window,
        auth_settings.rate_limit_per_client,
        auth_settings.rate_limit_per_account,
        shared.as_ref(),
    );
    let mailer = Mailer::from_settings(&settings.mail)?;
    let storage = Storage::from_settings(&settings.storage)?;
    let accounts = Accounts::new(
        db.clone(),
        auth.clone(),
        storage.clone(),
        AccountSettings {
            bcrypt_cost: settings.auth.bcrypt_cost,
            public_url: settings.http.public_url.clone(),
            avatar_max_bytes: settings.avatar_max_bytes,
            refresh_cookie: CookieRules {
                // A developer's plain-HTTP machine could not send a Secure cookie back.
                secure: settings.app_env != crate::config::AppEnv::Development,
                max_age: settings.auth.refresh_token_ttl,
            },
        },
    );
    let catalog = Catalog::new(db.clone());
    let posters = Posters::new(db.clone(), storage.clone(), &settings.http.public_url);
    let shop = shop_for(&settings, &db);
    let payments = payments_for(&settings, &db)?;
    let jobs = Jobs::new(db.clone());
    let schema = build_schema(
        Domains {
            accounts: accounts.clone(),
            catalog: catalog.clone(),
            jobs: jobs.clone(),
            community: Community::new(
                db.clone(),
                settings.http.frontend_url.clone(),
                settings.comments_per_minute,
                shared.as_ref(),
            ),
            shop: shop.clone(),
            payments: payments.clone(),
            cursors: CursorSeal::new(&settings.auth.jwt_secret),
            write_budgets: WriteBudgets::new(settings.graphql.write_budgets, shared.as_ref()),
            posters: posters.clone(),
        },
        &settings.graphql,
    );
    let response_cache = ResponseCache::new(settings.graphql.response_cache_bytes);
    let persisted_queries = PersistedQueries::new(settings.graphql.persisted_query_bytes);
    let parsed_documents = ParsedDocuments::new(settings.graphql.document_cache_bytes);
    Ok(AppState::new(Handles {
        metrics: settings.metrics.then(metrics::recorder),
        trusted_proxy_hops: TrustedProxyHops(settings.http.trusted_proxy_hops),
        settings: Arc::new(settings),
        db,
        schema,
        auth,
        rate_limits,
        graphql_budget: RateLimiter::new(std::time::Duration::from_secs(60), DEFAULT_CAPACITY)
            .shared_through(shared.as_ref()),
        accounts,
        catalog,
        posters,
        shop,
        payments,
        jobs,
        mailer,
        storage,
        sockets: Default::default(),
        response_cache,
        persisted_queries,
        parsed_documents,
    }))
}

/// Payments through Stripe with a key, or the mock (E7) without one.
fn payments_for(settings: &Settings, db: &Db) -> anyhow::Result<Payments> {
    let money = &settings.payments;
    let own_address = match &money.mock_webhook_url {
        Some(url) => OwnAddress::configured(url),
        None => OwnAddress::default(),
    };
    let (gateway, provider): (Gateway, Provider) = match &money.stripe_secret_key {
        Some(key) => {
            let stripe = StripeGateway::new(&StripeOptions {
                secret_key: key,
                api_base: money.stripe_api_base.as_deref(),
                timeout: money.stripe_timeout,
                max_attempts: money.stripe_max_attempts,
            })
            .map_err(anyhow::Error::msg)?;
            (Arc::new(stripe), Provider::Stripe)
        }
        None => (
            Arc::new(MockGateway::new(
                &settings.http.public_url,
                &money.stripe_webhook_secret,
                own_address.clone(),
            )),
            Provider::Mock,
        ),
    };
    Ok(Payments::new(
        db.clone(),
        PaymentOptions {
            webhook_secret: money.stripe_webhook_secret.clone(),
            frontend_url: settings.http.frontend_url.clone(),
            checkout_lifetime: money.checkout_lifetime,
            max_checkout_attempts: money.max_checkout_attempts,
            refund_retry_after: money.refund_retry_after,
            // Every attempt's timeout and the backoffs between them, with room to spare.
            call_budget: money.stripe_timeout * money.stripe_max_attempts + std::time::Duration::from_secs(5),
            own_address,
        },
        gateway,
        provider,
    ))
}

fn shop_for(settings: &Settings, db: &Db) -> Shop {
    Shop::new(
        db.clone(),
        settings.jobs.abandoned_order_after,
        settings.max_pending_orders,
    )
}

/// The worker with every job kind's handler, as `cinema serve` runs it inside and `cinema worker` alone.
fn worker_for(settings: &Settings, db: &Db, mailer: &Mailer, shop: &Shop, payments: &Payments) -> Worker {
    Worker::new(
        db.clone(),
        job_handlers(
            db,
            mailer,
            &settings.http.frontend_url,
            MailBudget::per_hour(settings.auth.account_emails_per_hour),
            shop,
            payments,
        ),
        settings.jobs.poll,
        settings.jobs.backoff_base,
    )
}

/// The job kinds the worker runs, with their handlers, and the periodic ones it schedules.
pub fn job_handlers(
    db: &Db,
    mailer: &Mailer,
    frontend_url: &str,
    budget: MailBudget,
    shop: &Shop,
    payments: &Payments,
) -> Handlers {
    Handlers::default()
        .on::<Email, _>(EmailJobs::new(mailer.clone(), db.clone()))
        .on::<LinkMail, _>(LinkMailer::new(
            db.clone(),
            mailer.clone(),
            frontend_url.to_string(),
            budget,
        ))
        .on::<DeleteExpired, _>(Cleanup::new(db.clone()))
        .hourly(DeleteExpired::default())
        .on::<CancelAbandonedOrders, _>(shop.clone())
        .hourly(CancelAbandonedOrders::default())
        .on::<OrderCanceled, _>(payments.clone())
        .on::<ExpireCheckout, _>(payments.clone())
        .on::<RefundUnwanted, _>(payments.clone())
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
    let worker = state.settings.jobs.run_worker.then(|| {
        let worker = worker_for(&state.settings, &state.db, &state.mailer, &state.shop, &state.payments);
        tokio::spawn(worker.run(stop_signal))
    });
    let limits = ConnectionLimits {
        header_read_timeout: state.settings.http.header_read_timeout,
        max_connections: state.settings.http.max_connections,
    };
    if let Ok(address) = listener.local_addr() {
        state.payments.serving_on(address);
    }
    // Live order status and ended sessions from every instance (PostgreSQL LISTEN; SQLite passes its notices
    // on at commit).
    let listening = state.db.listen(&[
        crate::shop::models::ORDER_STATUS_CHANNEL,
        crate::auth::sessions::SESSIONS_CHANNEL,
    ]);
    let hearing_sessions = tokio::spawn(hear_sessions(state.db.notices(), state.auth.clone()));
    let router = crate::server::build_router(state);
    let served = listener::serve(listener, router, limits, shutdown).await;
    let _ = stop_worker.send(true);
    if let Some(listening) = listening {
        listening.abort();
    }
    hearing_sessions.abort();
    if let Some(worker) = worker {
        let _ = worker.await;
    }
    db.close();
    Ok(served?)
}

/// `cinema worker`: the job worker alone, for deployments that run the API with RUN_WORKER=off and scale
/// workers on their own (a claimed job is leased to one worker, so any number may run). It applies pending
/// migrations as an API instance does (one instance at a time), and answers `/health/live` and
/// `/health/ready` on `listener`, so that the image's one `cinema health` probe checks it too. Stops after its
/// current job when `shutdown` resolves; a worker that stops on its own ends the process with an error, for
/// the orchestrator to restart.
pub async fn work(
    settings: Settings,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let db = pool_of(&settings)?;
    migrate::run_pending(&db).await?;
    if settings.payments.stripe_secret_key.is_none() && settings.payments.mock_webhook_url.is_none() {
        tracing::warn!(
            "mock payments without MOCK_WEBHOOK_URL: this worker cannot confirm the refunds it makes; \
             set it to an API instance (e.g. http://api:8080)"
        );
    }
    let mailer = Mailer::from_settings(&settings.mail)?;
    let shop = shop_for(&settings, &db);
    let payments = payments_for(&settings, &db)?;
    let worker = worker_for(&settings, &db, &mailer, &shop, &payments);
    let (stop_worker, stop_signal) = tokio::sync::watch::channel(false);
    let mut running = tokio::spawn(worker.run(stop_signal));
    tracing::info!(address = %listener.local_addr()?, "worker: probes at /health/live and /health/ready");
    let probes = axum::serve(listener, crate::server::health::probes_only(db.clone()))
        .with_graceful_shutdown(shutdown)
        .into_future();
    let outcome = tokio::select! {
        served = probes => {
            let _ = stop_worker.send(true);
            let _ = (&mut running).await;
            served.map_err(anyhow::Error::from)
        }
        ended = &mut running => Err(anyhow::anyhow!("the worker stopped on its own: {ended:?}")),
    };
    db.close();
    outcome
}

/// Makes this instance forget what it remembers of sessions that ended anywhere (a logout on another instance
/// reaches this one's HTTP checks at once, not after `SESSION_CACHE_SECS`).
async fn hear_sessions(mut notices: tokio::sync::broadcast::Receiver<crate::db::notify::Notice>, auth: Auth) {
    use crate::auth::sessions::{SESSIONS_CHANNEL, SessionsChanged};
    use tokio::sync::broadcast::error::RecvError;
    loop {
        match notices.recv().await {
            Ok(notice) if notice.channel == SESSIONS_CHANNEL => {
                if let Some(change) = SessionsChanged::parse(&notice.payload) {
                    auth.hear(&change);
                }
            }
            Ok(_) => {}
            Err(RecvError::Lagged(_)) => auth.forget_all(),
            Err(RecvError::Closed) => return,
        }
    }
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
