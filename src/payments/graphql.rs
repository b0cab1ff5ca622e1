//! The payments' part of the GraphQL schema (E1): `payOrder`. Thin: parse, call `Payments`, shape the answer.

use async_graphql::{Context, ID, Object, Result};
use chrono::{DateTime, Utc};

use crate::graphql::guards::{RoleGuard, authenticated, viewer};
use crate::graphql::scalars::Money;
use crate::payments::Payments;
use crate::payments::models::{PaymentRow, PaymentStatus};
use crate::payments::service::CheckoutStarted;

/// A payment of an order (E1): PENDING until a verified webhook confirms or closes it.
pub struct Payment(PaymentRow);

#[Object]
impl Payment {
    async fn id(&self) -> ID {
        ID(self.0.uuid.clone())
    }

    async fn status(&self) -> PaymentStatus {
        self.0.status
    }

    /// What the checkout charges.
    async fn amount(&self) -> Money {
        Money::new(self.0.amount_cents, &self.0.currency)
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at.and_utc()
    }

    /// Why it failed, when it did (what to try next).
    async fn failure_reason(&self) -> Option<&str> {
        self.0.failure_reason.as_deref()
    }
}

/// What `payOrder` answers.
pub struct PayOrderPayload(CheckoutStarted);

#[Object]
impl PayOrderPayload {
    async fn payment(&self) -> Payment {
        Payment(self.0.payment.clone())
    }

    /// Where the payer goes next: Stripe's checkout, or this server's mock checkout.
    async fn checkout_url(&self) -> &str {
        &self.0.checkout_url
    }

    /// What is charged: the order's total at today's prices.
    async fn amount(&self) -> Money {
        Money::new(self.0.payment.amount_cents, &self.0.payment.currency)
    }

    /// True when that differs from the total when the order was placed (D2): tell the payer.
    async fn price_changed(&self) -> bool {
        self.0.price_changed
    }
}

#[derive(Default)]
pub struct PaymentMutation;

#[Object]
impl PaymentMutation {
    /// Opens a checkout for one of the viewer's PENDING orders at today's prices (E1, D2). While one is open,
    /// answers that one. NOT_FOUND for someone else's order; ORDER_PAID or ORDER_CLOSED when it cannot be paid.
    #[graphql(guard = "RoleGuard::signed_in()", directive = authenticated::apply())]
    async fn pay_order(&self, ctx: &Context<'_>, order_id: ID) -> Result<PayOrderPayload> {
        let user_id = viewer(ctx)?.user_id;
        let started = ctx.data::<Payments>()?.pay_order(user_id, &order_id).await?;
        Ok(PayOrderPayload(started))
    }
}
