//! The jobs table: enqueue (inside the caller's transaction), claim, complete, fail.

use std::time::Duration;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::db::schema::jobs;
use crate::db::{Db, DbPool, now};
use crate::error::{AppError, AppResult};
use crate::notify::Email;
use crate::text_enum;

text_enum! {
    /// Where a background job is in its life.
    #[derive(async_graphql::Enum)]
    pub enum JobStatus {
        Queued => "QUEUED",
        Running => "RUNNING",
        Succeeded => "SUCCEEDED",
        Failed => "FAILED",
    }
}

pub const EMAIL_JOB: &str = "email.send";
pub const CLEANUP_JOB: &str = "cleanup.expired";

#[derive(Debug, Clone, Queryable, Selectable, QueryableByName)]
#[diesel(table_name = jobs, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct JobRow {
    pub id: i64,
    pub kind: String,
    pub payload: String,
    pub status: JobStatus,
    pub attempts: i32,
    pub max_attempts: i32,
    pub run_at: NaiveDateTime,
    pub locked_until: Option<NaiveDateTime>,
    pub locked_by: Option<String>,
    pub last_error: Option<String>,
    pub dedupe_key: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = jobs)]
pub struct NewJob {
    pub kind: String,
    pub payload: String,
    pub status: JobStatus,
    pub max_attempts: i32,
    pub run_at: NaiveDateTime,
    pub dedupe_key: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl NewJob {
    pub fn new(kind: &str, payload: String, dedupe_key: Option<String>) -> NewJob {
        let at = now();
        NewJob {
            kind: kind.to_string(),
            payload,
            status: JobStatus::Queued,
            max_attempts: 10,
            run_at: at,
            dedupe_key,
            created_at: at,
            updated_at: at,
        }
    }

    pub fn email(email: &Email) -> NewJob {
        NewJob::new(
            EMAIL_JOB,
            serde_json::to_string(email).expect("an email serializes"),
            None,
        )
    }
}

/// Inserts a job with the caller's connection, so that it commits or rolls back with the caller's change:
/// `enqueue!(conn, NewJob::email(&email))?` inside a `db_transaction!` body.
#[macro_export]
macro_rules! enqueue {
    ($conn:expr, $job:expr) => {
        diesel::insert_into($crate::db::schema::jobs::table)
            .values(&$job)
            .execute($conn)
            .await
    };
}

/// Wait before attempt `attempts + 1`: `base`, then twice as long each time, capped at one hour.
pub fn backoff(base: Duration, attempts: i32) -> Duration {
    let exponent = attempts.clamp(1, 20) as u32 - 1;
    base.saturating_mul(1 << exponent).min(Duration::from_secs(3600))
}

/// Claims up to `limit` due jobs for `worker`, leasing them for `lease`. A job whose lease ran out (its worker
/// died) is due again. Two workers never claim the same job: PostgreSQL skips rows another worker has locked;
/// SQLite has one writer at a time (`BEGIN IMMEDIATE`).
pub async fn claim(db: &Db, worker: &str, limit: i64, lease: Duration) -> AppResult<Vec<JobRow>> {
    let at = now();
    let until = at + chrono::Duration::from_std(lease).map_err(AppError::internal)?;
    match db.pool() {
        DbPool::Postgres(pool) => {
            use diesel::sql_types::{BigInt, Text, Timestamp};
            let mut conn = pool.get().await?;
            let claimed = diesel::sql_query(
                "UPDATE jobs SET status = 'RUNNING', attempts = attempts + 1, locked_until = $1, locked_by = $2, \
                 updated_at = $3 \
                 WHERE id IN (SELECT id FROM jobs \
                   WHERE (status = 'QUEUED' AND run_at <= $3) OR (status = 'RUNNING' AND locked_until < $3) \
                   ORDER BY run_at, id LIMIT $4 FOR UPDATE SKIP LOCKED) \
                 RETURNING *",
            )
            .bind::<Timestamp, _>(until)
            .bind::<Text, _>(worker)
            .bind::<Timestamp, _>(at)
            .bind::<BigInt, _>(limit)
            .load::<JobRow>(&mut conn)
            .await?;
            Ok(claimed)
        }
        DbPool::Sqlite(pool) => {
            let mut conn = pool.get().await?;
            let worker = worker.to_string();
            conn.immediate_transaction(async |conn| {
                let due = jobs::status
                    .eq(JobStatus::Queued)
                    .and(jobs::run_at.le(at))
                    .or(jobs::status.eq(JobStatus::Running).and(jobs::locked_until.lt(at)));
                let ids: Vec<i64> = jobs::table
                    .filter(due)
                    .order_by((jobs::run_at.asc(), jobs::id.asc()))
                    .limit(limit)
                    .select(jobs::id)
                    .load(conn)
                    .await?;
                diesel::update(jobs::table.filter(jobs::id.eq_any(&ids)))
                    .set((
                        jobs::status.eq(JobStatus::Running),
                        jobs::attempts.eq(jobs::attempts + 1),
                        jobs::locked_until.eq(until),
                        jobs::locked_by.eq(&worker),
                        jobs::updated_at.eq(at),
                    ))
                    .execute(conn)
                    .await?;
                let claimed = jobs::table
                    .filter(jobs::id.eq_any(&ids))
                    .select(JobRow::as_select())
                    .load(conn)
                    .await?;
                Ok::<_, AppError>(claimed)
            })
            .await
        }
    }
}

/// Marks a job done. The payload is cleared: an email's body may hold a single-use link.
pub async fn complete(db: &Db, job: &JobRow) -> AppResult<()> {
    let at = now();
    crate::db_run!(db, |conn| {
        diesel::update(jobs::table.find(job.id))
            .set((
                jobs::status.eq(JobStatus::Succeeded),
                jobs::payload.eq("{}"),
                jobs::locked_until.eq(None::<NaiveDateTime>),
                jobs::updated_at.eq(at),
            ))
            .execute(conn)
            .await
            .map_err(AppError::from)
    })?;
    Ok(())
}

/// Records a failed attempt: retried after `backoff`, or kept as FAILED once out of attempts.
pub async fn fail(db: &Db, job: &JobRow, error: &str, backoff_base: Duration) -> AppResult<JobStatus> {
    let at = now();
    let out_of_attempts = job.attempts >= job.max_attempts;
    let status = if out_of_attempts {
        JobStatus::Failed
    } else {
        JobStatus::Queued
    };
    let run_at = at + chrono::Duration::from_std(backoff(backoff_base, job.attempts)).map_err(AppError::internal)?;
    let error: String = error.chars().take(2000).collect();
    crate::db_run!(db, |conn| {
        diesel::update(jobs::table.find(job.id))
            .set((
                jobs::status.eq(status),
                jobs::run_at.eq(run_at),
                jobs::last_error.eq(&error),
                jobs::locked_until.eq(None::<NaiveDateTime>),
                jobs::updated_at.eq(at),
            ))
            .execute(conn)
            .await
            .map_err(AppError::from)
    })?;
    Ok(status)
}

/// Enqueues a periodic job for the period named by `dedupe_key` unless some instance already did.
pub async fn enqueue_once(db: &Db, job: NewJob) -> AppResult<bool> {
    let inserted = crate::db_run!(db, |conn| {
        diesel::insert_into(jobs::table)
            .values(&job)
            .on_conflict_do_nothing()
            .execute(conn)
            .await
            .map_err(AppError::from)
    })?;
    Ok(inserted > 0)
}

/// Jobs by status, newest first (for admins and tests).
pub async fn list(db: &Db, status: Option<JobStatus>, limit: i64) -> AppResult<Vec<JobRow>> {
    crate::db_run!(db, |conn| {
        let mut query = jobs::table
            .select(JobRow::as_select())
            .order_by(jobs::id.desc())
            .limit(limit)
            .into_boxed();
        if let Some(status) = status {
            query = query.filter(jobs::status.eq(status));
        }
        query.load(conn).await.map_err(AppError::from)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let base = Duration::from_secs(5);
        assert_eq!(backoff(base, 1), Duration::from_secs(5));
        assert_eq!(backoff(base, 2), Duration::from_secs(10));
        assert_eq!(backoff(base, 4), Duration::from_secs(40));
        assert_eq!(backoff(base, 30), Duration::from_secs(3600));
    }
}
