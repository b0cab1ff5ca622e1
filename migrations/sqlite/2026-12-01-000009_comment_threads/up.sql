-- Comment threads (B10) and their notifications (B11):
-- * a deleted comment that has replies keeps its place, marked deleted (its text is gone);
-- * threads are read newest or oldest first by keyset on (created_at, id), top-level and replies alike;
-- * one like of a comment notifies its author once, however often it is toggled.
ALTER TABLE comments ADD COLUMN deleted_at TIMESTAMP;
CREATE INDEX comments_thread_idx ON comments (movie_id, parent_id, created_at, id);
CREATE INDEX comments_replies_idx ON comments (parent_id, created_at, id);
CREATE UNIQUE INDEX notifications_like_once_idx ON notifications (user_id, actor_id, comment_id) WHERE kind = 'COMMENT_LIKE';
