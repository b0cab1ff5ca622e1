//! What the router's handlers can reach. Handlers and extractors take only the handle they use
//! (`State<Accounts>`, `State<Auth>`, …), which axum hands out through `FromRef`.

use std::sync::Arc;

use axum::extract::FromRef;
use metrics_exporter_prometheus::PrometheusHandle;

use crate::accounts::Accounts;
use crate::auth::ratelimit::RateLimiter;
use crate::auth::{Auth, RateLimits};
use crate::catalog::Catalog;
use crate::config::Settings;
use crate::db::Db;
use crate::http::extract::TrustedProxyHops;
use crate::jobs::Jobs;
use crate::notify::Mailer;
use crate::server::schema::CinemaSchema;
use crate::storage::Storage;

#[derive(Clone, FromRef)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub db: Db,
    pub schema: CinemaSchema,
    /// Renders /metrics; None when METRICS=off.
    pub metrics: Option<PrometheusHandle>,
    pub auth: Auth,
    pub rate_limits: RateLimits,
    /// Requests per client address on /graphql (H2).
    pub graphql_budget: Arc<RateLimiter>,
    pub trusted_proxy_hops: TrustedProxyHops,
    pub accounts: Accounts,
    pub catalog: Catalog,
    pub shop: crate::shop::Shop,
    pub payments: crate::payments::Payments,
    pub jobs: Jobs,
    pub mailer: Mailer,
    pub storage: Storage,
    /// The WebSockets open now (`/graphql/ws`), per client and in all.
    pub sockets: crate::server::subscriptions::OpenSockets,
    /// Answers to anonymous public reads, reused until public content changes.
    pub response_cache: Arc<crate::server::response_cache::ResponseCache>,
    /// Query texts clients registered by hash (automatic persisted queries).
    pub persisted_queries: Arc<crate::server::persisted_queries::PersistedQueries>,
    /// Documents parsed before, by their text.
    pub parsed_documents: Arc<crate::server::parsed_documents::ParsedDocuments>,
}
