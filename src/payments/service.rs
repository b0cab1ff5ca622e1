//! The payments handle (E1–E8). This part receives Stripe's webhook: the signature is checked on the raw
//! body before anything is parsed, then the event is applied in one transaction with its record
//! (`webhook::apply`). Nothing slow happens in the request: emails go to the job queue.

use axum::http::StatusCode;

use crate::db::{Db, now};
use crate::error::{AppError, AppResult};
use crate::payments::gateway::{CheckoutRequest, Gateway};
use crate::payments::models::{NewPayment, PaymentChanges, PaymentRow, PaymentStatus, Provider};
use crate::payments::repo;
use crate::payments::signature;
use crate::payments::webhook::{self, Applied, Event};
use crate::shop;

/// Cheap to clone; what the webhook handler, the mock checkout and the payment resolvers call.
#[derive(Clone)]
pub struct Payments {
    db: Db,
    webhook_secret: String,
    frontend_url: String,
    gateway: Gateway,
    provider: Provider,
}

/// What `payOrder` answers (E1): the payment, where the payer goes, what is charged, and whether that differs
/// from the total at ordering (D2).
#[derive(Debug, Clone)]
pub struct CheckoutStarted {
    pub payment: PaymentRow,
    pub checkout_url: String,
    pub price_changed: bool,
}

impl Payments {
    pub fn new(db: Db, webhook_secret: String, frontend_url: String, gateway: Gateway, provider: Provider) -> Payments {
        Payments {
            db,
            webhook_secret,
            frontend_url,
            gateway,
            provider,
        }
    }

    /// The webhook's signing secret (the mock signs the events it delivers with it, E7).
    pub fn webhook_secret(&self) -> &str {
        &self.webhook_secret
    }

    pub fn frontend_url(&self) -> &str {
        &self.frontend_url
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// E1, D2: opens a checkout for one of the user's PENDING orders, for its total at today's prices. A payment
    /// starts PENDING; only a verified webhook makes it SUCCEEDED. While a checkout is open, calling again
    /// answers the same one instead of opening a second.
    ///
    /// Three steps, so that no database transaction waits on the payment provider: the payment is stored
    /// (re-priced, PENDING: the one open payment of the order); the checkout is opened with the payment's id as
    /// idempotency key; its id and URL are stored. A provider failure closes the payment FAILED so the order
    /// stays payable.
    pub async fn pay_order(&self, user_id: i64, order_uuid: &str) -> AppResult<CheckoutStarted> {
        let provider = self.provider;
        let prepared = self
            .db
            .transaction(async |conn| {
                let order = shop::service::payable_order(conn, user_id, order_uuid).await?;
                if let Some(open) = repo::open_payment_of(conn, order.id).await? {
                    return Ok((open, None));
                }
                let repriced = shop::service::reprice_pending_order(conn, &order).await?;
                let at = now();
                let uuid = uuid::Uuid::new_v4().to_string();
                let payment = repo::insert_payment(
                    conn,
                    &NewPayment {
                        uuid: uuid.clone(),
                        user_id,
                        order_id: order.id,
                        status: PaymentStatus::Pending,
                        provider,
                        amount_cents: repriced.charged_cents,
                        currency: order.currency.clone(),
                        checkout_session_id: None,
                        checkout_url: None,
                        idempotency_key: uuid,
                        created_at: at,
                        updated_at: at,
                    },
                )
                .await?;
                let request = CheckoutRequest {
                    payment_uuid: payment.uuid.clone(),
                    order_uuid: order.uuid.clone(),
                    lines: shop::service::charged_lines(conn, order.id).await?,
                    currency: order.currency.clone(),
                };
                Ok((payment, Some((request, repriced.changed()))))
            })
            .await?;
        let (payment, request, price_changed) = match prepared {
            (open, None) => {
                let url = open.checkout_url.clone().ok_or_else(|| {
                    AppError::rejected(
                        StatusCode::CONFLICT,
                        "CHECKOUT_OPENING",
                        "a checkout for this order is being opened; ask again in a moment",
                    )
                })?;
                return Ok(CheckoutStarted {
                    payment: open,
                    checkout_url: url,
                    price_changed: false,
                });
            }
            (payment, Some((request, changed))) => (payment, request, changed),
        };
        let opened = self.gateway.open_checkout(&request).await;
        let at = now();
        let changes = match &opened {
            Ok(checkout) => PaymentChanges {
                checkout_session_id: Some(checkout.session_id.clone()),
                checkout_url: Some(checkout.url.clone()),
                updated_at: Some(at),
                ..PaymentChanges::default()
            },
            Err(_) => PaymentChanges {
                status: Some(PaymentStatus::Failed),
                failure_reason: Some("the payment provider did not answer; try again".into()),
                updated_at: Some(at),
                ..PaymentChanges::default()
            },
        };
        let payment_id = payment.id;
        let stored = self
            .db
            .transaction(async |conn| Ok(repo::update_payment(conn, payment_id, &changes).await?))
            .await?;
        let checkout = opened?;
        Ok(CheckoutStarted {
            payment: stored,
            checkout_url: checkout.url,
            price_changed,
        })
    }

    /// E2: verifies and applies one webhook delivery. INVALID_SIGNATURE (400) for an unsigned, badly signed or
    /// stale request and BAD_USER_INPUT (400) for a body that is no Stripe event; both change nothing.
    pub async fn receive(&self, signature_header: Option<&str>, body: &[u8]) -> AppResult<Applied> {
        let now = chrono::Utc::now().timestamp();
        if let Err(refusal) = signature::verify(&self.webhook_secret, signature_header, body, now) {
            tracing::warn!(?refusal, "refused a webhook delivery");
            return Err(AppError::rejected(
                axum::http::StatusCode::BAD_REQUEST,
                "INVALID_SIGNATURE",
                "the Stripe-Signature header does not sign this body with this endpoint's secret, or is too old",
            ));
        }
        let event = Event::parse(body).map_err(|_| {
            AppError::rejected(
                axum::http::StatusCode::BAD_REQUEST,
                "INVALID_EVENT",
                "the body is not a Stripe event",
            )
        })?;
        let frontend_url = self.frontend_url.clone();
        let applied = self
            .db
            .transaction(async |conn| webhook::apply(conn, &event, &frontend_url).await)
            .await?;
        tracing::info!(event = %event.id, kind = %event.kind, ?applied, "Stripe event");
        Ok(applied)
    }
}
