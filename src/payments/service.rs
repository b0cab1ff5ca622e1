//! The payments handle (E1–E8). This part receives Stripe's webhook: the signature is checked on the raw
//! body before anything is parsed, then the event is applied in one transaction with its record
//! (`webhook::apply`). Nothing slow happens in the request: emails go to the job queue.

use crate::db::Db;
use crate::error::{AppError, AppResult};
use crate::payments::signature;
use crate::payments::webhook::{self, Applied, Event};

/// Cheap to clone; what the webhook handler (and, next, the payment resolvers) call.
#[derive(Clone)]
pub struct Payments {
    db: Db,
    webhook_secret: String,
    frontend_url: String,
}

impl Payments {
    pub fn new(db: Db, webhook_secret: String, frontend_url: String) -> Payments {
        Payments {
            db,
            webhook_secret,
            frontend_url,
        }
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
