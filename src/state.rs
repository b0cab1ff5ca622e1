//! What every handler can reach.

use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;

use crate::config::Settings;
use crate::db::Db;
use crate::graphql::CinemaSchema;

#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub db: Db,
    pub schema: CinemaSchema,
    /// Renders /metrics; None when METRICS=off.
    pub metrics: Option<PrometheusHandle>,
}
