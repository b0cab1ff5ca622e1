//! Stripe's events, applied exactly once through one payment state machine (E2–E5): this module finds the
//! event's payment, asks `machine::next` what the event does to it (the states and their drawing are there),
//! and carries the decision out.
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
use crate::payments::machine::{self, Decision, PaymentEvent, PaymentState, Received, needs_the_order};
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
            (by_intent(&intent.id), Step::Fail(reason))
        }
        EventBody::ChargeRefunded(payload) => (by_intent(&payload.data.object.payment_intent), Step::Refund),
        EventBody::RefundCreated(payload) | EventBody::RefundUpdated(payload)
            if payload.data.object.status == Some(RefundStatus::Succeeded) =>
        {
            (by_intent(&payload.data.object.payment_intent), Step::Refund)
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
    let state = PaymentState {
        status: payment.status,
        refund_seen: payment.refund_seen_at.is_some(),
    };
    let happened = match &step {
        Step::Succeed { amount, .. } => {
            let received = Received::of(*amount, payment.amount_cents);
            let order_waits =
                needs_the_order(state, true) && shop::service::order_awaits_payment(conn, payment.order_id).await?;
            PaymentEvent::Confirmed { received, order_waits }
        }
        Step::Fail(_) => PaymentEvent::Declined,
        Step::Cancel => PaymentEvent::Expired,
        Step::Refund => PaymentEvent::Refunded,
    };
    let decision = machine::next(state, happened);
    if let PaymentEvent::Confirmed { received, .. } = happened
        && received.differs()
        && decision != Decision::Nothing
    {
        tracing::warn!(payment = %payment.uuid, ?received, charged = payment.amount_cents, "Stripe reported another amount");
    }
    carry_out(conn, payment, decision, step, frontend_url).await?;
    Ok(Applied::Done)
}

/// The payment a payment intent's id names.
fn by_intent(intent: &Option<String>) -> Option<PaymentKey<'_>> {
    intent.as_deref().map(PaymentKey::PaymentIntent)
}

/// Carries out what the machine decided, in the event's transaction.
async fn carry_out(
    conn: &mut DbConn,
    payment: PaymentRow,
    decision: Decision,
    step: Step,
    frontend_url: &str,
) -> AppResult<()> {
    let at = now();
    // What a confirmation records, whatever it grants: Stripe's payment intent and what arrived.
    let confirmed = |status: PaymentStatus| match &step {
        Step::Succeed { intent, amount } => PaymentChanges {
            status: Some(status),
            payment_intent_id: intent.clone(),
            amount_received_cents: *amount,
            succeeded_at: Some(at),
            updated_at: Some(at),
            ..PaymentChanges::default()
        },
        _ => PaymentChanges::default(),
    };
    match decision {
        Decision::Nothing => {}
        Decision::LandRefunded { review } => {
            let changes = PaymentChanges {
                refunded_at: payment.refund_seen_at,
                needs_review: Some(review),
                ..confirmed(PaymentStatus::Refunded)
            };
            repo::update_payment(conn, payment.id, &changes).await?;
        }
        Decision::ReturnUnwanted => {
            tracing::warn!(payment = %payment.uuid, "money taken for an order that no longer waits for it: refunding");
            let changes = PaymentChanges {
                failure_reason: Some("the order no longer waited for this money: refunded automatically".into()),
                needs_review: Some(false),
                ..confirmed(PaymentStatus::Succeeded)
            };
            repo::update_payment(conn, payment.id, &changes).await?;
            jobs::enqueue(conn, &RefundUnwanted { payment_id: payment.id }).await?;
        }
        Decision::HoldShort => {
            let received = match &step {
                Step::Succeed { amount, .. } => amount.unwrap_or_default(),
                _ => 0,
            };
            let received = format_money(received, &payment.currency);
            let charged = format_money(payment.amount_cents, &payment.currency);
            let changes = PaymentChanges {
                failure_reason: Some(format!(
                    "{received} arrived of {charged}: a moderator refunds it or accepts it"
                )),
                needs_review: Some(true),
                ..confirmed(PaymentStatus::Succeeded)
            };
            repo::update_payment(conn, payment.id, &changes).await?;
            let hint = format!(
                "We received {received} of {charged}. Our staff will refund it or accept it; you need not pay again."
            );
            shop::service::set_payment_hint(conn, payment.order_id, Some(&hint)).await?;
        }
        Decision::Fulfil { review } => {
            shop::service::fulfil_order(conn, payment.order_id).await?;
            let changes = PaymentChanges {
                needs_review: Some(review),
                ..confirmed(PaymentStatus::Succeeded)
            };
            let paid = repo::update_payment(conn, payment.id, &changes).await?;
            send_receipt(conn, &paid, frontend_url).await?;
        }
        Decision::Close(to) => {
            let (reason, hint) = match step {
                Step::Fail(reason) => {
                    let hint =
                        format!("The payment did not go through ({reason}). Pay again to try another payment method.");
                    (Some(reason), hint)
                }
                _ => (
                    None,
                    "The checkout expired before it was paid. Pay again to open a new one.".to_string(),
                ),
            };
            shop::service::set_payment_hint(conn, payment.order_id, Some(&hint)).await?;
            let changes = PaymentChanges {
                status: Some(to),
                failure_reason: reason,
                updated_at: Some(at),
                ..PaymentChanges::default()
            };
            repo::update_payment(conn, payment.id, &changes).await?;
        }
        Decision::Refund => refund(conn, &payment, frontend_url).await?,
        Decision::RememberRefund => {
            let changes = PaymentChanges {
                refund_seen_at: Some(at),
                updated_at: Some(at),
                ..PaymentChanges::default()
            };
            repo::update_payment(conn, payment.id, &changes).await?;
        }
    }
    Ok(())
}

/// Queues the order's receipt (once per order, however often this runs).
pub(crate) async fn send_receipt(conn: &mut DbConn, paid: &PaymentRow, frontend_url: &str) -> AppResult<()> {
    let to = repo::email_of(conn, paid.user_id).await?;
    let amount = format_money(paid.amount_received_cents.unwrap_or(paid.amount_cents), &paid.currency);
    let receipt = templates::order_paid(&to, frontend_url, &amount).once(format!("order:{}:paid", paid.order_id));
    jobs::enqueue(conn, &receipt).await?;
    Ok(())
}

/// E5: a confirmed refund of a SUCCEEDED payment: it becomes REFUNDED, its order REFUNDED and its movies are
/// taken back, and an email queued.
async fn refund(conn: &mut DbConn, payment: &PaymentRow, frontend_url: &str) -> AppResult<()> {
    let at = now();
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
    Ok(())
}
