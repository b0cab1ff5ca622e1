-- Refunds (E5): a user's request is decided by staff; staff refund through the payment provider.
-- * who decided a refund, when and why;
-- * at most one refund in progress or done per payment (a second request or a double click finds the first);
-- * an order remembers what its payer should try after a declined or expired checkout (E4).
ALTER TABLE refunds ADD COLUMN decided_by BIGINT REFERENCES users (id) ON DELETE RESTRICT;
ALTER TABLE refunds ADD COLUMN decision_reason TEXT;
ALTER TABLE refunds ADD COLUMN decided_at TIMESTAMP;
CREATE UNIQUE INDEX refunds_one_open_per_payment ON refunds (payment_id)
    WHERE status IN ('REQUESTED', 'PENDING', 'SUCCEEDED');
CREATE INDEX refunds_status_idx ON refunds (status, created_at);
ALTER TABLE orders ADD COLUMN payment_hint TEXT;
