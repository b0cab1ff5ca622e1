//! The payments handle (E1–E8). This part receives Stripe's webhook: the signature is checked on the raw
//! body before anything is parsed, then the event is applied in one transaction with its record
//! (`webhook::apply`). Nothing slow happens in the request: emails go to the job queue.

use std::collections::HashMap;
use std::sync::Arc;

use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use crate::db::{Db, now};
use crate::error::{AppError, AppResult};
use crate::graphql::pagination::TimeCursor;
use crate::graphql::scalars::format_money;
use crate::jobs::{self, JobHandler, JobKind};
use crate::payments::events::Event;
use crate::payments::gateway::{CheckoutRequest, Gateway, GatewayError, OwnAddress, RefundRequest};
use crate::payments::models::{
    NewPayment, NewRefund, PaymentChanges, PaymentFilter, PaymentRow, PaymentStatus, PaymentView, Provider,
    ProviderOperation, RefundRow, RefundStatus, RefundUnwanted,
};
use crate::payments::repo;
use crate::payments::signature;
use crate::payments::webhook::{self, Applied};
use crate::shop;
use crate::shop::service::OrderView;

/// Cheap to clone; what the webhook handler, the mock checkout, the payment resolvers and the payment jobs
/// call.
#[derive(Clone)]
pub struct Payments {
    db: Db,
    options: Arc<PaymentOptions>,
    gateway: Gateway,
    provider: Provider,
}

/// What the payments need from the settings.
#[derive(Debug, Clone)]
pub struct PaymentOptions {
    /// The webhook's signing secret (the mock signs the events it delivers with it, E7).
    pub webhook_secret: String,
    /// Where the payer lands after a checkout: `{frontend_url}/orders/{order}?checkout=success|canceled`.
    pub frontend_url: String,
    /// How long a checkout stays open.
    pub checkout_lifetime: chrono::Duration,
    /// Checkouts one order may open in all.
    pub max_checkout_attempts: u32,
    /// How long after a declined refund its payer may ask again.
    pub refund_retry_after: chrono::Duration,
    /// The longest a call to the provider may take, its retries included: an attempt to open a checkout that
    /// started longer ago than this and left no checkout has died, and may be tried again.
    pub call_budget: std::time::Duration,
    pub own_address: OwnAddress,
}

/// What `payOrder` answers (E1): the payment, where the payer goes, what is charged, and whether that differs
/// from the total at ordering (D2).
#[derive(Debug, Clone)]
pub struct CheckoutStarted {
    pub payment: PaymentView,
    pub checkout_url: String,
    pub price_changed: bool,
}

/// The payment step's first transaction: an open checkout to answer at once, or an attempt to open one.
enum Prepared {
    Open(PaymentRow),
    Attempt {
        payment: PaymentRow,
        request: CheckoutRequest,
        price_changed: bool,
    },
}

/// When a closed payment's checkout is expired at the provider.
#[derive(Debug, Clone, Copy)]
enum Expiry {
    /// By the caller, before it answers.
    Now,
    /// By a queued job.
    Later,
}

/// Longest accepted refund reason, in characters.
pub const REFUND_REASON_MAX: usize = 1_000;

fn refund_reason(field: &'static str, text: &str) -> AppResult<String> {
    let text = text.trim();
    if text.is_empty() {
        return Err(AppError::bad_input(field, "say why"));
    }
    if text.chars().count() > REFUND_REASON_MAX {
        return Err(AppError::bad_input(
            field,
            format!("at most {REFUND_REASON_MAX} characters"),
        ));
    }
    Ok(text.to_string())
}

fn checkout_back(frontend_url: &str, order_uuid: &str, outcome: &str) -> String {
    format!(
        "{}/orders/{order_uuid}?checkout={outcome}",
        frontend_url.trim_end_matches('/')
    )
}

/// What `payOrder` answers when today's total is higher than the ordered one and the payer has not accepted it.
fn price_raised(repriced: &shop::models::Repriced, currency: &str) -> AppError {
    let money = |cents: i64| serde_json::json!({ "amount": cents, "currency": currency, "formatted": format_money(cents, currency) });
    AppError::rejected(
        StatusCode::CONFLICT,
        "PRICE_CHANGED",
        format!(
            "prices rose since this order was placed: it now costs {} instead of {}; pay with acceptPriceChange: \
             true to accept, or cancel the order",
            format_money(repriced.charged_cents, currency),
            format_money(repriced.ordered_cents, currency)
        ),
    )
    .with_detail("chargedTotal", money(repriced.charged_cents))
    .with_detail("orderedTotal", money(repriced.ordered_cents))
}

const HINT_PROVIDER_DOWN: &str =
    "The payment provider did not answer. Nothing was charged; try paying again in a moment.";

impl Payments {
    pub fn new(db: Db, options: PaymentOptions, gateway: Gateway, provider: Provider) -> Payments {
        Payments {
            db,
            options: Arc::new(options),
            gateway,
            provider,
        }
    }

    /// The webhook's signing secret (the mock signs the events it delivers with it, E7).
    pub fn webhook_secret(&self) -> &str {
        &self.options.webhook_secret
    }

    pub fn frontend_url(&self) -> &str {
        &self.options.frontend_url
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Remembers where this server listens: the mock delivers its events there.
    pub fn serving_on(&self, address: std::net::SocketAddr) {
        self.options.own_address.set(address);
    }

    /// Where the mock delivers its events: this server once it listens, or the configured API instance.
    pub fn own_address(&self) -> Option<&str> {
        self.options.own_address.get()
    }

    /// E1, D2, E8: opens a checkout for one of the user's PENDING orders, for its total at today's prices. A
    /// payment starts PENDING; only a verified webhook makes it SUCCEEDED. While a checkout is open, calling
    /// again answers the same one instead of opening a second.
    ///
    /// Three steps, so that no database transaction waits on the payment provider: the payment is stored
    /// (re-priced, PENDING: the one open payment of the order); the checkout is opened with the payment's
    /// idempotency key; its id and URL are stored. When the provider does not answer, the payment stays PENDING
    /// without a checkout and the order payable: the next `payOrder` tries again with the same key and amount,
    /// so a checkout the provider did open meanwhile is the one the payer gets. A refusal closes the payment
    /// FAILED.
    ///
    /// A total higher than at ordering (a moderator raised a price meanwhile) is charged only when the payer
    /// says so (`accept_price_change`); otherwise PRICE_CHANGED, with both totals, and nothing is stored. A
    /// lower total is simply charged.
    pub async fn pay_order(
        &self,
        user_id: i64,
        order_uuid: &str,
        accept_price_change: bool,
    ) -> AppResult<CheckoutStarted> {
        let provider = self.provider;
        let options = self.options.clone();
        let prepared = self
            .db
            .transaction(async |conn| {
                let order = shop::service::payable_order(conn, user_id, order_uuid).await?;
                if repo::succeeded_payment_of(conn, order.id).await?.is_some() {
                    return Err(AppError::rejected(
                        StatusCode::CONFLICT,
                        "PAYMENT_UNDER_REVIEW",
                        "a payment of this order arrived short and waits for our staff; you need not pay again",
                    ));
                }
                let at = now();
                let (payment, price_changed) = match repo::open_payment_of(conn, order.id).await? {
                    Some(open) if open.checkout_url.is_some() => return Ok(Prepared::Open(open)),
                    Some(open) => {
                        let started = (at - open.updated_at).to_std().unwrap_or_default();
                        if open.failure_reason.is_none() && started < options.call_budget {
                            return Err(AppError::rejected(
                                StatusCode::CONFLICT,
                                "CHECKOUT_OPENING",
                                "a checkout for this order is being opened; ask again in a moment",
                            ));
                        }
                        // An earlier attempt got no answer: the same payment, key and amount try again.
                        (repo::claim_attempt(conn, open.id, at).await?, false)
                    }
                    None => {
                        let attempts = repo::payment_count_of_order(conn, order.id).await?;
                        if attempts >= i64::from(options.max_checkout_attempts) {
                            return Err(AppError::rejected(
                                StatusCode::CONFLICT,
                                "TOO_MANY_CHECKOUT_ATTEMPTS",
                                format!(
                                    "this order has had {attempts} checkouts; cancel it and order again, or ask \
                                     for help"
                                ),
                            ));
                        }
                        let repriced = shop::service::reprice_pending_order(conn, &order).await?;
                        if repriced.charged_cents > repriced.ordered_cents && !accept_price_change {
                            return Err(price_raised(&repriced, &order.currency));
                        }
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
                                idempotency_key: format!("checkout-{uuid}"),
                                created_at: at,
                                updated_at: at,
                            },
                        )
                        .await?;
                        (payment, repriced.changed())
                    }
                };
                let built = CheckoutRequest {
                    payment_uuid: payment.uuid.clone(),
                    idempotency_key: payment.idempotency_key.clone(),
                    order_uuid: order.uuid.clone(),
                    lines: shop::service::charged_lines(conn, order.id).await?,
                    currency: order.currency.clone(),
                    expires_at: (at + options.checkout_lifetime).and_utc().timestamp(),
                    success_url: checkout_back(&options.frontend_url, &order.uuid, "success"),
                    cancel_url: checkout_back(&options.frontend_url, &order.uuid, "canceled"),
                };
                // A retry sends the first attempt's request as stored, whatever changed meanwhile.
                let request =
                    repo::remember_request(conn, ProviderOperation::Checkout, &payment.idempotency_key, built, at)
                        .await?;
                Ok(Prepared::Attempt {
                    payment,
                    request,
                    price_changed,
                })
            })
            .await?;
        let (payment, request, price_changed) = match prepared {
            Prepared::Open(open) => {
                let url = open.checkout_url.clone().unwrap_or_default();
                return Ok(CheckoutStarted {
                    payment: self.view_of(open.id).await?,
                    checkout_url: url,
                    price_changed: false,
                });
            }
            Prepared::Attempt {
                payment,
                request,
                price_changed,
            } => (payment, request, price_changed),
        };
        let opened = self.gateway.open_checkout(&request).await;
        let at = now();
        let (changes, hint) = match &opened {
            Ok(checkout) => (
                PaymentChanges {
                    checkout_session_id: Some(checkout.session_id.clone()),
                    checkout_url: Some(checkout.url.clone()),
                    updated_at: Some(at),
                    ..PaymentChanges::default()
                },
                None,
            ),
            Err(GatewayError::Unavailable(_)) => (
                PaymentChanges {
                    failure_reason: Some("the payment provider did not answer; try again".into()),
                    updated_at: Some(at),
                    ..PaymentChanges::default()
                },
                Some(HINT_PROVIDER_DOWN),
            ),
            Err(GatewayError::Refused(_)) => (
                PaymentChanges {
                    status: Some(PaymentStatus::Failed),
                    failure_reason: Some("the payment provider refused to open a checkout".into()),
                    updated_at: Some(at),
                    ..PaymentChanges::default()
                },
                Some("The payment provider refused this checkout. Nothing was charged; try again later."),
            ),
        };
        let payment_id = payment.id;
        let order_id = payment.order_id;
        self.db
            .transaction(async |conn| {
                repo::update_payment(conn, payment_id, &changes).await?;
                shop::service::set_payment_hint(conn, order_id, hint).await
            })
            .await?;
        let checkout = opened?;
        Ok(CheckoutStarted {
            payment: self.view_of(payment_id).await?,
            checkout_url: checkout.url,
            price_changed,
        })
    }

    async fn view_of(&self, payment_id: i64) -> AppResult<PaymentView> {
        let mut conn = self.db.conn().await?;
        Ok(repo::payment_view(&mut conn, payment_id).await?)
    }

    /// E5: the user asks for their money back for one of their PAID orders; staff decide. NOT_FOUND for someone
    /// else's order, ORDER_NOT_PAID unless paid, REFUND_REQUESTED when a refund is asked for or under way.
    pub async fn request_refund(&self, user_id: i64, order_uuid: &str, reason: &str) -> AppResult<RefundRow> {
        let reason = refund_reason("reason", reason)?;
        let retry_after = self.options.refund_retry_after;
        self.db
            .transaction(async |conn| {
                let order = shop::service::paid_own_order(conn, user_id, order_uuid).await?;
                let payment = repo::succeeded_payment_of(conn, order.id)
                    .await?
                    .ok_or_else(|| AppError::Conflict("this order's payment is not confirmed yet".into()))?;
                if let Some(open) = repo::open_refund_of(conn, payment.id).await? {
                    return Err(refund_in_progress(&open));
                }
                let at = now();
                if let Some(declined) = repo::last_declined_refund_at(conn, payment.id).await? {
                    let again = declined + retry_after;
                    if again > at {
                        let wait = (again - at).num_seconds().max(1);
                        return Err(AppError::rejected(
                            StatusCode::CONFLICT,
                            "REFUND_DECLINED_RECENTLY",
                            "a refund of this order was declined recently; you may ask again later",
                        )
                        .with_detail("retryAfterSeconds", wait.into()));
                    }
                }
                Ok(repo::insert_refund(
                    conn,
                    &NewRefund {
                        uuid: uuid::Uuid::new_v4().to_string(),
                        payment_id: payment.id,
                        requested_by: user_id,
                        reason: Some(reason.clone()),
                        status: RefundStatus::Requested,
                        amount_cents: payment.amount_received_cents.unwrap_or(payment.amount_cents),
                        created_at: at,
                        updated_at: at,
                        decided_by: None,
                        decision_reason: None,
                        decided_at: None,
                    },
                )
                .await?)
            })
            .await
    }

    /// E5, E8: staff refund a SUCCEEDED payment through the provider, whole; a user's open request for it is
    /// granted with it. The refund is recorded PENDING first and asked of the provider with the refund's own
    /// idempotency key, so pressing again after a timeout asks again without refunding twice. The payment
    /// becomes REFUNDED when the provider's webhook confirms it (at once with the mock).
    ///
    /// NOT_FOUND for an unknown payment; ALREADY_REFUNDED; PAYMENT_NOT_REFUNDABLE unless it succeeded;
    /// SERVICE_UNAVAILABLE when the provider does not answer (try again); PROVIDER_REFUSED when it refuses.
    pub async fn refund_payment(&self, staff_id: i64, payment_uuid: &str, reason: &str) -> AppResult<PaymentView> {
        let reason = refund_reason("reason", reason)?;
        let (payment, refund, request) = self
            .db
            .transaction(async |conn| {
                let payment = repo::payment_locked(conn, repo::PaymentKey::Ours(payment_uuid))
                    .await?
                    .ok_or_else(|| AppError::not_found("no payment has this id"))?;
                refundable(&payment)?;
                let at = now();
                let decision = repo::RefundChanges {
                    status: Some(RefundStatus::Pending),
                    updated_at: Some(at),
                    decided_by: Some(staff_id),
                    decision_reason: Some(reason.clone()),
                    decided_at: Some(at),
                    ..repo::RefundChanges::default()
                };
                let refund = match repo::open_refund_of(conn, payment.id).await? {
                    Some(open) if open.status == RefundStatus::Succeeded => {
                        return Err(refund_in_progress(&open));
                    }
                    // Asked of the provider already (it did not answer): the same refund is asked again, with
                    // the first decision and its stored request.
                    Some(open) if open.status == RefundStatus::Pending => open,
                    Some(open) => repo::update_refund(conn, open.id, &decision).await?,
                    None => {
                        let decided = decided_refund(&payment, staff_id, Some(staff_id), &reason, at);
                        repo::insert_refund(conn, &decided).await?
                    }
                };
                let why = refund.decision_reason.clone().unwrap_or_else(|| reason.clone());
                let request = stored_refund_request(conn, &payment, &refund, &why, at).await?;
                Ok((payment, refund, request))
            })
            .await?;
        self.ask_refund(&refund, &request).await?;
        self.view_of(payment.id).await
    }

    /// Asks the provider for `refund` with its stored `request`, and records the answer: the provider's id,
    /// or FAILED when it refuses (staff may start another). No answer leaves it PENDING: asking again sends the
    /// same request.
    async fn ask_refund(&self, refund: &RefundRow, request: &RefundRequest) -> Result<(), GatewayError> {
        let asked = self.gateway.refund(request).await;
        let at = now();
        let changes = match &asked {
            Ok(started) => repo::RefundChanges {
                external_refund_id: Some(started.refund_id.clone()),
                updated_at: Some(at),
                ..repo::RefundChanges::default()
            },
            Err(GatewayError::Refused(_)) => repo::RefundChanges {
                status: Some(RefundStatus::Failed),
                updated_at: Some(at),
                ..repo::RefundChanges::default()
            },
            Err(GatewayError::Unavailable(_)) => return asked.map(|_| ()),
        };
        let recorded = self
            .db
            .transaction(async |conn| {
                // The mock's confirmation may have marked it SUCCEEDED already: only the provider's id is
                // added then.
                let current = repo::refund_by_uuid(conn, &refund.uuid).await?;
                let changes = match current {
                    Some(current) if current.status == RefundStatus::Succeeded => repo::RefundChanges {
                        status: None,
                        ..changes.clone()
                    },
                    _ => changes.clone(),
                };
                Ok(repo::update_refund(conn, refund.id, &changes).await?)
            })
            .await;
        if let Err(error) = recorded {
            return Err(GatewayError::Unavailable(error.public_message()));
        }
        asked.map(|_| ())
    }

    /// Issue 22: returns money that arrived for an order that no longer waited for it (canceled, or paid by
    /// another checkout), whole, through the provider: a refund decided by nobody, asked with its stored
    /// request until the provider answers (the job retries). A refusal leaves the payment flagged for staff.
    pub async fn refund_unwanted(&self, payment_id: i64) -> AppResult<()> {
        const WHY: &str = "returned automatically: the order no longer waited for this money";
        let prepared = self
            .db
            .transaction(async |conn| {
                let Some(payment) = repo::payment_locked(conn, repo::PaymentKey::Row(payment_id)).await? else {
                    return Ok(None);
                };
                if payment.status != PaymentStatus::Succeeded || payment.payment_intent_id.is_none() {
                    return Ok(None);
                }
                let at = now();
                let refund = match repo::open_refund_of(conn, payment.id).await? {
                    Some(open) if open.status == RefundStatus::Succeeded => return Ok(None),
                    // The provider has it (its answer was recorded): its webhook settles it.
                    Some(open) if open.status == RefundStatus::Pending && open.external_refund_id.is_some() => {
                        return Ok(None);
                    }
                    Some(open) if open.status == RefundStatus::Pending => open,
                    Some(open) => {
                        let decision = repo::RefundChanges {
                            status: Some(RefundStatus::Pending),
                            updated_at: Some(at),
                            decision_reason: Some(WHY.into()),
                            decided_at: Some(at),
                            ..repo::RefundChanges::default()
                        };
                        repo::update_refund(conn, open.id, &decision).await?
                    }
                    None => {
                        let decided = decided_refund(&payment, payment.user_id, None, WHY, at);
                        repo::insert_refund(conn, &decided).await?
                    }
                };
                let request = stored_refund_request(conn, &payment, &refund, WHY, at).await?;
                Ok(Some((refund, request)))
            })
            .await?;
        let Some((refund, request)) = prepared else {
            return Ok(());
        };
        match self.ask_refund(&refund, &request).await {
            Err(GatewayError::Refused(reason)) => {
                tracing::error!(payment = payment_id, %reason, "the provider refused an automatic refund");
                let at = now();
                let flag = PaymentChanges {
                    needs_review: Some(true),
                    failure_reason: Some(format!("the automatic refund was refused: {reason}")),
                    updated_at: Some(at),
                    ..PaymentChanges::default()
                };
                self.db
                    .transaction(async |conn| Ok(repo::update_payment(conn, payment_id, &flag).await?))
                    .await?;
                Ok(())
            }
            other => Ok(other?),
        }
    }

    /// Issue 22: staff accept a payment that arrived short (flagged for review, its order still PENDING): the
    /// order is fulfilled with what arrived, and the receipt sent. PAYMENT_NOT_UNDER_REVIEW otherwise.
    pub async fn accept_payment(&self, payment_uuid: &str) -> AppResult<PaymentView> {
        let frontend_url = self.options.frontend_url.clone();
        let payment_id = self
            .db
            .transaction(async |conn| {
                let payment = repo::payment_locked(conn, repo::PaymentKey::Ours(payment_uuid))
                    .await?
                    .ok_or_else(|| AppError::not_found("no payment has this id"))?;
                let waiting = payment.status == PaymentStatus::Succeeded
                    && payment.needs_review
                    && shop::service::order_awaits_payment(conn, payment.order_id).await?;
                if !waiting {
                    return Err(AppError::rejected(
                        StatusCode::CONFLICT,
                        "PAYMENT_NOT_UNDER_REVIEW",
                        "only a confirmed payment whose order still waits for it can be accepted",
                    ));
                }
                shop::service::fulfil_order(conn, payment.order_id).await?;
                shop::service::set_payment_hint(conn, payment.order_id, None).await?;
                let at = now();
                let accepted = repo::update_payment(
                    conn,
                    payment.id,
                    &PaymentChanges {
                        needs_review: Some(false),
                        failure_reason: Some("accepted by staff".into()),
                        updated_at: Some(at),
                        ..PaymentChanges::default()
                    },
                )
                .await?;
                crate::payments::webhook::send_receipt(conn, &accepted, &frontend_url).await?;
                Ok(payment.id)
            })
            .await?;
        self.view_of(payment_id).await
    }

    /// E5: staff turn a user's refund request down, saying why.
    pub async fn decline_refund(&self, staff_id: i64, refund_uuid: &str, reason: &str) -> AppResult<RefundRow> {
        let reason = refund_reason("reason", reason)?;
        self.db
            .transaction(async |conn| {
                let refund = repo::refund_by_uuid(conn, refund_uuid)
                    .await?
                    .ok_or_else(|| AppError::not_found("no refund has this id"))?;
                if refund.status != RefundStatus::Requested {
                    return Err(AppError::rejected(
                        StatusCode::CONFLICT,
                        "REFUND_DECIDED",
                        format!(
                            "this refund is {} and no longer waits for a decision",
                            refund.status.as_str().to_lowercase()
                        ),
                    ));
                }
                let at = now();
                Ok(repo::update_refund(
                    conn,
                    refund.id,
                    &repo::RefundChanges {
                        status: Some(RefundStatus::Rejected),
                        updated_at: Some(at),
                        decided_by: Some(staff_id),
                        decision_reason: Some(reason.clone()),
                        decided_at: Some(at),
                        ..repo::RefundChanges::default()
                    },
                )
                .await?)
            })
            .await
    }

    /// E6: a page of payments matching `filter`, newest first, with each one's latest refund.
    pub async fn payments(
        &self,
        filter: &PaymentFilter,
        after: Option<TimeCursor>,
        limit: i64,
    ) -> AppResult<Vec<(PaymentView, Option<RefundRow>)>> {
        let mut conn = self.db.conn().await?;
        let views = repo::list_payments(&mut conn, filter, after, limit).await?;
        let ids: Vec<i64> = views.iter().map(|view| view.row.id).collect();
        let mut refunds: HashMap<i64, RefundRow> = repo::latest_refunds(&mut conn, &ids)
            .await?
            .into_iter()
            .map(|refund| (refund.payment_id, refund))
            .collect();
        Ok(views
            .into_iter()
            .map(|view| {
                let refund = refunds.remove(&view.row.id);
                (view, refund)
            })
            .collect())
    }

    pub async fn count_payments(&self, filter: &PaymentFilter) -> AppResult<i64> {
        let mut conn = self.db.conn().await?;
        Ok(repo::count_payments(&mut conn, filter).await?)
    }

    /// The latest refund of one payment.
    pub async fn refund_of(&self, payment_id: i64) -> AppResult<Option<RefundRow>> {
        let mut conn = self.db.conn().await?;
        Ok(repo::latest_refunds(&mut conn, &[payment_id]).await?.pop())
    }

    /// D4 (issue 22): the viewer cancels one of their PENDING orders, and its open checkout is expired at the
    /// provider before the answer, so that it can no longer take money (where the provider answers in time;
    /// otherwise a job keeps asking, and money that still lands is returned by itself).
    pub async fn cancel_order(&self, shop: &shop::Shop, user_id: i64, order_uuid: &str) -> AppResult<OrderView> {
        let view = shop.cancel_order(user_id, order_uuid).await?;
        if let Some(session_id) = self.close_open_payment(view.row.id, Expiry::Now).await?
            && let Err(error) = self.expire_checkout(&session_id).await
        {
            tracing::warn!(session = %session_id, ?error, "the checkout could not be expired now; a job will");
            self.db
                .transaction(async |conn| Ok(jobs::enqueue(conn, &ExpireCheckout { session_id }).await?))
                .await?;
        }
        Ok(view)
    }

    /// After an order was canceled: its open payment closes CANCELED (it can no longer take money here), and
    /// the provider's checkout is expired by a job of its own that retries until the provider answers.
    pub async fn close_checkouts_of(&self, order_id: i64) -> AppResult<()> {
        self.close_open_payment(order_id, Expiry::Later).await.map(|_| ())
    }

    /// Closes the order's open payment CANCELED; its checkout's session is expired by a job (`Expiry::Later`)
    /// or returned for the caller to expire now. Money the canceled order holds already (it arrived short and
    /// waited for staff) is returned by itself.
    async fn close_open_payment(&self, order_id: i64, expiry: Expiry) -> AppResult<Option<String>> {
        self.db
            .transaction(async |conn| {
                if let Some(held) = repo::succeeded_payment_of(conn, order_id).await? {
                    jobs::enqueue(conn, &RefundUnwanted { payment_id: held.id }).await?;
                }
                let Some(open) = repo::open_payment_of(conn, order_id).await? else {
                    return Ok(None);
                };
                let Some(open) = repo::payment_locked(conn, repo::PaymentKey::Row(open.id)).await? else {
                    return Ok(None);
                };
                if open.status != PaymentStatus::Pending {
                    return Ok(None);
                }
                let at = now();
                repo::update_payment(
                    conn,
                    open.id,
                    &PaymentChanges {
                        status: Some(PaymentStatus::Canceled),
                        failure_reason: Some("the order was canceled".into()),
                        updated_at: Some(at),
                        ..PaymentChanges::default()
                    },
                )
                .await?;
                match (open.checkout_session_id, expiry) {
                    (Some(session_id), Expiry::Later) => {
                        jobs::enqueue(conn, &ExpireCheckout { session_id }).await?;
                        Ok(None)
                    }
                    (session_id, _) => Ok(session_id),
                }
            })
            .await
    }

    /// Expires a checkout at the provider. Ok when the provider refuses (it completed or expired already: a
    /// completion's money then lands flagged for refund).
    pub async fn expire_checkout(&self, session_id: &str) -> Result<(), GatewayError> {
        match self.gateway.expire_checkout(session_id).await {
            Err(GatewayError::Refused(reason)) => {
                tracing::info!(session = session_id, %reason, "the provider would not expire a checkout");
                Ok(())
            }
            other => other,
        }
    }

    /// E2: verifies and applies one webhook delivery. INVALID_SIGNATURE (400) for an unsigned, badly signed or
    /// stale request and BAD_USER_INPUT (400) for a body that is no Stripe event; both change nothing.
    pub async fn receive(&self, signature_header: Option<&str>, body: &[u8]) -> AppResult<Applied> {
        let now = chrono::Utc::now().timestamp();
        if let Err(refusal) = signature::verify(&self.options.webhook_secret, signature_header, body, now) {
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
        let frontend_url = self.options.frontend_url.clone();
        let applied = self
            .db
            .transaction(async |conn| webhook::apply(conn, &event, &frontend_url).await)
            .await?;
        tracing::info!(event = %event.id, kind = %event.type_name, ?applied, "Stripe event");
        Ok(applied)
    }
}

/// Why a payment cannot be refunded now.
/// A refund of the whole amount that arrived, decided now: PENDING, about to be asked of the provider.
fn decided_refund(
    payment: &PaymentRow,
    requested_by: i64,
    decided_by: Option<i64>,
    why: &str,
    at: chrono::NaiveDateTime,
) -> NewRefund {
    NewRefund {
        uuid: uuid::Uuid::new_v4().to_string(),
        payment_id: payment.id,
        requested_by,
        reason: None,
        status: RefundStatus::Pending,
        amount_cents: payment.amount_received_cents.unwrap_or(payment.amount_cents),
        created_at: at,
        updated_at: at,
        decided_by,
        decision_reason: Some(why.to_string()),
        decided_at: Some(at),
    }
}

/// The provider request for `refund`, stored under its key when first made: every later ask sends the stored
/// one, whatever reason it is given now.
async fn stored_refund_request(
    conn: &mut crate::db::DbConn,
    payment: &PaymentRow,
    refund: &RefundRow,
    why: &str,
    at: chrono::NaiveDateTime,
) -> AppResult<RefundRequest> {
    let key = format!("refund-{}", refund.uuid);
    let built = RefundRequest {
        payment_uuid: payment.uuid.clone(),
        idempotency_key: key.clone(),
        payment_intent_id: payment.payment_intent_id.clone().unwrap_or_default(),
        amount_cents: refund.amount_cents,
        currency: payment.currency.clone(),
        reason: why.to_string(),
    };
    Ok(repo::remember_request(conn, ProviderOperation::Refund, &key, built, at).await?)
}

fn refundable(payment: &PaymentRow) -> AppResult<()> {
    match payment.status {
        PaymentStatus::Succeeded if payment.payment_intent_id.is_some() => Ok(()),
        PaymentStatus::Refunded => Err(AppError::rejected(
            StatusCode::CONFLICT,
            "ALREADY_REFUNDED",
            "this payment is refunded already",
        )),
        _ => Err(AppError::rejected(
            StatusCode::CONFLICT,
            "PAYMENT_NOT_REFUNDABLE",
            format!(
                "this payment is {}: only a confirmed payment can be refunded",
                payment.status.as_str().to_lowercase()
            ),
        )),
    }
}

fn refund_in_progress(open: &RefundRow) -> AppError {
    AppError::rejected(
        StatusCode::CONFLICT,
        "REFUND_REQUESTED",
        format!(
            "a refund of this payment is {} already",
            open.status.as_str().to_lowercase()
        ),
    )
}

/// Expires one checkout at the provider; queued by `close_checkouts_of`, retried with backoff until the
/// provider answers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExpireCheckout {
    pub session_id: String,
}

impl JobKind for ExpireCheckout {
    const KIND: &'static str = "payments.expire_checkout";
}

impl JobHandler<ExpireCheckout> for Payments {
    async fn run(&self, job: ExpireCheckout) -> anyhow::Result<()> {
        self.expire_checkout(&job.session_id)
            .await
            .map_err(|error| anyhow::anyhow!("{error:?}"))
    }
}

impl JobHandler<RefundUnwanted> for Payments {
    async fn run(&self, job: RefundUnwanted) -> anyhow::Result<()> {
        self.refund_unwanted(job.payment_id)
            .await
            .map_err(|error| anyhow::anyhow!("{}: {}", error.code(), error.public_message()))
    }
}

impl JobHandler<shop::models::OrderCanceled> for Payments {
    async fn run(&self, job: shop::models::OrderCanceled) -> anyhow::Result<()> {
        self.close_checkouts_of(job.order_id)
            .await
            .map_err(|error| anyhow::anyhow!("{error:?}"))
    }
}
