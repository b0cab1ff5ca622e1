//! One connection type for both backends, and transactions over it.
//!
//! The rule every repository function follows: it takes `conn: &mut DbConn` so that it can run inside the
//! caller's transaction, and returns diesel's `QueryResult`. The caller decides whether a change is one
//! statement (`db.conn()`) or several that commit together (`db.transaction(async |conn| { … })`). Inside a
//! repository function, `per_backend!` expands the one diesel body once per backend (docs/architecture.md,
//! "Storage").

use diesel::connection::AnsiTransactionManager as SyncTransactionManager;
use diesel_async::pooled_connection::deadpool::Object;
use diesel_async::{AsyncConnection, AsyncPgConnection, TransactionManager};

use crate::db::pool::{Backend, Db, DbPool, SqliteConn};
use crate::error::{AppError, AppResult};

/// A pooled connection to PostgreSQL or SQLite. Dropped, it goes back to the pool (a connection dropped in the
/// middle of `Db::transaction` is closed instead, which rolls its transaction back).
// The PostgreSQL variant is larger, and boxing it would cost an allocation per checkout for nothing: a
// connection is checked out once per unit of work and borrowed from there, never moved around in a loop.
#[allow(clippy::large_enum_variant)]
pub enum DbConn {
    Postgres(Object<AsyncPgConnection>),
    Sqlite(Object<SqliteConn>),
}

/// Runs one diesel body on whichever backend `conn` (a `&mut DbConn`) holds, with `$c` bound to the concrete
/// connection. The body is expanded once per backend, so each query is written once and type-checked for both.
/// Only repository functions and `db/` use it; it hides no `return`, `?` or `.await` of its caller.
#[macro_export]
macro_rules! per_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::DbConn::Postgres(pooled) => {
                let $c: &mut diesel_async::AsyncPgConnection = &mut **pooled;
                $body
            }
            $crate::db::DbConn::Sqlite(pooled) => {
                let $c: &mut $crate::db::SqliteConn = &mut **pooled;
                $body
            }
        }
    };
}

/// Implements a trait of reusable query fragments for both backends from one text, with `Self` standing for
/// the backend. Diesel's boxed queries cannot be written generic over the backend (the bounds their filters
/// need are private to diesel), so a fragment that several queries share is a trait method implemented twice
/// from the same body, and called as a plain generic function.
#[macro_export]
macro_rules! for_both_backends {
    (impl $fragments:path { $($body:tt)* }) => {
        impl $fragments for diesel::pg::Pg { $($body)* }
        impl $fragments for diesel::sqlite::Sqlite { $($body)* }
    };
}

/// An async closure over a connection whose future is `Send` (resolvers and handlers run on a multi-threaded
/// runtime). Stable Rust cannot name an async closure's future in a bound, so this blanket trait names it.
pub trait TransactionWork<'c, R>:
    AsyncFnOnce(&'c mut DbConn) -> AppResult<R> + FnOnce(&'c mut DbConn) -> <Self as TransactionWork<'c, R>>::Fut
{
    type Fut: Future<Output = AppResult<R>> + Send;
}

impl<'c, R, F, Fut> TransactionWork<'c, R> for F
where
    F: AsyncFnOnce(&'c mut DbConn) -> AppResult<R> + FnOnce(&'c mut DbConn) -> Fut,
    Fut: Future<Output = AppResult<R>> + Send,
{
    type Fut = Fut;
}

impl Db {
    /// A connection for work that needs no transaction (one statement, or reads that may see different
    /// moments).
    pub async fn conn(&self) -> AppResult<DbConn> {
        Ok(match self.pool() {
            DbPool::Postgres(pool) => DbConn::Postgres(pool.get().await?),
            DbPool::Sqlite(pool) => DbConn::Sqlite(pool.get().await?),
        })
    }

    /// Runs `work` in one transaction: committed when it returns `Ok`, rolled back when it returns `Err`.
    /// On SQLite the transaction is `BEGIN IMMEDIATE`, so a writer takes the write lock up front instead of
    /// failing to upgrade a read lock half-way, and the process's writers queue for it in order (`Db::writer`)
    /// before they take a connection.
    pub async fn transaction<R, F>(&self, work: F) -> AppResult<R>
    where
        F: for<'c> TransactionWork<'c, R> + Send,
        R: Send,
    {
        let _turn = self.write_turn().await;
        let mut conn = Unfinished(Some(self.conn().await?));
        let in_transaction = conn.get();
        in_transaction.begin().await?;
        // What the work announces waits here until it commits (PostgreSQL's notices ride in the transaction
        // itself; SQLite's, and a public content change on either backend, are acted on here).
        let instance = self.content_version().instance();
        let (outcome, unpublished) = crate::db::notify::collecting(instance, work(in_transaction)).await;
        match outcome {
            Ok(value) => {
                if let Err(error) = conn.get().commit().await {
                    // The commit may have happened all the same (its answer lost): a needless move of the
                    // version costs one cache miss, a missing one would keep a stale answer (this instance
                    // ignores its own notice).
                    self.content_version().changed(&unpublished.changed);
                    return Err(error);
                }
                conn.finish();
                self.publish(unpublished);
                Ok(value)
            }
            Err(error) => {
                match conn.get().rollback().await {
                    Ok(()) => conn.finish(),
                    Err(rollback) => tracing::warn!(error = %rollback, "rollback failed; closing the connection"),
                }
                Err(error)
            }
        }
    }
}

/// A connection whose transaction has not ended. Dropped so (the request was cancelled, or the commit or the
/// rollback failed), it is taken out of the pool and closed, which ends the transaction on the server and
/// releases its locks at once: returned to the pool, it would hold them until its next checkout.
struct Unfinished(Option<DbConn>);

impl Unfinished {
    fn get(&mut self) -> &mut DbConn {
        self.0
            .as_mut()
            .expect("the connection is there until the transaction ends")
    }

    /// The transaction ended: the connection may go back to the pool.
    fn finish(mut self) {
        drop(self.0.take());
    }
}

impl Drop for Unfinished {
    fn drop(&mut self) {
        if let Some(conn) = self.0.take() {
            tracing::warn!("a transaction did not end; closing its connection");
            match conn {
                DbConn::Postgres(pooled) => drop(Object::take(pooled)),
                DbConn::Sqlite(pooled) => drop(Object::take(pooled)),
            }
        }
    }
}

impl DbConn {
    pub fn backend(&self) -> Backend {
        match self {
            DbConn::Postgres(_) => Backend::Postgres,
            DbConn::Sqlite(_) => Backend::Sqlite,
        }
    }

    async fn begin(&mut self) -> Result<(), AppError> {
        match self {
            DbConn::Postgres(conn) => {
                <AsyncPgConnection as AsyncConnection>::TransactionManager::begin_transaction(&mut **conn).await?
            }
            DbConn::Sqlite(conn) => {
                conn.spawn_blocking(|conn| SyncTransactionManager::begin_transaction_sql(conn, "BEGIN IMMEDIATE"))
                    .await?
            }
        }
        Ok(())
    }

    async fn commit(&mut self) -> Result<(), AppError> {
        match self {
            DbConn::Postgres(conn) => {
                <AsyncPgConnection as AsyncConnection>::TransactionManager::commit_transaction(&mut **conn).await?
            }
            DbConn::Sqlite(conn) => {
                <SqliteConn as AsyncConnection>::TransactionManager::commit_transaction(&mut **conn).await?
            }
        }
        Ok(())
    }

    async fn rollback(&mut self) -> diesel::QueryResult<()> {
        match self {
            DbConn::Postgres(conn) => {
                <AsyncPgConnection as AsyncConnection>::TransactionManager::rollback_transaction(&mut **conn).await
            }
            DbConn::Sqlite(conn) => {
                <SqliteConn as AsyncConnection>::TransactionManager::rollback_transaction(&mut **conn).await
            }
        }
    }
}
