//! The record of once-only emails sent (`Email::once_key`): a repository of the `email_deliveries` table.

use diesel::prelude::*;
use diesel::{OptionalExtension, QueryResult};
use diesel_async::RunQueryDsl;

use crate::db::DbConn;
use crate::db::schema::email_deliveries;

pub async fn was_sent(conn: &mut DbConn, key: &str) -> QueryResult<bool> {
    let found = crate::per_backend!(conn, |c| {
        email_deliveries::table
            .find(key)
            .select(email_deliveries::key)
            .first::<String>(c)
            .await
            .optional()
    })?;
    Ok(found.is_some())
}

pub async fn record_sent(conn: &mut DbConn, key: &str, at: chrono::NaiveDateTime) -> QueryResult<()> {
    crate::per_backend!(conn, |c| {
        diesel::insert_into(email_deliveries::table)
            .values((email_deliveries::key.eq(key), email_deliveries::sent_at.eq(at)))
            .on_conflict_do_nothing()
            .execute(c)
            .await
    })?;
    Ok(())
}
