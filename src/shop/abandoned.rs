//! F3: pending orders nobody paid are canceled by a periodic job, so their movies can be ordered again. The
//! job is queued once per hour by whichever instance's worker looks first (the queue's dedupe key), and runs
//! once.

use serde::{Deserialize, Serialize};

use crate::jobs::{JobHandler, JobKind};
use crate::shop::Shop;

/// The job; it carries nothing (each run cancels what is old enough by then).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CancelAbandonedOrders {}

impl JobKind for CancelAbandonedOrders {
    const KIND: &'static str = "orders.cancel_abandoned";
}

impl JobHandler<CancelAbandonedOrders> for Shop {
    async fn run(&self, _job: CancelAbandonedOrders) -> anyhow::Result<()> {
        let canceled = self
            .cancel_abandoned()
            .await
            .map_err(|error| anyhow::anyhow!("{error:?}"))?;
        tracing::info!(canceled, "canceled abandoned pending orders");
        Ok(())
    }
}
