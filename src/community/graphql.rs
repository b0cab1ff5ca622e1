//! The community's part of the GraphQL schema (B10, B11): comments and replies as keyset connections, their
//! mutations, and notifications. Thin: parse, call `Community`, shape the answer.

use crate::graphql::budgets::{Budget, spends};
use std::collections::HashMap;

use async_graphql::{Context, ID, Object, Result};
use chrono::{DateTime, Utc};

use crate::auth::Viewer;
use crate::community::Community;
use crate::community::models::{CommentOrder, CommentView, NotificationKind, NotificationRow};
use crate::community::service::ThreadOf;
use crate::db::notify::{Content, Part};
use crate::error::AppError;
use crate::graphql::guards::{RoleGuard, authenticated, viewer};
use crate::graphql::pagination::{self, Counted, CursorSeal, Page, PageNode, TimeCursor, Total};
use crate::graphql::scalars::Long;
use crate::graphql::shown::shows;

/// A comment on a movie, or a reply to one (B10).
#[derive(Clone)]
pub struct Comment(pub CommentView);

impl PageNode for Comment {
    const CONNECTION: &'static str = "CommentConnection";
    const EDGE: &'static str = "CommentEdge";
}

/// Who wrote a comment, as others see them (never their email).
pub struct CommentAuthor {
    id: String,
    name: String,
}

#[Object]
impl CommentAuthor {
    /// The author's public user id.
    async fn id(&self) -> ID {
        ID(self.id.clone())
    }

    /// The name on the author's profile, or "Cinema viewer".
    async fn name(&self) -> &str {
        &self.name
    }
}

#[Object]
impl Comment {
    async fn id(&self) -> ID {
        ID(self.0.row.uuid.clone())
    }

    /// The movie it is about.
    async fn movie_id(&self) -> ID {
        ID(self.0.movie_uuid.clone())
    }

    /// The text; null once deleted.
    async fn text(&self) -> Option<&str> {
        self.0.row.deleted_at.is_none().then_some(self.0.row.body.as_str())
    }

    /// True for a deleted comment kept for its replies.
    async fn is_deleted(&self) -> bool {
        self.0.row.deleted_at.is_some()
    }

    /// Null once deleted.
    async fn author(&self, ctx: &Context<'_>) -> Option<CommentAuthor> {
        // The author's name is public content of its own (a profile change renames every comment).
        shows(ctx, Part::all(Content::Names));
        self.0.row.deleted_at.is_none().then(|| CommentAuthor {
            id: self.0.author_uuid.clone(),
            name: self.0.author_name.clone(),
        })
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.row.created_at.and_utc()
    }

    async fn likes(&self) -> Long {
        Long(self.0.row.likes_count)
    }

    /// Whether the signed-in viewer liked it; false for an anonymous viewer.
    #[graphql(cache_control(private))]
    async fn viewer_liked(&self) -> bool {
        self.0.viewer_liked
    }

    /// Number of replies (a reply has none: threads are two levels deep).
    async fn reply_count(&self) -> i64 {
        self.0.reply_count
    }

    /// The replies, oldest first by default. A reply has none.
    #[graphql(complexity = "crate::graphql::limits::page_cost(first, child_complexity, false)")]
    async fn replies(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        #[graphql(desc = "OLDEST (when null) or NEWEST first.")] order: Option<CommentOrder>,
    ) -> Result<Page<Comment, CommentCount>> {
        let order = order.unwrap_or(CommentOrder::Oldest);
        thread_page(ctx, ThreadOf::Replies(self.0.row.id), first, after.as_deref(), order).await
    }
}

/// What a comment page's `totalCount` counts.
pub struct CommentCount(ThreadOf);

impl Counted for CommentCount {
    async fn count(&self, ctx: &Context<'_>) -> Result<Total> {
        Ok(Total::exact(ctx.data::<Community>()?.count_thread(&self.0).await?))
    }
}

/// A page of a thread (a movie's comments or a comment's replies), by keyset on (time, id).
pub async fn thread_page(
    ctx: &Context<'_>,
    thread: ThreadOf,
    first: Option<i32>,
    after: Option<&str>,
    order: CommentOrder,
) -> Result<Page<Comment, CommentCount>> {
    let limit = pagination::page_size(first)?;
    let seal = ctx.data::<CursorSeal>()?;
    let list = format!("comments:{order:?}");
    let after = TimeCursor::read(seal, &list, after)?;
    let viewer = ctx.data_opt::<Viewer>().map(|viewer| viewer.user_id);
    let rows = ctx
        .data::<Community>()?
        .thread(&thread, order, after, limit + 1, viewer)
        .await?;
    Ok(Page::from_keyset_rows(
        rows,
        limit,
        after.is_some(),
        CommentCount(thread),
        |view| TimeCursor::sealed(seal, &list, view.row.created_at, view.row.id),
        Comment,
    ))
}

/// B10: a movie's comments (top-level; each with its replies), newest first by default.
pub async fn movie_comments(
    ctx: &Context<'_>,
    movie_uuid: &str,
    first: Option<i32>,
    after: Option<&str>,
    order: CommentOrder,
) -> Result<Page<Comment, CommentCount>> {
    let movie_id = ctx.data::<Community>()?.movie_id(movie_uuid).await?;
    thread_page(ctx, ThreadOf::Movie(movie_id), first, after, order).await
}

/// Something that happened to one of your comments (B11).
#[derive(Clone)]
pub struct Notification {
    row: NotificationRow,
    comment: Option<CommentView>,
}

impl PageNode for Notification {
    const CONNECTION: &'static str = "NotificationConnection";
    const EDGE: &'static str = "NotificationEdge";
}

#[Object]
impl Notification {
    async fn id(&self) -> ID {
        ID(self.row.uuid.clone())
    }

    async fn kind(&self) -> NotificationKind {
        self.row.kind
    }

    /// The reply (for COMMENT_REPLY) or your liked comment (for COMMENT_LIKE); null when it was deleted since.
    async fn comment(&self) -> Option<Comment> {
        self.comment.clone().map(Comment)
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.row.created_at.and_utc()
    }

    /// When you marked it read; null while unread.
    async fn read_at(&self) -> Option<DateTime<Utc>> {
        self.row.read_at.map(|at| at.and_utc())
    }
}

/// What a notification page's `totalCount` counts.
pub struct NotificationCount {
    user_id: i64,
    unread_only: bool,
}

impl Counted for NotificationCount {
    async fn count(&self, ctx: &Context<'_>) -> Result<Total> {
        let community = ctx.data::<Community>()?;
        Ok(Total::exact(
            community.count_notifications(self.user_id, self.unread_only).await?,
        ))
    }
}

/// B11: a page of the user's notifications, newest first, with their comments (two statements for a page).
pub async fn notifications_page(
    ctx: &Context<'_>,
    user_id: i64,
    unread_only: bool,
    first: Option<i32>,
    after: Option<&str>,
) -> Result<Page<Notification, NotificationCount>> {
    let limit = pagination::page_size(first)?;
    let seal = ctx.data::<CursorSeal>()?;
    let list = format!("notifications:{unread_only}");
    let after = TimeCursor::read(seal, &list, after)?;
    let community = ctx.data::<Community>()?;
    let rows = community.notifications(user_id, unread_only, after, limit + 1).await?;
    let comment_ids: Vec<i64> = rows.iter().filter_map(|row| row.comment_id).collect();
    let mut comments: HashMap<i64, CommentView> = if comment_ids.is_empty() {
        HashMap::new()
    } else {
        community.comments(&comment_ids, user_id).await?
    };
    let notifications: Vec<Notification> = rows
        .into_iter()
        .map(|row| Notification {
            comment: row.comment_id.and_then(|id| comments.remove(&id)),
            row,
        })
        .collect();
    Ok(Page::from_keyset_rows(
        notifications,
        limit,
        after.is_some(),
        NotificationCount { user_id, unread_only },
        |n| TimeCursor::sealed(seal, &list, n.row.created_at, n.row.id),
        |n| n,
    ))
}

/// The community's mutations, for signed-in users.
#[derive(Default)]
pub struct CommunityMutation;

#[Object]
impl CommunityMutation {
    /// Comments on a movie (B10): 1 to 2000 characters, trimmed.
    #[graphql(guard = "RoleGuard::signed_in().spending(Budget::Writes)", directive = authenticated::apply(),
        directive = spends::apply(Budget::Writes))]
    async fn add_comment(&self, ctx: &Context<'_>, movie_id: ID, text: String) -> Result<Comment> {
        let user_id = viewer(ctx)?.user_id;
        Ok(Comment(
            ctx.data::<Community>()?.add_comment(user_id, &movie_id, &text).await?,
        ))
    }

    /// Replies to a comment or to a reply (B10): the reply joins the thread of the top-level comment, and the
    /// author of the comment answered is notified (B11).
    #[graphql(guard = "RoleGuard::signed_in().spending(Budget::Writes)", directive = authenticated::apply(),
        directive = spends::apply(Budget::Writes))]
    async fn reply(&self, ctx: &Context<'_>, comment_id: ID, text: String) -> Result<Comment> {
        let user_id = viewer(ctx)?.user_id;
        Ok(Comment(
            ctx.data::<Community>()?.reply(user_id, &comment_id, &text).await?,
        ))
    }

    /// Likes a comment (B10); its author is notified once (B11).
    #[graphql(guard = "RoleGuard::signed_in().spending(Budget::Writes)", directive = authenticated::apply(),
        directive = spends::apply(Budget::Writes))]
    async fn like_comment(&self, ctx: &Context<'_>, comment_id: ID) -> Result<Comment> {
        let user_id = viewer(ctx)?.user_id;
        Ok(Comment(
            ctx.data::<Community>()?.like(user_id, &comment_id, true).await?,
        ))
    }

    /// Takes a like back (B10).
    #[graphql(guard = "RoleGuard::signed_in().spending(Budget::Writes)", directive = authenticated::apply(),
        directive = spends::apply(Budget::Writes))]
    async fn unlike_comment(&self, ctx: &Context<'_>, comment_id: ID) -> Result<Comment> {
        let user_id = viewer(ctx)?.user_id;
        Ok(Comment(
            ctx.data::<Community>()?.like(user_id, &comment_id, false).await?,
        ))
    }

    /// Deletes a comment: its author, or MODERATOR and above (B10). A comment with replies stays in its place,
    /// marked deleted. Answers the deleted id.
    #[graphql(guard = "RoleGuard::signed_in().spending(Budget::Writes)", directive = authenticated::apply(),
        directive = spends::apply(Budget::Writes))]
    async fn delete_comment(&self, ctx: &Context<'_>, comment_id: ID) -> Result<ID> {
        let reader = viewer(ctx)?;
        ctx.data::<Community>()?.delete(reader, &comment_id).await?;
        Ok(comment_id)
    }

    /// Marks notifications read (B11): those of `ids`, or all with `all: true`. Answers how many changed.
    #[graphql(guard = "RoleGuard::signed_in().spending(Budget::Writes)", directive = authenticated::apply(),
        directive = spends::apply(Budget::Writes))]
    async fn mark_notifications_read(&self, ctx: &Context<'_>, ids: Option<Vec<ID>>, all: Option<bool>) -> Result<i32> {
        let user_id = viewer(ctx)?.user_id;
        let uuids: Option<Vec<String>> = match (ids, all.unwrap_or(false)) {
            (None, true) => None,
            (Some(ids), false) if ids.len() <= 100 => Some(ids.into_iter().map(|id| id.0).collect()),
            (Some(_), false) => {
                return Err(AppError::bad_input("ids", "at most 100 ids at once; or all: true").into());
            }
            _ => {
                return Err(AppError::bad_input("ids", "give either ids or all: true").into());
            }
        };
        let changed = ctx.data::<Community>()?.mark_read(user_id, uuids.as_deref()).await?;
        Ok(i32::try_from(changed).unwrap_or(i32::MAX))
    }
}
