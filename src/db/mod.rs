//! Storage: PostgreSQL or SQLite behind one handle (DESIGN.md §3).

pub mod migrate;
pub mod pool;
pub mod schema;
pub mod types;

pub use pool::{Backend, DatabaseUrl, Db, DbPool, DbStats, PoolOptions, SqliteConn};
pub use types::{Role, now};

diesel::define_sql_function! {
    /// SQL `lower(text)`: used for case-insensitive search on both backends.
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
}
