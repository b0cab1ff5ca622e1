//! Queries on users and profiles. Every function takes a connection so that it can run inside the caller's
//! transaction.

use chrono::NaiveDateTime;
use diesel::QueryResult;
use diesel::backend::Backend;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::accounts::models::{NewProfile, NewUser, ProfileChanges, ProfileRow, UserFilter, UserRow};
use crate::auth::sessions::SessionsChanged;
use crate::db::notify::{Content, Part, public_content_changed};
use crate::db::schema::{profiles, users};
use crate::db::{DbConn, Role};

/// Inserts a user and their empty profile; returns the new user.
pub async fn insert_user(conn: &mut DbConn, user: &NewUser) -> QueryResult<UserRow> {
    let row: UserRow = crate::per_backend!(conn, |c| {
        diesel::insert_into(users::table)
            .values(user)
            .returning(UserRow::as_returning())
            .get_result(c)
            .await
    })?;
    let profile = NewProfile {
        user_id: row.id,
        updated_at: row.created_at,
    };
    crate::per_backend!(conn, |c| diesel::insert_into(profiles::table)
        .values(&profile)
        .execute(c)
        .await)?;
    Ok(row)
}

pub async fn user_by_email(conn: &mut DbConn, email: &str) -> QueryResult<Option<UserRow>> {
    crate::per_backend!(conn, |c| {
        users::table
            .filter(users::email.eq(email))
            .select(UserRow::as_select())
            .first(c)
            .await
            .optional()
    })
}

pub async fn user_by_id(conn: &mut DbConn, id: i64) -> QueryResult<Option<UserRow>> {
    crate::per_backend!(conn, |c| {
        users::table
            .find(id)
            .select(UserRow::as_select())
            .first(c)
            .await
            .optional()
    })
}

pub async fn user_by_uuid(conn: &mut DbConn, uuid: &str) -> QueryResult<Option<UserRow>> {
    crate::per_backend!(conn, |c| {
        users::table
            .filter(users::uuid.eq(uuid))
            .select(UserRow::as_select())
            .first(c)
            .await
            .optional()
    })
}

/// Query fragments on users, for both backends.
pub trait UserQueries: Backend {
    /// The users an admin's filter selects.
    fn users_matching<'a>(filter: &UserFilter) -> users::BoxedQuery<'a, Self>;
}

crate::for_both_backends! {
    impl UserQueries {
        fn users_matching<'a>(filter: &UserFilter) -> users::BoxedQuery<'a, Self> {
            let mut query = users::table.into_boxed();
            if let Some(pattern) = filter.email_contains.as_deref().and_then(crate::db::contains_pattern) {
                query = query.filter(users::email.like(pattern).escape('\\'));
            }
            if let Some(role) = filter.role {
                query = query.filter(users::role.eq(role));
            }
            match filter.is_active {
                Some(true) => query = query.filter(users::email_verified.eq(true).and(users::disabled_at.is_null())),
                Some(false) => {
                    query = query.filter(users::email_verified.eq(false).or(users::disabled_at.is_not_null()))
                }
                None => {}
            }
            query
        }
    }
}

fn users_matching<'a, DB: UserQueries>(filter: &UserFilter) -> users::BoxedQuery<'a, DB> {
    DB::users_matching(filter)
}

/// A page of users, newest first (ties by id).
pub async fn list_users(conn: &mut DbConn, filter: &UserFilter, offset: i64, limit: i64) -> QueryResult<Vec<UserRow>> {
    crate::per_backend!(conn, |c| {
        users_matching(filter)
            .select(UserRow::as_select())
            .order_by((users::created_at.desc(), users::id.desc()))
            .offset(offset)
            .limit(limit)
            .load(c)
            .await
    })
}

pub async fn count_users(conn: &mut DbConn, filter: &UserFilter) -> QueryResult<i64> {
    crate::per_backend!(conn, |c| users_matching(filter).count().get_result(c).await)
}

pub async fn set_password(conn: &mut DbConn, user_id: i64, password_hash: &str, at: NaiveDateTime) -> QueryResult<()> {
    crate::per_backend!(conn, |c| {
        diesel::update(users::table.find(user_id))
            .set((users::password_hash.eq(password_hash), users::updated_at.eq(at)))
            .execute(c)
            .await
    })?;
    Ok(())
}

/// Marks the address verified (the owner followed the link, or an admin vouched for it).
pub async fn verify_email(conn: &mut DbConn, user_id: i64, at: NaiveDateTime) -> QueryResult<UserRow> {
    crate::per_backend!(conn, |c| {
        diesel::update(users::table.find(user_id))
            .set((users::email_verified.eq(true), users::updated_at.eq(at)))
            .returning(UserRow::as_returning())
            .get_result(c)
            .await
    })
}

/// Disables the account from `at`, or enables it again with None; every instance hears of it (in the
/// caller's transaction), so its sessions' tokens and sockets stop at once.
pub async fn set_disabled(
    conn: &mut DbConn,
    user_id: i64,
    disabled_at: Option<NaiveDateTime>,
    at: NaiveDateTime,
) -> QueryResult<UserRow> {
    SessionsChanged::User(user_id).announce(conn).await?;
    crate::per_backend!(conn, |c| {
        diesel::update(users::table.find(user_id))
            .set((users::disabled_at.eq(disabled_at), users::updated_at.eq(at)))
            .returning(UserRow::as_returning())
            .get_result(c)
            .await
    })
}

/// Gives the user `role`; every instance hears of it (in the caller's transaction) and reads the role again.
pub async fn set_role(conn: &mut DbConn, user_id: i64, role: Role, at: NaiveDateTime) -> QueryResult<UserRow> {
    SessionsChanged::User(user_id).announce(conn).await?;
    crate::per_backend!(conn, |c| {
        diesel::update(users::table.find(user_id))
            .set((users::role.eq(role), users::updated_at.eq(at)))
            .returning(UserRow::as_returning())
            .get_result(c)
            .await
    })
}

/// Makes `email` an active ADMIN with `password_hash`; false when no such user exists.
pub async fn promote_to_admin(
    conn: &mut DbConn,
    email: &str,
    password_hash: &str,
    at: NaiveDateTime,
) -> QueryResult<bool> {
    let updated = crate::per_backend!(conn, |c| {
        diesel::update(users::table.filter(users::email.eq(email)))
            .set((
                users::role.eq(Role::Admin),
                users::email_verified.eq(true),
                users::disabled_at.eq(None::<NaiveDateTime>),
                users::password_hash.eq(password_hash),
                users::updated_at.eq(at),
            ))
            .execute(c)
            .await
    })?;
    Ok(updated > 0)
}

/// The ids of the active admins, locked until the caller's transaction ends, so that two admins demoting or
/// disabling each other at once are decided one after the other (on SQLite the write transaction already
/// serialises them; row locks exist only on PostgreSQL, hence the two arms).
pub async fn active_admin_ids_locked(conn: &mut DbConn) -> QueryResult<Vec<i64>> {
    let active_admins = users::table
        .filter(users::role.eq(Role::Admin))
        .filter(users::email_verified.eq(true))
        .filter(users::disabled_at.is_null())
        .select(users::id);
    match conn {
        DbConn::Postgres(c) => active_admins.for_update().load(&mut **c).await,
        DbConn::Sqlite(c) => active_admins.load(&mut **c).await,
    }
}

pub async fn profile_of(conn: &mut DbConn, user_id: i64) -> QueryResult<Option<ProfileRow>> {
    crate::per_backend!(conn, |c| {
        profiles::table
            .find(user_id)
            .select(ProfileRow::as_select())
            .first(c)
            .await
            .optional()
    })
}

/// The profile's avatar key, the row locked until the caller's transaction ends (PostgreSQL; SQLite's write
/// transaction already serialises), so that two uploads at once replace each other in turn.
pub async fn avatar_key_locked(conn: &mut DbConn, user_id: i64) -> QueryResult<Option<String>> {
    let key = profiles::table.find(user_id).select(profiles::avatar_key);
    let found: Option<Option<String>> = match conn {
        DbConn::Postgres(c) => key.for_update().first(&mut **c).await.optional()?,
        DbConn::Sqlite(c) => key.first(&mut **c).await.optional()?,
    };
    Ok(found.flatten())
}

/// Changes a profile; a changed name is announced (in the caller's transaction), since it shows on the user's
/// comments, which anyone may read.
pub async fn update_profile(conn: &mut DbConn, user_id: i64, changes: &ProfileChanges) -> QueryResult<ProfileRow> {
    if changes.first_name.is_some() || changes.last_name.is_some() {
        public_content_changed(conn, &[Part::all(Content::Names)]).await?;
    }
    crate::per_backend!(conn, |c| {
        diesel::update(profiles::table.find(user_id))
            .set(changes)
            .returning(ProfileRow::as_returning())
            .get_result(c)
            .await
    })
}

pub async fn set_avatar_key(
    conn: &mut DbConn,
    user_id: i64,
    key: Option<&str>,
    at: NaiveDateTime,
) -> QueryResult<ProfileRow> {
    crate::per_backend!(conn, |c| {
        diesel::update(profiles::table.find(user_id))
            .set((profiles::avatar_key.eq(key), profiles::updated_at.eq(at)))
            .returning(ProfileRow::as_returning())
            .get_result(c)
            .await
    })
}

/// Counts one email anyone could have triggered (a link, an "account exists" notice) against the account's
/// budget of `budget` such emails per `window`; false, and nothing counted, once the budget is spent. Each
/// statement is one atomic update, so concurrent workers cannot overspend it.
pub async fn spend_mail_budget(
    conn: &mut DbConn,
    user_id: i64,
    at: NaiveDateTime,
    window: chrono::Duration,
    budget: i32,
) -> QueryResult<bool> {
    let window_start = at - window;
    let fresh_window = crate::per_backend!(conn, |c| {
        diesel::update(
            users::table.find(user_id).filter(
                users::mail_window_started_at
                    .is_null()
                    .or(users::mail_window_started_at.le(window_start)),
            ),
        )
        .set((users::mail_window_started_at.eq(at), users::mails_in_window.eq(1)))
        .execute(c)
        .await
    })?;
    if fresh_window == 1 {
        return Ok(budget >= 1);
    }
    let counted = crate::per_backend!(conn, |c| {
        diesel::update(
            users::table
                .find(user_id)
                .filter(users::mails_in_window.lt(budget))
                .filter(users::mail_window_started_at.gt(window_start)),
        )
        .set(users::mails_in_window.eq(users::mails_in_window + 1))
        .execute(c)
        .await
    })?;
    Ok(counted == 1)
}

/// Deletes the USER accounts whose address was never verified, created before `created_before`, that have no
/// token left (so no link in anyone's mailbox can still activate them): a registration nobody confirmed frees
/// its address (H4). Returns how many.
pub async fn delete_abandoned_registrations(conn: &mut DbConn, created_before: NaiveDateTime) -> QueryResult<usize> {
    use crate::db::schema::one_time_tokens;
    use diesel::dsl::{exists, not};
    crate::per_backend!(conn, |c| {
        diesel::delete(
            users::table
                .filter(users::email_verified.eq(false))
                .filter(users::disabled_at.is_null())
                .filter(users::role.eq(Role::User))
                .filter(users::created_at.lt(created_before))
                .filter(not(exists(
                    one_time_tokens::table.filter(one_time_tokens::user_id.eq(users::id)),
                ))),
        )
        .execute(c)
        .await
    })
}
