//! The worker: claims due jobs, runs each with the handler registered for its kind, retries failures with
//! backoff, and schedules the periodic jobs (once per period across instances).

use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use chrono::Timelike;
use futures_util::future::BoxFuture;
use tokio::sync::watch;

use diesel::QueryResult;

use crate::db::{Db, DbConn, now};
use crate::error::{AppError, AppResult};
use crate::jobs::queue::{self, JobKind, JobRow, JobStatus};

/// How long a claimed job is held before another worker may take it over.
const LEASE: Duration = Duration::from_secs(120);
const BATCH: i64 = 10;

/// Runs the jobs of one kind. Implemented by whatever holds what the job needs (the mailer for emails, the
/// database handle for a cleanup).
pub trait JobHandler<J: JobKind>: Send + Sync + 'static {
    fn run(&self, job: J) -> impl Future<Output = anyhow::Result<()>> + Send;
}

/// A handler with its payload type erased, so handlers of every kind fit in one map.
trait RunPayload: Send + Sync {
    fn run<'a>(&'a self, payload: &'a str) -> BoxFuture<'a, anyhow::Result<()>>;
}

struct Typed<J, H> {
    handler: H,
    kind: PhantomData<fn() -> J>,
}

impl<J: JobKind, H: JobHandler<J>> RunPayload for Typed<J, H> {
    fn run<'a>(&'a self, payload: &'a str) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            let job: J = serde_json::from_str(payload)?;
            self.handler.run(job).await
        })
    }
}

/// A job kind queued once per hour, with its payload.
trait Periodic: Send + Sync {
    fn kind(&self) -> &'static str;
    fn enqueue_once<'a>(&'a self, conn: &'a mut DbConn, dedupe_key: &'a str) -> BoxFuture<'a, QueryResult<bool>>;
}

struct Every<J>(J);

impl<J: JobKind> Periodic for Every<J> {
    fn kind(&self) -> &'static str {
        J::KIND
    }

    fn enqueue_once<'a>(&'a self, conn: &'a mut DbConn, dedupe_key: &'a str) -> BoxFuture<'a, QueryResult<bool>> {
        Box::pin(queue::enqueue_once(conn, &self.0, dedupe_key))
    }
}

/// The job kinds this worker runs, each with its handler, and the periodic jobs it schedules.
#[derive(Clone, Default)]
pub struct Handlers {
    by_kind: HashMap<&'static str, Arc<dyn RunPayload>>,
    hourly: Vec<Arc<dyn Periodic>>,
}

impl Handlers {
    /// Runs jobs of kind `J` with `handler`.
    pub fn on<J: JobKind, H: JobHandler<J>>(mut self, handler: H) -> Self {
        let typed = Typed {
            handler,
            kind: PhantomData::<fn() -> J>,
        };
        self.by_kind.insert(J::KIND, Arc::new(typed));
        self
    }

    /// Queues `job` once per hour: the first worker of any instance to look in a new hour does.
    pub fn hourly<J: JobKind>(mut self, job: J) -> Self {
        self.hourly.push(Arc::new(Every(job)));
        self
    }
}

#[derive(Clone)]
pub struct Worker {
    db: Db,
    handlers: Handlers,
    id: String,
    poll: Duration,
    backoff_base: Duration,
}

impl Worker {
    pub fn new(db: Db, handlers: Handlers, poll: Duration, backoff_base: Duration) -> Worker {
        let id = format!("{}:{}:{}", hostname(), std::process::id(), crate::util::random_token(4));
        Worker {
            db,
            handlers,
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
        let until = now() + chrono::Duration::from_std(LEASE).map_err(AppError::internal)?;
        let worker = self.id.as_str();
        let claimed = self
            .db
            .transaction(async |conn| Ok(queue::claim(conn, worker, BATCH, until).await?))
            .await?;
        for job in &claimed {
            let outcome = self.execute(job).await;
            let mut conn = self.db.conn().await?;
            match outcome {
                Ok(()) => queue::complete(&mut conn, job.id).await?,
                Err(error) => {
                    let error = format!("{error:#}");
                    let wait = queue::backoff(self.backoff_base, job.attempts);
                    let retry_at = now() + chrono::Duration::from_std(wait).map_err(AppError::internal)?;
                    let status = queue::fail(&mut conn, job, &error, retry_at).await?;
                    if status == JobStatus::Failed {
                        tracing::error!(job = job.id, kind = %job.kind, attempts = job.attempts, %error, "job failed for good");
                    } else {
                        tracing::warn!(job = job.id, kind = %job.kind, attempts = job.attempts, %error, "job failed; will retry");
                    }
                }
            }
        }
        Ok(claimed.len())
    }

    async fn execute(&self, job: &JobRow) -> anyhow::Result<()> {
        match self.handlers.by_kind.get(job.kind.as_str()) {
            Some(handler) => handler.run(&job.payload).await,
            None => anyhow::bail!("unknown job kind {:?}", job.kind),
        }
    }

    /// Queues this hour's periodic jobs unless another instance did.
    async fn schedule_periodic(&self) -> AppResult<()> {
        let hour = now().format("%Y-%m-%dT%H").to_string();
        let mut conn = self.db.conn().await?;
        for periodic in &self.handlers.hourly {
            let dedupe_key = format!("{}:{hour}", periodic.kind());
            periodic.enqueue_once(&mut conn, &dedupe_key).await?;
        }
        Ok(())
    }
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
