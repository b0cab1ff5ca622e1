-- Accounts: users with one role each, profiles, login sessions with rotating refresh tokens,
-- and single-use tokens for activation and password reset. Timestamps are UTC.

CREATE TABLE users (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    uuid          TEXT NOT NULL UNIQUE,
    -- Stored already case-folded by the application so that uniqueness is case-insensitive.
    email         TEXT NOT NULL UNIQUE CHECK (email = lower(email) AND length(email) BETWEEN 3 AND 254),
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL DEFAULT 'USER' CHECK (role IN ('USER', 'MODERATOR', 'ADMIN')),
    is_active     BOOLEAN NOT NULL DEFAULT FALSE,
    created_at    TIMESTAMP NOT NULL,
    updated_at    TIMESTAMP NOT NULL
);
CREATE INDEX users_role_idx ON users (role);

CREATE TABLE profiles (
    user_id       BIGINT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    first_name    TEXT,
    last_name     TEXT,
    gender        TEXT CHECK (gender IN ('FEMALE', 'MALE', 'OTHER')),
    date_of_birth DATE,
    info          TEXT,
    avatar_key    TEXT,
    updated_at    TIMESTAMP NOT NULL
);

-- One row per signed-in device. Revoking a session kills its refresh token and its access tokens (jwt "sid").
CREATE TABLE sessions (
    id             TEXT NOT NULL PRIMARY KEY,
    user_id        BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at     TIMESTAMP NOT NULL,
    last_used_at   TIMESTAMP NOT NULL,
    expires_at     TIMESTAMP NOT NULL,
    revoked_at     TIMESTAMP,
    revoked_reason TEXT CHECK (revoked_reason IN ('LOGOUT', 'REUSE_DETECTED', 'PASSWORD_CHANGED', 'PASSWORD_RESET', 'DEACTIVATED', 'ROLE_CHANGED'))
);
CREATE INDEX sessions_user_idx ON sessions (user_id);
CREATE INDEX sessions_expires_idx ON sessions (expires_at);

-- Every refresh token ever issued for a session, stored as a SHA-256 hash. A token that was already rotated
-- (rotated_at set) and is presented again reveals theft: the whole session is revoked.
CREATE TABLE refresh_tokens (
    token_hash TEXT NOT NULL PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    rotated_at TIMESTAMP
);
CREATE INDEX refresh_tokens_session_idx ON refresh_tokens (session_id);

-- Activation and password-reset tokens: at most one live token per user and purpose, stored hashed.
CREATE TABLE one_time_tokens (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose    TEXT NOT NULL CHECK (purpose IN ('ACTIVATION', 'PASSWORD_RESET')),
    token_hash TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    UNIQUE (user_id, purpose)
);
CREATE INDEX one_time_tokens_expires_idx ON one_time_tokens (expires_at);
