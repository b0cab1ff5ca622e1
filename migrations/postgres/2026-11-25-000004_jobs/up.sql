-- Background work queued in the database, in the same transaction as the change that causes it.
-- A worker claims due jobs (FOR UPDATE SKIP LOCKED here), retries with exponential backoff, and keeps jobs that
-- ran out of attempts as FAILED so that admins can see them. Periodic jobs carry a dedupe_key naming their
-- period, so that several instances enqueue each run once.
CREATE TABLE jobs (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind         TEXT NOT NULL,
    payload      TEXT NOT NULL DEFAULT '{}',
    status       TEXT NOT NULL DEFAULT 'QUEUED' CHECK (status IN ('QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED')),
    attempts     INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts INTEGER NOT NULL DEFAULT 8 CHECK (max_attempts >= 1),
    run_at       TIMESTAMP NOT NULL,
    locked_until TIMESTAMP,
    locked_by    TEXT,
    last_error   TEXT,
    dedupe_key   TEXT UNIQUE,
    created_at   TIMESTAMP NOT NULL,
    updated_at   TIMESTAMP NOT NULL
);
CREATE INDEX jobs_due_idx ON jobs (status, run_at);
