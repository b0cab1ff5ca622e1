//! Cart and order rules (C1–C4, D1–D5). Every change is one transaction that takes the user's cart lock first
//! (`repo::lock_cart`), so that changes to one cart, orders placed from it and purchases landing in it happen
//! one after another, on PostgreSQL under concurrent requests and on SQLite under its write lock.

use std::collections::HashMap;

use axum::http::StatusCode;

use crate::catalog::models::MovieRow;
use crate::catalog::moderation::CATALOG_CURRENCY;
use crate::db::{Db, DbConn, now};
use crate::error::{AppError, AppResult};
use crate::graphql::pagination::TimeCursor;
use crate::jobs;
use crate::shop::lifecycle::{self, OrderMove, OrderStep};
use crate::shop::models::{
    CartView, NewOrder, OrderCanceled, OrderFilter, OrderLineRow, OrderRow, OrderStatus, PlacedOrder, Repriced,
};
use crate::shop::repo;

/// The most lines a cart holds: a cart (and so an order) stays a bounded read and write whatever a client does.
pub const MAX_CART_LINES: i64 = 100;

/// An order as its lists show it: the row and its owner's public id.
#[derive(Debug, Clone)]
pub struct OrderView {
    pub row: OrderRow,
    pub user_uuid: String,
}

/// The shop handle: cheap to clone; what the cart's and orders' resolvers call.
#[derive(Clone)]
pub struct Shop {
    db: Db,
    /// Pending orders older than this are canceled by the periodic job (F3; ABANDONED_ORDER_HOURS).
    abandoned_after: chrono::Duration,
    /// Orders one user may have waiting for payment at once (MAX_PENDING_ORDERS).
    max_pending_orders: u32,
}

fn no_such_movie(uuid: &str) -> AppError {
    AppError::NotFound(format!("no movie has the id {uuid}"))
}

fn no_such_order() -> AppError {
    AppError::not_found("no order of yours has this id")
}

fn conflict(reason: &'static str, message: impl Into<String>) -> AppError {
    AppError::ConflictWith {
        message: message.into(),
        details: vec![("reason", reason.into())],
    }
}

impl Shop {
    pub fn new(db: Db, abandoned_after: chrono::Duration, max_pending_orders: u32) -> Shop {
        Shop {
            db,
            abandoned_after,
            max_pending_orders,
        }
    }

    /// C1: the user's cart (empty when they never added anything).
    pub async fn cart(&self, user_id: i64) -> AppResult<CartView> {
        let mut conn = self.db.conn().await?;
        Ok(CartView {
            lines: repo::cart_lines(&mut conn, user_id).await?,
        })
    }

    /// C1, C2: adds a movie. Refused when no movie has the id (NOT_FOUND, naming it), when the movie is not on
    /// sale, when the user owns it, or when it is in the cart already (CONFLICT, with `reason`), and when the
    /// cart is full (CART_FULL).
    pub async fn add_to_cart(&self, user_id: i64, movie_uuid: &str) -> AppResult<CartView> {
        let at = now();
        self.db
            .transaction(async |conn| {
                let cart_id = repo::lock_cart(conn, user_id, at).await?;
                let (movie_id, available, owned) = repo::movie_for_cart(conn, user_id, movie_uuid)
                    .await?
                    .ok_or_else(|| no_such_movie(movie_uuid))?;
                if owned {
                    return Err(conflict("ALREADY_PURCHASED", "you already bought this movie"));
                }
                if !available {
                    return Err(conflict("UNAVAILABLE", "this movie is not on sale"));
                }
                if repo::line_count(conn, cart_id).await? >= MAX_CART_LINES {
                    return Err(AppError::rejected(
                        StatusCode::CONFLICT,
                        "CART_FULL",
                        format!("a cart holds at most {MAX_CART_LINES} movies; order or remove some first"),
                    ));
                }
                if !repo::add_line(conn, cart_id, movie_id, at).await? {
                    return Err(conflict("ALREADY_IN_CART", "this movie is already in your cart"));
                }
                cart_after_change(conn, user_id).await
            })
            .await
    }

    /// C1: takes a movie out of the cart; NOT_FOUND when it was not there (or no movie has the id).
    pub async fn remove_from_cart(&self, user_id: i64, movie_uuid: &str) -> AppResult<CartView> {
        let at = now();
        self.db
            .transaction(async |conn| {
                let cart_id = repo::lock_cart(conn, user_id, at).await?;
                let movie_id = repo::movie_id(conn, movie_uuid)
                    .await?
                    .ok_or_else(|| no_such_movie(movie_uuid))?;
                if repo::remove_lines(conn, cart_id, &[movie_id]).await? == 0 {
                    return Err(AppError::NotFound(format!(
                        "the movie {movie_uuid} is not in your cart"
                    )));
                }
                cart_after_change(conn, user_id).await
            })
            .await
    }

    /// C1: empties the cart (an empty cart stays empty).
    pub async fn clear_cart(&self, user_id: i64) -> AppResult<CartView> {
        let at = now();
        self.db
            .transaction(async |conn| {
                let cart_id = repo::lock_cart(conn, user_id, at).await?;
                repo::clear(conn, cart_id).await?;
                Ok(CartView::default())
            })
            .await
    }

    /// D1: turns the cart into a PENDING order at today's prices, in one transaction. Lines the user owns,
    /// lines not on sale and lines in another pending order are left out and listed with their reason (they
    /// stay in the cart, flagged); the ordered lines leave the cart. An empty cart (CART_EMPTY) or a cart with
    /// nothing orderable (NOTHING_TO_ORDER) is refused and nothing changes.
    pub async fn place_order(&self, user_id: i64) -> AppResult<PlacedOrder> {
        let at = now();
        let max_pending = self.max_pending_orders;
        self.db
            .transaction(async |conn| {
                // Under the cart's lock, which every placement of this user takes: the count cannot race.
                let cart_id = repo::lock_cart(conn, user_id, at).await?;
                let pending = repo::pending_order_count(conn, user_id).await?;
                if pending >= i64::from(max_pending) {
                    return Err(AppError::rejected(
                        StatusCode::CONFLICT,
                        "TOO_MANY_PENDING_ORDERS",
                        format!("you have {pending} orders waiting for payment: pay or cancel one first"),
                    )
                    .with_detail("pendingOrders", pending.into()));
                }
                let lines = repo::cart_lines(conn, user_id).await?;
                if lines.is_empty() {
                    return Err(AppError::rejected(
                        StatusCode::CONFLICT,
                        "CART_EMPTY",
                        "your cart is empty",
                    ));
                }
                let mut ordered = Vec::new();
                let mut excluded = Vec::new();
                for line in lines {
                    match line.problem {
                        None => ordered.push(line.movie.id),
                        Some(reason) => excluded.push((line.movie, reason)),
                    }
                }
                if ordered.is_empty() {
                    return Err(AppError::rejected(
                        StatusCode::CONFLICT,
                        "NOTHING_TO_ORDER",
                        "nothing in your cart can be ordered: each line shows why (cart.lines.problem)",
                    ));
                }
                let order = repo::insert_order(
                    conn,
                    &NewOrder {
                        uuid: uuid::Uuid::new_v4().to_string(),
                        user_id,
                        status: OrderStatus::Pending,
                        total_cents: 0,
                        currency: CATALOG_CURRENCY.to_string(),
                        created_at: at,
                        updated_at: at,
                    },
                )
                .await?;
                let prices = repo::insert_lines_from_cart(conn, order.id, user_id, cart_id, &ordered).await?;
                let order = repo::set_order_total(conn, order.id, prices.iter().sum()).await?;
                repo::remove_lines(conn, cart_id, &ordered).await?;
                Ok(PlacedOrder { order, excluded })
            })
            .await
    }

    /// D3: one of the user's orders. Someone else's order is NOT_FOUND, like one that does not exist, so that
    /// order ids tell nothing about other users.
    pub async fn own_order(&self, user_id: i64, uuid: &str) -> AppResult<OrderView> {
        let mut conn = self.db.conn().await?;
        match repo::order_by_uuid(&mut conn, uuid).await? {
            Some((row, user_uuid)) if row.user_id == user_id => Ok(OrderView { row, user_uuid }),
            _ => Err(no_such_order()),
        }
    }

    /// D3, D5: a page of orders matching `filter`, newest first.
    pub async fn orders(
        &self,
        filter: &OrderFilter,
        after: Option<TimeCursor>,
        limit: i64,
    ) -> AppResult<Vec<OrderView>> {
        let mut conn = self.db.conn().await?;
        let rows = repo::list_orders(&mut conn, filter, after, limit).await?;
        Ok(rows
            .into_iter()
            .map(|(row, user_uuid)| OrderView { row, user_uuid })
            .collect())
    }

    /// How many orders match `filter`, and the sum of their totals at ordering.
    pub async fn order_totals(&self, filter: &OrderFilter) -> AppResult<(i64, i64)> {
        let mut conn = self.db.conn().await?;
        Ok(repo::order_totals(&mut conn, filter).await?)
    }

    /// The lines of each order with their movies, in one statement.
    pub async fn order_lines(&self, order_ids: &[i64]) -> AppResult<HashMap<i64, Vec<(OrderLineRow, MovieRow)>>> {
        if order_ids.is_empty() {
            return Ok(HashMap::new());
        }
        let mut conn = self.db.conn().await?;
        Ok(repo::lines_of_orders(&mut conn, order_ids).await?)
    }

    /// Notices of committed changes, from now on: the live order status reads the order again on each one
    /// naming it (`ORDER_STATUS_CHANNEL`).
    pub fn notices(&self) -> tokio::sync::broadcast::Receiver<crate::db::notify::Notice> {
        self.db.notices()
    }

    /// D4: cancels one of the user's PENDING orders; its movies may be ordered again. A PAID order is undone
    /// only by a refund (ORDER_PAID); a canceled or refunded one cannot change (ORDER_CLOSED).
    pub async fn cancel_order(&self, user_id: i64, uuid: &str) -> AppResult<OrderView> {
        let at = now();
        self.db
            .transaction(async |conn| {
                let (order, user_uuid) = own_order_locked(conn, user_id, uuid).await?;
                let row = cancel_pending(conn, &order, at).await?;
                Ok(OrderView { row, user_uuid })
            })
            .await
    }

    /// F3: cancels pending orders placed longer ago than the configured age, each in its own transaction (an
    /// order paid meanwhile is left alone). Returns how many were canceled.
    pub async fn cancel_abandoned(&self) -> AppResult<usize> {
        const BATCH: i64 = 500;
        let before = now() - self.abandoned_after;
        let mut canceled = 0;
        loop {
            let ids = {
                let mut conn = self.db.conn().await?;
                repo::pending_orders_before(&mut conn, before, BATCH).await?
            };
            for &order_id in &ids {
                let at = now();
                let done = self
                    .db
                    .transaction(async |conn| match repo::order_locked(conn, order_id).await? {
                        Some(order) if lifecycle::next(order.status, OrderStep::Cancel).is_ok() => {
                            Ok(cancel(conn, &order, at).await?.is_some())
                        }
                        _ => Ok(false),
                    })
                    .await?;
                canceled += usize::from(done);
            }
            if (ids.len() as i64) < BATCH {
                return Ok(canceled);
            }
        }
    }
}

/// One of `user_id`'s orders, locked until the transaction ends, with its owner's public id. Someone else's is
/// NOT_FOUND, like one that does not exist, so that order ids tell nothing about other users.
async fn own_order_locked(conn: &mut DbConn, user_id: i64, uuid: &str) -> AppResult<(OrderRow, String)> {
    let (found, user_uuid) = repo::order_by_uuid(conn, uuid).await?.ok_or_else(no_such_order)?;
    if found.user_id != user_id {
        return Err(no_such_order());
    }
    let order = repo::order_locked(conn, found.id).await?.ok_or_else(no_such_order)?;
    Ok((order, user_uuid))
}

/// The cart as it is inside the transaction that changed it.
async fn cart_after_change(conn: &mut DbConn, user_id: i64) -> AppResult<CartView> {
    Ok(CartView {
        lines: repo::cart_lines(conn, user_id).await?,
    })
}

/// Moves a PENDING order (read under its lock) to CANCELED and queues `OrderCanceled` in the same transaction,
/// so that its open checkout is closed whoever canceled it. None when it changed since it was read.
async fn cancel(conn: &mut DbConn, order: &OrderRow, at: chrono::NaiveDateTime) -> AppResult<Option<OrderRow>> {
    let canceled = repo::move_order(conn, order, OrderStatus::Canceled, at).await?;
    if canceled.is_some() {
        jobs::enqueue(conn, &OrderCanceled { order_id: order.id }).await?;
    }
    Ok(canceled)
}

/// Cancels a PENDING order read under its lock; the refusals of D4 otherwise.
async fn cancel_pending(conn: &mut DbConn, order: &OrderRow, at: chrono::NaiveDateTime) -> AppResult<OrderRow> {
    lifecycle::next(order.status, OrderStep::Cancel)?;
    cancel(conn, order, at)
        .await?
        .ok_or_else(|| AppError::Conflict("the order changed meanwhile; read it again".into()))
}

/// D2: re-prices a PENDING order from today's prices, right before payment: each line's charged price and the
/// order's charged total are stored beside the prices at ordering. Runs in the caller's transaction (the
/// payment step's), with the order locked by the caller.
pub async fn reprice_pending_order(conn: &mut DbConn, order: &OrderRow) -> AppResult<Repriced> {
    lifecycle::next(order.status, OrderStep::Reprice)?;
    let charged: i64 = repo::reprice_lines(conn, order.id).await?.into_iter().flatten().sum();
    repo::set_order_charged(conn, order.id, charged, now()).await?;
    Ok(Repriced {
        ordered_cents: order.total_cents,
        charged_cents: charged,
    })
}

/// E3 (the shop's part of a confirmed payment): the PENDING order becomes PAID, its movies the user's, and they
/// leave the user's cart — under the cart's lock, so an `addToCart` racing with it either comes first (and its
/// line is removed here) or after (and is refused as already purchased). Runs in the caller's transaction.
pub async fn fulfil_order(conn: &mut DbConn, order_id: i64) -> AppResult<OrderRow> {
    let at = now();
    let order = repo::order_locked(conn, order_id)
        .await?
        .ok_or_else(|| AppError::not_found("no order has this id"))?;
    lifecycle::next(order.status, OrderStep::Fulfil)?;
    let cart_id = repo::lock_cart(conn, order.user_id, at).await?;
    let paid = repo::move_order(conn, &order, OrderStatus::Paid, at)
        .await?
        .ok_or_else(|| AppError::Conflict("the order changed meanwhile".into()))?;
    repo::grant_purchases(conn, &paid, at).await?;
    repo::remove_order_movies_from_cart(conn, cart_id, paid.id).await?;
    Ok(paid)
}

/// E5 (the shop's part of a confirmed refund): a PAID order becomes REFUNDED and its movies stop being the
/// user's; true when it did. An order that is not PAID (the refunded money never granted it) is left as it
/// is: false. Runs in the caller's transaction, with the order locked here.
pub async fn revoke_paid_order(conn: &mut DbConn, order_id: i64) -> AppResult<bool> {
    let order = repo::order_locked(conn, order_id)
        .await?
        .ok_or_else(|| AppError::not_found("no order has this id"))?;
    if lifecycle::next(order.status, OrderStep::Revoke)? == OrderMove::Stays {
        return Ok(false);
    }
    repo::move_order(conn, &order, OrderStatus::Refunded, now())
        .await?
        .ok_or_else(|| AppError::Conflict("the order changed meanwhile".into()))?;
    repo::revoke_purchases(conn, order_id).await?;
    Ok(true)
}

/// Whether the order still waits for payment (PENDING), read under its lock in the caller's transaction: money
/// that arrives for an order that does not is returned.
pub async fn order_awaits_payment(conn: &mut DbConn, order_id: i64) -> AppResult<bool> {
    let order = repo::order_locked(conn, order_id)
        .await?
        .ok_or_else(|| AppError::not_found("no order has this id"))?;
    Ok(lifecycle::next(order.status, OrderStep::Fulfil).is_ok())
}

/// The payment step's view of an order (E1): one of `user_id`'s orders, locked, that can be paid. Someone
/// else's is NOT_FOUND (as in `order(id)`); a paid one ORDER_PAID; a canceled or refunded one ORDER_CLOSED.
/// Runs in the caller's transaction.
pub async fn payable_order(conn: &mut DbConn, user_id: i64, uuid: &str) -> AppResult<OrderRow> {
    let (order, _) = own_order_locked(conn, user_id, uuid).await?;
    lifecycle::next(order.status, OrderStep::Pay)?;
    Ok(order)
}

/// The order's lines at their charged prices (after `reprice_pending_order`), with the movies' names: what a
/// checkout shows, line by line.
pub async fn charged_lines(conn: &mut DbConn, order_id: i64) -> AppResult<Vec<(String, i64)>> {
    let lines = repo::lines_of_orders(conn, &[order_id]).await?;
    Ok(lines
        .into_values()
        .flatten()
        .map(|(line, movie)| (movie.name, line.charged_price_cents.unwrap_or(line.price_cents)))
        .collect())
}

/// The refund step's view of an order (E5): one of `user_id`'s orders, locked, that is PAID. Someone else's is
/// NOT_FOUND; any other status ORDER_NOT_PAID. Runs in the caller's transaction.
pub async fn paid_own_order(conn: &mut DbConn, user_id: i64, uuid: &str) -> AppResult<OrderRow> {
    let (order, _) = own_order_locked(conn, user_id, uuid).await?;
    lifecycle::next(order.status, OrderStep::RequestRefund)?;
    Ok(order)
}

/// E4: what the order's payer should try next after a declined or expired checkout; None clears it (a new
/// checkout opened, or the money arrived). Runs in the caller's transaction.
pub async fn set_payment_hint(conn: &mut DbConn, order_id: i64, hint: Option<&str>) -> AppResult<()> {
    repo::set_payment_hint(conn, order_id, hint).await?;
    Ok(())
}
