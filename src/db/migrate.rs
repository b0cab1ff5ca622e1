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

/// Applies every pending migration and returns the versions applied now. Needs the multi-threaded runtime
/// (the harness blocks in place).
pub async fn run_pending(db: &Db) -> anyhow::Result<Vec<String>> {
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
