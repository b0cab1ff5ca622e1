//! The shop's part of the GraphQL schema (C1–C4, D1–D5): the cart, placing and canceling orders, the user's
//! orders and the staff views. Thin: parse, call `Shop`, shape the answer.

use crate::graphql::budgets::{Budget, spends};
use std::collections::HashMap;

use async_graphql::{Context, ID, InputObject, Object, Result, Subscription};
use chrono::{DateTime, Utc};

use crate::accounts::Accounts;
use crate::catalog::graphql::{Movie, prefetch_movies};
use crate::catalog::models::MovieRow;
use crate::catalog::moderation::CATALOG_CURRENCY;
use crate::db::Role;
use crate::error::AppError;
use crate::graphql::guards::{RoleGuard, authenticated, requires_role, viewer};
use crate::graphql::limits::SubscriptionSlots;
use crate::graphql::pagination::{self, Counted, CursorSeal, Page, PageNode, TimeCursor, Total};
use crate::graphql::scalars::Money;
use crate::shop::Shop;
use crate::shop::models::{
    CartLine as CartLineRow, CartView, ORDER_STATUS_CHANNEL, OrderExclusion, OrderFilter, OrderLineRow, OrderStatus,
};
use crate::shop::service::OrderView;

/// A user's cart (C1): its lines, oldest first, at today's prices.
pub struct Cart(CartView);

#[Object]
impl Cart {
    async fn lines(&self) -> Vec<CartLine> {
        self.0.lines.iter().cloned().map(CartLine).collect()
    }

    /// How many lines the cart has.
    async fn count(&self) -> i32 {
        i32::try_from(self.0.lines.len()).unwrap_or(i32::MAX)
    }

    /// What ordering now would cost: today's prices of the lines without a `problem`.
    async fn total(&self) -> Money {
        Money::new(self.0.orderable_total(), CATALOG_CURRENCY)
    }
}

/// The cart for an answer, with the relations its lines' movies show loaded in one batch each, so a cart
/// costs the same number of statements whatever its length.
async fn cart_answer(ctx: &Context<'_>, view: CartView) -> Result<Cart> {
    let movies: Vec<&MovieRow> = view.lines.iter().map(|line| &line.movie).collect();
    prefetch_movies(ctx, &movies, &[ctx.look_ahead().field("lines").field("movie")]).await?;
    Ok(Cart(view))
}

/// Loads, one batch each, the relations the selections `at` (each one where an `Order` is selected) ask for
/// on the orders' movies.
async fn prefetch_order_movies(ctx: &Context<'_>, orders: &[Order], at: &[async_graphql::Lookahead<'_>]) -> Result<()> {
    let movies: Vec<&MovieRow> = orders
        .iter()
        .flat_map(|order| order.lines.iter().map(|(_, movie)| movie))
        .collect();
    let lines: Vec<async_graphql::Lookahead<'_>> = at.iter().map(|order| order.field("lines").field("movie")).collect();
    prefetch_movies(ctx, &movies, &lines).await
}

/// A movie in a cart.
pub struct CartLine(CartLineRow);

#[Object]
impl CartLine {
    /// The movie as it is now (its genres, year, price …).
    async fn movie(&self) -> Movie {
        Movie(self.0.movie.clone())
    }

    /// Its price today.
    async fn price(&self) -> Money {
        Money::new(self.0.movie.price_cents, &self.0.movie.currency)
    }

    async fn added_at(&self) -> DateTime<Utc> {
        self.0.added_at.and_utc()
    }

    /// What would keep this line out of an order (the movie was withdrawn from sale, you own it, or it waits
    /// in another of your orders); null when it can be ordered.
    async fn problem(&self) -> Option<OrderExclusion> {
        self.0.problem
    }

    /// False once the movie was withdrawn from sale (the same as `problem: UNAVAILABLE`).
    async fn available(&self) -> bool {
        self.0.movie.available
    }
}

/// An order (D1–D4).
#[derive(Clone)]
pub struct Order {
    view: OrderView,
    lines: Vec<(OrderLineRow, MovieRow)>,
}

impl PageNode for Order {
    const CONNECTION: &'static str = "OrderConnection";
    const EDGE: &'static str = "OrderEdge";
}

#[Object]
impl Order {
    async fn id(&self) -> ID {
        ID(self.view.row.uuid.clone())
    }

    async fn status(&self) -> OrderStatus {
        self.view.row.status
    }

    /// The public id of the user who placed it.
    async fn user_id(&self) -> ID {
        ID(self.view.user_uuid.clone())
    }

    /// The sum of the lines' prices when the order was placed.
    async fn total(&self) -> Money {
        Money::new(self.view.row.total_cents, &self.view.row.currency)
    }

    /// The total at today's prices when payment started (D2); null until then.
    async fn charged_total(&self) -> Option<Money> {
        self.view
            .row
            .charged_cents
            .map(|cents| Money::new(cents, &self.view.row.currency))
    }

    async fn lines(&self) -> Vec<OrderLine> {
        self.lines.iter().cloned().map(OrderLine).collect()
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.view.row.created_at.and_utc()
    }

    async fn paid_at(&self) -> Option<DateTime<Utc>> {
        self.view.row.paid_at.map(|at| at.and_utc())
    }

    async fn canceled_at(&self) -> Option<DateTime<Utc>> {
        self.view.row.canceled_at.map(|at| at.and_utc())
    }

    async fn refunded_at(&self) -> Option<DateTime<Utc>> {
        self.view.row.refunded_at.map(|at| at.and_utc())
    }

    /// What to try after a declined or expired checkout, or when the payment provider did not answer (E4);
    /// null unless the order still waits for payment and its last attempt did not go through.
    async fn payment_hint(&self) -> Option<&str> {
        match self.view.row.status {
            OrderStatus::Pending => self.view.row.payment_hint.as_deref(),
            _ => None,
        }
    }
}

/// A movie in an order, at its price when ordered.
pub struct OrderLine((OrderLineRow, MovieRow));

#[Object]
impl OrderLine {
    async fn movie(&self) -> Movie {
        Movie(self.0.1.clone())
    }

    /// The price when the order was placed.
    async fn price(&self) -> Money {
        Money::new(self.0.0.price_cents, &self.0.0.currency)
    }

    /// The price when payment started (D2); null until then.
    async fn charged_price(&self) -> Option<Money> {
        self.0
            .0
            .charged_price_cents
            .map(|cents| Money::new(cents, &self.0.0.currency))
    }
}

/// A movie the cart held that the order left out, and why (D1).
pub struct ExcludedMovie {
    movie: MovieRow,
    reason: OrderExclusion,
}

#[Object]
impl ExcludedMovie {
    async fn movie(&self) -> Movie {
        Movie(self.movie.clone())
    }

    async fn reason(&self) -> OrderExclusion {
        self.reason
    }
}

/// What `placeOrder` did: the new order, and the cart lines it left out (they stay in the cart).
pub struct PlacedOrderPayload {
    order: Order,
    excluded: Vec<ExcludedMovie>,
}

#[Object]
impl PlacedOrderPayload {
    async fn order(&self) -> &Order {
        &self.order
    }

    async fn excluded(&self) -> &[ExcludedMovie] {
        &self.excluded
    }
}

/// A user's filter on their orders (D3). `from` is inclusive and `to` exclusive, on when the order was placed.
#[derive(InputObject, Default)]
pub struct OrderFilterInput {
    status: Option<OrderStatus>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
}

/// An admin's filter on all orders (D5): `OrderFilterInput` and the user.
#[derive(InputObject, Default)]
pub struct AllOrdersFilterInput {
    /// Only this user's orders (their public id).
    user_id: Option<ID>,
    status: Option<OrderStatus>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
}

/// What an order page's `totalCount` counts.
pub struct OrderCount(OrderFilter);

impl Counted for OrderCount {
    async fn count(&self, ctx: &Context<'_>) -> Result<Total> {
        Ok(Total::exact(ctx.data::<Shop>()?.order_totals(&self.0).await?.0))
    }
}

/// A page of orders matching `filter`, newest first, with their lines: two statements for a page.
async fn order_page(
    ctx: &Context<'_>,
    filter: OrderFilter,
    first: Option<i32>,
    after: Option<&str>,
) -> Result<Page<Order, OrderCount>> {
    let limit = pagination::page_size(first)?;
    let seal = ctx.data::<CursorSeal>()?;
    let list = "orders";
    let after = TimeCursor::read(seal, list, after)?;
    let shop = ctx.data::<Shop>()?;
    let views = shop.orders(&filter, after, limit + 1).await?;
    let orders = with_lines(shop, views).await?;
    let look = ctx.look_ahead();
    prefetch_order_movies(ctx, &orders, &[look.field("nodes"), look.field("edges").field("node")]).await?;
    Ok(Page::from_keyset_rows(
        orders,
        limit,
        after.is_some(),
        OrderCount(filter),
        |order| TimeCursor::sealed(seal, list, order.view.row.created_at, order.view.row.id),
        |order| order,
    ))
}

/// The orders with their lines, read in one statement.
async fn with_lines(shop: &Shop, views: Vec<OrderView>) -> Result<Vec<Order>> {
    let ids: Vec<i64> = views.iter().map(|view| view.row.id).collect();
    let mut lines: HashMap<i64, Vec<(OrderLineRow, MovieRow)>> = shop.order_lines(&ids).await?;
    Ok(views
        .into_iter()
        .map(|view| Order {
            lines: lines.remove(&view.row.id).unwrap_or_default(),
            view,
        })
        .collect())
}

/// One order for an answer whose selection `at` shows it.
/// One order as the API shows it, with what `at` selects of its lines' movies prefetched.
pub(crate) async fn one_order(ctx: &Context<'_>, view: OrderView, at: async_graphql::Lookahead<'_>) -> Result<Order> {
    let orders = with_lines(ctx.data::<Shop>()?, vec![view]).await?;
    prefetch_order_movies(ctx, &orders, &[at]).await?;
    orders
        .into_iter()
        .next()
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("an order went missing")).into())
}

/// All orders matching an admin's filter (D5): their number and total, and their pages.
pub struct OrderReport {
    filter: OrderFilter,
    /// (count, sum), read once in one statement whichever field asks first.
    totals: tokio::sync::OnceCell<(i64, i64)>,
}

impl OrderReport {
    async fn totals(&self, ctx: &Context<'_>) -> Result<(i64, i64)> {
        let shop = ctx.data::<Shop>()?;
        Ok(*self.totals.get_or_try_init(|| shop.order_totals(&self.filter)).await?)
    }
}

#[Object]
impl OrderReport {
    /// How many orders match.
    async fn count(&self, ctx: &Context<'_>) -> Result<i64> {
        Ok(self.totals(ctx).await?.0)
    }

    /// The sum of the matching orders' totals at ordering.
    async fn total_amount(&self, ctx: &Context<'_>) -> Result<Money> {
        Ok(Money::new(self.totals(ctx).await?.1, CATALOG_CURRENCY))
    }

    /// The matching orders, newest first.
    async fn orders(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size, 0 to 100 (20 when null).")] first: Option<i32>,
        after: Option<String>,
    ) -> Result<Page<Order, OrderCount>> {
        order_page(ctx, self.filter.clone(), first, after.as_deref()).await
    }
}

/// The shop's queries.
#[derive(Default)]
pub struct ShopQuery;

#[Object]
impl ShopQuery {
    /// The viewer's cart (C1, C3).
    #[graphql(guard = "RoleGuard::signed_in()", directive = authenticated::apply())]
    async fn cart(&self, ctx: &Context<'_>) -> Result<Cart> {
        let user_id = viewer(ctx)?.user_id;
        cart_answer(ctx, ctx.data::<Shop>()?.cart(user_id).await?).await
    }

    /// Any user's cart, by their public id (C4).
    #[graphql(
        guard = "RoleGuard::role(Role::Moderator)",
        directive = requires_role::apply(Role::Moderator)
    )]
    async fn user_cart(&self, ctx: &Context<'_>, user_id: ID) -> Result<Cart> {
        let user = ctx
            .data::<Accounts>()?
            .user_by_uuid(&user_id)
            .await?
            .ok_or_else(|| AppError::not_found("no user has this id"))?;
        cart_answer(ctx, ctx.data::<Shop>()?.cart(user.id).await?).await
    }

    /// The viewer's orders, newest first (D3).
    #[graphql(guard = "RoleGuard::signed_in()", directive = authenticated::apply())]
    async fn orders(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size, 0 to 100 (20 when null).")] first: Option<i32>,
        after: Option<String>,
        filter: Option<OrderFilterInput>,
    ) -> Result<Page<Order, OrderCount>> {
        let user_id = viewer(ctx)?.user_id;
        let input = filter.unwrap_or_default();
        let (from, to) = pagination::time_window(input.from, input.to)?;
        let filter = OrderFilter {
            user_id: Some(user_id),
            status: input.status,
            from,
            to,
        };
        order_page(ctx, filter, first, after.as_deref()).await
    }

    /// One of the viewer's orders (D3). Someone else's order is NOT_FOUND, as if it did not exist.
    #[graphql(guard = "RoleGuard::signed_in()", directive = authenticated::apply())]
    async fn order(&self, ctx: &Context<'_>, id: ID) -> Result<Order> {
        let user_id = viewer(ctx)?.user_id;
        let shop = ctx.data::<Shop>()?;
        let view = shop.own_order(user_id, &id).await?;
        one_order(ctx, view, ctx.look_ahead()).await
    }

    /// All orders, filtered by user, time and status, with their number and total (D5).
    #[graphql(
        guard = "RoleGuard::role(Role::Admin)",
        directive = requires_role::apply(Role::Admin)
    )]
    async fn all_orders(&self, ctx: &Context<'_>, filter: Option<AllOrdersFilterInput>) -> Result<OrderReport> {
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
        Ok(OrderReport {
            filter: OrderFilter {
                user_id,
                status: input.status,
                from,
                to,
            },
            totals: tokio::sync::OnceCell::new(),
        })
    }
}

/// The shop's mutations, for signed-in users.
#[derive(Default)]
pub struct ShopMutation;

#[Object]
impl ShopMutation {
    /// Adds a movie to the viewer's cart (C1, C2). CONFLICT with `reason` ALREADY_IN_CART, ALREADY_PURCHASED or
    /// UNAVAILABLE; NOT_FOUND naming an unknown id; CART_FULL past 100 movies.
    #[graphql(guard = "RoleGuard::signed_in().spending(Budget::Writes)", directive = authenticated::apply(),
        directive = spends::apply(Budget::Writes))]
    async fn add_to_cart(&self, ctx: &Context<'_>, movie_id: ID) -> Result<Cart> {
        let user_id = viewer(ctx)?.user_id;
        cart_answer(ctx, ctx.data::<Shop>()?.add_to_cart(user_id, &movie_id).await?).await
    }

    /// Takes a movie out of the viewer's cart (C1); NOT_FOUND when it is not there.
    #[graphql(guard = "RoleGuard::signed_in().spending(Budget::Writes)", directive = authenticated::apply(),
        directive = spends::apply(Budget::Writes))]
    async fn remove_from_cart(&self, ctx: &Context<'_>, movie_id: ID) -> Result<Cart> {
        let user_id = viewer(ctx)?.user_id;
        cart_answer(ctx, ctx.data::<Shop>()?.remove_from_cart(user_id, &movie_id).await?).await
    }

    /// Empties the viewer's cart (C1).
    #[graphql(guard = "RoleGuard::signed_in().spending(Budget::Writes)", directive = authenticated::apply(),
        directive = spends::apply(Budget::Writes))]
    async fn clear_cart(&self, ctx: &Context<'_>) -> Result<Cart> {
        let user_id = viewer(ctx)?.user_id;
        cart_answer(ctx, ctx.data::<Shop>()?.clear_cart(user_id).await?).await
    }

    /// Places a PENDING order from the viewer's cart at today's prices (D1). Lines that cannot be ordered stay
    /// in the cart and are listed in `excluded` with their reason. CART_EMPTY, NOTHING_TO_ORDER or
    /// TOO_MANY_PENDING_ORDERS (the user has MAX_PENDING_ORDERS waiting for payment) change nothing.
    #[graphql(guard = "RoleGuard::signed_in().spending(Budget::Orders)", directive = authenticated::apply(),
        directive = spends::apply(Budget::Orders))]
    async fn place_order(&self, ctx: &Context<'_>) -> Result<PlacedOrderPayload> {
        let reader = viewer(ctx)?;
        let shop = ctx.data::<Shop>()?;
        let placed = shop.place_order(reader.user_id).await?;
        let look = ctx.look_ahead();
        let order = with_lines(
            shop,
            vec![OrderView {
                row: placed.order,
                user_uuid: reader.user_uuid.clone(),
            }],
        )
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("an order went missing")))?;
        // The order's and the left-out movies in one batch per relation.
        let movies: Vec<&MovieRow> = order
            .lines
            .iter()
            .map(|(_, movie)| movie)
            .chain(placed.excluded.iter().map(|(movie, _)| movie))
            .collect();
        let at = [
            look.field("order").field("lines").field("movie"),
            look.field("excluded").field("movie"),
        ];
        prefetch_movies(ctx, &movies, &at).await?;
        Ok(PlacedOrderPayload {
            order,
            excluded: placed
                .excluded
                .into_iter()
                .map(|(movie, reason)| ExcludedMovie { movie, reason })
                .collect(),
        })
    }
}

/// The shop's subscriptions (over WebSocket, `/graphql/ws`).
#[derive(Default)]
pub struct ShopSubscription;

/// What an `orderStatusChanged` stream keeps between items.
struct Watch {
    shop: Shop,
    user_id: i64,
    order_uuid: String,
    first: Option<Order>,
    notices: tokio::sync::broadcast::Receiver<crate::db::notify::Notice>,
    _slot: tokio::sync::OwnedSemaphorePermit,
}

#[Subscription]
impl ShopSubscription {
    /// One of the viewer's orders as it is now, then again each time its status changes (PAID when the
    /// payment lands, CANCELED, REFUNDED): what the app shows after the payer comes back from checkout. On
    /// several instances the change reaches every one of them (PostgreSQL LISTEN/NOTIFY). Someone else's order
    /// is NOT_FOUND; a socket holds at most 10 subscriptions (TOO_MANY_SUBSCRIPTIONS).
    #[graphql(guard = "RoleGuard::signed_in()", directive = authenticated::apply())]
    async fn order_status_changed(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
    ) -> Result<impl futures_util::Stream<Item = Result<Order>> + use<>> {
        let user_id = viewer(ctx)?.user_id;
        let slot = ctx.data::<SubscriptionSlots>()?.take()?;
        let shop = ctx.data::<Shop>()?.clone();
        // Listening starts before the first read, so a change between the two is not missed.
        let notices = shop.notices();
        let view = shop.own_order(user_id, &order_id).await?;
        let first = with_lines(&shop, vec![view]).await?.pop();
        let watch = Watch {
            shop,
            user_id,
            order_uuid: order_id.to_string(),
            first,
            notices,
            _slot: slot,
        };
        Ok(futures_util::stream::unfold(watch, |mut watch| async move {
            if let Some(order) = watch.first.take() {
                return Some((Ok(order), watch));
            }
            loop {
                match watch.notices.recv().await {
                    Ok(notice) if notice.channel == ORDER_STATUS_CHANNEL && notice.payload == watch.order_uuid => {
                        break;
                    }
                    Ok(_) => {}
                    // Fell behind: its own notice may be among those missed, so read again.
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => break,
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
                }
            }
            let order = match watch.shop.own_order(watch.user_id, &watch.order_uuid).await {
                Ok(view) => with_lines(&watch.shop, vec![view]).await.and_then(|mut orders| {
                    orders
                        .pop()
                        .ok_or_else(|| AppError::not_found("the order is gone").into())
                }),
                Err(error) => Err(error.into()),
            };
            Some((order, watch))
        }))
    }
}
