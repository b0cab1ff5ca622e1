//! The hourly cleanup (A4): expired activation and reset tokens, registrations nobody confirmed (H4), expired
//! sessions and refresh tokens, and finished jobs past their keeping time, deleted in one transaction by the
//! job queue's worker.

use serde::{Deserialize, Serialize};

use crate::accounts::links::ACTIVATION_TTL;
use crate::accounts::{repo, tokens};
use crate::auth::sessions;
use crate::db::{Db, now};
use crate::error::AppResult;
use crate::jobs::{JobHandler, JobKind, queue};

/// Finished jobs are kept this long for inspection.
const KEEP_SUCCEEDED_JOBS: chrono::Duration = chrono::Duration::days(7);

/// The cleanup job; it carries nothing (each run deletes what has expired by then).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DeleteExpired {}

impl JobKind for DeleteExpired {
    const KIND: &'static str = "cleanup.expired";
}

/// Runs the cleanup on the service's database.
pub struct Cleanup {
    db: Db,
}

impl Cleanup {
    pub fn new(db: Db) -> Cleanup {
        Cleanup { db }
    }

    /// Deletes what has expired; returns the number of rows removed.
    pub async fn run_now(&self) -> AppResult<usize> {
        let at = now();
        self.db
            .transaction(async |conn| {
                let mut removed = tokens::delete_expired(conn, at).await?;
                // After the tokens: an account is abandoned once no link can activate it any more.
                removed += repo::delete_abandoned_registrations(conn, at - ACTIVATION_TTL).await?;
                removed += sessions::delete_expired(conn, at).await?;
                removed += queue::delete_succeeded_before(conn, at - KEEP_SUCCEEDED_JOBS).await?;
                Ok(removed)
            })
            .await
    }
}

impl JobHandler<DeleteExpired> for Cleanup {
    async fn run(&self, _job: DeleteExpired) -> anyhow::Result<()> {
        let removed = self.run_now().await.map_err(|error| anyhow::anyhow!("{error:?}"))?;
        tracing::info!(
            removed,
            "deleted expired tokens, abandoned registrations, sessions and old jobs"
        );
        Ok(())
    }
}
