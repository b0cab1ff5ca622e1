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

/// The boxed `users` query restricted by a filter (expanded once per backend, like the catalog's).
macro_rules! users_matching {
    ($filter:expr) => {{
        let filter: &crate::accounts::models::UserFilter = $filter;
        let mut query = users::table.into_boxed();
        if let Some(pattern) = filter.email_contains.as_deref().and_then(crate::db::contains_pattern) {
            query = query.filter(users::email.like(pattern).escape('\\'));
        }
        if let Some(role) = filter.role {
            query = query.filter(users::role.eq(role));
        }
        if let Some(active) = filter.is_active {
            query = query.filter(users::is_active.eq(active));
        }
        query
    }};
}

/// A page of users, newest first (ties by id).
pub async fn list_users(
    db: &Db,
    filter: &crate::accounts::models::UserFilter,
    offset: i64,
    limit: i64,
) -> AppResult<Vec<UserRow>> {
    crate::db_run!(db, |conn| {
        users_matching!(filter)
            .select(UserRow::as_select())
            .order_by((users::created_at.desc(), users::id.desc()))
            .offset(offset)
            .limit(limit)
            .load(conn)
            .await
            .map_err(crate::error::AppError::from)
    })
}

pub async fn count_users(db: &Db, filter: &crate::accounts::models::UserFilter) -> AppResult<i64> {
    crate::db_run!(db, |conn| {
        users_matching!(filter)
            .count()
            .get_result(conn)
            .await
            .map_err(crate::error::AppError::from)
    })
}

pub async fn user_by_uuid(db: &Db, uuid: &str) -> AppResult<Option<UserRow>> {
    crate::db_run!(db, |conn| {
        users::table
            .filter(users::uuid.eq(uuid))
            .select(UserRow::as_select())
            .first(conn)
            .await
            .optional()
            .map_err(crate::error::AppError::from)
    })
}

pub async fn profile_of(db: &Db, user_id: i64) -> AppResult<Option<crate::accounts::models::ProfileRow>> {
    use crate::accounts::models::ProfileRow;
    crate::db_run!(db, |conn| {
        profiles::table
            .find(user_id)
            .select(ProfileRow::as_select())
            .first(conn)
            .await
            .optional()
            .map_err(crate::error::AppError::from)
    })
}

pub async fn update_profile(
    db: &Db,
    user_id: i64,
    changes: &crate::accounts::models::ProfileChanges,
) -> AppResult<crate::accounts::models::ProfileRow> {
    use crate::accounts::models::ProfileRow;
    db_transaction!(db, |conn| {
        diesel::update(profiles::table.find(user_id))
            .set(changes)
            .execute(conn)
            .await?;
        Ok(profiles::table
            .find(user_id)
            .select(ProfileRow::as_select())
            .first(conn)
            .await?)
    })
}

pub async fn set_avatar_key(
    db: &Db,
    user_id: i64,
    key: Option<&str>,
) -> AppResult<crate::accounts::models::ProfileRow> {
    use crate::accounts::models::ProfileRow;
    let at = now();
    db_transaction!(db, |conn| {
        diesel::update(profiles::table.find(user_id))
            .set((profiles::avatar_key.eq(key), profiles::updated_at.eq(at)))
            .execute(conn)
            .await?;
        Ok(profiles::table
            .find(user_id)
            .select(ProfileRow::as_select())
            .first(conn)
            .await?)
    })
}
