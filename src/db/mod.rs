//! Storage: PostgreSQL or SQLite behind one handle (docs/architecture.md, "Storage").

pub mod conn;
pub mod fixed_sql;
pub mod migrate;
pub mod notify;
pub mod pool;
pub mod row_value;
pub mod schema;
pub mod types;

pub use conn::DbConn;
pub use fixed_sql::{FixedBind, FixedQuery, FixedSql, fixed_query, fixed_sql};
pub use pool::{Backend, DatabaseUrl, Db, DbPool, DbStats, PoolOptions, SqliteConn};
pub use row_value::rows_after;
pub use types::{Role, now};

diesel::define_sql_function! {
    /// SQL `lower(text)`: used for case-insensitive search on both backends.
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

/// Runs `SELECT 1`: the database answers.
pub async fn ping(conn: &mut DbConn) -> diesel::QueryResult<()> {
    use diesel_async::RunQueryDsl;
    crate::per_backend!(conn, |c| diesel::sql_query("SELECT 1").execute(c).await)?;
    Ok(())
}

/// A LIKE pattern matching values that contain `text`, case-folded (compare it with `lower(column)` or a
/// case-folded column) and with `%`, `_` and `\` escaped by `\` (use `.escape('\\')`). None for blank text.
pub fn contains_pattern(text: &str) -> Option<String> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    Some(format!("%{}%", like_escaped(&text.to_lowercase())))
}

/// A LIKE pattern matching values that start with `lowered` (already case-folded), its wildcards escaped as
/// `contains_pattern` escapes them.
pub fn prefix_pattern(lowered: &str) -> String {
    format!("{}%", like_escaped(lowered))
}

/// `text` with LIKE's `%`, `_` and escape character `\` taken literally (escaped by `\`).
fn like_escaped(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len() + 2);
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

#[cfg(test)]
mod tests {
    #[test]
    fn contains_patterns_escape_wildcards() {
        assert_eq!(
            super::contains_pattern("  Ab%_\\c "),
            Some("%ab\\%\\_\\\\c%".to_string())
        );
        assert_eq!(super::contains_pattern("   "), None);
    }
}
