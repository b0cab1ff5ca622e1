//! E1, E3, E5, E8 (and G1's live status) through the Stripe gateway: the real async-stripe client talks to a fake Stripe on loopback
//! (`common::fake_stripe`), and the events Stripe would send are signed with the endpoint's secret and delivered
//! to the webhook over HTTP. On both databases.

use std::time::Duration;

use crate::common::fake_stripe::{FakeStripe, Trouble};
use crate::common::smtp::SmtpSink;
use crate::common::{PASSWORD, TestApp, decode_mail, token_in};
use crate::live::{Socket, WATCH};
use crate::payments::{Buyer, buyer_in, delivered, gql, order_status, owned, placed_order};
use cinema::db::{Backend, Role};
use serde_json::{Value, json};

backend_tests!(
    the_whole_journey_through_stripe,
    a_stripe_outage_leaves_the_order_payable_and_the_retry_reuses_the_key,
    refunds_go_through_stripe_and_land_with_its_webhook,
    canceling_an_order_expires_its_stripe_checkout,
);

async fn stripe_app(backend: Backend, stripe: &FakeStripe, extra: &[(&str, String)]) -> TestApp {
    let mut vars: Vec<(&str, String)> = stripe.settings();
    vars.push(("SEED_DEMO", "on".into()));
    vars.push(("FRONTEND_URL", "http://front.example".into()));
    vars.extend(extra.iter().cloned());
    let borrowed: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    TestApp::start_with(backend, &borrowed).await
}

async fn stripe_buyer(backend: Backend, stripe: &FakeStripe) -> Buyer {
    buyer_in(stripe_app(backend, stripe, &[]).await).await
}

const PAY: &str = "mutation($o: ID!) { payOrder(orderId: $o) { payment { id status } checkoutUrl amount { amount } } }";

async fn error_code(b: &Buyer, query: &str, variables: Value) -> String {
    let (_, body) = b.app.graphql_as(&b.token, query, variables).await;
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no error: {body}"))
        .to_string()
}

/// The session id in a checkout URL the fake gave.
fn session_of(url: &str) -> String {
    url.rsplit('/').next().unwrap().to_string()
}

/// The first `count` messages to `to` containing `subject` at the SMTP listener, as received.
async fn smtp_mail(sink: &SmtpSink, to: &str, subject: &str, count: usize) -> Vec<String> {
    sink.wait_for(count, |m| m.to.iter().any(|t| t == to) && m.data.contains(subject))
        .await
        .into_iter()
        .map(|m| m.data)
        .collect()
}

/// E1, E3, F1: register → activate → log in → cart → order → pay through Stripe → webhook → purchased, with
/// the emails over real SMTP.
async fn the_whole_journey_through_stripe(backend: Backend) {
    let stripe = FakeStripe::start().await;
    let sink = SmtpSink::start().await;
    let app = stripe_app(backend, &stripe, &[("SMTP_URL", sink.url())]).await;
    let email = "journey@example.com";
    let (status, body) = app
        .post_json(
            "/api/v1/auth/register",
            json!({ "email": email, "password": PASSWORD }),
            None,
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let activation = smtp_mail(&sink, email, "Activate", 1).await;
    let (status, _) = app
        .post_json(
            "/api/v1/auth/activate",
            json!({ "token": token_in(&activation[0]) }),
            None,
        )
        .await;
    assert_eq!(status, 204);
    let token = app.login(email, PASSWORD).await["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    let movies: Vec<String> = app
        .query_ok(
            "{ movies(first: 2, sort: {field: IMDB, direction: DESC}) { nodes { id } } }",
            json!({}),
        )
        .await["movies"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect();
    let b = Buyer {
        app,
        token,
        email: email.to_string(),
        movies,
    };
    let order = placed_order(&b, &b.movies.clone()).await;
    let total = gql(
        &b,
        "query($o: ID!) { order(id: $o) { total { amount } } }",
        json!({ "o": order }),
    )
    .await["order"]["total"]["amount"]
        .as_i64()
        .unwrap();

    let started = gql(&b, PAY, json!({ "o": order })).await["payOrder"].clone();
    assert_eq!(started["payment"]["status"], "PENDING");
    let url = started["checkoutUrl"].as_str().unwrap();
    assert!(url.starts_with("https://checkout.stripe.test/"), "{url}");
    let created = stripe.requests_to("/v1/checkout/sessions");
    assert_eq!(created.len(), 1);
    let sent = &created[0];
    assert_eq!(sent.method, "POST");
    assert_eq!(sent.field("mode"), Some("payment"));
    assert_eq!(sent.field("client_reference_id"), Some(order.as_str()));
    assert_eq!(sent.field("metadata[order_id]"), Some(order.as_str()));
    let payment_id = started["payment"]["id"].as_str().unwrap();
    assert_eq!(sent.field("metadata[payment_id]"), Some(payment_id));
    assert_eq!(
        sent.field("payment_intent_data[metadata][payment_id]"),
        Some(payment_id)
    );
    assert_eq!(
        sent.field("success_url"),
        Some(format!("http://front.example/orders/{order}?checkout=success").as_str())
    );
    assert_eq!(
        sent.field("cancel_url"),
        Some(format!("http://front.example/orders/{order}?checkout=canceled").as_str())
    );
    assert_eq!(sent.field("line_items[0][quantity]"), Some("1"));
    assert_eq!(sent.field("line_items[1][price_data][currency]"), Some("usd"));
    let key = sent.idempotency_key.clone().expect("an idempotency key");
    let expires: i64 = sent.field("expires_at").unwrap().parse().unwrap();
    let lifetime = expires - chrono::Utc::now().timestamp();
    assert!((3_500..=3_600).contains(&lifetime), "an hour's checkout: {lifetime}");
    let session = session_of(url);
    assert_eq!(
        stripe.session(&session)["amount_total"],
        total,
        "exactly the order total"
    );
    assert_eq!(started["amount"]["amount"], total);

    // Asking again while the checkout is open answers it, without a second call to Stripe.
    let again = gql(&b, PAY, json!({ "o": order })).await["payOrder"].clone();
    assert_eq!(again["checkoutUrl"], started["checkoutUrl"]);
    assert_eq!(stripe.requests_to("/v1/checkout/sessions").len(), 1);
    assert!(!key.is_empty());

    // The app, back from checkout, subscribes to its order; the payer pays on Stripe's page; Stripe's signed
    // event lands, and the app hears it.
    let mut socket = Socket::signed_in(&b.app, &b.token).await;
    socket.subscribe("1", WATCH, json!({ "o": order })).await;
    assert_eq!(
        socket.next_for("1").await["payload"]["data"]["orderStatusChanged"]["status"],
        "PENDING"
    );
    delivered(&b.app, &stripe.complete(&session)).await;
    let heard = socket.next_for("1").await;
    assert_eq!(
        heard["payload"]["data"]["orderStatusChanged"]["status"], "PAID",
        "{heard}"
    );
    assert_eq!(order_status(&b, &order).await, "PAID");
    assert_eq!(owned(&b).await, 2);
    let cart = gql(&b, "{ cart { count } }", json!({})).await;
    assert_eq!(cart["cart"]["count"], 0, "bought movies leave the cart");
    let history = gql(
        &b,
        "{ payments { totalCount nodes { id status amountReceived { amount } orderId } } }",
        json!({}),
    )
    .await;
    assert_eq!(history["payments"]["totalCount"], 1);
    let paid = &history["payments"]["nodes"][0];
    assert_eq!(
        (
            paid["status"].as_str(),
            paid["amountReceived"]["amount"].as_i64(),
            paid["orderId"].as_str()
        ),
        (Some("SUCCEEDED"), Some(total), Some(order.as_str()))
    );
    let mail = smtp_mail(&sink, email, "Your Cinema order is paid", 1).await;
    assert!(decode_mail(&mail[0]).contains("ready to watch"), "{}", mail[0]);
}

/// E8: Stripe answering 500, or answering too late, during `payOrder`: every attempt carries the same
/// idempotency key, the order stays PENDING and payable with a hint, and the next `payOrder` tries again with
/// the same key — so a checkout Stripe opened while its answer was lost is the one the payer gets.
async fn a_stripe_outage_leaves_the_order_payable_and_the_retry_reuses_the_key(backend: Backend) {
    let stripe = FakeStripe::start().await;
    let b = stripe_buyer(backend, &stripe).await;
    let order = placed_order(&b, &b.movies[0..1]).await;

    stripe.trouble(Trouble::Status(500), 3);
    assert_eq!(error_code(&b, PAY, json!({ "o": order })).await, "SERVICE_UNAVAILABLE");
    let attempts = stripe.requests_to("/v1/checkout/sessions");
    assert_eq!(attempts.len(), 3, "three attempts (STRIPE_MAX_ATTEMPTS)");
    let key = attempts[0].idempotency_key.clone().unwrap();
    assert!(
        attempts
            .iter()
            .all(|a| a.idempotency_key.as_deref() == Some(key.as_str()))
    );
    let read = gql(
        &b,
        "query($o: ID!) { order(id: $o) { status paymentHint } }",
        json!({ "o": order }),
    )
    .await;
    assert_eq!(read["order"]["status"], "PENDING");
    assert!(
        read["order"]["paymentHint"]
            .as_str()
            .unwrap()
            .contains("try paying again")
    );
    assert_eq!(stripe.session_count(), 0, "nothing opened");

    // Stripe opens the checkout but every answer comes too late.
    stripe.trouble(Trouble::Late(Duration::from_millis(1_500)), 3);
    assert_eq!(error_code(&b, PAY, json!({ "o": order })).await, "SERVICE_UNAVAILABLE");
    assert_eq!(stripe.session_count(), 1, "opened once, whatever the retries");
    let attempts = stripe.requests_to("/v1/checkout/sessions");
    assert_eq!(attempts.len(), 6);
    assert!(
        attempts
            .iter()
            .all(|a| a.idempotency_key.as_deref() == Some(key.as_str())),
        "the user's retry reuses the key"
    );

    // A moderator renames the movie meanwhile (issue 22): the retry still sends the first request as stored,
    // which the fake, like Stripe, requires of a reused key.
    {
        use cinema::db::schema::movies;
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        let mut conn = b.app.conn().await;
        let renamed = cinema::per_backend!(&mut conn, |c| {
            diesel::update(movies::table.filter(movies::uuid.eq(&b.movies[0])))
                .set(movies::name.eq("Renamed while paying"))
                .execute(c)
                .await
        });
        assert_eq!(renamed, Ok(1));
    }

    // Stripe is back: the retry gets the checkout it opened, not a second one.
    let started = gql(&b, PAY, json!({ "o": order })).await["payOrder"].clone();
    assert_eq!(stripe.session_count(), 1);
    let attempts = stripe.requests_to("/v1/checkout/sessions");
    let sorted = |form: &[(String, String)]| {
        let mut form = form.to_vec();
        form.sort();
        form
    };
    assert!(
        attempts.iter().all(|a| sorted(&a.form) == sorted(&attempts[0].form)),
        "every attempt sends the first one's parameters"
    );
    let session = session_of(started["checkoutUrl"].as_str().unwrap());
    assert!(stripe.session(&session)["status"] == "open");
    let hint = gql(
        &b,
        "query($o: ID!) { order(id: $o) { paymentHint } }",
        json!({ "o": order }),
    )
    .await;
    assert_eq!(hint["order"]["paymentHint"], Value::Null, "a checkout is open");
    delivered(&b.app, &stripe.complete(&session)).await;
    assert_eq!(order_status(&b, &order).await, "PAID");

    // A refusal (4xx) is final: not tried again, and the attempt closes.
    let second = placed_order(&b, &b.movies[1..2]).await;
    stripe.trouble(Trouble::Status(400), 1);
    let before = stripe.requests().len();
    assert_eq!(error_code(&b, PAY, json!({ "o": second })).await, "PROVIDER_REFUSED");
    assert_eq!(stripe.requests().len(), before + 1, "a refusal is not retried");
    let again = gql(&b, PAY, json!({ "o": second })).await["payOrder"].clone();
    assert_eq!(again["payment"]["status"], "PENDING", "a new attempt opens");
}

/// E5: a user asks; staff refund through Stripe with an idempotency key; the payment stays SUCCEEDED until
/// Stripe's webhook confirms, then payment and order are REFUNDED and the movies taken back. A timeout asks
/// again with the same key; Stripe's refusal ends that refund.
async fn refunds_go_through_stripe_and_land_with_its_webhook(backend: Backend) {
    let stripe = FakeStripe::start().await;
    let b = stripe_buyer(backend, &stripe).await;
    let order = placed_order(&b, &b.movies[0..2]).await;
    let started = gql(&b, PAY, json!({ "o": order })).await["payOrder"].clone();
    let payment = started["payment"]["id"].as_str().unwrap().to_string();
    delivered(
        &b.app,
        &stripe.complete(&session_of(started["checkoutUrl"].as_str().unwrap())),
    )
    .await;
    assert_eq!(owned(&b).await, 2);

    let asked = gql(
        &b,
        "mutation($o: ID!) { requestRefund(orderId: $o, reason: \"wrong movie\") { id status reason } }",
        json!({ "o": order }),
    )
    .await;
    assert_eq!(asked["requestRefund"]["status"], "REQUESTED");

    let staff = b.app.signed_in_user("mod@example.com").await["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    b.app.set_role("mod@example.com", Role::Moderator).await;
    let refund = "mutation($p: ID!) { refundPayment(paymentId: $p, reason: \"granted\") { status refund { status decisionReason } } }";

    // Stripe answers too late: the refund stays PENDING; asking again — with another reason (issue 22) —
    // sends the first request as stored, with the same key, which Stripe replays (a key reused with other
    // parameters is an idempotency_error at Stripe and at the fake).
    stripe.trouble(Trouble::Late(Duration::from_millis(1_500)), 3);
    let (_, body) = b.app.graphql_as(&staff, refund, json!({ "p": payment })).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "SERVICE_UNAVAILABLE", "{body}");
    let again = "mutation($p: ID!) { refundPayment(paymentId: $p, reason: \"granted, as I said\") { status refund { status decisionReason } } }";
    let (_, body) = b.app.graphql_as(&staff, again, json!({ "p": payment })).await;
    assert!(body.get("errors").is_none(), "{body}");
    let answered = &body["data"]["refundPayment"];
    assert_eq!(answered["status"], "SUCCEEDED", "not refunded before Stripe confirms");
    assert_eq!(answered["refund"]["status"], "PENDING");
    assert_eq!(answered["refund"]["decisionReason"], "granted");
    let calls = stripe.requests_to("/v1/refunds");
    assert_eq!(calls.len(), 4);
    let key = calls[0].idempotency_key.clone().unwrap();
    assert!(calls.iter().all(|c| c.idempotency_key.as_deref() == Some(key.as_str())));
    let sorted = |form: &[(String, String)]| {
        let mut form = form.to_vec();
        form.sort();
        form
    };
    assert!(
        calls.iter().all(|c| sorted(&c.form) == sorted(&calls[0].form)),
        "every attempt and press sends the same parameters"
    );
    assert_eq!(stripe.refunds().len(), 1, "refunded once");
    let sent = &calls[0];
    assert_eq!(sent.field("metadata[payment_id]"), Some(payment.as_str()));
    assert_eq!(sent.field("metadata[reason]"), Some("granted"));
    assert!(sent.field("payment_intent").unwrap().starts_with("pi_test_"));
    assert_eq!(owned(&b).await, 2, "still owned until Stripe confirms");

    delivered(&b.app, &stripe.refunded_event(&stripe.refunds()[0])).await;
    assert_eq!(order_status(&b, &order).await, "REFUNDED");
    assert_eq!(owned(&b).await, 0);
    let (_, body) = b
        .app
        .graphql_as(
            &staff,
            "mutation($p: ID!) { refundPayment(paymentId: $p, reason: \"again\") { status } }",
            json!({ "p": payment }),
        )
        .await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "ALREADY_REFUNDED");
    let mine = gql(
        &b,
        "{ payments { nodes { status refund { status reason } } } }",
        json!({}),
    )
    .await;
    assert_eq!(mine["payments"]["nodes"][0]["status"], "REFUNDED");
    assert_eq!(mine["payments"]["nodes"][0]["refund"]["status"], "SUCCEEDED");
    b.app.wait_for_mail(&b.email, "Your Cinema order was refunded", 1).await;

    // Stripe refuses a refund (here: the fake knows no such payment intent): the refund FAILS, the payment
    // stays SUCCEEDED, and staff may try again later.
    let second = placed_order(&b, &b.movies[2..3]).await;
    let started = gql(&b, PAY, json!({ "o": second })).await["payOrder"].clone();
    let second_payment = started["payment"]["id"].as_str().unwrap().to_string();
    delivered(
        &b.app,
        &stripe.complete(&session_of(started["checkoutUrl"].as_str().unwrap())),
    )
    .await;
    stripe.trouble(Trouble::Status(402), 1);
    let (_, body) = b.app.graphql_as(&staff, refund, json!({ "p": second_payment })).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "PROVIDER_REFUSED", "{body}");
    let after = gql(&b, "{ payments { nodes { status refund { status } } } }", json!({})).await;
    assert_eq!(after["payments"]["nodes"][0]["status"], "SUCCEEDED");
    assert_eq!(after["payments"]["nodes"][0]["refund"]["status"], "FAILED");
    assert_eq!(owned(&b).await, 1);
}

/// A canceled order's open Stripe checkout is expired at Stripe (by a job, retried while Stripe fails), and
/// its payment closes CANCELED: it can no longer take money.
async fn canceling_an_order_expires_its_stripe_checkout(backend: Backend) {
    let stripe = FakeStripe::start().await;
    let b = stripe_buyer(backend, &stripe).await;
    let order = placed_order(&b, &b.movies[0..1]).await;
    let started = gql(&b, PAY, json!({ "o": order })).await["payOrder"].clone();
    let session = session_of(started["checkoutUrl"].as_str().unwrap());
    // Stripe fails the first expiry calls (all three attempts): the job tries again later.
    stripe.trouble(Trouble::Status(503), 3);
    gql(
        &b,
        "mutation($o: ID!) { cancelOrder(id: $o) { id } }",
        json!({ "o": order }),
    )
    .await;
    for _ in 0..200 {
        if stripe.session(&session)["status"] == "expired" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(stripe.session(&session)["status"], "expired");
    let expiries = stripe.requests_to(&format!("/v1/checkout/sessions/{session}/expire"));
    assert_eq!(expiries.len(), 4, "three failed attempts, then the job's retry");
    let mine = gql(&b, "{ payments { nodes { status failureReason } } }", json!({})).await;
    assert_eq!(mine["payments"]["nodes"][0]["status"], "CANCELED");
    assert_eq!(mine["payments"]["nodes"][0]["failureReason"], "the order was canceled");

    // Issue 22: when Stripe answers, the checkout is expired before cancelOrder answers. The payer had
    // completed it just before: the money that lands is returned by itself, with one refund at Stripe.
    let order = placed_order(&b, &b.movies[1..2]).await;
    let started = gql(&b, PAY, json!({ "o": order })).await["payOrder"].clone();
    let session = session_of(started["checkoutUrl"].as_str().unwrap());
    let paid_meanwhile = stripe.complete(&session);
    gql(
        &b,
        "mutation($o: ID!) { cancelOrder(id: $o) { id } }",
        json!({ "o": order }),
    )
    .await;
    assert_eq!(
        stripe
            .requests_to(&format!("/v1/checkout/sessions/{session}/expire"))
            .len(),
        1,
        "asked before the answer"
    );
    delivered(&b.app, &paid_meanwhile).await;
    for _ in 0..200 {
        if !stripe.refunds().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let refunds = stripe.refunds();
    assert_eq!(refunds.len(), 1, "one refund at Stripe");
    assert_eq!(order_status(&b, &order).await, "CANCELED");
    delivered(&b.app, &stripe.refunded_event(&refunds[0])).await;
    let mine = gql(
        &b,
        "{ payments(filter: {status: REFUNDED}) { nodes { status refund { status } } } }",
        json!({}),
    )
    .await;
    assert_eq!(mine["payments"]["nodes"][0]["refund"]["status"], "SUCCEEDED", "{mine}");
    assert_eq!(owned(&b).await, 0);
    assert_eq!(stripe.requests_to("/v1/refunds").len(), 1, "asked once");
    b.app
        .wait_for_mail(&b.email, "Your Cinema payment was returned", 1)
        .await;
}
