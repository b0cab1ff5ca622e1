//! Where a checkout is opened (E1): Stripe, or the built-in mock (E7). The payment rules call the trait; which
//! implementation runs is decided once at start-up by `STRIPE_SECRET_KEY`.

use std::sync::Arc;

use crate::error::AppResult;

/// What a checkout charges, line by line, and whom it names.
#[derive(Debug, Clone)]
pub struct CheckoutRequest {
    /// Our payment's public id: the checkout's metadata and idempotency key, so a retried call opens no
    /// second checkout and every event finds its payment.
    pub payment_uuid: String,
    pub order_uuid: String,
    /// (movie name, price in minor units) at the charged prices.
    pub lines: Vec<(String, i64)>,
    pub currency: String,
}

/// An open checkout: where the payer goes.
#[derive(Debug, Clone)]
pub struct OpenCheckout {
    pub session_id: String,
    pub url: String,
}

pub trait PaymentGateway: Send + Sync {
    fn open_checkout(
        &self,
        request: &CheckoutRequest,
    ) -> std::pin::Pin<Box<dyn Future<Output = AppResult<OpenCheckout>> + Send + '_>>;
}

pub type Gateway = Arc<dyn PaymentGateway>;

/// With a Stripe key, until the Stripe client is built: every checkout is refused, never faked.
pub struct StripeNotBuilt;

impl PaymentGateway for StripeNotBuilt {
    fn open_checkout(
        &self,
        _request: &CheckoutRequest,
    ) -> std::pin::Pin<Box<dyn Future<Output = AppResult<OpenCheckout>> + Send + '_>> {
        Box::pin(async {
            Err(crate::error::AppError::Unavailable(
                "checkout through Stripe is not available in this version; run without STRIPE_SECRET_KEY for the mock"
                    .into(),
            ))
        })
    }
}

/// The mock (E7): a checkout is a page on this server (`/mock-checkout/{session}`) where the payer pays or
/// declines; the choice makes the server deliver a signed event to its own webhook.
pub struct MockGateway {
    public_url: String,
}

impl MockGateway {
    pub fn new(public_url: &str) -> MockGateway {
        MockGateway {
            public_url: public_url.trim_end_matches('/').to_string(),
        }
    }
}

impl PaymentGateway for MockGateway {
    fn open_checkout(
        &self,
        request: &CheckoutRequest,
    ) -> std::pin::Pin<Box<dyn Future<Output = AppResult<OpenCheckout>> + Send + '_>> {
        // The session id is derived from the payment, so opening the same payment's checkout twice (a retry)
        // gives the same session, as Stripe's idempotency key does.
        let session_id = format!("cs_mock_{}", request.payment_uuid.replace('-', ""));
        let url = format!("{}/mock-checkout/{session_id}", self.public_url);
        Box::pin(async move { Ok(OpenCheckout { session_id, url }) })
    }
}
