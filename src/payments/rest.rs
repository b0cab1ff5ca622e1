//! The Stripe webhook on the REST router (E2).

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};

use crate::error::{AppError, AppResult};
use crate::payments::Payments;

/// Largest event body accepted: Stripe's events are a few KiB; this leaves room for long line-item lists.
pub const WEBHOOK_BODY_LIMIT: usize = 256 * 1024;

/// Stripe's webhook.
///
/// Public: Stripe calls it, and the signature is its authentication. The raw body is signed in
/// `Stripe-Signature` with the endpoint's secret (HMAC-SHA256 of `t.body`, at most five minutes old; several
/// `v1` signatures during a secret rotation), checked before the body is parsed; each event id is applied once, and a repeat answers 200 and changes nothing. Handles
/// `checkout.session.completed`, `checkout.session.async_payment_succeeded`,
/// `checkout.session.async_payment_failed`, `checkout.session.expired`, `payment_intent.payment_failed`,
/// `charge.refunded` and `refund.updated`; other types are acknowledged and ignored.
#[utoipa::path(
    post, path = "/api/v1/webhooks/stripe", tag = "payments",
    request_body(
        content = String, content_type = "application/json",
        description = "The event as Stripe sends it, read as raw bytes: the signature covers exactly these."
    ),
    params(("Stripe-Signature" = String, Header, description = "`t=<unix seconds>,v1=<hex HMAC-SHA256>[,v1=…]`")),
    responses(
        (status = 200, description = "Applied, a repeat, or a type this service ignores: Stripe stops retrying."),
        (status = 400, description = "`INVALID_SIGNATURE`: unsigned, badly signed or stale; `INVALID_EVENT`: not a Stripe event, or an event of a handled type whose object does not read as Stripe writes it. Nothing changed.", body = crate::error::Problem),
        (status = 413, description = "`PAYLOAD_TOO_LARGE`: the body is larger than 256 KiB.", body = crate::error::Problem),
        (status = 503, description = "`SERVICE_UNAVAILABLE`: the event names one of our payments that is not stored yet, or the database is unavailable; nothing changed, and Stripe delivers it again later.", body = crate::error::Problem)
    )
)]
pub async fn stripe_webhook(
    State(payments): State<Payments>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> AppResult<StatusCode> {
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            AppError::rejected(
                StatusCode::PAYLOAD_TOO_LARGE,
                "PAYLOAD_TOO_LARGE",
                "the body is too large",
            )
        } else {
            AppError::rejected(StatusCode::BAD_REQUEST, "BAD_REQUEST", "the body could not be read")
        }
    })?;
    let signature = headers.get("stripe-signature").and_then(|value| value.to_str().ok());
    payments.receive(signature, &body).await?;
    Ok(StatusCode::OK)
}
