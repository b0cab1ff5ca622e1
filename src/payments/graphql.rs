//! The payments' part of the GraphQL schema (E1, E5, E6): paying an order, refunds, and payment histories.
//! Thin: parse, call `Payments`, shape the answer.

use crate::graphql::budgets::{Budget, spends};
use async_graphql::{Context, ID, InputObject, Object, Result};
use chrono::{DateTime, Utc};

use crate::accounts::Accounts;
use crate::db::Role;
use crate::error::AppError;
use crate::graphql::guards::{RoleGuard, authenticated, requires_role, viewer};
use crate::graphql::pagination::{self, Counted, CursorSeal, Page, PageNode, TimeCursor, Total};
use crate::graphql::scalars::Money;
use crate::payments::Payments;
use crate::payments::models::{PaymentFilter, PaymentStatus, PaymentView, RefundRow, RefundStatus};
use crate::payments::service::CheckoutStarted;
use crate::shop::Shop;
use crate::shop::graphql::{Order, one_order};

/// A payment of an order (E1, E6): PENDING until a verified webhook confirms or closes it.
#[derive(Clone)]
pub struct Payment {
    view: PaymentView,
    refund: Option<RefundRow>,
}

impl PageNode for Payment {
    const CONNECTION: &'static str = "PaymentConnection";
    const EDGE: &'static str = "PaymentEdge";
}

#[Object]
impl Payment {
    async fn id(&self) -> ID {
        ID(self.view.row.uuid.clone())
    }

    async fn status(&self) -> PaymentStatus {
        self.view.row.status
    }

    /// What the checkout charges.
    async fn amount(&self) -> Money {
        Money::new(self.view.row.amount_cents, &self.view.row.currency)
    }

    /// What the payment provider reported taking, once it confirmed the payment.
    async fn amount_received(&self) -> Option<Money> {
        self.view
            .row
            .amount_received_cents
            .map(|cents| Money::new(cents, &self.view.row.currency))
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.view.row.created_at.and_utc()
    }

    async fn succeeded_at(&self) -> Option<DateTime<Utc>> {
        self.view.row.succeeded_at.map(|at| at.and_utc())
    }

    async fn refunded_at(&self) -> Option<DateTime<Utc>> {
        self.view.row.refunded_at.map(|at| at.and_utc())
    }

    /// Why it failed, when it did (what to try next).
    async fn failure_reason(&self) -> Option<&str> {
        self.view.row.failure_reason.as_deref()
    }

    /// The order it pays.
    async fn order_id(&self) -> ID {
        ID(self.view.order_uuid.clone())
    }

    /// Who pays.
    async fn user_id(&self) -> ID {
        ID(self.view.user_uuid.clone())
    }

    /// Its latest refund, requested, under way or done.
    async fn refund(&self) -> Option<Refund> {
        self.refund.clone().map(Refund)
    }

    /// True when staff should look at it: the provider reported another amount than was charged (less: the
    /// order waits for `acceptPayment` or `refundPayment`), or an automatic refund was refused. Nullable so that
    /// a refusal of this staff field leaves the rest of the payment answered.
    #[graphql(
        guard = "RoleGuard::role(Role::Moderator)",
        directive = requires_role::apply(Role::Moderator)
    )]
    async fn needs_review(&self) -> Option<bool> {
        Some(self.view.row.needs_review)
    }
}

/// A refund of a payment (E5): asked for by its payer or started by staff.
#[derive(Clone)]
pub struct Refund(RefundRow);

#[Object]
impl Refund {
    async fn id(&self) -> ID {
        ID(self.0.uuid.clone())
    }

    async fn status(&self) -> RefundStatus {
        self.0.status
    }

    async fn amount(&self) -> Money {
        // Refunds return money in the catalog's one currency, as they were paid.
        Money::new(self.0.amount_cents, crate::catalog::moderation::CATALOG_CURRENCY)
    }

    /// Why the payer asked, when they did.
    async fn reason(&self) -> Option<&str> {
        self.0.reason.as_deref()
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at.and_utc()
    }

    /// Why staff refunded or turned the request down.
    async fn decision_reason(&self) -> Option<&str> {
        self.0.decision_reason.as_deref()
    }

    async fn decided_at(&self) -> Option<DateTime<Utc>> {
        self.0.decided_at.map(|at| at.and_utc())
    }
}

/// What `payOrder` answers.
pub struct PayOrderPayload(CheckoutStarted);

#[Object]
impl PayOrderPayload {
    async fn payment(&self) -> Payment {
        Payment {
            view: self.0.payment.clone(),
            refund: None,
        }
    }

    /// Where the payer goes next: Stripe's checkout, or this server's mock checkout.
    async fn checkout_url(&self) -> &str {
        &self.0.checkout_url
    }

    /// What is charged: the order's total at today's prices.
    async fn amount(&self) -> Money {
        Money::new(self.0.payment.row.amount_cents, &self.0.payment.row.currency)
    }

    /// True when that differs from the total when the order was placed (D2): tell the payer.
    async fn price_changed(&self) -> bool {
        self.0.price_changed
    }
}

/// A user's filter on their payments (E6): all optional; `from` inclusive, `to` exclusive, on when the payment
/// started.
#[derive(InputObject, Default)]
pub struct PaymentFilterInput {
    status: Option<PaymentStatus>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
}

/// An admin's filter on all payments (E6): `PaymentFilterInput`, the payer, and the flags staff work from.
#[derive(InputObject, Default)]
pub struct AllPaymentsFilterInput {
    /// Only this user's payments (their public id).
    user_id: Option<ID>,
    status: Option<PaymentStatus>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    /// Only payments with a refund request waiting for a decision.
    #[graphql(default)]
    refund_requested: bool,
    /// Only payments flagged for review.
    #[graphql(default)]
    needs_review: bool,
}

/// What a payment page's `totalCount` counts.
pub struct PaymentCount(PaymentFilter);

impl Counted for PaymentCount {
    async fn count(&self, ctx: &Context<'_>) -> Result<Total> {
        Ok(Total::exact(ctx.data::<Payments>()?.count_payments(&self.0).await?))
    }
}

/// A page of payments matching `filter`, newest first, with their latest refunds: three statements a page.
async fn payment_page(
    ctx: &Context<'_>,
    filter: PaymentFilter,
    first: Option<i32>,
    after: Option<&str>,
) -> Result<Page<Payment, PaymentCount>> {
    let limit = pagination::page_size(first)?;
    let seal = ctx.data::<CursorSeal>()?;
    let list = "payments";
    let after = TimeCursor::read(seal, list, after)?;
    let rows = ctx.data::<Payments>()?.payments(&filter, after, limit + 1).await?;
    let payments: Vec<Payment> = rows
        .into_iter()
        .map(|(view, refund)| Payment { view, refund })
        .collect();
    Ok(Page::from_keyset_rows(
        payments,
        limit,
        after.is_some(),
        PaymentCount(filter),
        |payment| TimeCursor::sealed(seal, list, payment.view.row.created_at, payment.view.row.id),
        |payment| payment,
    ))
}

#[derive(Default)]
pub struct PaymentQuery;

#[Object]
impl PaymentQuery {
    /// The viewer's payments, newest first (E6).
    #[graphql(guard = "RoleGuard::signed_in()", directive = authenticated::apply())]
    async fn payments(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size, 0 to 100 (20 when null).")] first: Option<i32>,
        after: Option<String>,
        filter: Option<PaymentFilterInput>,
    ) -> Result<Page<Payment, PaymentCount>> {
        let user_id = viewer(ctx)?.user_id;
        let input = filter.unwrap_or_default();
        let (from, to) = pagination::time_window(input.from, input.to)?;
        let filter = PaymentFilter {
            user_id: Some(user_id),
            status: input.status,
            from,
            to,
            ..PaymentFilter::default()
        };
        payment_page(ctx, filter, first, after.as_deref()).await
    }

    /// Payments whose refund request waits for a decision, newest first (E5): what staff work through.
    #[graphql(
        guard = "RoleGuard::role(Role::Moderator)",
        directive = requires_role::apply(Role::Moderator)
    )]
    async fn refund_requests(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size, 0 to 100 (20 when null).")] first: Option<i32>,
        after: Option<String>,
    ) -> Result<Page<Payment, PaymentCount>> {
        let filter = PaymentFilter {
            refund_requested: true,
            ..PaymentFilter::default()
        };
        payment_page(ctx, filter, first, after.as_deref()).await
    }

    /// All payments, filtered by payer, time, status and flags, newest first (E6).
    #[graphql(
        guard = "RoleGuard::role(Role::Admin)",
        directive = requires_role::apply(Role::Admin)
    )]
    async fn all_payments(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size, 0 to 100 (20 when null).")] first: Option<i32>,
        after: Option<String>,
        filter: Option<AllPaymentsFilterInput>,
    ) -> Result<Page<Payment, PaymentCount>> {
        let input = filter.unwrap_or_default();
        let user_id = match &input.user_id {
            Some(uuid) => Some(
                ctx.data::<Accounts>()?
                    .user_by_uuid(uuid)
                    .await?
                    .ok_or_else(|| AppError::bad_input("filter.userId", "no user has this id"))?
                    .id,
            ),
            None => None,
        };
        let (from, to) = pagination::time_window(input.from, input.to)?;
        let filter = PaymentFilter {
            user_id,
            status: input.status,
            from,
            to,
            refund_requested: input.refund_requested,
            needs_review: input.needs_review,
        };
        payment_page(ctx, filter, first, after.as_deref()).await
    }
}

#[derive(Default)]
pub struct PaymentMutation;

#[Object]
impl PaymentMutation {
    /// Opens a checkout for one of the viewer's PENDING orders at today's prices (E1, D2). While one is open,
    /// answers that one. NOT_FOUND for someone else's order; ORDER_PAID or ORDER_CLOSED when it cannot be paid;
    /// SERVICE_UNAVAILABLE when the payment provider does not answer (nothing is charged; ask again);
    /// PRICE_CHANGED (with `chargedTotal` and `orderedTotal` in extensions) when prices rose since the order was
    /// placed and `acceptPriceChange` is not true. A lower total is simply charged. TOO_MANY_CHECKOUT_ATTEMPTS
    /// once the order has opened MAX_CHECKOUT_ATTEMPTS checkouts.
    #[graphql(guard = "RoleGuard::signed_in().spending(Budget::Checkouts)", directive = authenticated::apply(),
        directive = spends::apply(Budget::Checkouts))]
    async fn pay_order(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
        #[graphql(
            desc = "Pay even when the order costs more today than when it was placed (default false).",
            default = false
        )]
        accept_price_change: bool,
    ) -> Result<PayOrderPayload> {
        let user_id = viewer(ctx)?.user_id;
        let started = ctx
            .data::<Payments>()?
            .pay_order(user_id, &order_id, accept_price_change)
            .await?;
        Ok(PayOrderPayload(started))
    }

    /// Cancels one of the viewer's PENDING orders (D4). Its open checkout is expired at the payment provider
    /// before the answer, so that it can no longer take money; money that lands anyway is returned by itself.
    /// ORDER_PAID for a paid order (a refund undoes it), ORDER_CLOSED for a canceled or refunded one, NOT_FOUND
    /// for an order that is not theirs.
    #[graphql(
        guard = "RoleGuard::signed_in().spending(Budget::Orders)",
        directive = authenticated::apply(),
        directive = spends::apply(Budget::Orders)
    )]
    async fn cancel_order(&self, ctx: &Context<'_>, id: ID) -> Result<Order> {
        let user_id = viewer(ctx)?.user_id;
        let shop = ctx.data::<Shop>()?;
        let view = ctx.data::<Payments>()?.cancel_order(shop, user_id, &id).await?;
        one_order(ctx, view, ctx.look_ahead()).await
    }

    /// Accepts a payment that arrived short (E5, issue 22): its order, which waited for staff, becomes PAID
    /// with what arrived, and the receipt goes out. The other answer to such a payment is `refundPayment`.
    /// PAYMENT_NOT_UNDER_REVIEW unless the payment is confirmed, flagged and its order still pending.
    #[graphql(
        guard = "RoleGuard::role(Role::Moderator).spending(Budget::Staff)",
        directive = requires_role::apply(Role::Moderator),
        directive = spends::apply(Budget::Staff)
    )]
    async fn accept_payment(&self, ctx: &Context<'_>, payment_id: ID) -> Result<Payment> {
        let view = ctx.data::<Payments>()?.accept_payment(&payment_id).await?;
        Ok(Payment { view, refund: None })
    }

    /// Asks for the money of one of the viewer's PAID orders back (E5); staff decide. NOT_FOUND for someone
    /// else's order; ORDER_NOT_PAID; REFUND_REQUESTED when one is asked for or under way already;
    /// REFUND_DECLINED_RECENTLY (with `retryAfterSeconds`) within REFUND_RETRY_AFTER_HOURS of a declined one.
    #[graphql(guard = "RoleGuard::signed_in().spending(Budget::Orders)", directive = authenticated::apply(),
        directive = spends::apply(Budget::Orders))]
    async fn request_refund(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
        #[graphql(desc = "Why, in a few words (1 to 1,000 characters).")] reason: String,
    ) -> Result<Refund> {
        let user_id = viewer(ctx)?.user_id;
        let refund = ctx
            .data::<Payments>()?
            .request_refund(user_id, &order_id, &reason)
            .await?;
        Ok(Refund(refund))
    }

    /// Refunds a confirmed payment whole through the payment provider (E5), granting a request for it if there
    /// is one. The payment becomes REFUNDED, its order REFUNDED and its movies are taken back when the provider
    /// confirms. ALREADY_REFUNDED; PAYMENT_NOT_REFUNDABLE; SERVICE_UNAVAILABLE (ask again: the same refund is
    /// asked for, never a second); PROVIDER_REFUSED.
    #[graphql(
        guard = "RoleGuard::role(Role::Moderator).spending(Budget::Staff)",
        directive = requires_role::apply(Role::Moderator),
        directive = spends::apply(Budget::Staff)
    )]
    async fn refund_payment(
        &self,
        ctx: &Context<'_>,
        payment_id: ID,
        #[graphql(desc = "Why, in a few words (1 to 1,000 characters).")] reason: String,
    ) -> Result<Payment> {
        let staff_id = viewer(ctx)?.user_id;
        let payments = ctx.data::<Payments>()?;
        let view = payments.refund_payment(staff_id, &payment_id, &reason).await?;
        let refund = payments.refund_of(view.row.id).await?;
        Ok(Payment { view, refund })
    }

    /// Turns a refund request down, saying why (E5). REFUND_DECIDED when it was decided already.
    #[graphql(
        guard = "RoleGuard::role(Role::Moderator).spending(Budget::Staff)",
        directive = requires_role::apply(Role::Moderator),
        directive = spends::apply(Budget::Staff)
    )]
    async fn decline_refund(
        &self,
        ctx: &Context<'_>,
        refund_id: ID,
        #[graphql(desc = "Why, in a few words (1 to 1,000 characters).")] reason: String,
    ) -> Result<Refund> {
        let staff_id = viewer(ctx)?.user_id;
        let refund = ctx
            .data::<Payments>()?
            .decline_refund(staff_id, &refund_id, &reason)
            .await?;
        Ok(Refund(refund))
    }
}
