//! Queries on users and profiles.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::accounts::models::{NewProfile, NewUser, UserRow};
use crate::db::schema::{profiles, users};
use crate::db::{Db, Role, now};
use crate::db_transaction;
use crate::error::AppResult;

/// Inserts a user with an empty profile, in one transaction; returns the new row.
pub async fn insert_user(db: &Db, user: NewUser) -> AppResult<UserRow> {
    db_transaction!(db, |conn| {
        let row: UserRow = diesel::insert_into(users::table)
            .values(&user)
            .returning(UserRow::as_returning())
            .get_result(conn)
            .await?;
        diesel::insert_into(profiles::table)
            .values(&NewProfile {
                user_id: row.id,
                updated_at: row.created_at,
            })
            .execute(conn)
            .await?;
        Ok(row)
    })
}

/// Makes `email` an active ADMIN with `password_hash`; returns false when no such user exists.
pub async fn promote_to_admin(db: &Db, email: &str, password_hash: &str) -> AppResult<bool> {
    let updated = db_transaction!(db, |conn| {
        Ok(diesel::update(users::table.filter(users::email.eq(email)))
            .set((
                users::role.eq(Role::Admin),
                users::is_active.eq(true),
                users::password_hash.eq(password_hash),
                users::updated_at.eq(now()),
            ))
            .execute(conn)
            .await?)
    })?;
    Ok(updated > 0)
}

pub async fn user_by_email(db: &Db, email: &str) -> AppResult<Option<UserRow>> {
    crate::db_run!(db, |conn| {
        users::table
            .filter(users::email.eq(email))
            .select(UserRow::as_select())
            .first(conn)
            .await
            .optional()
            .map_err(crate::error::AppError::from)
    })
}

pub async fn user_by_id(db: &Db, id: i64) -> AppResult<Option<UserRow>> {
    crate::db_run!(db, |conn| {
        users::table
            .find(id)
            .select(UserRow::as_select())
            .first(conn)
            .await
            .optional()
            .map_err(crate::error::AppError::from)
    })
}
