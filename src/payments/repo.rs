//! Payment queries; every function takes the connection of the caller's transaction.

use chrono::NaiveDateTime;
use diesel::QueryResult;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::db::DbConn;
use crate::db::schema::{orders, payments, stripe_events, users};
use crate::payments::models::{NewPayment, PaymentChanges, PaymentRow, PaymentStatus};
use crate::per_backend;

/// Records a Stripe event as handled; false when it was already (E2: each event id is applied once, in the
/// same transaction as its effects, so a retry finds it here and changes nothing).
pub async fn record_event(
    conn: &mut DbConn,
    event_id: &str,
    event_type: &str,
    object_id: Option<&str>,
    at: NaiveDateTime,
) -> QueryResult<bool> {
    let inserted = per_backend!(conn, |c| {
        diesel::insert_into(stripe_events::table)
            .values((
                stripe_events::event_id.eq(event_id),
                stripe_events::event_type.eq(event_type),
                stripe_events::object_id.eq(object_id),
                stripe_events::created_at.eq(at),
                stripe_events::processed_at.eq(at),
            ))
            .on_conflict_do_nothing()
            .execute(c)
            .await
    })?;
    Ok(inserted == 1)
}

pub async fn insert_payment(conn: &mut DbConn, payment: &NewPayment) -> QueryResult<PaymentRow> {
    per_backend!(conn, |c| {
        diesel::insert_into(payments::table)
            .values(payment)
            .returning(PaymentRow::as_returning())
            .get_result(c)
            .await
    })
}

/// Which payment an event names.
pub enum PaymentKey<'a> {
    CheckoutSession(&'a str),
    PaymentIntent(&'a str),
    /// Our own id, which every checkout carries in its metadata (`payment_id`).
    Ours(&'a str),
}

/// The payment an event names, locked until the transaction ends (PostgreSQL; SQLite's write transaction
/// holds the database).
pub async fn payment_locked(conn: &mut DbConn, key: PaymentKey<'_>) -> QueryResult<Option<PaymentRow>> {
    // `= NULL` is never true, so the key's other column matches nothing.
    let (session, intent, ours) = match key {
        PaymentKey::CheckoutSession(id) => (Some(id), None, None),
        PaymentKey::PaymentIntent(id) => (None, Some(id), None),
        PaymentKey::Ours(id) => (None, None, Some(id)),
    };
    let named = payments::checkout_session_id
        .eq(session)
        .or(payments::payment_intent_id.eq(intent))
        .or(payments::uuid.nullable().eq(ours));
    match conn {
        DbConn::Postgres(c) => payments::table
            .filter(named)
            .select(PaymentRow::as_select())
            .for_update()
            .first(&mut **c)
            .await
            .optional(),
        DbConn::Sqlite(c) => payments::table
            .filter(named)
            .select(PaymentRow::as_select())
            .first(&mut **c)
            .await
            .optional(),
    }
}

pub async fn update_payment(conn: &mut DbConn, payment_id: i64, changes: &PaymentChanges) -> QueryResult<PaymentRow> {
    per_backend!(conn, |c| {
        diesel::update(payments::table.find(payment_id))
            .set(changes)
            .returning(PaymentRow::as_returning())
            .get_result(c)
            .await
    })
}

/// The address emails about a user's payments go to.
pub async fn email_of(conn: &mut DbConn, user_id: i64) -> QueryResult<String> {
    per_backend!(conn, |c| {
        users::table.find(user_id).select(users::email).first(c).await
    })
}

/// The open (PENDING) payment of an order, if any: at most one (a partial unique index).
pub async fn open_payment_of(conn: &mut DbConn, order_id: i64) -> QueryResult<Option<PaymentRow>> {
    per_backend!(conn, |c| {
        payments::table
            .filter(payments::order_id.eq(order_id))
            .filter(payments::status.eq(PaymentStatus::Pending))
            .select(PaymentRow::as_select())
            .first(c)
            .await
            .optional()
    })
}

/// A payment by its checkout session, without a lock (the mock checkout page reads it).
pub async fn payment_by_session(conn: &mut DbConn, session_id: &str) -> QueryResult<Option<(PaymentRow, String)>> {
    per_backend!(conn, |c| {
        payments::table
            .inner_join(orders::table)
            .filter(payments::checkout_session_id.eq(session_id))
            .select((PaymentRow::as_select(), orders::uuid))
            .first(c)
            .await
            .optional()
    })
}
