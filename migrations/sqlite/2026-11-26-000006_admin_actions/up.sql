-- What admins did to accounts (A10): who, what, to whom, when. Written in the same transaction as the change,
-- readable by admins. The admin and the target may be deleted later; their ids stay as they were.
CREATE TABLE admin_actions (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    admin_id       BIGINT NOT NULL,
    action         TEXT NOT NULL CHECK (action IN ('SET_ROLE', 'ENABLE', 'DISABLE')),
    target_user_id BIGINT NOT NULL,
    detail         TEXT NOT NULL,
    created_at     TIMESTAMP NOT NULL
);
CREATE INDEX admin_actions_created_idx ON admin_actions (created_at);
