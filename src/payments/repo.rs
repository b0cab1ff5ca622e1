//! Payment queries; every function takes the connection of the caller's transaction.

use chrono::NaiveDateTime;
use diesel::QueryResult;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::db::DbConn;
use crate::db::schema::{orders, payments, provider_requests, refunds, stripe_events, users};
use crate::graphql::pagination::TimeCursor;
use crate::payments::models::{
    NewPayment, NewRefund, PaymentChanges, PaymentFilter, PaymentRow, PaymentStatus, PaymentView, ProviderOperation,
    RefundRow, RefundStatus,
};
use crate::per_backend;

/// The request first made under `key`, as stored; or, when none is stored yet, `request` itself, stored now
/// (in the caller's transaction). Every retry of a provider call goes through here, so it sends the first
/// call's parameters whatever changed meanwhile (a movie renamed, staff pressing again with another reason).
pub async fn remember_request<R>(
    conn: &mut DbConn,
    operation: ProviderOperation,
    key: &str,
    request: R,
    at: NaiveDateTime,
) -> QueryResult<R>
where
    R: serde::Serialize + serde::de::DeserializeOwned,
{
    let stored: Option<String> = per_backend!(conn, |c| {
        provider_requests::table
            .find(key)
            .select(provider_requests::parameters)
            .first(c)
            .await
            .optional()
    })?;
    if let Some(stored) = stored {
        return serde_json::from_str(&stored)
            .map_err(|error| diesel::result::Error::DeserializationError(Box::new(error)));
    }
    let parameters =
        serde_json::to_string(&request).map_err(|error| diesel::result::Error::SerializationError(Box::new(error)))?;
    per_backend!(conn, |c| {
        diesel::insert_into(provider_requests::table)
            .values((
                provider_requests::idempotency_key.eq(key),
                provider_requests::operation.eq(operation),
                provider_requests::parameters.eq(&parameters),
                provider_requests::created_at.eq(at),
            ))
            .execute(c)
            .await
    })?;
    Ok(request)
}

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
    /// The row's id.
    Row(i64),
}

/// The payment an event names, locked until the transaction ends (PostgreSQL; SQLite's write transaction
/// holds the database).
pub async fn payment_locked(conn: &mut DbConn, key: PaymentKey<'_>) -> QueryResult<Option<PaymentRow>> {
    // `= NULL` is never true, so the key's other column matches nothing.
    let (session, intent, ours, row) = match key {
        PaymentKey::CheckoutSession(id) => (Some(id), None, None, None),
        PaymentKey::PaymentIntent(id) => (None, Some(id), None, None),
        PaymentKey::Ours(id) => (None, None, Some(id), None),
        PaymentKey::Row(id) => (None, None, None, Some(id)),
    };
    let named = payments::checkout_session_id
        .eq(session)
        .or(payments::payment_intent_id.eq(intent))
        .or(payments::uuid.nullable().eq(ours))
        .or(payments::id.nullable().eq(row));
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

/// The SUCCEEDED payment of an order, locked until the transaction ends: the money a refund would return.
pub async fn succeeded_payment_of(conn: &mut DbConn, order_id: i64) -> QueryResult<Option<PaymentRow>> {
    let id: Option<i64> = per_backend!(conn, |c| {
        payments::table
            .filter(payments::order_id.eq(order_id))
            .filter(payments::status.eq(PaymentStatus::Succeeded))
            .select(payments::id)
            .first(c)
            .await
            .optional()
    })?;
    match id {
        Some(id) => payment_locked(conn, PaymentKey::Row(id)).await,
        None => Ok(None),
    }
}

/// The refund of a payment that is requested, under way or done: at most one (a partial unique index).
pub async fn open_refund_of(conn: &mut DbConn, payment_id: i64) -> QueryResult<Option<RefundRow>> {
    per_backend!(conn, |c| {
        refunds::table
            .filter(refunds::payment_id.eq(payment_id))
            .filter(refunds::status.eq_any([RefundStatus::Requested, RefundStatus::Pending, RefundStatus::Succeeded]))
            .select(RefundRow::as_select())
            .first(c)
            .await
            .optional()
    })
}

/// When the latest declined refund of a payment was decided, if one was.
pub async fn last_declined_refund_at(conn: &mut DbConn, payment_id: i64) -> QueryResult<Option<NaiveDateTime>> {
    let decided = per_backend!(conn, |c| {
        refunds::table
            .filter(refunds::payment_id.eq(payment_id))
            .filter(refunds::status.eq(RefundStatus::Rejected))
            .select(diesel::dsl::max(refunds::decided_at))
            .get_result::<Option<NaiveDateTime>>(c)
            .await
    })?;
    Ok(decided)
}

/// How many payments (checkouts opened or tried) an order has had.
pub async fn payment_count_of_order(conn: &mut DbConn, order_id: i64) -> QueryResult<i64> {
    per_backend!(conn, |c| {
        payments::table
            .filter(payments::order_id.eq(order_id))
            .count()
            .get_result(c)
            .await
    })
}

pub async fn refund_by_uuid(conn: &mut DbConn, uuid: &str) -> QueryResult<Option<RefundRow>> {
    per_backend!(conn, |c| {
        refunds::table
            .filter(refunds::uuid.eq(uuid))
            .select(RefundRow::as_select())
            .first(c)
            .await
            .optional()
    })
}

pub async fn insert_refund(conn: &mut DbConn, refund: &NewRefund) -> QueryResult<RefundRow> {
    per_backend!(conn, |c| {
        diesel::insert_into(refunds::table)
            .values(refund)
            .returning(RefundRow::as_returning())
            .get_result(c)
            .await
    })
}

/// The changes a decision, the provider's answer or its confirmation make to a refund.
#[derive(Debug, Clone, Default, diesel::AsChangeset)]
#[diesel(table_name = refunds)]
pub struct RefundChanges {
    pub status: Option<RefundStatus>,
    pub external_refund_id: Option<String>,
    pub updated_at: Option<NaiveDateTime>,
    pub decided_by: Option<i64>,
    pub decision_reason: Option<String>,
    pub decided_at: Option<NaiveDateTime>,
}

pub async fn update_refund(conn: &mut DbConn, refund_id: i64, changes: &RefundChanges) -> QueryResult<RefundRow> {
    per_backend!(conn, |c| {
        diesel::update(refunds::table.find(refund_id))
            .set(changes)
            .returning(RefundRow::as_returning())
            .get_result(c)
            .await
    })
}

/// The latest refund of each of `payment_ids`, in one statement.
pub async fn latest_refunds(conn: &mut DbConn, payment_ids: &[i64]) -> QueryResult<Vec<RefundRow>> {
    if payment_ids.is_empty() {
        return Ok(Vec::new());
    }
    let all: Vec<RefundRow> = per_backend!(conn, |c| {
        refunds::table
            .filter(refunds::payment_id.eq_any(payment_ids))
            .order_by((refunds::payment_id, refunds::created_at.desc(), refunds::id.desc()))
            .select(RefundRow::as_select())
            .load(c)
            .await
    })?;
    let mut latest: Vec<RefundRow> = Vec::with_capacity(payment_ids.len());
    for refund in all {
        if latest.last().is_none_or(|last| last.payment_id != refund.payment_id) {
            latest.push(refund);
        }
    }
    Ok(latest)
}

/// Query fragments on payments, for both backends.
pub trait PaymentQueries: diesel::backend::Backend {
    /// The payments a filter selects.
    fn payments_matching<'a>(filter: &PaymentFilter) -> payments::BoxedQuery<'a, Self>;
}

crate::for_both_backends! {
    impl PaymentQueries {
        fn payments_matching<'a>(filter: &PaymentFilter) -> payments::BoxedQuery<'a, Self> {
            let mut query = payments::table.into_boxed();
            if let Some(user_id) = filter.user_id {
                query = query.filter(payments::user_id.eq(user_id));
            }
            if let Some(status) = filter.status {
                query = query.filter(payments::status.eq(status));
            }
            if let Some(from) = filter.from {
                query = query.filter(payments::created_at.ge(from));
            }
            if let Some(to) = filter.to {
                query = query.filter(payments::created_at.lt(to));
            }
            if filter.needs_review {
                query = query.filter(payments::needs_review.eq(true));
            }
            if filter.refund_requested {
                query = query.filter(diesel::dsl::exists(
                    refunds::table
                        .filter(refunds::payment_id.eq(payments::id))
                        .filter(refunds::status.eq(RefundStatus::Requested)),
                ));
            }
            query
        }
    }
}

fn payments_matching<'a, DB: PaymentQueries>(filter: &PaymentFilter) -> payments::BoxedQuery<'a, DB> {
    DB::payments_matching(filter)
}

/// A page of payments matching `filter`, newest first, after `after` (keyset on (created_at, id)), with the
/// public ids of their orders and payers.
pub async fn list_payments(
    conn: &mut DbConn,
    filter: &PaymentFilter,
    after: Option<TimeCursor>,
    limit: i64,
) -> QueryResult<Vec<PaymentView>> {
    let rows: Vec<(PaymentRow, String, String)> = per_backend!(conn, |c| {
        let mut query = payments_matching(filter);
        if let Some(TimeCursor { at, id }) = after {
            query = query.filter(
                payments::created_at
                    .lt(at)
                    .or(payments::created_at.eq(at).and(payments::id.lt(id))),
            );
        }
        let page = query
            .order_by((payments::created_at.desc(), payments::id.desc()))
            .limit(limit)
            .select(payments::id);
        payments::table
            .inner_join(orders::table)
            .inner_join(users::table)
            .filter(payments::id.eq_any(page))
            .order_by((payments::created_at.desc(), payments::id.desc()))
            .select((PaymentRow::as_select(), orders::uuid, users::uuid))
            .load(c)
            .await
    })?;
    Ok(rows
        .into_iter()
        .map(|(row, order_uuid, user_uuid)| PaymentView {
            row,
            order_uuid,
            user_uuid,
        })
        .collect())
}

/// How many payments match `filter`.
pub async fn count_payments(conn: &mut DbConn, filter: &PaymentFilter) -> QueryResult<i64> {
    per_backend!(conn, |c| payments_matching(filter).count().get_result(c).await)
}

/// Marks the requested or pending refund of a payment as confirmed by the provider.
pub async fn confirm_refund_of(conn: &mut DbConn, payment_id: i64, at: NaiveDateTime) -> QueryResult<usize> {
    per_backend!(conn, |c| {
        diesel::update(
            refunds::table
                .filter(refunds::payment_id.eq(payment_id))
                .filter(refunds::status.eq_any([RefundStatus::Requested, RefundStatus::Pending])),
        )
        .set((refunds::status.eq(RefundStatus::Succeeded), refunds::updated_at.eq(at)))
        .execute(c)
        .await
    })
}

/// Claims a new attempt to open a payment's checkout: the failure of the last one is cleared and the attempt's
/// start stamped (a concurrent `payOrder` then answers CHECKOUT_OPENING instead of calling the provider too).
pub async fn claim_attempt(conn: &mut DbConn, payment_id: i64, at: NaiveDateTime) -> QueryResult<PaymentRow> {
    per_backend!(conn, |c| {
        diesel::update(payments::table.find(payment_id))
            .set((payments::failure_reason.eq(None::<String>), payments::updated_at.eq(at)))
            .returning(PaymentRow::as_returning())
            .get_result(c)
            .await
    })
}

/// One payment with the public ids of its order and payer.
pub async fn payment_view(conn: &mut DbConn, payment_id: i64) -> QueryResult<PaymentView> {
    let (row, order_uuid, user_uuid) = per_backend!(conn, |c| {
        payments::table
            .inner_join(orders::table)
            .inner_join(users::table)
            .filter(payments::id.eq(payment_id))
            .select((PaymentRow::as_select(), orders::uuid, users::uuid))
            .first(c)
            .await
    })?;
    Ok(PaymentView {
        row,
        order_uuid,
        user_uuid,
    })
}
