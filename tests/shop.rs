//! C1–C4, D1–D5 and F3: the cart, orders placed from it with every left-out line explained, prices kept at
//! ordering and re-priced before payment, cancellation, the staff views, abandoned orders — and the rules
//! holding under concurrent requests (on PostgreSQL they really overlap; on SQLite they queue for the write
//! lock). On both databases.

use crate::common::{PASSWORD, TestApp, ok, refused};
use cinema::db::{Backend, Role};
use serde_json::{Value, json};

backend_tests!(
    the_cart_needs_a_signed_in_user_and_staff_read_any_cart,
    the_cart_adds_removes_and_clears_with_every_refusal,
    placing_an_order_leaves_out_what_cannot_be_ordered,
    prices_are_kept_at_ordering_and_repriced_before_payment,
    orders_are_listed_filtered_and_private,
    only_pending_orders_can_be_canceled,
    admins_see_all_orders_with_their_total,
    abandoned_orders_are_canceled_by_the_periodic_job,
    the_cart_and_placing_an_order_cost_a_fixed_number_of_statements,
    racing_orders_create_one_order,
    a_removal_racing_an_order_never_becomes_an_order_line,
    an_addition_racing_a_purchase_never_leaves_an_owned_movie_in_the_cart,
    a_cart_is_bounded,
);

struct Shop {
    app: TestApp,
    admin: String,
    moderator: String,
    ann: String,
    bob: String,
    /// The first demo movies by IMDb score, best first.
    movies: Vec<String>,
}

async fn shop(backend: Backend) -> Shop {
    shop_with(backend, &[]).await
}

async fn shop_with(backend: Backend, vars: &[(&str, &str)]) -> Shop {
    let mut all = vec![("SEED_DEMO", "on")];
    all.extend_from_slice(vars);
    let app = TestApp::start_with(backend, &all).await;
    let worker_off = vars.contains(&("RUN_WORKER", "off"));
    for email in [
        "admin@example.com",
        "mod@example.com",
        "ann@example.com",
        "bob@example.com",
    ] {
        if worker_off {
            app.signed_in_user_without_worker(email).await;
        } else {
            app.signed_in_user(email).await;
        }
    }
    app.set_role("admin@example.com", Role::Admin).await;
    app.set_role("mod@example.com", Role::Moderator).await;
    let token = |t: Value| t["accessToken"].as_str().unwrap().to_string();
    let data = app
        .query_ok(
            "{ movies(first: 12, sort: {field: IMDB, direction: DESC}) { nodes { id } } }",
            json!({}),
        )
        .await;
    Shop {
        admin: token(app.login("admin@example.com", PASSWORD).await),
        moderator: token(app.login("mod@example.com", PASSWORD).await),
        ann: token(app.login("ann@example.com", PASSWORD).await),
        bob: token(app.login("bob@example.com", PASSWORD).await),
        movies: data["movies"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap().to_string())
            .collect(),
        app,
    }
}

const CART: &str = "count total { amount currency } lines { movie { id name year genres { name } inCart } price { amount } addedAt problem available }";
const ORDER: &str = "id status userId total { amount } chargedTotal { amount } createdAt paidAt canceledAt lines { movie { id } price { amount } chargedPrice { amount } }";

async fn add(app: &TestApp, token: &str, movie: &str) -> Value {
    ok(
        app,
        token,
        &format!("mutation($m: ID!) {{ addToCart(movieId: $m) {{ {CART} }} }}"),
        json!({ "m": movie }),
    )
    .await["addToCart"]
        .clone()
}

async fn place(app: &TestApp, token: &str) -> Value {
    ok(
        app,
        token,
        &format!("mutation {{ placeOrder {{ order {{ {ORDER} }} excluded {{ movie {{ id }} reason }} }} }}"),
        json!({}),
    )
    .await["placeOrder"]
        .clone()
}

async fn cart(app: &TestApp, token: &str) -> Value {
    ok(app, token, &format!("{{ cart {{ {CART} }} }}"), json!({})).await["cart"].clone()
}

async fn price_of(app: &TestApp, movie: &str) -> i64 {
    app.query_ok(
        "query($m: ID!) { movie(id: $m) { price { amount } } }",
        json!({ "m": movie }),
    )
    .await["movie"]["price"]["amount"]
        .as_i64()
        .unwrap()
}

/// A moderator's change to a movie (price in cents, or whether it is on sale).
async fn update_movie(s: &Shop, movie: &str, input: Value) {
    ok(
        &s.app,
        &s.moderator,
        "mutation($m: ID!, $i: MovieUpdateInput!) { updateMovie(id: $m, input: $i) { id } }",
        json!({ "m": movie, "i": input }),
    )
    .await;
}

fn ids(lines: &Value, path: &str) -> Vec<String> {
    lines
        .as_array()
        .unwrap()
        .iter()
        .map(|line| line.pointer(path).unwrap().as_str().unwrap().to_string())
        .collect()
}

/// The order's internal id, for the payment step's functions (the payments domain calls them in its own
/// transaction once Stripe confirms).
async fn internal_order_id(app: &TestApp, uuid: &str) -> i64 {
    let mut conn = app.conn().await;
    cinema::shop::repo::order_by_uuid(&mut conn, uuid)
        .await
        .unwrap()
        .unwrap()
        .0
        .id
}

/// What a confirmed payment does to the order (E3, the shop's part).
async fn fulfil(app: &TestApp, uuid: &str) -> Result<(), cinema::error::AppError> {
    let order_id = internal_order_id(app, uuid).await;
    app.db()
        .transaction(async |conn| cinema::shop::service::fulfil_order(conn, order_id).await)
        .await
        .map(|_| ())
}

async fn the_cart_needs_a_signed_in_user_and_staff_read_any_cart(backend: Backend) {
    let s = shop(backend).await;
    let m = json!({ "m": s.movies[0] });
    // C3: anonymous callers get UNAUTHENTICATED on every cart and order field.
    for (query, variables) in [
        ("{ cart { count } }", json!({})),
        ("mutation($m: ID!) { addToCart(movieId: $m) { count } }", m.clone()),
        ("mutation($m: ID!) { removeFromCart(movieId: $m) { count } }", m.clone()),
        ("mutation { clearCart { count } }", json!({})),
        ("mutation { placeOrder { order { id } } }", json!({})),
        ("{ orders { totalCount } }", json!({})),
        ("query($m: ID!) { order(id: $m) { id } }", m.clone()),
        ("mutation($m: ID!) { cancelOrder(id: $m) { id } }", m.clone()),
        ("query($m: ID!) { userCart(userId: $m) { count } }", m.clone()),
        ("{ allOrders { count } }", json!({})),
    ] {
        let error = refused(&s.app, None, query, variables).await;
        assert_eq!(error["extensions"]["code"], "UNAUTHENTICATED", "{query}: {error}");
    }
    // C4: moderators and admins read any user's cart; users do not.
    add(&s.app, &s.ann, &s.movies[0]).await;
    let ann_id = ok(&s.app, &s.ann, "{ me { id } }", json!({})).await["me"]["id"].clone();
    let query = format!("query($u: ID!) {{ userCart(userId: $u) {{ {CART} }} }}");
    let error = refused(&s.app, Some(&s.bob), &query, json!({ "u": ann_id })).await;
    assert_eq!(error["extensions"]["code"], "FORBIDDEN");
    for staff in [&s.moderator, &s.admin] {
        let data = ok(&s.app, staff, &query, json!({ "u": ann_id })).await;
        assert_eq!(data["userCart"]["count"], 1);
        assert_eq!(data["userCart"]["lines"][0]["movie"]["id"], s.movies[0].as_str());
    }
    let error = refused(&s.app, Some(&s.admin), &query, json!({ "u": "no-such-user" })).await;
    assert_eq!(error["extensions"]["code"], "NOT_FOUND");
    // D5: all orders are for admins only.
    for token in [&s.bob, &s.moderator] {
        let error = refused(&s.app, Some(token), "{ allOrders { count } }", json!({})).await;
        assert_eq!(error["extensions"]["code"], "FORBIDDEN");
    }
    assert_eq!(
        ok(&s.app, &s.admin, "{ allOrders { count } }", json!({})).await["allOrders"]["count"],
        0
    );
}

async fn the_cart_adds_removes_and_clears_with_every_refusal(backend: Backend) {
    let s = shop(backend).await;
    let (a, b, c) = (&s.movies[0], &s.movies[1], &s.movies[2]);
    let empty = cart(&s.app, &s.ann).await;
    assert_eq!(
        (empty["count"].clone(), empty["total"]["amount"].clone()),
        (json!(0), json!(0))
    );

    add(&s.app, &s.ann, a).await;
    add(&s.app, &s.ann, b).await;
    let after = add(&s.app, &s.ann, c).await;
    assert_eq!(after["count"], 3);
    assert_eq!(
        ids(&after["lines"], "/movie/id"),
        [a.as_str(), b.as_str(), c.as_str()],
        "oldest line first"
    );
    let expected = price_of(&s.app, a).await + price_of(&s.app, b).await + price_of(&s.app, c).await;
    assert_eq!(after["total"], json!({ "amount": expected, "currency": "USD" }));
    let line = &after["lines"][0];
    assert!(
        line["movie"]["name"].is_string() && line["movie"]["year"].is_i64(),
        "{line}"
    );
    assert!(!line["movie"]["genres"].as_array().unwrap().is_empty(), "{line}");
    assert_eq!(
        (line["problem"].clone(), line["available"].clone()),
        (Value::Null, json!(true))
    );
    assert_eq!(line["movie"]["inCart"], true);
    assert_eq!(cart(&s.app, &s.bob).await["count"], 0, "carts are per user");

    // C2: once per cart; unknown ids are named.
    let again = refused(
        &s.app,
        Some(&s.ann),
        "mutation($m: ID!) { addToCart(movieId: $m) { count } }",
        json!({ "m": a }),
    )
    .await;
    assert_eq!(
        (
            again["extensions"]["code"].clone(),
            again["extensions"]["reason"].clone()
        ),
        (json!("CONFLICT"), json!("ALREADY_IN_CART"))
    );
    for mutation in [
        "mutation($m: ID!) { addToCart(movieId: $m) { count } }",
        "mutation($m: ID!) { removeFromCart(movieId: $m) { count } }",
    ] {
        let unknown = refused(&s.app, Some(&s.ann), mutation, json!({ "m": "no-such-movie" })).await;
        assert_eq!(unknown["extensions"]["code"], "NOT_FOUND");
        assert!(
            unknown["message"].as_str().unwrap().contains("no-such-movie"),
            "{unknown}"
        );
    }
    let absent = refused(
        &s.app,
        Some(&s.ann),
        "mutation($m: ID!) { removeFromCart(movieId: $m) { count } }",
        json!({ "m": s.movies[5] }),
    )
    .await;
    assert_eq!(absent["extensions"]["code"], "NOT_FOUND");

    // A withdrawn movie cannot be added, and a line holding it is flagged.
    update_movie(&s, c, json!({ "available": false })).await;
    let flagged = cart(&s.app, &s.ann).await;
    assert_eq!(flagged["lines"][2]["problem"], "UNAVAILABLE");
    assert_eq!(flagged["lines"][2]["available"], false);
    assert_eq!(
        flagged["total"]["amount"],
        expected - price_of(&s.app, c).await,
        "the total counts what can be ordered"
    );
    let withdrawn = refused(
        &s.app,
        Some(&s.bob),
        "mutation($m: ID!) { addToCart(movieId: $m) { count } }",
        json!({ "m": c }),
    )
    .await;
    assert_eq!(withdrawn["extensions"]["reason"], "UNAVAILABLE");

    let removed = ok(
        &s.app,
        &s.ann,
        &format!("mutation($m: ID!) {{ removeFromCart(movieId: $m) {{ {CART} }} }}"),
        json!({ "m": a }),
    )
    .await;
    assert_eq!(
        ids(&removed["removeFromCart"]["lines"], "/movie/id"),
        [b.as_str(), c.as_str()]
    );
    let cleared = ok(
        &s.app,
        &s.ann,
        &format!("mutation {{ clearCart {{ {CART} }} }}"),
        json!({}),
    )
    .await;
    assert_eq!(cleared["clearCart"]["count"], 0);
    assert_eq!(cart(&s.app, &s.ann).await["count"], 0);
    let cleared = ok(&s.app, &s.ann, "mutation { clearCart { count } }", json!({})).await;
    assert_eq!(cleared["clearCart"]["count"], 0, "clearing an empty cart is fine");
}

async fn placing_an_order_leaves_out_what_cannot_be_ordered(backend: Backend) {
    let s = shop(backend).await;
    let (a, b, c, d) = (&s.movies[0], &s.movies[1], &s.movies[2], &s.movies[3]);
    // D1: an empty cart is refused.
    let empty = refused(
        &s.app,
        Some(&s.ann),
        "mutation { placeOrder { order { id } } }",
        json!({}),
    )
    .await;
    assert_eq!(empty["extensions"]["code"], "CART_EMPTY");

    for movie in [a, b, c] {
        add(&s.app, &s.ann, movie).await;
    }
    update_movie(&s, c, json!({ "available": false })).await;
    let placed = place(&s.app, &s.ann).await;
    let order = &placed["order"];
    assert_eq!(order["status"], "PENDING");
    assert_eq!(ids(&order["lines"], "/movie/id"), [a.as_str(), b.as_str()]);
    let total = price_of(&s.app, a).await + price_of(&s.app, b).await;
    assert_eq!(order["total"]["amount"], total);
    assert_eq!(order["chargedTotal"], Value::Null);
    assert_eq!(
        placed["excluded"],
        json!([{ "movie": { "id": c }, "reason": "UNAVAILABLE" }])
    );
    // The ordered movies left the cart; the left-out one stays, flagged.
    let after = cart(&s.app, &s.ann).await;
    assert_eq!(ids(&after["lines"], "/movie/id"), [c.as_str()]);

    // A movie in a pending order can sit in the cart, flagged, but is not ordered twice.
    let back = add(&s.app, &s.ann, a).await;
    assert_eq!(back["lines"][1]["problem"], "IN_PENDING_ORDER");
    let nothing = refused(
        &s.app,
        Some(&s.ann),
        "mutation { placeOrder { order { id } } }",
        json!({}),
    )
    .await;
    assert_eq!(nothing["extensions"]["code"], "NOTHING_TO_ORDER");
    assert_eq!(
        cart(&s.app, &s.ann).await["count"],
        2,
        "a refused order changes nothing"
    );
    let orders = ok(&s.app, &s.ann, "{ orders { totalCount } }", json!({})).await;
    assert_eq!(orders["orders"]["totalCount"], 1);

    // Once paid, the movies are the user's: not addable, and left out of orders as ALREADY_PURCHASED.
    fulfil(&s.app, order["id"].as_str().unwrap()).await.unwrap();
    let owned = cart(&s.app, &s.ann).await;
    assert_eq!(
        ids(&owned["lines"], "/movie/id"),
        [c.as_str()],
        "a purchase takes its movies out of the cart"
    );
    let bought = refused(
        &s.app,
        Some(&s.ann),
        "mutation($m: ID!) { addToCart(movieId: $m) { count } }",
        json!({ "m": b }),
    )
    .await;
    assert_eq!(
        (
            bought["extensions"]["code"].clone(),
            bought["extensions"]["reason"].clone()
        ),
        (json!("CONFLICT"), json!("ALREADY_PURCHASED"))
    );
    let mine = ok(
        &s.app,
        &s.ann,
        "{ me { purchasedMovies { totalCount } } movies(first: 1, sort: {field: IMDB, direction: DESC}) { nodes { isPurchased inCart } } }",
        json!({}),
    )
    .await;
    assert_eq!(mine["me"]["purchasedMovies"]["totalCount"], 2);
    assert_eq!(
        mine["movies"]["nodes"][0],
        json!({ "isPurchased": true, "inCart": false })
    );
    let paid = ok(
        &s.app,
        &s.ann,
        "query($o: ID!) { order(id: $o) { status paidAt } }",
        json!({ "o": order["id"] }),
    )
    .await;
    assert_eq!(paid["order"]["status"], "PAID");
    assert!(paid["order"]["paidAt"].is_string());

    // Mixed: an orderable line and an excluded one.
    add(&s.app, &s.ann, d).await;
    let placed = place(&s.app, &s.ann).await;
    assert_eq!(ids(&placed["order"]["lines"], "/movie/id"), [d.as_str()]);
    assert_eq!(
        placed["excluded"],
        json!([{ "movie": { "id": c }, "reason": "UNAVAILABLE" }])
    );
}

async fn prices_are_kept_at_ordering_and_repriced_before_payment(backend: Backend) {
    let s = shop(backend).await;
    let (a, b) = (&s.movies[0], &s.movies[1]);
    add(&s.app, &s.ann, a).await;
    add(&s.app, &s.ann, b).await;
    let (price_a, price_b) = (price_of(&s.app, a).await, price_of(&s.app, b).await);
    let order = place(&s.app, &s.ann).await["order"].clone();
    let uuid = order["id"].as_str().unwrap();
    update_movie(&s, a, json!({ "price": price_a + 100 })).await;

    // D2: the lines keep the price at ordering …
    let query = format!("query($o: ID!) {{ order(id: $o) {{ {ORDER} }} }}");
    let read = ok(&s.app, &s.ann, &query, json!({ "o": uuid })).await["order"].clone();
    assert_eq!(read["total"]["amount"], price_a + price_b);
    assert_eq!(read["lines"][0]["price"]["amount"], price_a);

    // … and re-pricing right before payment says what changed and keeps both.
    let order_id = internal_order_id(&s.app, uuid).await;
    let repriced = s
        .app
        .db()
        .transaction(async |conn| {
            let order = cinema::shop::repo::order_locked(conn, order_id).await?.unwrap();
            cinema::shop::service::reprice_pending_order(conn, &order).await
        })
        .await
        .unwrap();
    assert!(repriced.changed());
    assert_eq!(
        (repriced.ordered_cents, repriced.charged_cents),
        (price_a + price_b, price_a + 100 + price_b)
    );
    let read = ok(&s.app, &s.ann, &query, json!({ "o": uuid })).await["order"].clone();
    assert_eq!(read["total"]["amount"], price_a + price_b);
    assert_eq!(read["chargedTotal"]["amount"], price_a + 100 + price_b);
    assert_eq!(read["lines"][0]["chargedPrice"]["amount"], price_a + 100);
    assert_eq!(read["lines"][1]["chargedPrice"]["amount"], price_b);

    // The purchase is at the charged price; an unchanged re-pricing says so.
    let repriced = s
        .app
        .db()
        .transaction(async |conn| {
            let order = cinema::shop::repo::order_locked(conn, order_id).await?.unwrap();
            cinema::shop::service::reprice_pending_order(conn, &order).await
        })
        .await
        .unwrap();
    assert_eq!(repriced.charged_cents, price_a + 100 + price_b);
    fulfil(&s.app, uuid).await.unwrap();
    let refused_again = s
        .app
        .db()
        .transaction(async |conn| {
            let order = cinema::shop::repo::order_locked(conn, order_id).await?.unwrap();
            cinema::shop::service::reprice_pending_order(conn, &order).await
        })
        .await
        .unwrap_err();
    assert_eq!(refused_again.code(), "ORDER_NOT_PENDING");
    let error = fulfil(&s.app, uuid).await.unwrap_err();
    assert_eq!(error.code(), "ORDER_NOT_PENDING", "a payment lands once");
}

async fn orders_are_listed_filtered_and_private(backend: Backend) {
    let s = shop(backend).await;
    let mut placed = Vec::new();
    for movie in &s.movies[0..3] {
        add(&s.app, &s.ann, movie).await;
        placed.push(place(&s.app, &s.ann).await["order"]["id"].as_str().unwrap().to_string());
    }
    ok(
        &s.app,
        &s.ann,
        "mutation($o: ID!) { cancelOrder(id: $o) { status } }",
        json!({ "o": placed[1] }),
    )
    .await;
    add(&s.app, &s.bob, &s.movies[4]).await;
    let bobs = place(&s.app, &s.bob).await["order"]["id"].as_str().unwrap().to_string();

    // D3: newest first, keyset pages, the user's own only.
    let query = "query($after: String, $f: OrderFilterInput) { orders(first: 2, after: $after, filter: $f) { totalCount pageInfo { hasNextPage endCursor } nodes { id status } } }";
    let first = ok(&s.app, &s.ann, query, json!({})).await["orders"].clone();
    assert_eq!(first["totalCount"], 3);
    assert_eq!(ids(&first["nodes"], "/id"), [placed[2].as_str(), placed[1].as_str()]);
    assert_eq!(first["pageInfo"]["hasNextPage"], true);
    let second = ok(
        &s.app,
        &s.ann,
        query,
        json!({ "after": first["pageInfo"]["endCursor"] }),
    )
    .await["orders"]
        .clone();
    assert_eq!(ids(&second["nodes"], "/id"), [placed[0].as_str()]);
    assert_eq!(second["pageInfo"]["hasNextPage"], false);

    let canceled = ok(&s.app, &s.ann, query, json!({ "f": { "status": "CANCELED" } })).await["orders"].clone();
    assert_eq!(ids(&canceled["nodes"], "/id"), [placed[1].as_str()]);
    assert_eq!(canceled["totalCount"], 1);
    let future = ok(
        &s.app,
        &s.ann,
        query,
        json!({ "f": { "from": "2999-01-01T00:00:00Z" } }),
    )
    .await;
    assert_eq!(future["orders"]["totalCount"], 0);
    let past = ok(
        &s.app,
        &s.ann,
        query,
        json!({ "f": { "from": "2000-01-01T00:00:00Z", "to": "2999-01-01T00:00:00Z" } }),
    )
    .await;
    assert_eq!(past["orders"]["totalCount"], 3);
    let backwards = refused(
        &s.app,
        Some(&s.ann),
        query,
        json!({ "f": { "from": "2999-01-01T00:00:00Z", "to": "2000-01-01T00:00:00Z" } }),
    )
    .await;
    assert_eq!(backwards["extensions"]["code"], "BAD_USER_INPUT");
    let tampered = refused(&s.app, Some(&s.ann), query, json!({ "after": "bm90LWEtY3Vyc29y" })).await;
    assert_eq!(tampered["extensions"]["code"], "BAD_USER_INPUT");

    // Someone else's order is NOT_FOUND, never FORBIDDEN: ids leak nothing.
    for query in [
        "query($o: ID!) { order(id: $o) { id } }",
        "mutation($o: ID!) { cancelOrder(id: $o) { id } }",
    ] {
        let theirs = refused(&s.app, Some(&s.ann), query, json!({ "o": bobs })).await;
        let missing = refused(&s.app, Some(&s.ann), query, json!({ "o": "no-such-order" })).await;
        assert_eq!(theirs["extensions"]["code"], "NOT_FOUND");
        assert_eq!(theirs["message"], missing["message"]);
    }
    let own = ok(
        &s.app,
        &s.bob,
        "query($o: ID!) { order(id: $o) { id status } }",
        json!({ "o": bobs }),
    )
    .await;
    assert_eq!(own["order"]["status"], "PENDING");
}

async fn only_pending_orders_can_be_canceled(backend: Backend) {
    let s = shop(backend).await;
    let (a, b) = (&s.movies[0], &s.movies[1]);
    add(&s.app, &s.ann, a).await;
    let pending = place(&s.app, &s.ann).await["order"]["id"].as_str().unwrap().to_string();
    let cancel = "mutation($o: ID!) { cancelOrder(id: $o) { id status canceledAt } }";
    let canceled = ok(&s.app, &s.ann, cancel, json!({ "o": pending })).await;
    assert_eq!(canceled["cancelOrder"]["status"], "CANCELED");
    assert!(canceled["cancelOrder"]["canceledAt"].is_string());
    let twice = refused(&s.app, Some(&s.ann), cancel, json!({ "o": pending })).await;
    assert_eq!(twice["extensions"]["code"], "ORDER_CLOSED");

    // A canceled order frees its movies for a new order.
    add(&s.app, &s.ann, a).await;
    add(&s.app, &s.ann, b).await;
    let again = place(&s.app, &s.ann).await;
    assert_eq!(again["excluded"], json!([]));
    let paid = again["order"]["id"].as_str().unwrap();
    fulfil(&s.app, paid).await.unwrap();
    let refusal = refused(&s.app, Some(&s.ann), cancel, json!({ "o": paid })).await;
    assert_eq!(refusal["extensions"]["code"], "ORDER_PAID");
    assert!(refusal["message"].as_str().unwrap().contains("refund"), "{refusal}");
}

async fn admins_see_all_orders_with_their_total(backend: Backend) {
    let s = shop(backend).await;
    let mut totals = Vec::new();
    for (token, movies) in [
        (&s.ann, &s.movies[0..2]),
        (&s.bob, &s.movies[2..3]),
        (&s.ann, &s.movies[3..4]),
    ] {
        for movie in movies {
            add(&s.app, token, movie).await;
        }
        totals.push(place(&s.app, token).await["order"].clone());
    }
    ok(
        &s.app,
        &s.ann,
        "mutation($o: ID!) { cancelOrder(id: $o) { id } }",
        json!({ "o": totals[2]["id"] }),
    )
    .await;
    let amount = |i: usize| totals[i]["total"]["amount"].as_i64().unwrap();
    let report = "query($f: AllOrdersFilterInput) { allOrders(filter: $f) { count totalAmount { amount currency } orders(first: 10) { totalCount nodes { id userId status } } } }";
    let all = ok(&s.app, &s.admin, report, json!({})).await["allOrders"].clone();
    assert_eq!(all["count"], 3);
    assert_eq!(
        all["totalAmount"],
        json!({ "amount": amount(0) + amount(1) + amount(2), "currency": "USD" })
    );
    assert_eq!(all["orders"]["totalCount"], 3);
    let ann_id = ok(&s.app, &s.ann, "{ me { id } }", json!({})).await["me"]["id"].clone();
    let anns = ok(&s.app, &s.admin, report, json!({ "f": { "userId": ann_id } })).await["allOrders"].clone();
    assert_eq!(anns["count"], 2);
    assert_eq!(anns["totalAmount"]["amount"], amount(0) + amount(2));
    assert!(
        anns["orders"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["userId"] == ann_id)
    );
    let pending = ok(
        &s.app,
        &s.admin,
        report,
        json!({ "f": { "userId": ann_id, "status": "PENDING" } }),
    )
    .await["allOrders"]
        .clone();
    assert_eq!(pending["count"], 1);
    assert_eq!(pending["totalAmount"]["amount"], amount(0));
    let none = ok(
        &s.app,
        &s.admin,
        report,
        json!({ "f": { "to": "2000-01-01T00:00:00Z" } }),
    )
    .await;
    assert_eq!(none["allOrders"]["count"], 0);
    assert_eq!(none["allOrders"]["totalAmount"]["amount"], 0);
    let unknown = refused(&s.app, Some(&s.admin), report, json!({ "f": { "userId": "nobody" } })).await;
    assert_eq!(unknown["extensions"]["code"], "BAD_USER_INPUT");
}

async fn abandoned_orders_are_canceled_by_the_periodic_job(backend: Backend) {
    use cinema::db::schema::orders;
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    // The app's own worker is off, so the one below is the only one to take the job.
    let s = shop_with(backend, &[("ABANDONED_ORDER_HOURS", "2"), ("RUN_WORKER", "off")]).await;
    add(&s.app, &s.ann, &s.movies[0]).await;
    let old = place(&s.app, &s.ann).await["order"]["id"].as_str().unwrap().to_string();
    add(&s.app, &s.ann, &s.movies[1]).await;
    let fresh = place(&s.app, &s.ann).await["order"]["id"].as_str().unwrap().to_string();
    add(&s.app, &s.ann, &s.movies[2]).await;
    let paid = place(&s.app, &s.ann).await["order"]["id"].as_str().unwrap().to_string();
    fulfil(&s.app, &paid).await.unwrap();
    let three_hours_ago = chrono::Utc::now().naive_utc() - chrono::Duration::hours(3);
    let mut conn = s.app.conn().await;
    let aged = cinema::per_backend!(&mut conn, |c| {
        diesel::update(orders::table.filter(orders::uuid.eq_any([&old, &paid])))
            .set(orders::created_at.eq(three_hours_ago))
            .execute(c)
            .await
    });
    assert_eq!(aged, Ok(2));

    // The job as the worker runs it: queued hourly, handled by the shop.
    let handlers = cinema::app::job_handlers(
        s.app.db(),
        &s.app.state.mailer,
        "http://front.example",
        cinema::accounts::links::MailBudget::per_hour(100),
        &s.app.state.shop,
        &s.app.state.payments,
    );
    let worker = cinema::jobs::Worker::new(
        s.app.db().clone(),
        handlers,
        std::time::Duration::from_millis(10),
        std::time::Duration::from_millis(100),
    );
    cinema::jobs::enqueue(&mut conn, &cinema::shop::abandoned::CancelAbandonedOrders::default())
        .await
        .unwrap();
    assert!(worker.run_due().await.unwrap() >= 1);

    let status = |uuid: String| {
        let app = &s.app;
        let ann = s.ann.clone();
        async move {
            ok(
                app,
                &ann,
                "query($o: ID!) { order(id: $o) { status } }",
                json!({ "o": uuid }),
            )
            .await["order"]["status"]
                .clone()
        }
    };
    assert_eq!(status(old).await, "CANCELED");
    assert_eq!(status(fresh).await, "PENDING");
    assert_eq!(status(paid).await, "PAID", "a paid order is never canceled");
    // The canceled order's movie can be ordered again.
    add(&s.app, &s.ann, &s.movies[0]).await;
    let again = place(&s.app, &s.ann).await;
    assert_eq!(again["excluded"], json!([]));
}

async fn the_cart_and_placing_an_order_cost_a_fixed_number_of_statements(backend: Backend) {
    // No worker: its polling would count too.
    let s = shop_with(backend, &[("RUN_WORKER", "off")]).await;
    let mut costs = Vec::new();
    for (token, count) in [(&s.ann, 1), (&s.bob, 10)] {
        for movie in &s.movies[0..count] {
            add(&s.app, token, movie).await;
        }
        let before = s.app.statements();
        let read = cart(&s.app, token).await;
        let read_cost = s.app.statements() - before;
        assert_eq!(read["count"], count);
        let before = s.app.statements();
        let placed = place(&s.app, token).await;
        let place_cost = s.app.statements() - before;
        assert_eq!(placed["order"]["lines"].as_array().unwrap().len(), count);
        costs.push((read_cost, place_cost));
    }
    assert_eq!(costs[0], costs[1], "(cart, placeOrder) statements for 1 and 10 lines");
    // cart: lines + genres; placeOrder: cart lock, lines, order, order lines, total, cart removal, then the
    // answer's order lines (transaction statements included on SQLite)
    assert!(costs[0].0 <= 3 && costs[0].1 <= 12, "{costs:?}");
    eprintln!("statements (cart, placeOrder): {costs:?}");
}

/// D1: two `placeOrder` calls on one cart at once create one order; the other finds the cart empty.
async fn racing_orders_create_one_order(backend: Backend) {
    let s = shop(backend).await;
    for round in 0..3 {
        for movie in &s.movies[round * 3..round * 3 + 3] {
            add(&s.app, &s.ann, movie).await;
        }
        let results = futures_util::future::join_all((0..4).map(|_| {
            s.app.graphql_as(
                &s.ann,
                "mutation { placeOrder { order { id lines { movie { id } } } } }",
                json!({}),
            )
        }))
        .await;
        let placed: Vec<&Value> = results
            .iter()
            .filter(|(_, body)| body.get("errors").is_none())
            .map(|(_, body)| body)
            .collect();
        assert_eq!(placed.len(), 1, "round {round}: {results:?}");
        assert_eq!(
            placed[0]["data"]["placeOrder"]["order"]["lines"]
                .as_array()
                .unwrap()
                .len(),
            3
        );
        for (_, body) in &results {
            if let Some(errors) = body.get("errors") {
                assert_eq!(errors[0]["extensions"]["code"], "CART_EMPTY", "{body}");
            }
        }
    }
    let orders = ok(&s.app, &s.ann, "{ orders { totalCount } }", json!({})).await;
    assert_eq!(orders["orders"]["totalCount"], 3);
}

/// D1: a `removeFromCart` racing `placeOrder` either comes first (the movie is not ordered) or after (it finds
/// the movie gone from the cart, ordered) — never both removed and ordered.
async fn a_removal_racing_an_order_never_becomes_an_order_line(backend: Backend) {
    let s = shop(backend).await;
    for round in 0..4 {
        let (kept, raced) = (&s.movies[round * 2], &s.movies[round * 2 + 1]);
        add(&s.app, &s.ann, kept).await;
        add(&s.app, &s.ann, raced).await;
        let (removal, order) = tokio::join!(
            s.app.graphql_as(
                &s.ann,
                "mutation($m: ID!) { removeFromCart(movieId: $m) { count } }",
                json!({ "m": raced })
            ),
            s.app.graphql_as(
                &s.ann,
                "mutation { placeOrder { order { lines { movie { id } } } } }",
                json!({})
            )
        );
        let ordered = ids(&order.1["data"]["placeOrder"]["order"]["lines"], "/movie/id");
        assert!(ordered.contains(kept), "{order:?}");
        let removed = removal.1.get("errors").is_none();
        assert_ne!(removed, ordered.contains(raced), "round {round}: {removal:?} {order:?}");
        if !removed {
            assert_eq!(removal.1["errors"][0]["extensions"]["code"], "NOT_FOUND");
        }
        assert_eq!(cart(&s.app, &s.ann).await["count"], 0);
    }
}

/// C2, E3: an `addToCart` racing the purchase of the same movie either comes first (the purchase takes the
/// line out) or after (it is refused as already purchased): the owned movie never stays in the cart.
async fn an_addition_racing_a_purchase_never_leaves_an_owned_movie_in_the_cart(backend: Backend) {
    let s = shop(backend).await;
    for round in 0..4 {
        let movie = &s.movies[round];
        add(&s.app, &s.ann, movie).await;
        let order = place(&s.app, &s.ann).await["order"]["id"].as_str().unwrap().to_string();
        let (added, paid) = tokio::join!(
            s.app.graphql_as(
                &s.ann,
                "mutation($m: ID!) { addToCart(movieId: $m) { count } }",
                json!({ "m": movie })
            ),
            fulfil(&s.app, &order)
        );
        paid.unwrap();
        if let Some(errors) = added.1.get("errors") {
            assert_eq!(errors[0]["extensions"]["reason"], "ALREADY_PURCHASED", "{added:?}");
        }
        assert_eq!(cart(&s.app, &s.ann).await["count"], 0, "round {round}: {added:?}");
    }
}

/// A cart holds at most 100 movies: the 101st is refused and changes nothing.
async fn a_cart_is_bounded(backend: Backend) {
    let s = shop(backend).await;
    let data = s
        .app
        .query_ok(
            "{ movies(first: 100, sort: {field: NAME, direction: ASC}) { nodes { id } } }",
            json!({}),
        )
        .await;
    let all: Vec<String> = data["movies"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(all.len(), 100, "the demo catalog has 100 movies or more");
    for movie in &all {
        add(&s.app, &s.ann, movie).await;
    }
    let one_more = s
        .app
        .query_ok(
            "{ movies(first: 1, sort: {field: NAME, direction: DESC}) { nodes { id } } }",
            json!({}),
        )
        .await["movies"]["nodes"][0]["id"]
        .clone();
    assert!(
        !all.contains(&one_more.as_str().unwrap().to_string()),
        "the demo catalog has more than 100 movies"
    );
    let full = refused(
        &s.app,
        Some(&s.ann),
        "mutation($m: ID!) { addToCart(movieId: $m) { count } }",
        json!({ "m": one_more }),
    )
    .await;
    assert_eq!(full["extensions"]["code"], "CART_FULL");
    assert_eq!(cart(&s.app, &s.ann).await["count"], 100);
}
