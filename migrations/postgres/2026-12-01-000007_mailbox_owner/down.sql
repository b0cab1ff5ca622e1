DROP INDEX users_unverified_idx;
ALTER TABLE users DROP COLUMN mails_in_window;
ALTER TABLE users DROP COLUMN mail_window_started_at;
DROP INDEX one_time_tokens_user_idx;
DROP INDEX one_time_tokens_unbound_idx;
DELETE FROM one_time_tokens WHERE password_hash IS NOT NULL;
ALTER TABLE one_time_tokens DROP COLUMN password_hash;
ALTER TABLE one_time_tokens ADD CONSTRAINT one_time_tokens_user_id_purpose_key UNIQUE (user_id, purpose);
