//! Comment and notification rules (B10, B11).
//!
//! Threads are two levels deep: comments on a movie, and replies to them. A reply to a reply joins the same
//! thread (under the top-level comment) and notifies the author of the comment it answers. Every change is
//! one transaction, notifications and their emails included.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;

use crate::auth::Viewer;
use crate::auth::ratelimit::{DEFAULT_CAPACITY, RateLimiter};
use crate::auth::shared_counts::SharedCounts;
use crate::community::models::{
    CommentOrder, CommentRow, CommentView, NewComment, NewNotification, NotificationKind, NotificationRow,
};
use crate::community::repo::{self, Thread};
use crate::db::{Db, DbConn, Role, now};
use crate::error::{AppError, AppResult};
use crate::graphql::pagination::TimeCursor;
use crate::jobs;
use crate::notify::templates;

/// The longest comment, in characters.
pub const MAX_COMMENT_CHARS: usize = 2000;

/// The community handle: cheap to clone; what the community's resolvers call.
#[derive(Clone)]
pub struct Community {
    db: Db,
    frontend_url: String,
    /// Posts per user per minute (COMMENTS_PER_MINUTE); per instance, like every rate limit.
    posts: Arc<RateLimiter>,
    posts_per_minute: u32,
}

/// Where a list of comments comes from, as clients name it.
#[derive(Debug, Clone)]
pub enum ThreadOf {
    /// A movie's top-level comments (the movie's internal id).
    Movie(i64),
    /// A comment's replies (the comment's internal id).
    Replies(i64),
}

fn no_such_comment() -> AppError {
    AppError::not_found("no comment has this id")
}

fn deleted_comment() -> AppError {
    AppError::rejected(StatusCode::CONFLICT, "COMMENT_DELETED", "this comment was deleted")
}

/// A comment's text as stored: trimmed, 1 to MAX_COMMENT_CHARS characters, at least one of them visible.
fn clean_text(text: &str) -> AppResult<String> {
    let text = text.trim();
    if !crate::util::has_visible_text(text) {
        return Err(AppError::bad_input("text", "a comment cannot be empty"));
    }
    if text.chars().count() > MAX_COMMENT_CHARS {
        return Err(AppError::bad_input(
            "text",
            format!("a comment is at most {MAX_COMMENT_CHARS} characters"),
        ));
    }
    Ok(text.to_string())
}

/// What others see of a user: their name from the profile, or a neutral label (emails are never shown).
pub fn display_name(first: Option<String>, last: Option<String>) -> String {
    let name = [first, last].into_iter().flatten().collect::<Vec<_>>().join(" ");
    if name.trim().is_empty() {
        "Cinema viewer".to_string()
    } else {
        name
    }
}

/// The comments of `thread`, with reply counts and the viewer's likes: three statements for a whole page.
async fn views(
    conn: &mut DbConn,
    thread: &Thread,
    order: CommentOrder,
    after: Option<TimeCursor>,
    limit: i64,
    viewer: Option<i64>,
) -> AppResult<Vec<CommentView>> {
    let rows = repo::thread_page(conn, thread, order, after, limit).await?;
    let ids: Vec<i64> = rows.iter().map(|(row, ..)| row.id).collect();
    let top_level: Vec<i64> = rows
        .iter()
        .filter(|(row, ..)| row.parent_id.is_none())
        .map(|(row, ..)| row.id)
        .collect();
    let replies = if top_level.is_empty() {
        HashMap::new()
    } else {
        repo::reply_counts(conn, &top_level).await?
    };
    let liked = match viewer {
        Some(user_id) if !ids.is_empty() => repo::liked_by(conn, user_id, &ids).await?,
        _ => Default::default(),
    };
    Ok(rows
        .into_iter()
        .map(|(row, movie_uuid, author_uuid, first, last)| CommentView {
            reply_count: replies.get(&row.id).copied().unwrap_or(0),
            viewer_liked: liked.contains(&row.id),
            movie_uuid,
            author_uuid,
            author_name: display_name(first, last),
            row,
        })
        .collect())
}

async fn view_of(conn: &mut DbConn, comment_id: i64, viewer: i64) -> AppResult<CommentView> {
    views(
        conn,
        &Thread::Ids(vec![comment_id]),
        CommentOrder::Newest,
        None,
        1,
        Some(viewer),
    )
    .await?
    .pop()
    .ok_or_else(no_such_comment)
}

impl Community {
    pub fn new(db: Db, frontend_url: String, posts_per_minute: u32, shared: Option<&SharedCounts>) -> Community {
        Community {
            db,
            frontend_url,
            posts: Arc::new(RateLimiter::new(Duration::from_secs(60), DEFAULT_CAPACITY).shared_through(shared)),
            posts_per_minute,
        }
    }

    /// Counts one comment or reply of `user_id`: RATE_LIMITED past COMMENTS_PER_MINUTE, before any work.
    async fn count_post(&self, user_id: i64) -> AppResult<()> {
        self.posts
            .hit(&["comment", &user_id.to_string()], self.posts_per_minute)
            .await
    }

    /// B10: a new top-level comment on a movie.
    pub async fn add_comment(&self, user_id: i64, movie_uuid: &str, text: &str) -> AppResult<CommentView> {
        let body = clean_text(text)?;
        self.count_post(user_id).await?;
        let at = now();
        self.db
            .transaction(async |conn| {
                let movie_id = repo::movie_id_by_uuid(conn, movie_uuid)
                    .await?
                    .ok_or_else(|| AppError::not_found("no movie has this id"))?;
                let comment =
                    repo::insert_comment(conn, &new_comment(movie_id, user_id, None, body.clone(), at)).await?;
                view_of(conn, comment.id, user_id).await
            })
            .await
    }

    /// B10, B11: a reply. It joins the thread of the top-level comment and notifies the author of the comment it
    /// answers (not yourself).
    pub async fn reply(&self, user_id: i64, comment_uuid: &str, text: &str) -> AppResult<CommentView> {
        let body = clean_text(text)?;
        self.count_post(user_id).await?;
        let at = now();
        self.db
            .transaction(async |conn| {
                let target = live_comment(conn, comment_uuid).await?;
                let thread = target.parent_id.unwrap_or(target.id);
                let reply = repo::insert_comment(
                    conn,
                    &new_comment(target.movie_id, user_id, Some(thread), body.clone(), at),
                )
                .await?;
                if target.user_id != user_id {
                    let notification =
                        new_notification(target.user_id, NotificationKind::CommentReply, user_id, reply.id, at);
                    self.notify(conn, &notification, "Someone replied to your comment on Cinema.")
                        .await?;
                }
                view_of(conn, reply.id, user_id).await
            })
            .await
    }

    /// B10, B11: likes (or unlikes) a comment. The first like of your comment by someone notifies you once;
    /// toggling it again does not.
    pub async fn like(&self, user_id: i64, comment_uuid: &str, liked: bool) -> AppResult<CommentView> {
        let at = now();
        self.db
            .transaction(async |conn| {
                let comment = live_comment(conn, comment_uuid).await?;
                if liked {
                    let new_like = repo::like(conn, user_id, comment.id, at).await?;
                    if new_like && comment.user_id != user_id {
                        let notification =
                            new_notification(comment.user_id, NotificationKind::CommentLike, user_id, comment.id, at);
                        self.notify(conn, &notification, "Someone liked your comment on Cinema.")
                            .await?;
                    }
                } else {
                    repo::unlike(conn, user_id, comment.id).await?;
                }
                // A comment's likes are public.
                view_of(conn, comment.id, user_id).await
            })
            .await
    }

    /// B10: deletes a comment: its author may, and so may MODERATOR and above. A top-level comment with replies
    /// keeps its place, marked deleted and without its text; otherwise it goes, and a deleted comment left with
    /// no replies goes with its last one.
    pub async fn delete(&self, viewer: &Viewer, comment_uuid: &str) -> AppResult<()> {
        let at = now();
        self.db
            .transaction(async |conn| {
                let comment = live_comment(conn, comment_uuid).await?;
                if comment.user_id != viewer.user_id && !viewer.role.includes(Role::Moderator) {
                    return Err(AppError::Forbidden(
                        "only its author or a moderator deletes a comment".into(),
                    ));
                }
                if comment.parent_id.is_none() && repo::has_replies(conn, comment.id).await? {
                    repo::mark_deleted(conn, comment.id, at).await?;
                    return Ok(());
                }
                repo::delete_comment(conn, comment.id).await?;
                if let Some(parent_id) = comment.parent_id {
                    let parent = repo::comments_by_ids(conn, &[parent_id]).await?;
                    if parent.first().is_some_and(|p| p.deleted_at.is_some())
                        && !repo::has_replies(conn, parent_id).await?
                    {
                        repo::delete_comment(conn, parent_id).await?;
                    }
                }
                Ok(())
            })
            .await
    }

    /// The internal id of the movie `uuid` names; NOT_FOUND otherwise.
    pub async fn movie_id(&self, movie_uuid: &str) -> AppResult<i64> {
        let mut conn = self.db.conn().await?;
        repo::movie_id_by_uuid(&mut conn, movie_uuid)
            .await?
            .ok_or_else(|| AppError::not_found("no movie has this id"))
    }

    /// A page of a thread, after `after`, in `order`.
    pub async fn thread(
        &self,
        thread: &ThreadOf,
        order: CommentOrder,
        after: Option<TimeCursor>,
        limit: i64,
        viewer: Option<i64>,
    ) -> AppResult<Vec<CommentView>> {
        let mut conn = self.db.conn().await?;
        views(&mut conn, &thread_query(thread), order, after, limit, viewer).await
    }

    pub async fn count_thread(&self, thread: &ThreadOf) -> AppResult<i64> {
        let mut conn = self.db.conn().await?;
        Ok(repo::count_thread(&mut conn, &thread_query(thread)).await?)
    }

    /// Comments by internal id, for the notifications that name them.
    pub async fn comments(&self, ids: &[i64], viewer: i64) -> AppResult<HashMap<i64, CommentView>> {
        let mut conn = self.db.conn().await?;
        let found = views(
            &mut conn,
            &Thread::Ids(ids.to_vec()),
            CommentOrder::Newest,
            None,
            ids.len() as i64,
            Some(viewer),
        )
        .await?;
        Ok(found.into_iter().map(|view| (view.row.id, view)).collect())
    }

    /// B11: a page of the user's notifications, newest first, and the names of their actors.
    pub async fn notifications(
        &self,
        user_id: i64,
        unread_only: bool,
        after: Option<TimeCursor>,
        limit: i64,
    ) -> AppResult<Vec<NotificationRow>> {
        let mut conn = self.db.conn().await?;
        Ok(repo::notifications_page(&mut conn, user_id, unread_only, after, limit).await?)
    }

    pub async fn count_notifications(&self, user_id: i64, unread_only: bool) -> AppResult<i64> {
        let mut conn = self.db.conn().await?;
        Ok(repo::count_notifications(&mut conn, user_id, unread_only).await?)
    }

    pub async fn unread_count(&self, user_id: i64) -> AppResult<i64> {
        let mut conn = self.db.conn().await?;
        Ok(repo::unread_count(&mut conn, user_id).await?)
    }

    /// B11: marks notifications read (those named, or all); returns how many changed. Ids of others'
    /// notifications change nothing.
    pub async fn mark_read(&self, user_id: i64, uuids: Option<&[String]>) -> AppResult<usize> {
        let mut conn = self.db.conn().await?;
        Ok(repo::mark_read(&mut conn, user_id, uuids, now()).await?)
    }

    /// Records a notification and, when it is the recipient's only unread one, queues an email — in the
    /// caller's transaction.
    async fn notify(&self, conn: &mut DbConn, notification: &NewNotification, what: &str) -> AppResult<()> {
        if !repo::insert_notification(conn, notification).await? {
            return Ok(());
        }
        if repo::unread_count(conn, notification.user_id).await? == 1
            && let Some((email, ..)) = repo::user_contact(conn, notification.user_id).await?
        {
            jobs::enqueue(conn, &templates::comment_activity(&email, &self.frontend_url, what)).await?;
        }
        Ok(())
    }
}

fn thread_query(thread: &ThreadOf) -> Thread {
    match thread {
        ThreadOf::Movie(movie_id) => Thread::Movie(*movie_id),
        ThreadOf::Replies(comment_id) => Thread::Replies(*comment_id),
    }
}

/// A comment that exists and is not deleted.
async fn live_comment(conn: &mut DbConn, uuid: &str) -> AppResult<CommentRow> {
    let comment = repo::comment_by_uuid(conn, uuid).await?.ok_or_else(no_such_comment)?;
    if comment.deleted_at.is_some() {
        return Err(deleted_comment());
    }
    Ok(comment)
}

fn new_comment(
    movie_id: i64,
    user_id: i64,
    parent_id: Option<i64>,
    body: String,
    at: chrono::NaiveDateTime,
) -> NewComment {
    NewComment {
        uuid: uuid::Uuid::new_v4().to_string(),
        movie_id,
        user_id,
        parent_id,
        body,
        created_at: at,
        updated_at: at,
    }
}

fn new_notification(
    user_id: i64,
    kind: NotificationKind,
    actor_id: i64,
    comment_id: i64,
    at: chrono::NaiveDateTime,
) -> NewNotification {
    NewNotification {
        uuid: uuid::Uuid::new_v4().to_string(),
        user_id,
        kind,
        actor_id: Some(actor_id),
        comment_id: Some(comment_id),
        created_at: at,
    }
}
