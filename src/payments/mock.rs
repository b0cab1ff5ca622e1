//! The mock checkout (E7): served by this server when no Stripe key is set. The page shows the payment and
//! lets the payer pay or decline; the choice makes the server deliver a signed event in Stripe's format to its
//! own webhook over HTTP (at the address this server listens on, never where a request's `Host` header points),
//! so the whole real path runs: signature,
//! exactly-once record, state machine, fulfilment, email. Then the payer goes back to the single-page app.

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};

use crate::error::{AppError, AppResult};
use crate::graphql::scalars::format_money;
use crate::payments::Payments;
use crate::payments::events::{CheckoutSession, EventBody, Metadata, Payload, SessionPaymentStatus};
use crate::payments::models::{PaymentRow, PaymentStatus};
use crate::payments::{repo, signature};

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

async fn payment_of(payments: &Payments, session: &str) -> AppResult<(PaymentRow, String)> {
    let mut conn = payments.db().conn().await?;
    repo::payment_by_session(&mut conn, session)
        .await?
        .ok_or_else(|| AppError::not_found("no checkout has this id"))
}

/// The checkout page: the amount and two buttons (no scripts, no external assets).
pub async fn page(State(payments): State<Payments>, Path(session): Path<String>) -> AppResult<Response> {
    let (payment, order) = payment_of(&payments, &session).await?;
    let amount = escape(&format_money(payment.amount_cents, &payment.currency));
    let session = escape(&session);
    let body = if payment.status == PaymentStatus::Pending {
        format!(
            "<form method=\"post\" action=\"/mock-checkout/{session}/pay\"><button>Pay {amount}</button></form>\
             <form method=\"post\" action=\"/mock-checkout/{session}/decline\"><button>Decline</button></form>"
        )
    } else {
        format!(
            "<p>This checkout is closed: the payment is {}.</p>",
            payment.status.as_str().to_lowercase()
        )
    };
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Mock checkout</title></head>\
         <body style=\"font-family: sans-serif; max-width: 30rem; margin: 3rem auto\">\
         <h1>Mock checkout</h1><p>No money moves here: this is the development stand-in for Stripe.</p>\
         <p>Order <code>{}</code>: <strong>{amount}</strong></p>{body}</body></html>",
        escape(&order)
    );
    Ok((
        [
            (header::CACHE_CONTROL, "no-store"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; form-action 'self'; style-src 'unsafe-inline'",
            ),
        ],
        Html(html),
    )
        .into_response())
}

/// "Pay": delivers `checkout.session.completed`, then sends the payer back to the app.
pub async fn pay(State(payments): State<Payments>, Path(session): Path<String>) -> AppResult<Response> {
    deliver_choice(&payments, &session, true).await
}

/// "Decline": delivers `checkout.session.async_payment_failed`, then sends the payer back to the app.
pub async fn decline(State(payments): State<Payments>, Path(session): Path<String>) -> AppResult<Response> {
    deliver_choice(&payments, &session, false).await
}

async fn deliver_choice(payments: &Payments, session: &str, paid: bool) -> AppResult<Response> {
    let (payment, order) = payment_of(payments, session).await?;
    if payment.status != PaymentStatus::Pending {
        return Err(AppError::rejected(
            StatusCode::CONFLICT,
            "CHECKOUT_CLOSED",
            "this checkout is closed",
        ));
    }
    // To the address this server listens on, never to the `Host` header: a client's Host would make the server
    // send a signed event anywhere it names.
    let own = payments
        .own_address()
        .ok_or_else(|| AppError::Unavailable("the mock cannot tell where this server listens".into()))?;
    let session_object = CheckoutSession {
        id: Some(session.to_string()),
        payment_status: Some(if paid {
            SessionPaymentStatus::Paid
        } else {
            SessionPaymentStatus::Unpaid
        }),
        payment_intent: Some(format!("pi_mock_{}", payment.uuid.replace('-', ""))),
        amount_total: Some(payment.amount_cents),
        currency: Some(payment.currency.to_lowercase()),
        client_reference_id: Some(order.clone()),
        metadata: Some(Metadata {
            payment_id: Some(payment.uuid.clone()),
            order_id: Some(order.clone()),
        }),
    };
    let event = if paid {
        EventBody::CheckoutSessionCompleted(Payload::of(session_object))
    } else {
        EventBody::CheckoutSessionAsyncPaymentFailed(Payload::of(session_object))
    };
    deliver(own, payments.webhook_secret(), &event).await?;
    let outcome = if paid { "success" } else { "canceled" };
    let back = format!(
        "{}/orders/{order}?checkout={outcome}",
        payments.frontend_url().trim_end_matches('/')
    );
    Ok(Redirect::to(&back).into_response())
}

/// Delivers one event in Stripe's format, signed with the webhook's secret, to this server's webhook over HTTP,
/// and fails unless the webhook accepted it.
pub async fn deliver(own: &str, secret: &str, event: &EventBody) -> AppResult<()> {
    let id = format!("evt_mock_{}", crate::util::random_token(12));
    let body = event.to_json(&id, chrono::Utc::now().timestamp());
    let signature = signature::sign(secret, chrono::Utc::now().timestamp(), &body);
    let delivered = reqwest::Client::new()
        .post(format!("{own}/api/v1/webhooks/stripe"))
        .header("content-type", "application/json")
        .header("stripe-signature", signature)
        .body(body)
        .timeout(std::time::Duration::from_secs(10))
        .send()
        .await
        .map_err(|error| AppError::Unavailable(format!("the mock could not reach the webhook: {error}")))?;
    if !delivered.status().is_success() {
        return Err(AppError::Unavailable(format!(
            "the webhook answered {} to the mock's event",
            delivered.status()
        )));
    }
    Ok(())
}
