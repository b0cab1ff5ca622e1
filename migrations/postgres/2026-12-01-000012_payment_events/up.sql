-- Payments confirmed by Stripe's webhooks (E2-E4):
-- * the amount Stripe reports is kept beside the amount charged, and a difference is flagged for admins
--   instead of being accepted silently;
-- * a refund that arrives before its payment's confirmation (events out of order) is remembered, so the
--   confirmation then lands as refunded and grants nothing;
-- * payments are found by their Stripe payment intent as well as by their checkout session.
ALTER TABLE payments ADD COLUMN amount_received_cents BIGINT CHECK (amount_received_cents >= 0);
ALTER TABLE payments ADD COLUMN needs_review BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE payments ADD COLUMN refund_seen_at TIMESTAMP;
CREATE INDEX payments_intent_idx ON payments (payment_intent_id);
