//! What every handler can reach.

use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;

use crate::auth::authenticator::Authenticator;
use crate::auth::ratelimit::RateLimiter;
use crate::config::Settings;
use crate::db::Db;
use crate::graphql::CinemaSchema;
use crate::notify::Mailer;
use crate::storage::Storage;

#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub db: Db,
    pub schema: CinemaSchema,
    /// Renders /metrics; None when METRICS=off.
    pub metrics: Option<PrometheusHandle>,
    pub auth: Arc<Authenticator>,
    pub limiter: Arc<RateLimiter>,
    pub mailer: Mailer,
    pub storage: Storage,
}
