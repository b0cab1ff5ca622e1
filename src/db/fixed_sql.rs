//! A fixed piece of SQL inside a diesel query, which keeps the query's prepared statement cacheable.
//!
//! Diesel keeps each connection's prepared statements (keyed by the query's type, or for boxed queries by its
//! SQL text) unless some part of the query says it is unsafe to cache. `diesel::dsl::sql` always says so,
//! because its text may be built at run time and would fill the cache without bound. A statement that holds
//! one is therefore parsed and planned on every call, and on PostgreSQL it costs an extra round trip to
//! prepare. `FixedSql` takes only a `&'static str`: its text is part of the program, so a statement holding it
//! is as cacheable as any other diesel builds (docs/architecture.md, "Prepared statements").

use std::marker::PhantomData;

use diesel::backend::Backend;
use diesel::expression::{AppearsOnTable, Expression, SelectableExpression, TypedExpressionType, ValidGrouping};
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::result::QueryResult;

/// SQL text of type `ST`, fixed when the program is built. Write it as diesel would: qualified column names
/// (`movies.id`), no bind parameters.
#[derive(Debug, Clone, Copy)]
pub struct FixedSql<ST> {
    sql: &'static str,
    sql_type: PhantomData<ST>,
}

/// `sql` as an expression of type `ST` (see `FixedSql`).
pub const fn fixed_sql<ST>(sql: &'static str) -> FixedSql<ST> {
    FixedSql {
        sql,
        sql_type: PhantomData,
    }
}

impl<ST: TypedExpressionType> Expression for FixedSql<ST> {
    type SqlType = ST;
}

impl<ST, DB: Backend> QueryFragment<DB> for FixedSql<ST> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        // Unlike `diesel::dsl::sql`, no `out.unsafe_to_cache_prepared()`: the text is a constant.
        out.push_sql(self.sql);
        Ok(())
    }
}

/// Two fixed texts of one type share the type, so the type alone does not name the SQL: a query holding one is
/// cached by its SQL text, never by its type.
impl<ST> QueryId for FixedSql<ST> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<ST, QS> SelectableExpression<QS> for FixedSql<ST> where Self: AppearsOnTable<QS> {}

impl<ST, QS> AppearsOnTable<QS> for FixedSql<ST> where Self: Expression {}

/// As for `diesel::dsl::sql`: diesel cannot see inside the text, so it neither asks for nor forbids a
/// `GROUP BY`.
impl<ST, GB> ValidGrouping<GB> for FixedSql<ST> {
    type IsAggregate = diesel::expression::is_aggregate::Never;
}

/// A whole statement of fixed text and its bind values, for what diesel's query builder cannot say (a CTE, a
/// LIMIT over a UNION ALL). Unlike `diesel::sql_query`, which is never cached (its text may be built at run
/// time), the text here is `&'static` pieces, so the statement is prepared once per connection instead of
/// parsed and planned on every call (the search probe's two, benches/RESULTS.md, issue 25). The bind values go between the pieces, in order; `ST` is the type of the rows it answers.
pub struct FixedQuery<ST> {
    pieces: &'static [&'static str],
    binds: Vec<FixedBind>,
    sql_type: PhantomData<ST>,
}

/// A bind value of a `FixedQuery`.
#[derive(Debug, Clone)]
pub enum FixedBind {
    Text(String),
    BigInt(i64),
}

/// `pieces` with `binds` between them (one fewer bind than pieces, or as many: the last piece may end on one).
pub fn fixed_query<ST>(pieces: &'static [&'static str], binds: Vec<FixedBind>) -> FixedQuery<ST> {
    debug_assert!(binds.len() + 1 == pieces.len() || binds.len() == pieces.len());
    FixedQuery {
        pieces,
        binds,
        sql_type: PhantomData,
    }
}

impl<ST, DB> QueryFragment<DB> for FixedQuery<ST>
where
    DB: Backend
        + diesel::sql_types::HasSqlType<diesel::sql_types::Text>
        + diesel::sql_types::HasSqlType<diesel::sql_types::BigInt>,
    String: diesel::serialize::ToSql<diesel::sql_types::Text, DB>,
    i64: diesel::serialize::ToSql<diesel::sql_types::BigInt, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        for (at, piece) in self.pieces.iter().enumerate() {
            out.push_sql(piece);
            match self.binds.get(at) {
                Some(FixedBind::Text(text)) => out.push_bind_param::<diesel::sql_types::Text, _>(text)?,
                Some(FixedBind::BigInt(number)) => out.push_bind_param::<diesel::sql_types::BigInt, _>(number)?,
                None => {}
            }
        }
        Ok(())
    }
}

/// Cached by its SQL text, as `FixedSql`.
impl<ST> QueryId for FixedQuery<ST> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<ST: diesel::sql_types::SqlType> diesel::query_builder::Query for FixedQuery<ST> {
    type SqlType = ST;
}
