DROP INDEX notifications_like_once_idx;
DROP INDEX comments_replies_idx;
DROP INDEX comments_thread_idx;
ALTER TABLE comments DROP COLUMN deleted_at;
