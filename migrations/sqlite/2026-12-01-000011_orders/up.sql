-- Cart and orders (C1-C4, D1-D5):
-- * a movie can be withdrawn from sale without being deleted (a movie anyone ordered cannot be deleted): it
--   stays in the catalog and in its owners' lists, but cannot be added to a cart or ordered;
-- * an order keeps the total at ordering and, once the payment step has re-priced it, the total charged
--   (and each line's charged price), so a price change between ordering and paying is visible afterwards;
-- * a movie is in at most one pending order of a user: each line carries its user's id while its order is
--   pending and NULL afterwards, and (pending_user_id, movie_id) is unique (NULLs never collide, on both
--   backends);
-- * orders are listed newest first by keyset on (created_at, id), per user and for admins.
ALTER TABLE movies ADD COLUMN available BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE orders ADD COLUMN charged_cents BIGINT CHECK (charged_cents >= 0);
ALTER TABLE order_items ADD COLUMN charged_price_cents BIGINT CHECK (charged_price_cents >= 0);
ALTER TABLE order_items ADD COLUMN pending_user_id BIGINT REFERENCES users (id);
CREATE UNIQUE INDEX order_items_pending_once_idx ON order_items (pending_user_id, movie_id);
DROP INDEX orders_user_idx;
CREATE INDEX orders_user_idx ON orders (user_id, created_at, id);
CREATE INDEX orders_created_idx ON orders (created_at, id);
DROP INDEX orders_status_idx;
CREATE INDEX orders_status_idx ON orders (status, created_at, id);
