-- The mailbox owner decides an account's password (H4 of docs/security.md):
-- * each registration keeps the password it chose beside its own activation link, so several registrations of
--   one unverified address can wait side by side and the link that is followed decides; only unbound links
--   (resend, reset) stay one per user and purpose;
-- * each account has an email budget (emails anyone can trigger: links and "you already have an account"),
--   counted in a window, so that no one can flood an inbox through the API.
-- SQLite cannot drop a table constraint, so the tokens table is rebuilt (tokens are short-lived; kept anyway).
CREATE TABLE one_time_tokens_new (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id       BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose       TEXT NOT NULL CHECK (purpose IN ('ACTIVATION', 'PASSWORD_RESET')),
    token_hash    TEXT NOT NULL UNIQUE,
    created_at    TIMESTAMP NOT NULL,
    expires_at    TIMESTAMP NOT NULL,
    password_hash TEXT
);
INSERT INTO one_time_tokens_new (id, user_id, purpose, token_hash, created_at, expires_at)
    SELECT id, user_id, purpose, token_hash, created_at, expires_at FROM one_time_tokens;
DROP TABLE one_time_tokens;
ALTER TABLE one_time_tokens_new RENAME TO one_time_tokens;
CREATE INDEX one_time_tokens_expires_idx ON one_time_tokens (expires_at);
CREATE UNIQUE INDEX one_time_tokens_unbound_idx ON one_time_tokens (user_id, purpose) WHERE password_hash IS NULL;
CREATE INDEX one_time_tokens_user_idx ON one_time_tokens (user_id);

ALTER TABLE users ADD COLUMN mail_window_started_at TIMESTAMP;
ALTER TABLE users ADD COLUMN mails_in_window INTEGER NOT NULL DEFAULT 0;
CREATE INDEX users_unverified_idx ON users (created_at) WHERE NOT email_verified;
