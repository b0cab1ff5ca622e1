use chrono::NaiveDateTime;
use diesel::prelude::{Insertable, Queryable, Selectable};

use crate::db::schema::{payments, refunds};

crate::text_enum! {
    /// Where a payment is (E1): PENDING until a verified webhook says otherwise; SUCCEEDED only once the money
    /// is confirmed; REFUNDED after a confirmed refund.
    #[derive(async_graphql::Enum)]
    pub enum PaymentStatus {
        Pending => "PENDING",
        Succeeded => "SUCCEEDED",
        Failed => "FAILED",
        Canceled => "CANCELED",
        Refunded => "REFUNDED",
    }
}

crate::text_enum! {
    /// Which call to the provider a stored request is (its parameters are sent again as stored).
    pub enum ProviderOperation {
        Checkout => "CHECKOUT",
        Refund => "REFUND",
    }
}

crate::text_enum! {
    /// Who takes the money: Stripe, or the built-in mock (E7).
    #[derive(async_graphql::Enum)]
    pub enum Provider {
        Stripe => "STRIPE",
        Mock => "MOCK",
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = payments, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct PaymentRow {
    pub id: i64,
    pub uuid: String,
    pub user_id: i64,
    pub order_id: i64,
    pub status: PaymentStatus,
    pub provider: Provider,
    /// What the checkout charges: the order's total re-priced right before payment (D2).
    pub amount_cents: i64,
    pub currency: String,
    pub checkout_session_id: Option<String>,
    pub payment_intent_id: Option<String>,
    pub checkout_url: Option<String>,
    pub idempotency_key: String,
    pub failure_reason: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub succeeded_at: Option<NaiveDateTime>,
    pub refunded_at: Option<NaiveDateTime>,
    /// What Stripe reported taking.
    pub amount_received_cents: Option<i64>,
    /// Set when something needs an admin's eyes: a reported amount that differs from the charged one, or money
    /// taken for an order that was no longer waiting for it.
    pub needs_review: bool,
    /// A refund event seen before the payment's confirmation (events out of order).
    pub refund_seen_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = payments)]
pub struct NewPayment {
    pub uuid: String,
    pub user_id: i64,
    pub order_id: i64,
    pub status: PaymentStatus,
    pub provider: Provider,
    pub amount_cents: i64,
    pub currency: String,
    pub checkout_session_id: Option<String>,
    pub checkout_url: Option<String>,
    pub idempotency_key: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// The changes one event makes to a payment.
#[derive(Debug, Clone, Default, diesel::AsChangeset)]
#[diesel(table_name = payments)]
pub struct PaymentChanges {
    pub status: Option<PaymentStatus>,
    pub checkout_session_id: Option<String>,
    pub checkout_url: Option<String>,
    pub payment_intent_id: Option<String>,
    pub failure_reason: Option<String>,
    pub updated_at: Option<NaiveDateTime>,
    pub succeeded_at: Option<NaiveDateTime>,
    pub refunded_at: Option<NaiveDateTime>,
    pub amount_received_cents: Option<i64>,
    pub needs_review: Option<bool>,
    pub refund_seen_at: Option<NaiveDateTime>,
}

crate::text_enum! {
    /// Where a refund is (E5): a user's request waits for staff (REQUESTED); staff's refund is asked of the
    /// payment provider (PENDING) and confirmed by its webhook (SUCCEEDED); the provider may refuse it (FAILED);
    /// staff may turn a request down (REJECTED).
    #[derive(async_graphql::Enum)]
    pub enum RefundStatus {
        Requested => "REQUESTED",
        Pending => "PENDING",
        Succeeded => "SUCCEEDED",
        Failed => "FAILED",
        Rejected => "REJECTED",
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = refunds, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct RefundRow {
    pub id: i64,
    pub uuid: String,
    pub payment_id: i64,
    pub requested_by: i64,
    /// Why the requester wants the money back.
    pub reason: Option<String>,
    pub status: RefundStatus,
    pub amount_cents: i64,
    /// The provider's id of the refund, once asked for.
    pub external_refund_id: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// The staff member who refunded or turned the request down.
    pub decided_by: Option<i64>,
    pub decision_reason: Option<String>,
    pub decided_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = refunds)]
pub struct NewRefund {
    pub uuid: String,
    pub payment_id: i64,
    pub requested_by: i64,
    pub reason: Option<String>,
    pub status: RefundStatus,
    pub amount_cents: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub decided_by: Option<i64>,
    pub decision_reason: Option<String>,
    pub decided_at: Option<NaiveDateTime>,
}

/// A payment list's filters (E6): all optional; the time range is on when the payment started, `from`
/// inclusive and `to` exclusive.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct PaymentFilter {
    /// Only this user's payments (always set for a user's own history).
    pub user_id: Option<i64>,
    pub status: Option<PaymentStatus>,
    pub from: Option<NaiveDateTime>,
    pub to: Option<NaiveDateTime>,
    /// Only payments whose refund waits for staff (a user's request not decided yet).
    pub refund_requested: bool,
    /// Only payments flagged for an admin (an amount mismatch, money for an order that had moved on).
    pub needs_review: bool,
}

/// A payment with the public ids of its order and payer, as the lists show it.
#[derive(Debug, Clone)]
pub struct PaymentView {
    pub row: PaymentRow,
    pub order_uuid: String,
    pub user_uuid: String,
}

/// Returns money that arrived for an order that no longer waited for it; queued by the webhook in the
/// transaction that recorded the money, retried with backoff until the provider answers. Here, below both the
/// webhook that queues it and the service that runs it, so neither imports the other for it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct RefundUnwanted {
    pub payment_id: i64,
}

impl crate::jobs::JobKind for RefundUnwanted {
    const KIND: &'static str = "payments.refund_unwanted";
}
