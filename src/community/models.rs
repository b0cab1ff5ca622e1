use chrono::NaiveDateTime;
use diesel::prelude::{Insertable, Queryable, Selectable};

use crate::db::schema::{comments, notifications};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = comments, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct CommentRow {
    pub id: i64,
    pub uuid: String,
    pub movie_id: i64,
    pub user_id: i64,
    /// The top-level comment a reply belongs to; None for a top-level comment.
    pub parent_id: Option<i64>,
    pub body: String,
    pub likes_count: i64,
    pub created_at: NaiveDateTime,
    pub deleted_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = comments)]
pub struct NewComment {
    pub uuid: String,
    pub movie_id: i64,
    pub user_id: i64,
    pub parent_id: Option<i64>,
    pub body: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// A comment with what a page shows of it: its author's public id and name, its replies' number, whether the
/// viewer liked it, and the movie's public id.
#[derive(Debug, Clone)]
pub struct CommentView {
    pub row: CommentRow,
    pub movie_uuid: String,
    pub author_uuid: String,
    pub author_name: String,
    pub reply_count: i64,
    pub viewer_liked: bool,
}

/// Newest or oldest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, async_graphql::Enum, serde::Serialize, serde::Deserialize)]
pub enum CommentOrder {
    #[default]
    Newest,
    Oldest,
}

crate::text_enum! {
    /// Why a user is notified (B11).
    #[derive(async_graphql::Enum)]
    pub enum NotificationKind {
        /// Someone replied to your comment.
        CommentReply => "COMMENT_REPLY",
        /// Someone liked your comment.
        CommentLike => "COMMENT_LIKE",
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = notifications, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct NotificationRow {
    pub id: i64,
    pub uuid: String,
    pub user_id: i64,
    pub kind: NotificationKind,
    pub actor_id: Option<i64>,
    pub comment_id: Option<i64>,
    pub created_at: NaiveDateTime,
    pub read_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = notifications)]
pub struct NewNotification {
    pub uuid: String,
    pub user_id: i64,
    pub kind: NotificationKind,
    pub actor_id: Option<i64>,
    pub comment_id: Option<i64>,
    pub created_at: NaiveDateTime,
}
