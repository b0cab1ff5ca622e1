-- Commerce: one cart per user, orders that keep each line's price at ordering time, purchases (what a user
-- owns), payments through a gateway (Stripe or the built-in mock), refunds, and each Stripe event recorded once.

CREATE TABLE carts (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id    BIGINT NOT NULL UNIQUE REFERENCES users (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE cart_items (
    id       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    cart_id  BIGINT NOT NULL REFERENCES carts (id) ON DELETE CASCADE,
    -- Deleting a movie that sits in carts needs the moderator's confirmation (the service asks first).
    movie_id BIGINT NOT NULL REFERENCES movies (id) ON DELETE CASCADE,
    added_at TIMESTAMP NOT NULL,
    UNIQUE (cart_id, movie_id)
);
CREATE INDEX cart_items_movie_idx ON cart_items (movie_id);

CREATE TABLE orders (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    uuid        TEXT NOT NULL UNIQUE,
    user_id     BIGINT NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    status      TEXT NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'PAID', 'CANCELED', 'REFUNDED')),
    total_cents BIGINT NOT NULL CHECK (total_cents >= 0),
    currency    TEXT NOT NULL CHECK (length(currency) = 3),
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    paid_at     TIMESTAMP,
    canceled_at TIMESTAMP,
    refunded_at TIMESTAMP
);
CREATE INDEX orders_user_idx ON orders (user_id, created_at);
CREATE INDEX orders_status_idx ON orders (status, created_at);

CREATE TABLE order_items (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id    BIGINT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    -- Orders are financial records: a movie that was ever ordered cannot be deleted.
    movie_id    BIGINT NOT NULL REFERENCES movies (id) ON DELETE RESTRICT,
    price_cents BIGINT NOT NULL CHECK (price_cents >= 0),
    currency    TEXT NOT NULL CHECK (length(currency) = 3),
    UNIQUE (order_id, movie_id)
);
CREATE INDEX order_items_movie_idx ON order_items (movie_id);

-- What a user owns. Revoked (deleted) by a refund.
CREATE TABLE purchases (
    user_id      BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    movie_id     BIGINT NOT NULL REFERENCES movies (id) ON DELETE RESTRICT,
    order_id     BIGINT NOT NULL REFERENCES orders (id) ON DELETE RESTRICT,
    price_cents  BIGINT NOT NULL CHECK (price_cents >= 0),
    currency     TEXT NOT NULL CHECK (length(currency) = 3),
    purchased_at TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, movie_id)
);
CREATE INDEX purchases_movie_idx ON purchases (movie_id);
CREATE INDEX purchases_order_idx ON purchases (order_id);

-- pending -> succeeded | failed | canceled; succeeded -> refunded. Never succeeded before the money is confirmed.
CREATE TABLE payments (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    uuid                TEXT NOT NULL UNIQUE,
    user_id             BIGINT NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    order_id            BIGINT NOT NULL REFERENCES orders (id) ON DELETE RESTRICT,
    status              TEXT NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'SUCCEEDED', 'FAILED', 'CANCELED', 'REFUNDED')),
    provider            TEXT NOT NULL CHECK (provider IN ('STRIPE', 'MOCK')),
    amount_cents        BIGINT NOT NULL CHECK (amount_cents >= 0),
    currency            TEXT NOT NULL CHECK (length(currency) = 3),
    checkout_session_id TEXT UNIQUE,
    payment_intent_id   TEXT,
    checkout_url        TEXT,
    idempotency_key     TEXT NOT NULL UNIQUE,
    failure_reason      TEXT,
    created_at          TIMESTAMP NOT NULL,
    updated_at          TIMESTAMP NOT NULL,
    succeeded_at        TIMESTAMP,
    refunded_at         TIMESTAMP
);
-- At most one open checkout per order.
CREATE UNIQUE INDEX payments_one_pending_per_order ON payments (order_id) WHERE status = 'PENDING';
CREATE INDEX payments_user_idx ON payments (user_id, created_at);
CREATE INDEX payments_status_idx ON payments (status, created_at);

CREATE TABLE payment_items (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    payment_id    BIGINT NOT NULL REFERENCES payments (id) ON DELETE CASCADE,
    order_item_id BIGINT NOT NULL REFERENCES order_items (id) ON DELETE RESTRICT,
    price_cents   BIGINT NOT NULL CHECK (price_cents >= 0),
    UNIQUE (payment_id, order_item_id)
);

-- A user's request for a refund, and a moderator's refund through the gateway.
CREATE TABLE refunds (
    id                 BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    uuid               TEXT NOT NULL UNIQUE,
    payment_id         BIGINT NOT NULL REFERENCES payments (id) ON DELETE RESTRICT,
    requested_by       BIGINT NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    reason             TEXT,
    status             TEXT NOT NULL DEFAULT 'REQUESTED' CHECK (status IN ('REQUESTED', 'PENDING', 'SUCCEEDED', 'FAILED', 'REJECTED')),
    amount_cents       BIGINT NOT NULL CHECK (amount_cents >= 0),
    external_refund_id TEXT UNIQUE,
    created_at         TIMESTAMP NOT NULL,
    updated_at         TIMESTAMP NOT NULL
);
CREATE INDEX refunds_payment_idx ON refunds (payment_id);

-- Every Stripe event handled, recorded in the same transaction as its effects: a retry is a no-op.
CREATE TABLE stripe_events (
    event_id     TEXT NOT NULL PRIMARY KEY,
    event_type   TEXT NOT NULL,
    object_id    TEXT,
    created_at   TIMESTAMP NOT NULL,
    processed_at TIMESTAMP NOT NULL
);
