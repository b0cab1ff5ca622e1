//! The worker: claims due jobs, runs them, and schedules the periodic ones (once per period across instances).

use std::time::Duration;

use chrono::Timelike;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use tokio::sync::watch;

use crate::db::schema::{jobs, one_time_tokens, refresh_tokens, sessions};
use crate::db::{Db, now};
use crate::error::{AppError, AppResult};
use crate::jobs::queue::{self, CLEANUP_JOB, EMAIL_JOB, JobRow, JobStatus, NewJob};
use crate::notify::{Email, Mailer};

/// How long a claimed job is held before another worker may take it over.
const LEASE: Duration = Duration::from_secs(120);
const BATCH: i64 = 10;
/// Finished jobs are kept this long for inspection, then removed by the cleanup job.
const KEEP_SUCCEEDED: chrono::Duration = chrono::Duration::days(7);

#[derive(Clone)]
pub struct Worker {
    pub db: Db,
    pub mailer: Mailer,
    pub id: String,
    pub poll: Duration,
    pub backoff_base: Duration,
}

impl Worker {
    pub fn new(db: Db, mailer: Mailer, poll: Duration, backoff_base: Duration) -> Worker {
        let host = hostname();
        let id = format!("{host}:{}:{}", std::process::id(), &crate::util::random_token(4));
        Worker {
            db,
            mailer,
            id,
            poll,
            backoff_base,
        }
    }

    /// Runs until `stop` turns true, finishing the job in hand first.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        tracing::info!(worker = %self.id, "background worker started");
        let mut scheduled_period = None;
        loop {
            if *stop.borrow() {
                break;
            }
            let period = now().date().and_hms_opt(now().hour(), 0, 0);
            if scheduled_period != period {
                match self.schedule_periodic().await {
                    Ok(()) => scheduled_period = period,
                    Err(error) => tracing::warn!(
                        code = error.code(),
                        reason = error.public_message(),
                        "could not schedule periodic jobs"
                    ),
                }
            }
            let ran = match self.run_due().await {
                Ok(ran) => ran,
                Err(error) => {
                    tracing::warn!(
                        code = error.code(),
                        reason = error.public_message(),
                        "could not claim jobs"
                    );
                    0
                }
            };
            if ran == 0 {
                tokio::select! {
                    _ = tokio::time::sleep(self.poll) => {}
                    _ = stop.changed() => {}
                }
            }
        }
        tracing::info!(worker = %self.id, "background worker stopped");
    }

    /// Claims and runs one batch of due jobs; returns how many ran.
    pub async fn run_due(&self) -> AppResult<usize> {
        let claimed = queue::claim(&self.db, &self.id, BATCH, LEASE).await?;
        for job in &claimed {
            match self.execute(job).await {
                Ok(()) => queue::complete(&self.db, job).await?,
                Err(error) => {
                    let status = queue::fail(&self.db, job, &format!("{error:#}"), self.backoff_base).await?;
                    let level_error = status == JobStatus::Failed;
                    if level_error {
                        tracing::error!(job = job.id, kind = %job.kind, attempts = job.attempts, error = format!("{error:#}"), "job failed for good");
                    } else {
                        tracing::warn!(job = job.id, kind = %job.kind, attempts = job.attempts, error = format!("{error:#}"), "job failed; will retry");
                    }
                }
            }
        }
        Ok(claimed.len())
    }

    async fn execute(&self, job: &JobRow) -> anyhow::Result<()> {
        match job.kind.as_str() {
            EMAIL_JOB => {
                let email: Email = serde_json::from_str(&job.payload)?;
                self.mailer.send(&email).await
            }
            CLEANUP_JOB => {
                let removed = delete_expired(&self.db).await?;
                tracing::info!(removed, "deleted expired tokens, sessions and old jobs");
                Ok(())
            }
            other => anyhow::bail!("unknown job kind {other:?}"),
        }
    }

    /// The hourly cleanup (A4), enqueued once per hour whatever the number of instances.
    async fn schedule_periodic(&self) -> AppResult<()> {
        let hour = now().format("%Y-%m-%dT%H").to_string();
        queue::enqueue_once(
            &self.db,
            NewJob::new(CLEANUP_JOB, "{}".into(), Some(format!("{CLEANUP_JOB}:{hour}"))),
        )
        .await?;
        Ok(())
    }
}

/// Deletes expired activation and reset tokens, expired sessions (with their refresh tokens) and refresh
/// tokens, and finished jobs older than a week. Returns the number of rows removed.
pub async fn delete_expired(db: &Db) -> AppResult<usize> {
    let at = now();
    let old = at - KEEP_SUCCEEDED;
    crate::db_transaction!(db, |conn| {
        let mut removed = diesel::delete(one_time_tokens::table.filter(one_time_tokens::expires_at.lt(at)))
            .execute(conn)
            .await?;
        removed += diesel::delete(refresh_tokens::table.filter(refresh_tokens::expires_at.lt(at)))
            .execute(conn)
            .await?;
        removed += diesel::delete(sessions::table.filter(sessions::expires_at.lt(at)))
            .execute(conn)
            .await?;
        removed += diesel::delete(
            jobs::table
                .filter(jobs::status.eq(JobStatus::Succeeded))
                .filter(jobs::updated_at.lt(old)),
        )
        .execute(conn)
        .await?;
        Ok::<usize, AppError>(removed)
    })
}

fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_string())
        })
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "cinema".into())
}
