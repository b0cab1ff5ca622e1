//! What the router's handlers can reach. Handlers and extractors take only the handle they use
//! (`State<Accounts>`, `State<Auth>`, …), which axum hands out through `FromRef`.

use std::ops::Deref;
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

/// The handles, behind one reference count: axum clones the state for every request (and each middleware that
/// reads it clones it again), and cloning two dozen handles, each with its own reference counts, was 14% of the
/// server's time on cached pages (benches/RESULTS.md, issue 12, third part). Reads go through `Deref`.
#[derive(Clone)]
pub struct AppState(Arc<Handles>);

impl AppState {
    pub fn new(handles: Handles) -> AppState {
        AppState(Arc::new(handles))
    }
}

impl Deref for AppState {
    type Target = Handles;

    fn deref(&self) -> &Handles {
        &self.0
    }
}

/// Hands out one handle of the state to the handlers and extractors that name it.
macro_rules! handle_from_state {
    ($($handle:ty => $field:ident),* $(,)?) => {
        $(
            impl FromRef<AppState> for $handle {
                fn from_ref(state: &AppState) -> $handle {
                    state.$field.clone()
                }
            }
        )*
    };
}

handle_from_state!(
    Accounts => accounts,
    Auth => auth,
    RateLimits => rate_limits,
    TrustedProxyHops => trusted_proxy_hops,
    crate::payments::Payments => payments,
);

pub struct Handles {
    pub settings: Arc<Settings>,
    pub db: Db,
    pub schema: CinemaSchema,
    /// Renders /metrics; None when METRICS=off.
    pub metrics: Option<PrometheusHandle>,
    pub auth: Auth,
    pub rate_limits: RateLimits,
    /// Requests per client address on /graphql (H2).
    pub graphql_budget: RateLimiter,
    pub trusted_proxy_hops: TrustedProxyHops,
    pub accounts: Accounts,
    pub catalog: Catalog,
    /// Posters: the generated ones are served by `server::media`.
    pub posters: crate::catalog::posters::Posters,
    pub shop: crate::shop::Shop,
    pub payments: crate::payments::Payments,
    pub jobs: Jobs,
    pub mailer: Mailer,
    pub storage: Storage,
    /// The WebSockets open now (`/graphql/ws`), per client and in all.
    pub sockets: crate::server::subscriptions::OpenSockets,
    /// Answers to anonymous public reads, reused until public content changes.
    pub response_cache: crate::server::response_cache::ResponseCache,
    /// Query texts clients registered by hash (automatic persisted queries).
    pub persisted_queries: crate::server::persisted_queries::PersistedQueries,
    /// Documents parsed before, by their text.
    pub parsed_documents: crate::server::parsed_documents::ParsedDocuments,
}
