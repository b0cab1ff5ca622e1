//! The Stripe gateway (E1, E5, E8) on async-stripe: Checkout Sessions with one line per order line at the
//! charged prices, refunds, and expiry of an open checkout.
//!
//! Every call runs under our own retry loop rather than the client's (whose retries pick their own random
//! idempotency key): each attempt carries the same key and has its own timeout, and only what Stripe documents
//! as safe to repeat is repeated — no answer, a connection error, 409 (a concurrent request with the same key),
//! 429 and 5xx. A 4xx is Stripe's refusal and final.

use std::collections::HashMap;
use std::time::Duration;

use stripe::{Client, ClientBuilder, IdempotencyKey, RequestStrategy, StripeError, StripeRequest};
use stripe_checkout::checkout_session::{
    CreateCheckoutSession, CreateCheckoutSessionLineItems, CreateCheckoutSessionLineItemsPriceData,
    CreateCheckoutSessionPaymentIntentData, ExpireCheckoutSession, ProductData,
};
use stripe_core::refund::CreateRefund;
use stripe_shared::CheckoutSessionMode;

use crate::payments::gateway::{
    CheckoutRequest, GatewayError, GatewayFuture, OpenCheckout, PaymentGateway, RefundRequest, RefundStarted,
};

/// Stripe keeps metadata values to 500 characters.
const METADATA_VALUE_MAX: usize = 500;

pub struct StripeGateway {
    client: Client,
    max_attempts: u32,
}

/// What the settings say about talking to Stripe.
pub struct StripeOptions<'a> {
    pub secret_key: &'a str,
    /// None for Stripe's own API.
    pub api_base: Option<&'a str>,
    pub timeout: Duration,
    pub max_attempts: u32,
}

impl StripeGateway {
    pub fn new(options: &StripeOptions<'_>) -> Result<StripeGateway, String> {
        let mut builder = ClientBuilder::new(options.secret_key)
            .app_info("cinema", Some(env!("CARGO_PKG_VERSION").to_string()), None)
            .timeout(options.timeout);
        if let Some(base) = options.api_base {
            builder = builder.url(base);
        }
        let client = builder
            .build()
            .map_err(|error| format!("the Stripe client could not be built: {error}"))?;
        Ok(StripeGateway {
            client,
            max_attempts: options.max_attempts.max(1),
        })
    }

    /// Runs `call` until it succeeds, Stripe refuses it, or the attempts are spent; every attempt carries `key`.
    async fn with_retries<T, F, Fut>(&self, what: &str, key: &str, call: F) -> Result<T, GatewayError>
    where
        F: Fn(RequestStrategy) -> Fut,
        Fut: Future<Output = Result<T, StripeError>>,
    {
        let key = IdempotencyKey::new(key)
            .map_err(|error| GatewayError::Refused(format!("unusable idempotency key: {error}")))?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let error = match call(RequestStrategy::Idempotent(key.clone())).await {
                Ok(answer) => return Ok(answer),
                Err(error) => classify(error),
            };
            match error {
                GatewayError::Unavailable(reason) if attempt < self.max_attempts => {
                    tracing::warn!(call = what, attempt, %reason, "Stripe call failed; trying again with the same key");
                    tokio::time::sleep(backoff(attempt)).await;
                }
                error => {
                    tracing::warn!(call = what, attempt, ?error, "Stripe call failed");
                    return Err(error);
                }
            }
        }
    }
}

/// 250 ms, 500 ms, 1 s, …: short, because a person waits on `payOrder`.
fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(250 << attempt.saturating_sub(1).min(4))
}

/// A concurrent request with the same key (409), too many requests (429), or Stripe's own trouble (5xx).
fn retry_safe(status: u16) -> bool {
    status == 409 || status == 429 || status >= 500
}

/// Which failures may be repeated with the same idempotency key (Stripe's guidance on safe retries).
fn classify(error: StripeError) -> GatewayError {
    match error {
        // Our key was used before with other parameters. Every call is sent as it was first stored, so this
        // should not happen; if it does, what the key first did stands at Stripe (a refund may be under way),
        // so it is never taken as the end of the call: its webhook settles it.
        StripeError::Stripe(errors, status) if errors.type_ == stripe_shared::ApiErrorsType::IdempotencyError => {
            tracing::error!(status, message = ?errors.message, "Stripe refused a reused idempotency key");
            GatewayError::Unavailable(format!("{status}: the idempotency key was used with other parameters"))
        }
        StripeError::Timeout => GatewayError::Unavailable("no answer in time".into()),
        StripeError::ClientError(reason) => GatewayError::Unavailable(reason),
        StripeError::Stripe(errors, status) if retry_safe(status) => {
            GatewayError::Unavailable(format!("{status}: {}", errors.message.unwrap_or_default()))
        }
        StripeError::Stripe(errors, status) => {
            GatewayError::Refused(format!("{status}: {}", errors.message.unwrap_or_default()))
        }
        StripeError::JSONDeserialize(reason) => {
            GatewayError::Unavailable(format!("an answer we cannot read: {reason}"))
        }
        StripeError::ConfigError(reason) => GatewayError::Refused(reason),
    }
}

fn ours(payment_uuid: &str, order_uuid: Option<&str>) -> HashMap<String, String> {
    let mut metadata = HashMap::from([("payment_id".to_string(), payment_uuid.to_string())]);
    if let Some(order) = order_uuid {
        metadata.insert("order_id".to_string(), order.to_string());
    }
    metadata
}

fn lowercase_currency(code: &str) -> Result<stripe_types::Currency, GatewayError> {
    code.to_lowercase()
        .parse()
        .map_err(|_| GatewayError::Refused(format!("Stripe does not know the currency {code}")))
}

impl PaymentGateway for StripeGateway {
    fn open_checkout<'a>(&'a self, request: &'a CheckoutRequest) -> GatewayFuture<'a, OpenCheckout> {
        Box::pin(async move {
            let currency = lowercase_currency(&request.currency)?;
            let lines: Vec<CreateCheckoutSessionLineItems> = request
                .lines
                .iter()
                .map(|(name, cents)| {
                    let mut price = CreateCheckoutSessionLineItemsPriceData::new(currency.clone());
                    price.unit_amount = Some(*cents);
                    price.product_data = Some(ProductData::new(name.clone()));
                    let mut line = CreateCheckoutSessionLineItems::new();
                    line.price_data = Some(price);
                    line.quantity = Some(1);
                    line
                })
                .collect();
            let metadata = ours(&request.payment_uuid, Some(&request.order_uuid));
            // The PaymentIntent carries our ids too, so its charge and refund events name the payment.
            let mut intent = CreateCheckoutSessionPaymentIntentData::new();
            intent.metadata = Some(metadata.clone());
            let create = CreateCheckoutSession::new()
                .mode(CheckoutSessionMode::Payment)
                .line_items(lines)
                .client_reference_id(request.order_uuid.clone())
                .metadata(metadata)
                .payment_intent_data(intent)
                .success_url(request.success_url.clone())
                .cancel_url(request.cancel_url.clone())
                .expires_at(request.expires_at);
            let session = self
                .with_retries("create checkout session", &request.idempotency_key, |strategy| {
                    create.customize().request_strategy(strategy).send(&self.client)
                })
                .await?;
            let url = session
                .url
                .ok_or_else(|| GatewayError::Unavailable("Stripe opened a checkout without a URL".into()))?;
            Ok(OpenCheckout {
                session_id: session.id.to_string(),
                url,
            })
        })
    }

    fn expire_checkout<'a>(&'a self, session_id: &'a str) -> GatewayFuture<'a, ()> {
        Box::pin(async move {
            let expire = ExpireCheckoutSession::new(session_id);
            self.with_retries("expire checkout session", &format!("expire-{session_id}"), |strategy| {
                expire.customize().request_strategy(strategy).send(&self.client)
            })
            .await?;
            Ok(())
        })
    }

    fn refund<'a>(&'a self, request: &'a RefundRequest) -> GatewayFuture<'a, RefundStarted> {
        Box::pin(async move {
            let mut metadata = ours(&request.payment_uuid, None);
            let reason: String = request.reason.chars().take(METADATA_VALUE_MAX).collect();
            metadata.insert("reason".to_string(), reason);
            let create = CreateRefund::new()
                .payment_intent(request.payment_intent_id.clone())
                .amount(request.amount_cents)
                .metadata(metadata);
            let refund = self
                .with_retries("create refund", &request.idempotency_key, |strategy| {
                    create.customize().request_strategy(strategy).send(&self.client)
                })
                .await?;
            Ok(RefundStarted {
                refund_id: refund.id.to_string(),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_stays_short() {
        assert_eq!(backoff(1), Duration::from_millis(250));
        assert_eq!(backoff(2), Duration::from_millis(500));
        assert_eq!(backoff(9), Duration::from_millis(4_000));
    }

    #[test]
    fn only_what_stripe_calls_safe_is_tried_again() {
        for status in [409, 429, 500, 503] {
            assert!(retry_safe(status), "{status}");
        }
        for status in [400, 401, 402, 404] {
            assert!(!retry_safe(status), "{status}");
        }
        assert!(matches!(classify(StripeError::Timeout), GatewayError::Unavailable(_)));
        assert!(matches!(
            classify(StripeError::ConfigError("bad key".into())),
            GatewayError::Refused(_)
        ));
    }
}
