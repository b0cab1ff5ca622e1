DROP INDEX payments_intent_idx;
ALTER TABLE payments DROP COLUMN refund_seen_at;
ALTER TABLE payments DROP COLUMN needs_review;
ALTER TABLE payments DROP COLUMN amount_received_cents;
