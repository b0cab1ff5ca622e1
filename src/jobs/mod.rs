//! Background work in the database (docs/architecture.md, "Background jobs"): a queue that callers write in
//! their own transaction, and a worker that claims due jobs, runs each kind with its registered handler,
//! retries failures with exponential backoff and keeps the ones that ran out of attempts.

pub mod graphql;
pub mod queue;
pub mod worker;

pub use queue::{JobKind, JobRow, JobStatus, enqueue};
pub use worker::{Handlers, JobHandler, Worker};

use crate::db::Db;
use crate::error::AppResult;

/// The queue as admins see it.
#[derive(Clone)]
pub struct Jobs {
    db: Db,
}

impl Jobs {
    pub fn new(db: Db) -> Jobs {
        Jobs { db }
    }

    /// The newest jobs of one status (or all), at most `limit`.
    pub async fn list(&self, status: Option<JobStatus>, limit: i64) -> AppResult<Vec<JobRow>> {
        let mut conn = self.db.conn().await?;
        Ok(queue::list(&mut conn, status, limit).await?)
    }
}
