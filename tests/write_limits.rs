//! Issue 22 (H2): limits on writes. Every mutation spends a per-user budget, declared where it is defined and
//! shown in the schema (`@spends`); a user may hold a bounded number of orders waiting for payment, and an order
//! a bounded number of checkouts. Each limit answers with its code and changes nothing. On both databases.

use serde_json::{Value, json};

use crate::common::{TestApp, ok, refused};
use crate::payments::{Buyer, buyer_in, checkout_path, gql, pay_order, placed_order, press};
use cinema::db::Backend;

backend_tests!(
    write_budgets_hold_per_user,
    pending_orders_and_checkout_attempts_are_capped,
);

fn code(error: &Value) -> &str {
    error["extensions"]["code"].as_str().unwrap_or("")
}

/// Every mutation of `schema.graphql` spends a budget: one added without `@spends` fails here.
#[test]
fn every_mutation_spends_a_budget() {
    let fields = crate::common::mutation_definitions();
    assert!(fields.len() >= 38, "{} mutations found", fields.len());
    let unbudgeted: Vec<&String> = fields.iter().filter(|f| !f.contains("@spends(budget: ")).collect();
    assert!(unbudgeted.is_empty(), "mutations that spend no budget: {unbudgeted:#?}");
}

async fn limited(backend: Backend, vars: &[(&str, &str)]) -> Buyer {
    let mut all = vec![("SEED_DEMO", "on")];
    all.extend_from_slice(vars);
    buyer_in(TestApp::start_with(backend, &all).await).await
}

/// Each budget holds per user, answers RATE_LIMITED with the wait, and the refused write changes nothing;
/// another user has a budget of their own.
async fn write_budgets_hold_per_user(backend: Backend) {
    let b = limited(
        backend,
        &[
            ("WRITES_PER_MINUTE", "3"),
            ("ORDER_WRITES_PER_MINUTE", "2"),
            ("CHECKOUTS_PER_MINUTE", "1"),
        ],
    )
    .await;
    let favorite = "mutation($m: ID!) { addFavorite(movieId: $m) { id } }";
    for movie in &b.movies[0..3] {
        ok(&b.app, &b.token, favorite, json!({ "m": movie })).await;
    }
    let refusal = refused(&b.app, Some(&b.token), favorite, json!({ "m": b.movies[3] })).await;
    assert_eq!(code(&refusal), "RATE_LIMITED", "{refusal}");
    let wait = refusal["extensions"]["retryAfterSeconds"].as_u64().unwrap();
    assert!((1..=60).contains(&wait), "{refusal}");
    let mine = ok(
        &b.app,
        &b.token,
        "{ me { favorites(first: 10) { totalCount } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        mine["me"]["favorites"]["totalCount"], 3,
        "the refused write changed nothing"
    );

    // Another user's budget is their own; theirs is spent on the cart (the same budget) and orders.
    let bob = b.app.signed_in_user("bob@example.com").await["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    for movie in &b.movies[0..2] {
        ok(
            &b.app,
            &bob,
            "mutation($m: ID!) { addToCart(movieId: $m) { count } }",
            json!({ "m": movie }),
        )
        .await;
    }
    let placed = ok(&b.app, &bob, "mutation { placeOrder { order { id } } }", json!({})).await;
    let order = placed["placeOrder"]["order"]["id"].as_str().unwrap().to_string();
    ok(
        &b.app,
        &bob,
        "mutation($o: ID!) { cancelOrder(id: $o) { status } }",
        json!({ "o": order }),
    )
    .await;
    let third = refused(
        &b.app,
        Some(&bob),
        "mutation { placeOrder { order { id } } }",
        json!({}),
    )
    .await;
    assert_eq!(code(&third), "RATE_LIMITED", "orders: two a minute here");

    // Checkouts: one a minute here.
    let carol = b.app.signed_in_user("carol@example.com").await["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    let carol = Buyer {
        app: b.app,
        token: carol,
        email: "carol@example.com".into(),
        movies: b.movies.clone(),
    };
    let order = placed_order(&carol, &carol.movies[4..5]).await;
    let started = pay_order(&carol, &order).await;
    press(&carol.app, &format!("{}/decline", checkout_path(&started))).await;
    let again = refused(
        &carol.app,
        Some(&carol.token),
        "mutation($o: ID!) { payOrder(orderId: $o) { checkoutUrl } }",
        json!({ "o": order }),
    )
    .await;
    assert_eq!(code(&again), "RATE_LIMITED", "{again}");
}

/// A user holds at most MAX_PENDING_ORDERS orders waiting for payment (TOO_MANY_PENDING_ORDERS, until one is
/// paid or canceled); an order opens at most MAX_CHECKOUT_ATTEMPTS checkouts (TOO_MANY_CHECKOUT_ATTEMPTS).
async fn pending_orders_and_checkout_attempts_are_capped(backend: Backend) {
    let b = limited(backend, &[("MAX_PENDING_ORDERS", "2"), ("MAX_CHECKOUT_ATTEMPTS", "2")]).await;
    let first = placed_order(&b, &b.movies[0..1]).await;
    placed_order(&b, &b.movies[1..2]).await;
    gql(
        &b,
        "mutation($m: ID!) { addToCart(movieId: $m) { count } }",
        json!({ "m": b.movies[2] }),
    )
    .await;
    let third = refused(
        &b.app,
        Some(&b.token),
        "mutation { placeOrder { order { id } } }",
        json!({}),
    )
    .await;
    assert_eq!(code(&third), "TOO_MANY_PENDING_ORDERS", "{third}");
    assert_eq!(third["extensions"]["pendingOrders"], 2);
    let cart = gql(&b, "{ cart { count } }", json!({})).await;
    assert_eq!(cart["cart"]["count"], 1, "the refusal left the cart as it was");
    gql(
        &b,
        "mutation($o: ID!) { cancelOrder(id: $o) { status } }",
        json!({ "o": first }),
    )
    .await;
    let order = gql(&b, "mutation { placeOrder { order { id } } }", json!({})).await["placeOrder"]["order"]["id"]
        .as_str()
        .unwrap()
        .to_string();

    for _ in 0..2 {
        let started = pay_order(&b, &order).await;
        let declined = press(&b.app, &format!("{}/decline", checkout_path(&started))).await;
        assert_eq!(declined.status(), 303);
    }
    let third = refused(
        &b.app,
        Some(&b.token),
        "mutation($o: ID!) { payOrder(orderId: $o) { checkoutUrl } }",
        json!({ "o": order }),
    )
    .await;
    assert_eq!(code(&third), "TOO_MANY_CHECKOUT_ATTEMPTS", "{third}");
}
