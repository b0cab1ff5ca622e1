-- Emails sent once (issue 22): an email job that carries a key (an order's receipt, its refund notice) is
-- recorded here when sent, and a job with a key already recorded is not sent again (a retry after a crash, or
-- the same email queued twice).
CREATE TABLE email_deliveries (
    key TEXT PRIMARY KEY,
    sent_at TIMESTAMP NOT NULL
);
