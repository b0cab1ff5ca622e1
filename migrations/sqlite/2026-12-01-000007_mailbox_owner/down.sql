DROP INDEX users_unverified_idx;
ALTER TABLE users DROP COLUMN mails_in_window;
ALTER TABLE users DROP COLUMN mail_window_started_at;
CREATE TABLE one_time_tokens_old (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose    TEXT NOT NULL CHECK (purpose IN ('ACTIVATION', 'PASSWORD_RESET')),
    token_hash TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    UNIQUE (user_id, purpose)
);
INSERT INTO one_time_tokens_old (id, user_id, purpose, token_hash, created_at, expires_at)
    SELECT id, user_id, purpose, token_hash, created_at, expires_at FROM one_time_tokens WHERE password_hash IS NULL;
DROP TABLE one_time_tokens;
ALTER TABLE one_time_tokens_old RENAME TO one_time_tokens;
CREATE INDEX one_time_tokens_expires_idx ON one_time_tokens (expires_at);
