//! Cart and order queries. Every function takes a connection so that it runs inside the caller's transaction
//! (docs/architecture.md, "Storage"). Lists of lines are read and written by set, never a statement per
//! line, so a cart or an order costs the same number of statements whatever its length.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::QueryResult;
use diesel::dsl::exists;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Timestamp};
use diesel_async::RunQueryDsl;

use crate::catalog::models::MovieRow;
use crate::db::notify::{Content, Part, public_content_changed};
use crate::db::schema::{cart_items, carts, movies, order_items, orders, purchases, users};
use crate::db::{DbConn, fixed_sql};
use crate::graphql::pagination::TimeCursor;
use crate::per_backend;
use crate::shop::models::{
    CartLine, NewOrder, ORDER_STATUS_CHANNEL, OrderExclusion, OrderFilter, OrderLineRow, OrderRow, OrderStatus,
};

/// The user's cart, created on first use, and locked until the transaction ends: the upsert takes the row's
/// write lock on PostgreSQL (SQLite's write transaction holds the whole database). Every change to a cart,
/// placing an order from it and a purchase landing in it take this lock first, so they happen one after the
/// other (C2, D1: no order line for a movie removed first, no owned movie left in a cart).
pub async fn lock_cart(conn: &mut DbConn, user_id: i64, at: NaiveDateTime) -> QueryResult<i64> {
    per_backend!(conn, |c| {
        diesel::insert_into(carts::table)
            .values((
                carts::user_id.eq(user_id),
                carts::created_at.eq(at),
                carts::updated_at.eq(at),
            ))
            .on_conflict(carts::user_id)
            .do_update()
            .set(carts::updated_at.eq(at))
            .returning(carts::id)
            .get_result(c)
            .await
    })
}

/// A movie as a cart sees it: (id, on sale, owned by `user_id`); None when no movie has the id.
pub async fn movie_for_cart(conn: &mut DbConn, user_id: i64, uuid: &str) -> QueryResult<Option<(i64, bool, bool)>> {
    per_backend!(conn, |c| {
        movies::table
            .filter(movies::uuid.eq(uuid))
            .select((
                movies::id,
                movies::available,
                exists(
                    purchases::table
                        .filter(purchases::user_id.eq(user_id))
                        .filter(purchases::movie_id.eq(movies::id)),
                ),
            ))
            .first(c)
            .await
            .optional()
    })
}

/// The id of the movie with this public id.
pub async fn movie_id(conn: &mut DbConn, uuid: &str) -> QueryResult<Option<i64>> {
    per_backend!(conn, |c| {
        movies::table
            .filter(movies::uuid.eq(uuid))
            .select(movies::id)
            .first(c)
            .await
            .optional()
    })
}

/// How many lines the cart has.
pub async fn line_count(conn: &mut DbConn, cart_id: i64) -> QueryResult<i64> {
    per_backend!(conn, |c| {
        cart_items::table
            .filter(cart_items::cart_id.eq(cart_id))
            .count()
            .get_result(c)
            .await
    })
}

/// How many of the user's orders wait for payment.
pub async fn pending_order_count(conn: &mut DbConn, user_id: i64) -> QueryResult<i64> {
    per_backend!(conn, |c| {
        orders::table
            .filter(orders::user_id.eq(user_id))
            .filter(orders::status.eq(OrderStatus::Pending))
            .count()
            .get_result(c)
            .await
    })
}

/// Adds a line; false when the movie was in the cart already (the (cart, movie) constraint decides, C2).
pub async fn add_line(conn: &mut DbConn, cart_id: i64, movie_id: i64, at: NaiveDateTime) -> QueryResult<bool> {
    let added = per_backend!(conn, |c| {
        diesel::insert_into(cart_items::table)
            .values((
                cart_items::cart_id.eq(cart_id),
                cart_items::movie_id.eq(movie_id),
                cart_items::added_at.eq(at),
            ))
            .on_conflict_do_nothing()
            .execute(c)
            .await
    })?;
    Ok(added == 1)
}

/// Removes the lines of `movie_ids`; returns how many there were.
pub async fn remove_lines(conn: &mut DbConn, cart_id: i64, movie_ids: &[i64]) -> QueryResult<usize> {
    per_backend!(conn, |c| {
        diesel::delete(
            cart_items::table
                .filter(cart_items::cart_id.eq(cart_id))
                .filter(cart_items::movie_id.eq_any(movie_ids)),
        )
        .execute(c)
        .await
    })
}

/// Empties the cart; returns how many lines it had.
pub async fn clear(conn: &mut DbConn, cart_id: i64) -> QueryResult<usize> {
    per_backend!(conn, |c| {
        diesel::delete(cart_items::table.filter(cart_items::cart_id.eq(cart_id)))
            .execute(c)
            .await
    })
}

/// The user's cart lines, oldest first, with each movie as it is now and what would keep it out of an order
/// (C1, D1): one statement, the checks as correlated index lookups.
pub async fn cart_lines(conn: &mut DbConn, user_id: i64) -> QueryResult<Vec<CartLine>> {
    type Row = (MovieRow, NaiveDateTime, bool, bool);
    let rows: Vec<Row> = per_backend!(conn, |c| {
        cart_items::table
            .inner_join(carts::table)
            .inner_join(movies::table)
            .filter(carts::user_id.eq(user_id))
            .select((
                MovieRow::as_select(),
                cart_items::added_at,
                exists(
                    purchases::table
                        .filter(purchases::user_id.eq(user_id))
                        .filter(purchases::movie_id.eq(movies::id)),
                ),
                exists(
                    order_items::table
                        .filter(order_items::pending_user_id.eq(user_id))
                        .filter(order_items::movie_id.eq(movies::id)),
                ),
            ))
            .order_by((cart_items::added_at.asc(), cart_items::id.asc()))
            .load(c)
            .await
    })?;
    Ok(rows
        .into_iter()
        .map(|(movie, added_at, owned, pending)| {
            let problem = if owned {
                Some(OrderExclusion::AlreadyPurchased)
            } else if !movie.available {
                Some(OrderExclusion::Unavailable)
            } else if pending {
                Some(OrderExclusion::InPendingOrder)
            } else {
                None
            };
            CartLine {
                movie,
                added_at,
                problem,
            }
        })
        .collect())
}

pub async fn insert_order(conn: &mut DbConn, order: &NewOrder) -> QueryResult<OrderRow> {
    per_backend!(conn, |c| {
        diesel::insert_into(orders::table)
            .values(order)
            .returning(OrderRow::as_returning())
            .get_result(c)
            .await
    })
}

/// Copies the cart lines of `movie_ids` into the order at the movies' current prices, in one statement, each
/// line marked pending for `user_id` (a movie is in one pending order of a user at most, D1); returns the
/// lines' prices.
pub async fn insert_lines_from_cart(
    conn: &mut DbConn,
    order_id: i64,
    user_id: i64,
    cart_id: i64,
    movie_ids: &[i64],
) -> QueryResult<Vec<i64>> {
    per_backend!(conn, |c| {
        diesel::insert_into(order_items::table)
            .values(
                cart_items::table
                    .inner_join(movies::table)
                    .filter(cart_items::cart_id.eq(cart_id))
                    .filter(cart_items::movie_id.eq_any(movie_ids))
                    .select((
                        order_id.into_sql::<BigInt>(),
                        movies::id,
                        movies::price_cents,
                        movies::currency,
                        Some(user_id).into_sql::<Nullable<BigInt>>(),
                    )),
            )
            .into_columns((
                order_items::order_id,
                order_items::movie_id,
                order_items::price_cents,
                order_items::currency,
                order_items::pending_user_id,
            ))
            .returning(order_items::price_cents)
            .get_results(c)
            .await
    })
}

pub async fn set_order_total(conn: &mut DbConn, order_id: i64, total_cents: i64) -> QueryResult<OrderRow> {
    per_backend!(conn, |c| {
        diesel::update(orders::table.find(order_id))
            .set(orders::total_cents.eq(total_cents))
            .returning(OrderRow::as_returning())
            .get_result(c)
            .await
    })
}

/// An order with its owner's public id.
pub async fn order_by_uuid(conn: &mut DbConn, uuid: &str) -> QueryResult<Option<(OrderRow, String)>> {
    per_backend!(conn, |c| {
        orders::table
            .inner_join(users::table)
            .filter(orders::uuid.eq(uuid))
            .select((OrderRow::as_select(), users::uuid))
            .first(c)
            .await
            .optional()
    })
}

/// The order, locked until the transaction ends (PostgreSQL; SQLite's write transaction holds the database).
pub async fn order_locked(conn: &mut DbConn, order_id: i64) -> QueryResult<Option<OrderRow>> {
    let order = orders::table.find(order_id);
    match conn {
        DbConn::Postgres(c) => order
            .select(OrderRow::as_select())
            .for_update()
            .first(&mut **c)
            .await
            .optional(),
        DbConn::Sqlite(c) => order.select(OrderRow::as_select()).first(&mut **c).await.optional(),
    }
}

/// The lines of each order, with their movies, by order id (in the order they were added).
pub async fn lines_of_orders(
    conn: &mut DbConn,
    order_ids: &[i64],
) -> QueryResult<HashMap<i64, Vec<(OrderLineRow, MovieRow)>>> {
    let rows: Vec<(OrderLineRow, MovieRow)> = per_backend!(conn, |c| {
        order_items::table
            .inner_join(movies::table)
            .filter(order_items::order_id.eq_any(order_ids))
            .select((OrderLineRow::as_select(), MovieRow::as_select()))
            .order_by(order_items::id.asc())
            .load(c)
            .await
    })?;
    let mut by_order: HashMap<i64, Vec<(OrderLineRow, MovieRow)>> = HashMap::new();
    for (line, movie) in rows {
        by_order.entry(line.order_id).or_default().push((line, movie));
    }
    Ok(by_order)
}

/// Query fragments on orders, for both backends.
pub trait OrderQueries: diesel::backend::Backend {
    /// The orders a filter selects.
    fn orders_matching<'a>(filter: &OrderFilter) -> orders::BoxedQuery<'a, Self>;
}

crate::for_both_backends! {
    impl OrderQueries {
        fn orders_matching<'a>(filter: &OrderFilter) -> orders::BoxedQuery<'a, Self> {
            let mut query = orders::table.into_boxed();
            if let Some(user_id) = filter.user_id {
                query = query.filter(orders::user_id.eq(user_id));
            }
            if let Some(status) = filter.status {
                query = query.filter(orders::status.eq(status));
            }
            if let Some(from) = filter.from {
                query = query.filter(orders::created_at.ge(from));
            }
            if let Some(to) = filter.to {
                query = query.filter(orders::created_at.lt(to));
            }
            query
        }
    }
}

fn orders_matching<'a, DB: OrderQueries>(filter: &OrderFilter) -> orders::BoxedQuery<'a, DB> {
    DB::orders_matching(filter)
}

/// A page of orders matching `filter`, newest first, after `after` (keyset on (created_at, id)), with their
/// owners' public ids.
pub async fn list_orders(
    conn: &mut DbConn,
    filter: &OrderFilter,
    after: Option<TimeCursor>,
    limit: i64,
) -> QueryResult<Vec<(OrderRow, String)>> {
    per_backend!(conn, |c| {
        let mut query = orders_matching(filter);
        if let Some(TimeCursor { at, id }) = after {
            query = query.filter(
                orders::created_at
                    .lt(at)
                    .or(orders::created_at.eq(at).and(orders::id.lt(id))),
            );
        }
        let page = query
            .order_by((orders::created_at.desc(), orders::id.desc()))
            .limit(limit)
            .select(orders::id);
        orders::table
            .inner_join(users::table)
            .filter(orders::id.eq_any(page))
            .order_by((orders::created_at.desc(), orders::id.desc()))
            .select((OrderRow::as_select(), users::uuid))
            .load(c)
            .await
    })
}

/// How many orders match `filter`, and the sum of their totals at ordering (one catalog currency), in one
/// statement. (Diesel types `SUM` of a BIGINT as NUMERIC, which SQLite lacks: the cast keeps it an integer.)
pub async fn order_totals(conn: &mut DbConn, filter: &OrderFilter) -> QueryResult<(i64, i64)> {
    per_backend!(conn, |c| {
        orders_matching(filter)
            .select((
                diesel::dsl::count_star(),
                fixed_sql::<BigInt>("CAST(COALESCE(SUM(orders.total_cents), 0) AS BIGINT)"),
            ))
            .get_result(c)
            .await
    })
}

/// Moves `order` (as read under its lock) to `to`, stamping when it got there, and releases its lines from the
/// one-pending-order-per-movie rule once it leaves PENDING. None when its status changed since it was read.
pub async fn move_order(
    conn: &mut DbConn,
    order: &OrderRow,
    to: OrderStatus,
    at: NaiveDateTime,
) -> QueryResult<Option<OrderRow>> {
    let stamp = |status: OrderStatus, before: Option<NaiveDateTime>| if to == status { Some(at) } else { before };
    let order_id = order.id;
    let moved: Option<OrderRow> = per_backend!(conn, |c| {
        diesel::update(
            orders::table
                .filter(orders::id.eq(order_id))
                .filter(orders::status.eq(order.status)),
        )
        .set((
            orders::status.eq(to),
            orders::updated_at.eq(at),
            orders::paid_at.eq(stamp(OrderStatus::Paid, order.paid_at)),
            orders::canceled_at.eq(stamp(OrderStatus::Canceled, order.canceled_at)),
            orders::refunded_at.eq(stamp(OrderStatus::Refunded, order.refunded_at)),
        ))
        .returning(OrderRow::as_returning())
        .get_result(c)
        .await
        .optional()
    })?;
    if moved.is_some() {
        // Live order status (the `orderStatusChanged` subscription), heard once this transaction commits.
        crate::db::notify::notify(conn, ORDER_STATUS_CHANNEL, &order.uuid).await?;
    }
    if moved.is_some() && order.status == OrderStatus::Pending && to != OrderStatus::Pending {
        per_backend!(conn, |c| {
            diesel::update(order_items::table.filter(order_items::order_id.eq(order_id)))
                .set(order_items::pending_user_id.eq(None::<i64>))
                .execute(c)
                .await
        })?;
    }
    Ok(moved)
}

/// Pending orders placed before `before`, oldest first, at most `limit` (F3: abandoned orders).
pub async fn pending_orders_before(conn: &mut DbConn, before: NaiveDateTime, limit: i64) -> QueryResult<Vec<i64>> {
    per_backend!(conn, |c| {
        orders::table
            .filter(orders::status.eq(OrderStatus::Pending))
            .filter(orders::created_at.lt(before))
            .order_by((orders::created_at.asc(), orders::id.asc()))
            .select(orders::id)
            .limit(limit)
            .load(c)
            .await
    })
}

/// D2: sets each line's charged price to its movie's price now, in one statement; returns the charged prices.
pub async fn reprice_lines(conn: &mut DbConn, order_id: i64) -> QueryResult<Vec<Option<i64>>> {
    per_backend!(conn, |c| {
        diesel::update(order_items::table.filter(order_items::order_id.eq(order_id)))
            .set(
                order_items::charged_price_cents.eq(movies::table
                    .filter(movies::id.eq(order_items::movie_id))
                    .select(movies::price_cents)
                    .single_value()),
            )
            .returning(order_items::charged_price_cents)
            .get_results(c)
            .await
    })
}

pub async fn set_order_charged(
    conn: &mut DbConn,
    order_id: i64,
    charged_cents: i64,
    at: NaiveDateTime,
) -> QueryResult<OrderRow> {
    per_backend!(conn, |c| {
        diesel::update(orders::table.find(order_id))
            .set((orders::charged_cents.eq(Some(charged_cents)), orders::updated_at.eq(at)))
            .returning(OrderRow::as_returning())
            .get_result(c)
            .await
    })
}

/// The order's movies become its owner's (B14), at the price charged (or ordered, when never re-priced); each
/// movie's purchase counter moves with them. Three statements whatever the order's length.
pub async fn grant_purchases(conn: &mut DbConn, order: &OrderRow, at: NaiveDateTime) -> QueryResult<usize> {
    purchases_changed(conn).await?;
    let order_id = order.id;
    let user_id = order.user_id;
    per_backend!(conn, |c| {
        let granted = diesel::insert_into(purchases::table)
            .values(order_items::table.filter(order_items::order_id.eq(order_id)).select((
                user_id.into_sql::<BigInt>(),
                order_items::movie_id,
                order_id.into_sql::<BigInt>(),
                fixed_sql::<BigInt>("COALESCE(order_items.charged_price_cents, order_items.price_cents)"),
                order_items::currency,
                at.into_sql::<Timestamp>(),
            )))
            .into_columns((
                purchases::user_id,
                purchases::movie_id,
                purchases::order_id,
                purchases::price_cents,
                purchases::currency,
                purchases::purchased_at,
            ))
            .execute(c)
            .await?;
        diesel::update(
            movies::table.filter(
                movies::id.eq_any(
                    order_items::table
                        .filter(order_items::order_id.eq(order_id))
                        .select(order_items::movie_id),
                ),
            ),
        )
        .set(movies::purchases_count.eq(movies::purchases_count + 1))
        .execute(c)
        .await?;
        QueryResult::Ok(granted)
    })
}

/// Announces, in the caller's transaction, that purchase counters moved: a catalog sorted by popularity reads
/// them, so its kept answers are dropped.
async fn purchases_changed(conn: &mut DbConn) -> QueryResult<()> {
    public_content_changed(conn, &[Part::all(Content::Purchases)]).await
}

/// Takes the order's movies out of the cart (the caller holds the cart's lock).
pub async fn remove_order_movies_from_cart(conn: &mut DbConn, cart_id: i64, order_id: i64) -> QueryResult<usize> {
    per_backend!(conn, |c| {
        diesel::delete(
            cart_items::table.filter(cart_items::cart_id.eq(cart_id)).filter(
                cart_items::movie_id.eq_any(
                    order_items::table
                        .filter(order_items::order_id.eq(order_id))
                        .select(order_items::movie_id),
                ),
            ),
        )
        .execute(c)
        .await
    })
}

/// Takes back the movies an order granted (a refund, E5): their purchase counters move back with them. Two
/// statements whatever the order's length.
pub async fn revoke_purchases(conn: &mut DbConn, order_id: i64) -> QueryResult<usize> {
    purchases_changed(conn).await?;
    per_backend!(conn, |c| {
        diesel::update(
            movies::table.filter(
                movies::id.eq_any(
                    purchases::table
                        .filter(purchases::order_id.eq(order_id))
                        .select(purchases::movie_id),
                ),
            ),
        )
        .set(movies::purchases_count.eq(movies::purchases_count - 1))
        .execute(c)
        .await?;
        diesel::delete(purchases::table.filter(purchases::order_id.eq(order_id)))
            .execute(c)
            .await
    })
}

pub async fn set_payment_hint(conn: &mut DbConn, order_id: i64, hint: Option<&str>) -> QueryResult<usize> {
    per_backend!(conn, |c| {
        diesel::update(orders::table.find(order_id))
            .set(orders::payment_hint.eq(hint))
            .execute(c)
            .await
    })
}
