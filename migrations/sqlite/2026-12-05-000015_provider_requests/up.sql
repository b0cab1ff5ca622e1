-- Provider calls sent again byte for byte (issue 22, E8): the parameters of each call to the payment provider
-- are stored with its idempotency key when it is first made, and every retry (ours, or a person pressing
-- again) sends the stored parameters. Stripe refuses a key reused with other parameters (idempotency_error),
-- which once left a refund FAILED that Stripe held.
CREATE TABLE provider_requests (
    idempotency_key TEXT PRIMARY KEY,
    operation TEXT NOT NULL CHECK (operation IN ('CHECKOUT', 'REFUND')),
    parameters TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
