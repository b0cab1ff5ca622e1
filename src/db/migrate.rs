//! Embedded migrations, one tree per backend (same versions and names in both), run at start-up and by
//! `cinema migrate`; readiness asks whether any is pending.

use std::collections::BTreeSet;

use diesel::QueryableByName;
use diesel::migration::MigrationSource;
use diesel::pg::Pg;
use diesel::sqlite::Sqlite;
use diesel_async::AsyncMigrationHarness;
use diesel_async::RunQueryDsl;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::db::{Backend, Db, DbConn, DbPool};

pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");
pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

/// The PostgreSQL advisory lock that start-up work runs under (any number; the same in every instance).
const MIGRATION_LOCK: i64 = 0x0c1e_3a00_0001;

/// Applies every pending migration and returns the versions applied now. Needs the multi-threaded runtime
/// (the harness blocks in place).
///
/// On PostgreSQL several instances may start at once (issue 23: two replicas crashed on each other's
/// `CREATE TABLE`): the migrations run under a session advisory lock held on a connection of its own, so the
/// first instance applies them and the others, once it lets go, find nothing pending. A process that dies
/// holding the lock releases it with its session.
pub async fn run_pending(db: &Db) -> anyhow::Result<Vec<String>> {
    one_instance_at_a_time(db, async || apply_pending(db).await).await
}

/// Runs `work` while no other instance on this database runs start-up work (migrations, the demo catalog's
/// seeding): on PostgreSQL under a session advisory lock held on a connection of its own (released with the
/// session if the process dies); on SQLite (one process) as it is.
pub async fn one_instance_at_a_time<T>(db: &Db, work: impl AsyncFnOnce() -> anyhow::Result<T>) -> anyhow::Result<T> {
    let Some(url) = db.postgres_url() else {
        return work().await;
    };
    use diesel_async::AsyncConnection;
    let mut lock = diesel_async::AsyncPgConnection::establish(url)
        .await
        .map_err(|e| anyhow::anyhow!("database unavailable: {e}"))?;
    diesel::sql_query("SELECT pg_advisory_lock($1)")
        .bind::<diesel::sql_types::BigInt, _>(MIGRATION_LOCK)
        .execute(&mut lock)
        .await?;
    let outcome = work().await;
    diesel::sql_query("SELECT pg_advisory_unlock($1)")
        .bind::<diesel::sql_types::BigInt, _>(MIGRATION_LOCK)
        .execute(&mut lock)
        .await?;
    outcome
}

async fn apply_pending(db: &Db) -> anyhow::Result<Vec<String>> {
    let applied = match db.pool() {
        DbPool::Postgres(pool) => {
            let conn = pool
                .get()
                .await
                .map_err(|e| anyhow::anyhow!("database unavailable: {e}"))?;
            let mut harness = AsyncMigrationHarness::new(conn);
            harness
                .run_pending_migrations(POSTGRES_MIGRATIONS)
                .map_err(|e| anyhow::anyhow!("migration failed: {e}"))?
                .iter()
                .map(|v| v.to_string())
                .collect()
        }
        DbPool::Sqlite(pool) => {
            let conn = pool
                .get()
                .await
                .map_err(|e| anyhow::anyhow!("database unavailable: {e}"))?;
            let mut harness = AsyncMigrationHarness::new(conn);
            harness
                .run_pending_migrations(SQLITE_MIGRATIONS)
                .map_err(|e| anyhow::anyhow!("migration failed: {e}"))?
                .iter()
                .map(|v| v.to_string())
                .collect()
        }
    };
    Ok(applied)
}

/// The versions this binary knows for `backend`.
pub fn embedded_versions(backend: Backend) -> BTreeSet<String> {
    let names: Vec<String> = match backend {
        Backend::Postgres => MigrationSource::<Pg>::migrations(&POSTGRES_MIGRATIONS)
            .expect("embedded migrations are readable")
            .iter()
            .map(|m| m.name().version().to_string())
            .collect(),
        Backend::Sqlite => MigrationSource::<Sqlite>::migrations(&SQLITE_MIGRATIONS)
            .expect("embedded migrations are readable")
            .iter()
            .map(|m| m.name().version().to_string())
            .collect(),
    };
    names.into_iter().collect()
}

#[derive(QueryableByName)]
struct AppliedVersion {
    #[diesel(sql_type = diesel::sql_types::Text)]
    version: String,
}

/// Migrations this binary has that the database has not applied (an empty list means current).
/// One plain query, so that readiness probes stay cheap.
pub async fn pending(conn: &mut DbConn) -> diesel::QueryResult<Vec<String>> {
    let applied: Vec<AppliedVersion> = crate::per_backend!(conn, |c| {
        diesel::sql_query("SELECT version FROM __diesel_schema_migrations")
            .load(c)
            .await?
    });
    let applied: BTreeSet<String> = applied.into_iter().map(|row| row.version).collect();
    Ok(embedded_versions(conn.backend())
        .into_iter()
        .filter(|v| !applied.contains(v))
        .collect())
}
