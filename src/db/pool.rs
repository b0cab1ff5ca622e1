//! The two connection pools behind one `Db` handle (connections and transactions are in `conn.rs`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use diesel::SqliteConnection;
use diesel::connection::{Instrumentation, InstrumentationEvent};
use diesel_async::pooled_connection::deadpool::Pool;
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod};
use diesel_async::sync_connection_wrapper::SyncConnectionWrapper;
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use futures_util::FutureExt;

pub type SqliteConn = SyncConnectionWrapper<SqliteConnection>;
pub type PgPool = Pool<AsyncPgConnection>;
pub type SqlitePool = Pool<SqliteConn>;

/// Which database a `DATABASE_URL` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Postgres => "postgres",
            Backend::Sqlite => "sqlite",
        }
    }
}

/// A parsed `DATABASE_URL`: `postgres://…` / `postgresql://…`, or `sqlite://path` (relative to the working
/// directory, or absolute as `sqlite:///abs/path`). Anything else is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Postgres(String),
    Sqlite(std::path::PathBuf),
}

impl DatabaseUrl {
    pub fn parse(url: &str) -> Result<Self, String> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(DatabaseUrl::Postgres(url.to_string()))
        } else if let Some(path) = url.strip_prefix("sqlite://") {
            let path = path.split('?').next().unwrap_or_default();
            if path.is_empty() {
                return Err("DATABASE_URL sqlite:// needs a file path, e.g. sqlite://var/cinema.db".into());
            }
            Ok(DatabaseUrl::Sqlite(path.into()))
        } else {
            Err(format!(
                "DATABASE_URL must start with postgres://, postgresql:// or sqlite:// (got {:?})",
                url.split(':').next().unwrap_or_default()
            ))
        }
    }

    pub fn backend(&self) -> Backend {
        match self {
            DatabaseUrl::Postgres(_) => Backend::Postgres,
            DatabaseUrl::Sqlite(_) => Backend::Sqlite,
        }
    }
}

/// Counters shared by every connection of a pool. The statement count lets tests and benchmarks prove that a
/// page costs a bounded number of SQL statements; the prepared count, that a page's statements are prepared
/// once per connection and then reused (`db::fixed_sql`), not parsed and planned on every call.
#[derive(Debug, Default)]
pub struct DbStats {
    statements: AtomicU64,
    prepared: AtomicU64,
}

impl DbStats {
    pub fn statements(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }

    /// Statements prepared and kept in a connection's cache. It grows as connections meet new statement shapes
    /// and levels off under steady traffic; statements diesel may not cache are never counted.
    pub fn prepared(&self) -> u64 {
        self.prepared.load(Ordering::Relaxed)
    }
}

struct StatementCounter(Arc<DbStats>);

impl Instrumentation for StatementCounter {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        match event {
            InstrumentationEvent::StartQuery { .. } => {
                self.0.statements.fetch_add(1, Ordering::Relaxed);
                metrics::counter!("cinema_db_statements_total").increment(1);
            }
            InstrumentationEvent::CacheQuery { .. } => {
                self.0.prepared.fetch_add(1, Ordering::Relaxed);
                metrics::counter!("cinema_db_statements_prepared_total").increment(1);
            }
            _ => {}
        }
    }
}

#[derive(Clone)]
pub enum DbPool {
    Postgres(PgPool),
    Sqlite(SqlitePool),
}

/// The application's database handle: cheap to clone, one pool inside.
#[derive(Clone)]
pub struct Db {
    pool: DbPool,
    stats: Arc<DbStats>,
    /// SQLite has one writer at a time: write transactions of this process take turns here, in arrival order,
    /// instead of polling the database lock through `busy_timeout` (whose sleeps grow to 100 ms and made the
    /// p99 of concurrent cart changes 350 ms). Unused on PostgreSQL.
    writer: Arc<tokio::sync::Mutex<()>>,
    /// How long a writer waits for its turn before it goes ahead and leaves the waiting to `busy_timeout`
    /// (the same time): a turn is an optimisation, never a way to hang.
    writer_wait: Duration,
    /// Notices of committed changes (see `notify`).
    pub(crate) notices: tokio::sync::broadcast::Sender<crate::db::notify::Notice>,
    /// Where `listen` connects, on PostgreSQL.
    postgres_url: Option<Arc<str>>,
    /// The version of public content (see `notify::ContentVersion`).
    content: Arc<crate::db::notify::ContentVersion>,
}

#[derive(Debug, Clone)]
pub struct PoolOptions {
    pub max_size: usize,
    pub wait_timeout: Duration,
    /// PostgreSQL `statement_timeout`; SQLite uses it as `busy_timeout`.
    pub statement_timeout: Duration,
}

impl Default for PoolOptions {
    fn default() -> Self {
        PoolOptions {
            max_size: 16,
            wait_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(30),
        }
    }
}

impl Db {
    /// Builds the pool for `url`. No connection is opened yet; for SQLite the file's folder is created.
    pub fn connect(url: &DatabaseUrl, options: &PoolOptions) -> anyhow::Result<Db> {
        let stats = Arc::new(DbStats::default());
        let pool = match url {
            DatabaseUrl::Postgres(url) => {
                let counter = stats.clone();
                let timeout_ms = options.statement_timeout.as_millis();
                let mut config = ManagerConfig::<AsyncPgConnection>::default();
                // Fast recycling: no `SELECT 1` on every checkout; a broken connection is dropped by its state.
                config.recycling_method = RecyclingMethod::Fast;
                config.custom_setup = Box::new(move |url| {
                    let counter = counter.clone();
                    let url = url.to_string();
                    async move {
                        let mut conn = AsyncPgConnection::establish(&url).await?;
                        conn.batch_execute(&format!(
                            "SET statement_timeout = {timeout_ms}; SET application_name = 'cinema'; SET TIME ZONE 'UTC'"
                        ))
                        .await
                        .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
                        conn.set_instrumentation(StatementCounter(counter));
                        Ok(conn)
                    }
                    .boxed()
                });
                let manager = AsyncDieselConnectionManager::new_with_config(url.clone(), config);
                DbPool::Postgres(
                    Pool::builder(manager)
                        .max_size(options.max_size)
                        .wait_timeout(Some(options.wait_timeout))
                        .create_timeout(Some(options.wait_timeout))
                        .runtime(deadpool::Runtime::Tokio1)
                        .build()?,
                )
            }
            DatabaseUrl::Sqlite(path) => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir)?;
                }
                let counter = stats.clone();
                let busy_ms = options.statement_timeout.as_millis().min(60_000);
                let mut config = ManagerConfig::<SqliteConn>::default();
                config.recycling_method = RecyclingMethod::Fast;
                config.custom_setup = Box::new(move |url| {
                    let counter = counter.clone();
                    let url = url.to_string();
                    async move {
                        let mut conn = SqliteConn::establish(&url).await?;
                        // WAL lets readers run beside the one writer; busy_timeout makes writers queue instead
                        // of failing at once; foreign keys are off by default in SQLite.
                        conn.batch_execute(&format!(
                            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                             PRAGMA foreign_keys = ON; PRAGMA busy_timeout = {busy_ms};"
                        ))
                        .await
                        .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
                        conn.set_instrumentation(StatementCounter(counter));
                        Ok(conn)
                    }
                    .boxed()
                });
                let manager = AsyncDieselConnectionManager::new_with_config(path.to_string_lossy().to_string(), config);
                DbPool::Sqlite(
                    Pool::builder(manager)
                        .max_size(options.max_size)
                        .wait_timeout(Some(options.wait_timeout))
                        .create_timeout(Some(options.wait_timeout))
                        .runtime(deadpool::Runtime::Tokio1)
                        .build()?,
                )
            }
        };
        Ok(Db {
            pool,
            stats,
            writer: Arc::new(tokio::sync::Mutex::new(())),
            writer_wait: options.statement_timeout,
            notices: tokio::sync::broadcast::channel(crate::db::notify::NOTICE_BUFFER).0,
            postgres_url: match url {
                DatabaseUrl::Postgres(url) => Some(Arc::from(url.as_str())),
                DatabaseUrl::Sqlite(_) => None,
            },
            // One SQLite process hears every change it makes; a PostgreSQL instance only once it listens.
            content: Arc::new(crate::db::notify::ContentVersion::new(matches!(
                url,
                DatabaseUrl::Sqlite(_)
            ))),
        })
    }

    /// The turn of a write transaction on SQLite (see `writer`); None on PostgreSQL, where rows lock alone.
    pub(crate) async fn write_turn(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        match self.pool {
            DbPool::Sqlite(_) => tokio::time::timeout(self.writer_wait, self.writer.lock()).await.ok(),
            DbPool::Postgres(_) => None,
        }
    }

    /// The version of public content as this instance knows it (see `notify::ContentVersion`).
    pub fn content_version(&self) -> &crate::db::notify::ContentVersion {
        &self.content
    }

    pub(crate) fn content_version_handle(&self) -> Arc<crate::db::notify::ContentVersion> {
        self.content.clone()
    }

    pub(crate) fn postgres_url(&self) -> Option<&str> {
        self.postgres_url.as_deref()
    }

    pub fn pool(&self) -> &DbPool {
        &self.pool
    }

    pub fn backend(&self) -> Backend {
        match self.pool {
            DbPool::Postgres(_) => Backend::Postgres,
            DbPool::Sqlite(_) => Backend::Sqlite,
        }
    }

    pub fn stats(&self) -> &DbStats {
        &self.stats
    }

    /// (connections open, connections idle, callers waiting, max size) for the metrics endpoint.
    pub fn pool_status(&self) -> deadpool::Status {
        match &self.pool {
            DbPool::Postgres(p) => p.status(),
            DbPool::Sqlite(p) => p.status(),
        }
    }

    /// Closes the pool: later checkouts fail at once (used at shutdown).
    pub fn close(&self) {
        match &self.pool {
            DbPool::Postgres(p) => p.close(),
            DbPool::Sqlite(p) => p.close(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_urls_pick_the_backend_or_are_refused() {
        let postgres = DatabaseUrl::parse("postgresql://u@h/db").unwrap();
        assert_eq!(postgres.backend(), Backend::Postgres);
        let sqlite = DatabaseUrl::parse("sqlite://var/cinema.db?mode=rwc").unwrap();
        assert_eq!(sqlite, DatabaseUrl::Sqlite("var/cinema.db".into()));
        assert_eq!(sqlite.backend().name(), "sqlite");
        assert!(DatabaseUrl::parse("sqlite://").unwrap_err().contains("file path"));
        assert!(DatabaseUrl::parse("mysql://x").unwrap_err().contains("DATABASE_URL"));
    }
}
