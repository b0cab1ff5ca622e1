//! Admins see the background jobs that ran out of attempts (or any status), with their last error (F2).

use async_graphql::{Context, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};

use crate::db::Role;
use crate::graphql::guards::{RoleGuard, requires_role};
use crate::jobs::{JobRow, JobStatus, Jobs};

#[derive(Default)]
pub struct JobQuery;

/// A background job (an email to send, a periodic cleanup).
#[derive(SimpleObject)]
pub struct Job {
    id: i64,
    kind: String,
    status: JobStatus,
    attempts: i32,
    max_attempts: i32,
    last_error: Option<String>,
    run_at: DateTime<Utc>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<JobRow> for Job {
    fn from(row: JobRow) -> Job {
        Job {
            id: row.id,
            kind: row.kind,
            status: row.status,
            attempts: row.attempts,
            max_attempts: row.max_attempts,
            last_error: row.last_error,
            run_at: row.run_at.and_utc(),
            created_at: row.created_at.and_utc(),
            updated_at: row.updated_at.and_utc(),
        }
    }
}

#[Object]
impl JobQuery {
    /// The newest background jobs, FAILED ones by default (at most 100).
    #[graphql(guard = "RoleGuard::role(Role::Admin)", directive = requires_role::apply(Role::Admin))]
    async fn jobs(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "JobStatus::Failed")] status: JobStatus,
        #[graphql(default = 50)] limit: i32,
    ) -> Result<Vec<Job>> {
        let rows = ctx
            .data::<Jobs>()?
            .list(Some(status), i64::from(limit.clamp(1, 100)))
            .await?;
        Ok(rows.into_iter().map(Job::from).collect())
    }
}
