//! What admins did to accounts (A10): recorded in the transaction of the change, read by admins. Every
//! function takes a connection so that it can run inside the caller's transaction.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::QueryResult;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::db::DbConn;
use crate::db::schema::{admin_actions, users};
use crate::text_enum;

text_enum! {
    /// What an admin did to an account.
    #[derive(async_graphql::Enum)]
    pub enum AdminAction {
        /// Changed the account's role.
        SetRole => "SET_ROLE",
        /// Verified the address and lifted any ban.
        Enable => "ENABLE",
        /// Disabled the account.
        Disable => "DISABLE",
    }
}

#[derive(Insertable)]
#[diesel(table_name = admin_actions)]
struct NewAdminAction<'a> {
    admin_id: i64,
    action: AdminAction,
    target_user_id: i64,
    detail: &'a str,
    created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = admin_actions, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct AdminActionRow {
    pub id: i64,
    pub admin_id: i64,
    pub action: AdminAction,
    pub target_user_id: i64,
    pub detail: String,
    pub created_at: NaiveDateTime,
}

pub async fn record(
    conn: &mut DbConn,
    admin_id: i64,
    action: AdminAction,
    target_user_id: i64,
    detail: &str,
    at: NaiveDateTime,
) -> QueryResult<()> {
    let row = NewAdminAction {
        admin_id,
        action,
        target_user_id,
        detail,
        created_at: at,
    };
    crate::per_backend!(conn, |c| diesel::insert_into(admin_actions::table)
        .values(&row)
        .execute(c)
        .await)?;
    Ok(())
}

/// A page of actions, newest first.
pub async fn list(conn: &mut DbConn, offset: i64, limit: i64) -> QueryResult<Vec<AdminActionRow>> {
    crate::per_backend!(conn, |c| {
        admin_actions::table
            .select(AdminActionRow::as_select())
            .order_by((admin_actions::created_at.desc(), admin_actions::id.desc()))
            .offset(offset)
            .limit(limit)
            .load(c)
            .await
    })
}

pub async fn count(conn: &mut DbConn) -> QueryResult<i64> {
    crate::per_backend!(conn, |c| admin_actions::table.count().get_result(c).await)
}

/// The emails of `user_ids` (accounts deleted since are missing), in one statement.
pub async fn emails_of(conn: &mut DbConn, user_ids: &[i64]) -> QueryResult<HashMap<i64, String>> {
    let rows: Vec<(i64, String)> = crate::per_backend!(conn, |c| {
        users::table
            .filter(users::id.eq_any(user_ids))
            .select((users::id, users::email))
            .load(c)
            .await
    })?;
    Ok(rows.into_iter().collect())
}
