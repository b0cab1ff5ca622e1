use chrono::NaiveDateTime;
use diesel::prelude::{Insertable, Queryable, Selectable};

use crate::catalog::models::MovieRow;
use crate::db::schema::{order_items, orders};

crate::text_enum! {
    /// Where an order is (D3): PENDING until paid or canceled; a PAID order is undone only by a refund (D4).
    #[derive(async_graphql::Enum, serde::Serialize, serde::Deserialize)]
    pub enum OrderStatus {
        /// Placed, waiting for payment.
        Pending => "PENDING",
        /// Paid: its movies belong to the user.
        Paid => "PAID",
        /// Canceled by the user, or because nobody paid it in time.
        Canceled => "CANCELED",
        /// Paid, then refunded: its movies were taken back.
        Refunded => "REFUNDED",
    }
}

crate::text_enum! {
    /// Why a cart line is not ordered (D1), and what `CartLine.problem` shows before ordering.
    #[derive(async_graphql::Enum)]
    pub enum OrderExclusion {
        /// The user owns the movie already.
        AlreadyPurchased => "ALREADY_PURCHASED",
        /// The movie was withdrawn from sale.
        Unavailable => "UNAVAILABLE",
        /// The movie is in another of the user's orders that waits for payment.
        InPendingOrder => "IN_PENDING_ORDER",
    }
}

/// A line of a cart with the movie as it is now, and what would keep it out of an order.
#[derive(Debug, Clone)]
pub struct CartLine {
    pub movie: MovieRow,
    pub added_at: NaiveDateTime,
    pub problem: Option<OrderExclusion>,
}

/// A cart as its owner sees it: lines oldest first.
#[derive(Debug, Clone, Default)]
pub struct CartView {
    pub lines: Vec<CartLine>,
}

impl CartView {
    /// The sum of the current prices of the lines that can be ordered, in minor units.
    pub fn orderable_total(&self) -> i64 {
        self.lines
            .iter()
            .filter(|line| line.problem.is_none())
            .map(|line| line.movie.price_cents)
            .sum()
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = orders, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct OrderRow {
    pub id: i64,
    pub uuid: String,
    pub user_id: i64,
    pub status: OrderStatus,
    /// The sum of the lines' prices at ordering.
    pub total_cents: i64,
    pub currency: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub paid_at: Option<NaiveDateTime>,
    pub canceled_at: Option<NaiveDateTime>,
    pub refunded_at: Option<NaiveDateTime>,
    /// The total at the last re-pricing before payment (D2); None until the payment step re-priced it.
    pub charged_cents: Option<i64>,
    /// What the payer should try after a declined or expired checkout (E4); cleared when a checkout opens.
    pub payment_hint: Option<String>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = orders)]
pub struct NewOrder {
    pub uuid: String,
    pub user_id: i64,
    pub status: OrderStatus,
    pub total_cents: i64,
    pub currency: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = order_items, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct OrderLineRow {
    pub id: i64,
    pub order_id: i64,
    pub movie_id: i64,
    /// The price at ordering.
    pub price_cents: i64,
    pub currency: String,
    /// The price at the last re-pricing before payment (D2).
    pub charged_price_cents: Option<i64>,
}

/// An order's filters (D3, D5): all optional; the time range is on when the order was placed, `from`
/// inclusive and `to` exclusive.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct OrderFilter {
    /// Only this user's orders (always set for a user's own list).
    pub user_id: Option<i64>,
    pub status: Option<OrderStatus>,
    pub from: Option<NaiveDateTime>,
    pub to: Option<NaiveDateTime>,
}

/// What placing an order did (D1): the order, and each cart line left out with its reason.
#[derive(Debug, Clone)]
pub struct PlacedOrder {
    pub order: OrderRow,
    pub excluded: Vec<(MovieRow, OrderExclusion)>,
}

/// The result of re-pricing a pending order from current prices (D2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repriced {
    /// The total at ordering.
    pub ordered_cents: i64,
    /// The total at today's prices: what the payment will charge.
    pub charged_cents: i64,
}

impl Repriced {
    pub fn changed(&self) -> bool {
        self.ordered_cents != self.charged_cents
    }
}

/// Queued when a PENDING order is canceled (by its owner or as abandoned), in the same transaction: the
/// payments close the order's open checkout, so it can no longer take money.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct OrderCanceled {
    pub order_id: i64,
}

impl crate::jobs::JobKind for OrderCanceled {
    const KIND: &'static str = "orders.canceled";
}

/// The notice channel on which an order's status changes are announced (payload: the order's public id).
pub const ORDER_STATUS_CHANNEL: &str = "cinema_order_status";
