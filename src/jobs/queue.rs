//! The jobs table: job kinds as types, enqueue (inside the caller's transaction), claim, complete, fail.
//!
//! Every function takes a connection so that it can run inside the caller's transaction.

use std::time::Duration;

use chrono::NaiveDateTime;
use diesel::QueryResult;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::db::schema::jobs;
use crate::db::{DbConn, now};
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

/// A kind of background job: the type of its payload, kept as JSON in `jobs.payload` under the name `KIND`.
/// The worker runs it with the handler registered for that kind (`jobs::worker::Handlers`).
pub trait JobKind: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The name stored in `jobs.kind`; never change it while jobs of the kind may be queued.
    const KIND: &'static str;
    /// How many attempts the worker makes before it keeps the job as FAILED.
    const MAX_ATTEMPTS: i32 = 10;
}

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
struct NewJob<'a> {
    kind: &'a str,
    payload: String,
    status: JobStatus,
    max_attempts: i32,
    run_at: NaiveDateTime,
    dedupe_key: Option<&'a str>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

impl<'a> NewJob<'a> {
    fn of<J: JobKind>(job: &J, dedupe_key: Option<&'a str>) -> QueryResult<NewJob<'a>> {
        let payload =
            serde_json::to_string(job).map_err(|error| diesel::result::Error::SerializationError(Box::new(error)))?;
        let at = now();
        Ok(NewJob {
            kind: J::KIND,
            payload,
            status: JobStatus::Queued,
            max_attempts: J::MAX_ATTEMPTS,
            run_at: at,
            dedupe_key,
            created_at: at,
            updated_at: at,
        })
    }
}

/// Queues `job`, so that it commits or rolls back with the caller's change (an email is sent only if the
/// change that caused it was saved).
pub async fn enqueue<J: JobKind>(conn: &mut DbConn, job: &J) -> QueryResult<()> {
    let row = NewJob::of(job, None)?;
    crate::per_backend!(conn, |c| diesel::insert_into(jobs::table).values(&row).execute(c).await)?;
    Ok(())
}

/// Queues `job` for the period named by `dedupe_key` unless some instance already did (periodic jobs run once
/// per period however many instances schedule them). True when this call queued it.
pub async fn enqueue_once<J: JobKind>(conn: &mut DbConn, job: &J, dedupe_key: &str) -> QueryResult<bool> {
    let row = NewJob::of(job, Some(dedupe_key))?;
    let inserted = crate::per_backend!(conn, |c| {
        diesel::insert_into(jobs::table)
            .values(&row)
            .on_conflict_do_nothing()
            .execute(c)
            .await
    })?;
    Ok(inserted > 0)
}

/// Wait before attempt `attempts + 1`: `base`, then twice as long each time, capped at one hour.
pub fn backoff(base: Duration, attempts: i32) -> Duration {
    let exponent = attempts.clamp(1, 20) as u32 - 1;
    base.saturating_mul(1 << exponent).min(Duration::from_secs(3600))
}

/// Claims up to `limit` due jobs for `worker`, leasing them until `until`. A job whose lease ran out (its
/// worker died) is due again. Two workers never claim the same job: PostgreSQL skips rows another worker has
/// locked; SQLite has one writer at a time (run this inside `Db::transaction`, which is `BEGIN IMMEDIATE`).
pub async fn claim(conn: &mut DbConn, worker: &str, limit: i64, until: NaiveDateTime) -> QueryResult<Vec<JobRow>> {
    let at = now();
    // The two backends differ here on purpose: row locking with SKIP LOCKED exists only on PostgreSQL.
    match conn {
        DbConn::Postgres(c) => {
            use diesel::sql_types::{BigInt, Text, Timestamp};
            diesel::sql_query(
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
            .load::<JobRow>(&mut **c)
            .await
        }
        DbConn::Sqlite(c) => {
            let c = &mut **c;
            let due = jobs::status
                .eq(JobStatus::Queued)
                .and(jobs::run_at.le(at))
                .or(jobs::status.eq(JobStatus::Running).and(jobs::locked_until.lt(at)));
            let ids: Vec<i64> = jobs::table
                .filter(due)
                .order_by((jobs::run_at.asc(), jobs::id.asc()))
                .limit(limit)
                .select(jobs::id)
                .load(c)
                .await?;
            diesel::update(jobs::table.filter(jobs::id.eq_any(&ids)))
                .set((
                    jobs::status.eq(JobStatus::Running),
                    jobs::attempts.eq(jobs::attempts + 1),
                    jobs::locked_until.eq(until),
                    jobs::locked_by.eq(worker),
                    jobs::updated_at.eq(at),
                ))
                .execute(c)
                .await?;
            jobs::table
                .filter(jobs::id.eq_any(&ids))
                .select(JobRow::as_select())
                .load(c)
                .await
        }
    }
}

/// Marks a job done. The payload is cleared: an email's body may hold a single-use link.
pub async fn complete(conn: &mut DbConn, job_id: i64) -> QueryResult<()> {
    let at = now();
    crate::per_backend!(conn, |c| {
        diesel::update(jobs::table.find(job_id))
            .set((
                jobs::status.eq(JobStatus::Succeeded),
                jobs::payload.eq("{}"),
                jobs::locked_until.eq(None::<NaiveDateTime>),
                jobs::updated_at.eq(at),
            ))
            .execute(c)
            .await
    })?;
    Ok(())
}

/// Records a failed attempt: the job is due again at `retry_at`, or kept as FAILED (without its payload) once
/// out of attempts.
/// Returns the job's new status.
pub async fn fail(conn: &mut DbConn, job: &JobRow, error: &str, retry_at: NaiveDateTime) -> QueryResult<JobStatus> {
    let status = if job.attempts >= job.max_attempts {
        JobStatus::Failed
    } else {
        JobStatus::Queued
    };
    let error: String = error.chars().take(2000).collect();
    let at = now();
    // A job that failed for good keeps its error for admins, not its payload (an email's text).
    let payload = if status == JobStatus::Failed {
        "{}"
    } else {
        job.payload.as_str()
    };
    crate::per_backend!(conn, |c| {
        diesel::update(jobs::table.find(job.id))
            .set((
                jobs::payload.eq(payload),
                jobs::status.eq(status),
                jobs::run_at.eq(retry_at),
                jobs::last_error.eq(&error),
                jobs::locked_until.eq(None::<NaiveDateTime>),
                jobs::updated_at.eq(at),
            ))
            .execute(c)
            .await
    })?;
    Ok(status)
}

/// Deletes jobs that succeeded before `before`; returns how many.
pub async fn delete_succeeded_before(conn: &mut DbConn, before: NaiveDateTime) -> QueryResult<usize> {
    crate::per_backend!(conn, |c| {
        diesel::delete(
            jobs::table
                .filter(jobs::status.eq(JobStatus::Succeeded))
                .filter(jobs::updated_at.lt(before)),
        )
        .execute(c)
        .await
    })
}

/// Jobs, newest first, of one status or all (for admins and tests).
pub async fn list(conn: &mut DbConn, status: Option<JobStatus>, limit: i64) -> QueryResult<Vec<JobRow>> {
    crate::per_backend!(conn, |c| {
        let mut query = jobs::table
            .select(JobRow::as_select())
            .order_by(jobs::id.desc())
            .limit(limit)
            .into_boxed();
        if let Some(status) = status {
            query = query.filter(jobs::status.eq(status));
        }
        query.load(c).await
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
