//! Comment and notification queries. Every function takes a connection so that it can run inside the
//! caller's transaction.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDateTime;
use diesel::QueryResult;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::community::models::{CommentOrder, CommentRow, NewComment, NewNotification, NotificationRow};
use crate::db::DbConn;
use crate::db::notify::{Content, Part, public_content_changed};
use crate::db::schema::{comment_likes, comments, movies, notifications, profiles, users};
use crate::graphql::pagination::TimeCursor;
use crate::per_backend;

/// Which comments a list shows: a movie's top-level comments, a comment's replies, or comments by id.
#[derive(Debug, Clone)]
pub enum Thread {
    Movie(i64),
    Replies(i64),
    Ids(Vec<i64>),
}

pub async fn movie_id_by_uuid(conn: &mut DbConn, uuid: &str) -> QueryResult<Option<i64>> {
    per_backend!(conn, |c| movies::table
        .filter(movies::uuid.eq(uuid))
        .select(movies::id)
        .first(c)
        .await
        .optional())
}

pub async fn comment_by_uuid(conn: &mut DbConn, uuid: &str) -> QueryResult<Option<CommentRow>> {
    per_backend!(conn, |c| comments::table
        .filter(comments::uuid.eq(uuid))
        .select(CommentRow::as_select())
        .first(c)
        .await
        .optional())
}

pub async fn insert_comment(conn: &mut DbConn, comment: &NewComment) -> QueryResult<CommentRow> {
    comments_changed(conn, comment.movie_id).await?;
    per_backend!(conn, |c| diesel::insert_into(comments::table)
        .values(comment)
        .returning(CommentRow::as_returning())
        .get_result(c)
        .await)
}

/// A page of a thread, in `order`, after `after`, with each comment's movie id and author (public id and
/// name), in one statement.
pub async fn thread_page(
    conn: &mut DbConn,
    thread: &Thread,
    order: CommentOrder,
    after: Option<TimeCursor>,
    limit: i64,
) -> QueryResult<Vec<(CommentRow, String, String, Option<String>, Option<String>)>> {
    per_backend!(conn, |c| {
        let mut query = comments::table
            .inner_join(movies::table)
            .inner_join(users::table)
            .left_join(profiles::table.on(profiles::user_id.eq(comments::user_id)))
            .select((
                CommentRow::as_select(),
                movies::uuid,
                users::uuid,
                profiles::first_name.nullable(),
                profiles::last_name.nullable(),
            ))
            .into_boxed();
        query = match thread {
            Thread::Movie(movie_id) => query
                .filter(comments::movie_id.eq(*movie_id))
                .filter(comments::parent_id.is_null()),
            Thread::Replies(parent_id) => query.filter(comments::parent_id.eq(*parent_id)),
            Thread::Ids(ids) => query.filter(comments::id.eq_any(ids.clone())),
        };
        query = match (order, after) {
            (CommentOrder::Newest, Some(TimeCursor { at, id })) => query.filter(
                comments::created_at
                    .lt(at)
                    .or(comments::created_at.eq(at).and(comments::id.lt(id))),
            ),
            (CommentOrder::Oldest, Some(TimeCursor { at, id })) => query.filter(
                comments::created_at
                    .gt(at)
                    .or(comments::created_at.eq(at).and(comments::id.gt(id))),
            ),
            (_, None) => query,
        };
        query = match order {
            CommentOrder::Newest => query.order_by((comments::created_at.desc(), comments::id.desc())),
            CommentOrder::Oldest => query.order_by((comments::created_at.asc(), comments::id.asc())),
        };
        query.limit(limit).load(c).await
    })
}

/// How many comments a thread has.
pub async fn count_thread(conn: &mut DbConn, thread: &Thread) -> QueryResult<i64> {
    per_backend!(conn, |c| {
        let query = comments::table.into_boxed();
        let query = match thread {
            Thread::Movie(movie_id) => query
                .filter(comments::movie_id.eq(*movie_id))
                .filter(comments::parent_id.is_null()),
            Thread::Replies(parent_id) => query.filter(comments::parent_id.eq(*parent_id)),
            Thread::Ids(ids) => query.filter(comments::id.eq_any(ids.clone())),
        };
        query.count().get_result(c).await
    })
}

/// How many replies each of `ids` has.
pub async fn reply_counts(conn: &mut DbConn, ids: &[i64]) -> QueryResult<HashMap<i64, i64>> {
    let rows: Vec<(Option<i64>, i64)> = per_backend!(conn, |c| comments::table
        .filter(comments::parent_id.eq_any(ids))
        .group_by(comments::parent_id)
        .select((comments::parent_id, diesel::dsl::count_star()))
        .load(c)
        .await)?;
    Ok(rows
        .into_iter()
        .filter_map(|(parent, count)| parent.map(|parent| (parent, count)))
        .collect())
}

/// Which of `ids` the user liked.
pub async fn liked_by(conn: &mut DbConn, user_id: i64, ids: &[i64]) -> QueryResult<HashSet<i64>> {
    let rows: Vec<i64> = per_backend!(conn, |c| comment_likes::table
        .filter(comment_likes::user_id.eq(user_id))
        .filter(comment_likes::comment_id.eq_any(ids))
        .select(comment_likes::comment_id)
        .load(c)
        .await)?;
    Ok(rows.into_iter().collect())
}

/// Likes a comment and counts it; false when the user already liked it.
pub async fn like(conn: &mut DbConn, user_id: i64, comment_id: i64, at: NaiveDateTime) -> QueryResult<bool> {
    let inserted = per_backend!(conn, |c| diesel::insert_into(comment_likes::table)
        .values((
            comment_likes::user_id.eq(user_id),
            comment_likes::comment_id.eq(comment_id),
            comment_likes::created_at.eq(at),
        ))
        .on_conflict_do_nothing()
        .execute(c)
        .await)?;
    if inserted == 1 {
        count_likes(conn, comment_id, 1).await?;
    }
    Ok(inserted == 1)
}

/// Takes a like back and uncounts it; false when there was none.
pub async fn unlike(conn: &mut DbConn, user_id: i64, comment_id: i64) -> QueryResult<bool> {
    let deleted = per_backend!(conn, |c| diesel::delete(
        comment_likes::table.find((user_id, comment_id))
    )
    .execute(c)
    .await)?;
    if deleted == 1 {
        count_likes(conn, comment_id, -1).await?;
    }
    Ok(deleted == 1)
}

async fn count_likes(conn: &mut DbConn, comment_id: i64, by: i64) -> QueryResult<()> {
    let movie_id: i64 = per_backend!(conn, |c| diesel::update(comments::table.find(comment_id))
        .set(comments::likes_count.eq(comments::likes_count + by))
        .returning(comments::movie_id)
        .get_result(c)
        .await)?;
    comments_changed(conn, movie_id).await
}

/// Announces, in the caller's transaction, that the public comments of `movie_id` changed (the response cache
/// drops the answers that showed them).
async fn comments_changed(conn: &mut DbConn, movie_id: i64) -> QueryResult<()> {
    public_content_changed(conn, &[Part::of_movie(Content::Comments, movie_id)]).await
}

/// Whether the comment has replies.
pub async fn has_replies(conn: &mut DbConn, comment_id: i64) -> QueryResult<bool> {
    per_backend!(conn, |c| diesel::select(diesel::dsl::exists(
        comments::table.filter(comments::parent_id.eq(comment_id))
    ))
    .get_result(c)
    .await)
}

/// Keeps a comment's place in its thread without its text (B10: a deleted comment with replies).
pub async fn mark_deleted(conn: &mut DbConn, comment_id: i64, at: NaiveDateTime) -> QueryResult<()> {
    let movie_id: i64 = per_backend!(conn, |c| diesel::update(comments::table.find(comment_id))
        .set((
            comments::body.eq("[deleted]"),
            comments::deleted_at.eq(Some(at)),
            comments::updated_at.eq(at),
        ))
        .returning(comments::movie_id)
        .get_result(c)
        .await)?;
    comments_changed(conn, movie_id).await
}

/// Deletes a comment (its likes, replies and notifications go with it).
pub async fn delete_comment(conn: &mut DbConn, comment_id: i64) -> QueryResult<()> {
    let movie_id: Option<i64> = per_backend!(conn, |c| diesel::delete(comments::table.find(comment_id))
        .returning(comments::movie_id)
        .get_result(c)
        .await
        .optional())?;
    match movie_id {
        Some(movie_id) => comments_changed(conn, movie_id).await,
        None => Ok(()),
    }
}

/// Records a notification; false when it is a like already notified (one per liker and comment).
pub async fn insert_notification(conn: &mut DbConn, notification: &NewNotification) -> QueryResult<bool> {
    let inserted = per_backend!(conn, |c| diesel::insert_into(notifications::table)
        .values(notification)
        .on_conflict_do_nothing()
        .execute(c)
        .await)?;
    Ok(inserted == 1)
}

/// How many notifications the user has not read.
pub async fn unread_count(conn: &mut DbConn, user_id: i64) -> QueryResult<i64> {
    per_backend!(conn, |c| notifications::table
        .filter(notifications::user_id.eq(user_id))
        .filter(notifications::read_at.is_null())
        .count()
        .get_result(c)
        .await)
}

/// A page of the user's notifications, newest first, after `after`.
pub async fn notifications_page(
    conn: &mut DbConn,
    user_id: i64,
    unread_only: bool,
    after: Option<TimeCursor>,
    limit: i64,
) -> QueryResult<Vec<NotificationRow>> {
    per_backend!(conn, |c| {
        let mut query = notifications::table
            .filter(notifications::user_id.eq(user_id))
            .select(NotificationRow::as_select())
            .into_boxed();
        if unread_only {
            query = query.filter(notifications::read_at.is_null());
        }
        if let Some(TimeCursor { at, id }) = after {
            query = query.filter(
                notifications::created_at
                    .lt(at)
                    .or(notifications::created_at.eq(at).and(notifications::id.lt(id))),
            );
        }
        query
            .order_by((notifications::created_at.desc(), notifications::id.desc()))
            .limit(limit)
            .load(c)
            .await
    })
}

pub async fn count_notifications(conn: &mut DbConn, user_id: i64, unread_only: bool) -> QueryResult<i64> {
    per_backend!(conn, |c| {
        let mut query = notifications::table
            .filter(notifications::user_id.eq(user_id))
            .into_boxed();
        if unread_only {
            query = query.filter(notifications::read_at.is_null());
        }
        query.count().get_result(c).await
    })
}

/// Marks the user's notifications read: those of `uuids`, or all with None; returns how many changed. One
/// statement either way (no ids are read into memory, however many notifications a user has).
pub async fn mark_read(
    conn: &mut DbConn,
    user_id: i64,
    uuids: Option<&[String]>,
    at: NaiveDateTime,
) -> QueryResult<usize> {
    let unread = notifications::table
        .filter(notifications::user_id.eq(user_id))
        .filter(notifications::read_at.is_null());
    match uuids {
        Some(uuids) => per_backend!(conn, |c| diesel::update(
            unread.filter(notifications::uuid.eq_any(uuids))
        )
        .set(notifications::read_at.eq(Some(at)))
        .execute(c)
        .await),
        None => per_backend!(conn, |c| diesel::update(unread)
            .set(notifications::read_at.eq(Some(at)))
            .execute(c)
            .await),
    }
}

/// A user's email and display name (for notification emails and authors).
pub async fn user_contact(
    conn: &mut DbConn,
    user_id: i64,
) -> QueryResult<Option<(String, String, Option<String>, Option<String>)>> {
    per_backend!(conn, |c| users::table
        .left_join(profiles::table.on(profiles::user_id.eq(users::id)))
        .filter(users::id.eq(user_id))
        .select((
            users::email,
            users::uuid,
            profiles::first_name.nullable(),
            profiles::last_name.nullable()
        ))
        .first(c)
        .await
        .optional())
}

/// Comments by id, for notifications.
pub async fn comments_by_ids(conn: &mut DbConn, ids: &[i64]) -> QueryResult<Vec<CommentRow>> {
    per_backend!(conn, |c| comments::table
        .filter(comments::id.eq_any(ids))
        .select(CommentRow::as_select())
        .load(c)
        .await)
}
