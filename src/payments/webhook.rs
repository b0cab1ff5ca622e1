//! Stripe's events, applied exactly once through one payment state machine (E2–E5).
//!
//! ```text
//! PENDING ──completed (paid) / async_payment_succeeded──► SUCCEEDED ──charge.refunded / refund.updated──► REFUNDED
//!    │  ▲                                                   (a refund seen first is remembered: the confirmation
//!    │  └── FAILED, CANCELED (a confirmation still lands:     then lands as REFUNDED and grants nothing)
//!    │        the money was taken)
//!    ├──async_payment_failed / payment_intent.payment_failed──► FAILED
//!    └──checkout.session.expired──► CANCELED
//! ```
//!
//! A confirmation grants the order only when its order still waits for it and the whole charge arrived: money
//! short of it leaves the order waiting for staff (`acceptPayment` or `refundPayment`), and money for an order
//! that no longer waits (canceled, or paid by another checkout) is returned by itself (`RefundUnwanted`).
//!
//! Every event is recorded in `stripe_events` in the transaction of its effects; a repeat changes nothing.
//! Events of other types are acknowledged and ignored. A failed or expired checkout leaves the order PENDING
//! and payable again.

use crate::db::{DbConn, now};
use crate::error::{AppError, AppResult};
use crate::graphql::scalars::format_money;
use crate::jobs;
use crate::notify::templates;
use crate::payments::events::{Event, EventBody, RefundStatus, SessionPaymentStatus};
use crate::payments::models::{PaymentChanges, PaymentRow, PaymentStatus, RefundUnwanted};
use crate::payments::repo::{self, PaymentKey};
use crate::shop;

/// What applying an event did (for the log; the answer to Stripe is 200 either way).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// Its effects are committed.
    Done,
    /// This event id was applied before.
    Repeat,
    /// A type this service does not act on, or an object it does not know.
    Ignored,
}

/// What the state machine does with an event.
enum Step {
    Succeed {
        intent: Option<String>,
        amount: Option<i64>,
    },
    Fail(String),
    Cancel,
    Refund,
}

/// Applies `event` in the caller's transaction: records it, finds its payment and moves it.
pub async fn apply(conn: &mut DbConn, event: &Event, frontend_url: &str) -> AppResult<Applied> {
    let at = now();
    if !repo::record_event(conn, &event.id, &event.type_name, event.object_id.as_deref(), at).await? {
        return Ok(Applied::Repeat);
    }
    let (key, step) = match &event.body {
        EventBody::CheckoutSessionCompleted(payload) | EventBody::CheckoutSessionAsyncPaymentSucceeded(payload) => {
            let session = &payload.data.object;
            // A completed session with a delayed method (a bank debit) is not paid yet: its own success or
            // failure event follows.
            if matches!(event.body, EventBody::CheckoutSessionCompleted(_))
                && session.payment_status != Some(SessionPaymentStatus::Paid)
            {
                return Ok(Applied::Ignored);
            }
            let step = Step::Succeed {
                intent: session.payment_intent.clone(),
                amount: session.amount_total,
            };
            (session.id.as_deref().map(PaymentKey::CheckoutSession), step)
        }
        EventBody::CheckoutSessionAsyncPaymentFailed(payload) => (
            payload.data.object.id.as_deref().map(PaymentKey::CheckoutSession),
            Step::Fail("the payment method was declined; try another one".into()),
        ),
        EventBody::CheckoutSessionExpired(payload) => (
            payload.data.object.id.as_deref().map(PaymentKey::CheckoutSession),
            Step::Cancel,
        ),
        EventBody::PaymentIntentPaymentFailed(payload) => {
            let intent = &payload.data.object;
            let reason = intent
                .last_payment_error
                .as_ref()
                .and_then(|error| error.message.clone())
                .unwrap_or_else(|| "the payment failed; try another payment method".to_string());
            (intent.id.as_deref().map(PaymentKey::PaymentIntent), Step::Fail(reason))
        }
        EventBody::ChargeRefunded(payload) => (
            payload
                .data
                .object
                .payment_intent
                .as_deref()
                .map(PaymentKey::PaymentIntent),
            Step::Refund,
        ),
        EventBody::RefundCreated(payload) | EventBody::RefundUpdated(payload)
            if payload.data.object.status == Some(RefundStatus::Succeeded) =>
        {
            (
                payload
                    .data
                    .object
                    .payment_intent
                    .as_deref()
                    .map(PaymentKey::PaymentIntent),
                Step::Refund,
            )
        }
        EventBody::RefundCreated(_) | EventBody::RefundUpdated(_) | EventBody::Other => {
            return Ok(Applied::Ignored);
        }
    };
    // Our own id, from the checkout's metadata: it finds the payment even before the checkout's id is stored
    // with it.
    let ours = event
        .body
        .metadata()
        .and_then(|metadata| metadata.payment_id.as_deref());
    let mut payment = match key {
        Some(key) => repo::payment_locked(conn, key).await?,
        None => None,
    };
    if payment.is_none()
        && let Some(ours) = ours
    {
        payment = repo::payment_locked(conn, PaymentKey::Ours(ours)).await?;
    }
    let Some(payment) = payment else {
        if ours.is_some() {
            // Ours, but not stored yet (the checkout was opened and its payment's transaction has not committed):
            // refuse, which rolls the event's record back, so that Stripe delivers it again later.
            return Err(AppError::Unavailable(
                "this event's payment is not stored yet; deliver it again later".into(),
            ));
        }
        tracing::warn!(event = %event.id, kind = %event.type_name, "a Stripe event names no payment of ours");
        return Ok(Applied::Ignored);
    };
    match step {
        Step::Succeed { intent, amount } => succeed(conn, payment, intent, amount, frontend_url).await?,
        Step::Fail(reason) => {
            let hint = format!("The payment did not go through ({reason}). Pay again to try another payment method.");
            close(conn, &payment, PaymentStatus::Failed, Some(reason), &hint).await?
        }
        Step::Cancel => {
            let hint = "The checkout expired before it was paid. Pay again to open a new one.";
            close(conn, &payment, PaymentStatus::Canceled, None, hint).await?
        }
        Step::Refund => refund(conn, payment, frontend_url).await?,
    }
    Ok(Applied::Done)
}

/// E3: the money is confirmed. The payment SUCCEEDS with what Stripe reports; the order is fulfilled (PAID,
/// the movies the user's, out of the cart) and a confirmation email queued — unless:
/// - a refund was seen first: it lands REFUNDED and grants nothing;
/// - less than the charged amount arrived: nothing is granted and the order waits for a moderator, who
///   refunds the payment or accepts it (`acceptPayment`); meanwhile the order cannot be paid again;
/// - the order no longer waits for this money (canceled, or paid by another checkout): the money is refunded
///   automatically (`RefundUnwanted`, a job that retries until the provider answers).
async fn succeed(
    conn: &mut DbConn,
    payment: PaymentRow,
    intent: Option<String>,
    amount: Option<i64>,
    frontend_url: &str,
) -> AppResult<()> {
    if matches!(payment.status, PaymentStatus::Succeeded | PaymentStatus::Refunded) {
        return Ok(());
    }
    let at = now();
    let mismatch = amount.is_some_and(|reported| reported != payment.amount_cents);
    let underpaid = amount.is_some_and(|reported| reported < payment.amount_cents);
    if mismatch {
        tracing::warn!(payment = %payment.uuid, ?amount, charged = payment.amount_cents, "Stripe reported another amount");
    }
    let mut changes = PaymentChanges {
        payment_intent_id: intent,
        amount_received_cents: amount,
        succeeded_at: Some(at),
        updated_at: Some(at),
        ..PaymentChanges::default()
    };
    if payment.refund_seen_at.is_some() {
        changes.status = Some(PaymentStatus::Refunded);
        changes.refunded_at = payment.refund_seen_at;
        changes.needs_review = Some(mismatch);
        repo::update_payment(conn, payment.id, &changes).await?;
        return Ok(());
    }
    changes.status = Some(PaymentStatus::Succeeded);
    if !shop::service::order_awaits_payment(conn, payment.order_id).await? {
        tracing::warn!(payment = %payment.uuid, "money taken for an order that no longer waits for it: refunding");
        changes.failure_reason = Some("the order no longer waited for this money: refunded automatically".into());
        changes.needs_review = Some(false);
        repo::update_payment(conn, payment.id, &changes).await?;
        jobs::enqueue(conn, &RefundUnwanted { payment_id: payment.id }).await?;
        return Ok(());
    }
    if underpaid {
        let received = format_money(amount.unwrap_or_default(), &payment.currency);
        let charged = format_money(payment.amount_cents, &payment.currency);
        changes.failure_reason = Some(format!(
            "{received} arrived of {charged}: a moderator refunds it or accepts it"
        ));
        changes.needs_review = Some(true);
        repo::update_payment(conn, payment.id, &changes).await?;
        let hint = format!(
            "We received {received} of {charged}. Our staff will refund it or accept it; you need not pay again."
        );
        shop::service::set_payment_hint(conn, payment.order_id, Some(&hint)).await?;
        return Ok(());
    }
    shop::service::fulfil_order(conn, payment.order_id).await?;
    changes.needs_review = Some(mismatch);
    let paid = repo::update_payment(conn, payment.id, &changes).await?;
    send_receipt(conn, &paid, frontend_url).await
}

/// Queues the order's receipt (once per order, however often this runs).
pub(crate) async fn send_receipt(conn: &mut DbConn, paid: &PaymentRow, frontend_url: &str) -> AppResult<()> {
    let to = repo::email_of(conn, paid.user_id).await?;
    let amount = format_money(paid.amount_received_cents.unwrap_or(paid.amount_cents), &paid.currency);
    let receipt = templates::order_paid(&to, frontend_url, &amount).once(format!("order:{}:paid", paid.order_id));
    jobs::enqueue(conn, &receipt).await?;
    Ok(())
}

/// E4: a declined or expired checkout. The payment closes; its order stays PENDING and payable, and tells its
/// payer what to try next.
async fn close(
    conn: &mut DbConn,
    payment: &PaymentRow,
    to: PaymentStatus,
    reason: Option<String>,
    hint: &str,
) -> AppResult<()> {
    if payment.status != PaymentStatus::Pending {
        return Ok(());
    }
    shop::service::set_payment_hint(conn, payment.order_id, Some(hint)).await?;
    let at = now();
    repo::update_payment(
        conn,
        payment.id,
        &PaymentChanges {
            status: Some(to),
            failure_reason: reason,
            updated_at: Some(at),
            ..PaymentChanges::default()
        },
    )
    .await?;
    Ok(())
}

/// E5: a confirmed refund. A SUCCEEDED payment becomes REFUNDED, its order REFUNDED and its movies are taken
/// back, and an email queued; a refund seen before the confirmation is remembered for it.
async fn refund(conn: &mut DbConn, payment: PaymentRow, frontend_url: &str) -> AppResult<()> {
    let at = now();
    match payment.status {
        PaymentStatus::Succeeded => {
            let refunded = repo::update_payment(
                conn,
                payment.id,
                &PaymentChanges {
                    status: Some(PaymentStatus::Refunded),
                    refunded_at: Some(at),
                    updated_at: Some(at),
                    ..PaymentChanges::default()
                },
            )
            .await?;
            repo::confirm_refund_of(conn, refunded.id, at).await?;
            // Money that granted nothing (it came for an order that had moved on, or short) takes nothing back.
            let revoked = shop::service::revoke_paid_order(conn, refunded.order_id).await?;
            let to = repo::email_of(conn, refunded.user_id).await?;
            let amount = format_money(
                refunded.amount_received_cents.unwrap_or(refunded.amount_cents),
                &refunded.currency,
            );
            let notice = if revoked {
                templates::order_refunded(&to, frontend_url, &amount)
            } else {
                templates::payment_returned(&to, frontend_url, &amount)
            };
            jobs::enqueue(conn, &notice.once(format!("payment:{}:refunded", refunded.uuid))).await?;
        }
        PaymentStatus::Pending | PaymentStatus::Failed | PaymentStatus::Canceled
            if payment.refund_seen_at.is_none() =>
        {
            repo::update_payment(
                conn,
                payment.id,
                &PaymentChanges {
                    refund_seen_at: Some(at),
                    updated_at: Some(at),
                    ..PaymentChanges::default()
                },
            )
            .await?;
        }
        _ => {}
    }
    Ok(())
}
