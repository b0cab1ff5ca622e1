//! Where money moves (E1, E5, E8): Stripe (`stripe_gateway`), or the built-in mock (E7). The payment rules call
//! the trait; which implementation runs is decided once at start-up by `STRIPE_SECRET_KEY`.
//!
//! Every call carries an idempotency key derived from our payment, so a retried call (ours or the caller's)
//! never opens a second checkout or refunds twice.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};

use axum::http::StatusCode;

use crate::error::AppError;
use crate::payments::events::{Charge, EventBody, List, Metadata, Payload, Refund, RefundStatus};
use crate::payments::mock;

/// What a checkout charges, line by line, and whom it names. Stored with its key when first made
/// (`repo::remember_request`) and sent again as stored, so that a retry is the same call.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CheckoutRequest {
    /// Our payment's public id: the checkout's metadata, so every event finds its payment.
    pub payment_uuid: String,
    /// Sent as the `Idempotency-Key`: one key per payment attempt.
    pub idempotency_key: String,
    pub order_uuid: String,
    /// (movie name, price in minor units) at the charged prices.
    pub lines: Vec<(String, i64)>,
    pub currency: String,
    /// When the checkout closes by itself (UTC, seconds since the epoch).
    pub expires_at: i64,
    /// Where the payer lands afterwards (built from `FRONTEND_URL`).
    pub success_url: String,
    pub cancel_url: String,
}

/// An open checkout: where the payer goes.
#[derive(Debug, Clone)]
pub struct OpenCheckout {
    pub session_id: String,
    pub url: String,
}

/// A refund of a confirmed payment, whole. Stored with its key when first made and sent again as stored: a
/// second press with another reason asks for the same refund.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RefundRequest {
    pub payment_uuid: String,
    /// One key per payment: a refund is asked for at most once, however often staff press the button.
    pub idempotency_key: String,
    pub payment_intent_id: String,
    pub amount_cents: i64,
    pub currency: String,
    /// Why, in staff's words (kept in the refund's metadata).
    pub reason: String,
}

#[derive(Debug, Clone)]
pub struct RefundStarted {
    pub refund_id: String,
}

/// Why a call to the payment provider did not do what was asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GatewayError {
    /// No answer in time, the connection failed, or the provider had an error of its own: the call may be
    /// tried again later with the same idempotency key.
    Unavailable(String),
    /// The provider refused the call (it names something that does not exist, or a state that forbids it):
    /// trying again will not help.
    Refused(String),
}

impl From<GatewayError> for AppError {
    fn from(error: GatewayError) -> AppError {
        match error {
            GatewayError::Unavailable(reason) => AppError::Unavailable(format!("the payment provider: {reason}")),
            GatewayError::Refused(reason) => AppError::rejected(
                StatusCode::BAD_GATEWAY,
                "PROVIDER_REFUSED",
                format!("the payment provider refused: {reason}"),
            ),
        }
    }
}

pub type GatewayFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, GatewayError>> + Send + 'a>>;

pub trait PaymentGateway: Send + Sync {
    fn open_checkout<'a>(&'a self, request: &'a CheckoutRequest) -> GatewayFuture<'a, OpenCheckout>;

    /// Closes an open checkout so it can no longer be paid (its order was canceled).
    fn expire_checkout<'a>(&'a self, session_id: &'a str) -> GatewayFuture<'a, ()>;

    /// Asks for a refund; the money's return is confirmed later by a webhook event (E5).
    fn refund<'a>(&'a self, request: &'a RefundRequest) -> GatewayFuture<'a, RefundStarted>;
}

pub type Gateway = Arc<dyn PaymentGateway>;

/// Where this server listens, once it does: the mock delivers its events there (never to an address a
/// request names).
#[derive(Debug, Clone, Default)]
pub struct OwnAddress(Arc<OnceLock<String>>);

impl OwnAddress {
    /// An address given by configuration (`MOCK_WEBHOOK_URL`): a worker running alone delivers the mock's
    /// refund events to an API instance there, since it serves no webhook of its own.
    pub fn configured(base_url: &str) -> OwnAddress {
        let own = OwnAddress::default();
        let _ = own.0.set(base_url.trim_end_matches('/').to_string());
        own
    }

    /// Remembers the listening address, unless configuration named one; an unspecified one (0.0.0.0, ::) is
    /// reached on loopback.
    pub fn set(&self, mut address: SocketAddr) {
        if address.ip().is_unspecified() {
            let loopback = match address {
                SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
            };
            address.set_ip(loopback);
        }
        let _ = self.0.set(format!("http://{address}"));
    }

    /// The base URL (`http://host:port`) the mock's events go to.
    pub fn get(&self) -> Option<&str> {
        self.0.get().map(String::as_str)
    }
}

/// The mock (E7): a checkout is a page on this server (`/mock-checkout/{session}`) where the payer pays or
/// declines; the choice makes the server deliver a signed event to its own webhook. A refund is confirmed the
/// same way, with a signed `charge.refunded`.
pub struct MockGateway {
    public_url: String,
    webhook_secret: String,
    own_address: OwnAddress,
}

impl MockGateway {
    pub fn new(public_url: &str, webhook_secret: &str, own_address: OwnAddress) -> MockGateway {
        MockGateway {
            public_url: public_url.trim_end_matches('/').to_string(),
            webhook_secret: webhook_secret.to_string(),
            own_address,
        }
    }
}

impl PaymentGateway for MockGateway {
    fn open_checkout<'a>(&'a self, request: &'a CheckoutRequest) -> GatewayFuture<'a, OpenCheckout> {
        // The session id is derived from the idempotency key, so opening the same attempt twice gives the same
        // session, as Stripe's idempotency does.
        let session_id = format!("cs_mock_{}", request.idempotency_key.replace('-', ""));
        let url = format!("{}/mock-checkout/{session_id}", self.public_url);
        Box::pin(async move { Ok(OpenCheckout { session_id, url }) })
    }

    /// The payment is closed already when this is called, so the page shows the checkout closed; Stripe's own
    /// `checkout.session.expired` would change nothing more.
    fn expire_checkout<'a>(&'a self, _session_id: &'a str) -> GatewayFuture<'a, ()> {
        Box::pin(async { Ok(()) })
    }

    fn refund<'a>(&'a self, request: &'a RefundRequest) -> GatewayFuture<'a, RefundStarted> {
        Box::pin(async move {
            let own = self
                .own_address
                .get()
                .ok_or_else(|| GatewayError::Unavailable("the mock does not know where this server listens".into()))?;
            let refund_id = format!("re_mock_{}", request.idempotency_key.replace('-', ""));
            let charge = Charge {
                id: Some(format!("ch_mock_{}", request.payment_uuid.replace('-', ""))),
                payment_intent: Some(request.payment_intent_id.clone()),
                amount: Some(request.amount_cents),
                amount_refunded: Some(request.amount_cents),
                currency: Some(request.currency.to_lowercase()),
                refunded: Some(true),
                metadata: Some(Metadata {
                    payment_id: Some(request.payment_uuid.clone()),
                    order_id: None,
                }),
                refunds: Some(List {
                    data: vec![Refund {
                        id: Some(refund_id.clone()),
                        status: Some(RefundStatus::Succeeded),
                        payment_intent: Some(request.payment_intent_id.clone()),
                        amount: Some(request.amount_cents),
                        metadata: None,
                    }],
                }),
            };
            mock::deliver(
                own,
                &self.webhook_secret,
                &EventBody::ChargeRefunded(Payload::of(charge)),
            )
            .await
            .map_err(|error| GatewayError::Unavailable(format!("{error:?}")))?;
            Ok(RefundStarted { refund_id })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The mock delivers to the address this server listens on (loopback for every-address binds), unless
    /// configuration named an API instance, which then stays (a lone worker listens only for its probes).
    #[test]
    fn the_mock_delivers_where_it_is_told_or_where_it_listens() {
        let listening = OwnAddress::default();
        assert_eq!(listening.get(), None);
        listening.set("0.0.0.0:8080".parse().unwrap());
        assert_eq!(listening.get(), Some("http://127.0.0.1:8080"));
        let v6 = OwnAddress::default();
        v6.set("[::]:9000".parse().unwrap());
        assert_eq!(v6.get(), Some("http://[::1]:9000"));
        let configured = OwnAddress::configured("http://api:8080/");
        configured.set("127.0.0.1:9999".parse().unwrap());
        assert_eq!(configured.get(), Some("http://api:8080"));
    }
}
