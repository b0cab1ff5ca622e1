ALTER TABLE orders DROP COLUMN payment_hint;
DROP INDEX refunds_status_idx;
DROP INDEX refunds_one_open_per_payment;
ALTER TABLE refunds DROP COLUMN decided_at;
ALTER TABLE refunds DROP COLUMN decision_reason;
ALTER TABLE refunds DROP COLUMN decided_by;
