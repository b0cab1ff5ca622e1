//! A row-value comparison, `(a, b) < ($1, $2)`: the keyset condition of a page (B4), which PostgreSQL seeks
//! in a (a, b) index.
//!
//! Written as `a <= $1 AND (a < $1 OR (a = $1 AND b < $2))`, the same condition starts the index walk at the
//! first entry whose `a` equals the cursor's and then drops, one heap row at a time, every entry of that value
//! up to the cursor's `b`. A sort column with few distinct values (a score with one decimal, a popularity of
//! nought for most movies) holds thousands of movies per value in a large catalog, so a page deep in it read
//! thousands of rows to answer twenty. PostgreSQL takes a row comparison as one index condition: the walk
//! starts at the cursor itself. SQLite seeks it by the columns before the id only (its planner does not take
//! the rowid inside a vector) and skips the rest of the tie inside the index, without reading rows.
//! Diesel's query builder has no row values, hence this expression.

use diesel::backend::Backend;
use diesel::expression::{AppearsOnTable, Expression, SelectableExpression, ValidGrouping};
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::result::QueryResult;
use diesel::sql_types::Bool;

/// `(columns) < (values)` when `descending`, else `(columns) > (values)`: the rows strictly after `values` in
/// a sort on `columns`, every column in the same direction. Both sides are tuples of the same arity (diesel
/// writes a tuple as its items separated by commas); the values are bound parameters, so the statement stays
/// one prepared statement per sort and direction.
#[derive(Debug, Clone, Copy)]
pub struct RowsAfter<Columns, Values> {
    columns: Columns,
    values: Values,
    descending: bool,
}

/// The rows strictly after `values` in the order of `columns` (descending or not); see `RowsAfter`.
pub fn rows_after<Columns, Values>(columns: Columns, values: Values, descending: bool) -> RowsAfter<Columns, Values> {
    RowsAfter {
        columns,
        values,
        descending,
    }
}

impl<Columns, Values> Expression for RowsAfter<Columns, Values> {
    type SqlType = Bool;
}

impl<Columns, Values, DB> QueryFragment<DB> for RowsAfter<Columns, Values>
where
    DB: Backend,
    Columns: QueryFragment<DB>,
    Values: QueryFragment<DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_sql("((");
        self.columns.walk_ast(out.reborrow())?;
        out.push_sql(if self.descending { ") < (" } else { ") > (" });
        self.values.walk_ast(out.reborrow())?;
        out.push_sql("))");
        Ok(())
    }
}

/// The direction is part of the SQL text, not of the type: a query holding one is cached by its text.
impl<Columns, Values> QueryId for RowsAfter<Columns, Values> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Columns, Values, QS> AppearsOnTable<QS> for RowsAfter<Columns, Values>
where
    Columns: AppearsOnTable<QS>,
    Values: AppearsOnTable<QS>,
{
}

impl<Columns, Values, QS> SelectableExpression<QS> for RowsAfter<Columns, Values> where Self: AppearsOnTable<QS> {}

impl<Columns, Values, GB> ValidGrouping<GB> for RowsAfter<Columns, Values>
where
    Columns: ValidGrouping<GB>,
{
    type IsAggregate = Columns::IsAggregate;
}
