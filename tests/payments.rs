//! E2–E5: Stripe's webhook, over real HTTP with real signatures: only verified deliveries change anything,
//! each event id is applied once (also when delivered several times at once), and events move payments
//! through one state machine whatever their order — confirmation, decline, expiry, refund, refund first. On
//! both databases. (Payments are created here as `payOrder` will create them: re-priced, PENDING, with a
//! checkout session id.)

use crate::common::TestApp;
use cinema::db::Backend;
use cinema::payments::events::EventBody;
use cinema::payments::models::{NewPayment, PaymentRow, PaymentStatus, Provider};
use cinema::payments::signature;
use serde_json::{Value, json};

backend_tests!(
    a_confirmed_checkout_pays_the_order_once,
    unsigned_stale_tampered_or_malformed_deliveries_change_nothing,
    declined_and_expired_checkouts_keep_the_order_payable,
    refunds_take_the_movies_back_even_before_the_confirmation,
    a_different_amount_is_flagged_and_other_events_are_ignored,
    an_underpayment_grants_nothing_until_a_moderator_decides,
    money_for_a_canceled_order_is_returned_by_itself,
    one_event_delivered_at_once_many_times_lands_once,
    our_own_id_finds_the_payment_and_an_early_event_is_retried,
    paying_through_the_mock_checkout_runs_the_real_path,
    a_declined_mock_checkout_keeps_the_order_payable,
    pay_order_refuses_what_cannot_be_paid,
    an_unreachable_stripe_fakes_nothing,
);

pub(crate) struct Buyer {
    pub app: TestApp,
    pub token: String,
    pub email: String,
    pub movies: Vec<String>,
}

pub(crate) async fn buyer(backend: Backend) -> Buyer {
    buyer_in(TestApp::start(backend).await).await
}

/// A signed-in user of `app`, and six of its movies.
pub(crate) async fn buyer_in(app: TestApp) -> Buyer {
    let email = "ann@example.com".to_string();
    let token = app.signed_in_user(&email).await["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    let data = app
        .query_ok(
            "{ movies(first: 6, sort: {field: IMDB, direction: DESC}) { nodes { id } } }",
            json!({}),
        )
        .await;
    let movies = data["movies"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect();
    Buyer {
        app,
        token,
        email,
        movies,
    }
}

pub(crate) async fn gql(b: &Buyer, query: &str, variables: Value) -> Value {
    let (status, body) = b.app.graphql_as(&b.token, query, variables).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("errors").is_none(), "{query}: {body}");
    body["data"].clone()
}

/// An order of `movies`, placed through the cart by the buyer.
pub(crate) async fn placed_order(b: &Buyer, movies: &[String]) -> String {
    for movie in movies {
        gql(
            b,
            "mutation($m: ID!) { addToCart(movieId: $m) { count } }",
            json!({ "m": movie }),
        )
        .await;
    }
    gql(b, "mutation { placeOrder { order { id } } }", json!({})).await["placeOrder"]["order"]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// An order of `movies`, and its PENDING payment with checkout session `session`, as `payOrder` makes them.
pub(crate) async fn pending_payment(b: &Buyer, movies: &[String], session: &str) -> (String, PaymentRow) {
    let order = placed_order(b, movies).await;
    let mut conn = b.app.conn().await;
    let (row, _) = cinema::shop::repo::order_by_uuid(&mut conn, &order)
        .await
        .unwrap()
        .unwrap();
    let at = chrono::Utc::now().naive_utc();
    let payment = b
        .app
        .db()
        .transaction(async |conn| {
            let locked = cinema::shop::repo::order_locked(conn, row.id).await?.unwrap();
            let repriced = cinema::shop::service::reprice_pending_order(conn, &locked).await?;
            Ok(cinema::payments::repo::insert_payment(
                conn,
                &NewPayment {
                    uuid: uuid::Uuid::new_v4().to_string(),
                    user_id: row.user_id,
                    order_id: row.id,
                    status: PaymentStatus::Pending,
                    provider: Provider::Mock,
                    amount_cents: repriced.charged_cents,
                    currency: row.currency.clone(),
                    checkout_session_id: Some(session.to_string()),
                    checkout_url: None,
                    idempotency_key: uuid::Uuid::new_v4().to_string(),
                    created_at: at,
                    updated_at: at,
                },
            )
            .await?)
        })
        .await
        .unwrap();
    (order, payment)
}

/// An event of a type the service acts on, as Stripe writes it. The service's own reading of it must not be
/// `Other`: a misspelt type would otherwise be acknowledged and ignored, and the test would prove nothing.
pub(crate) fn event(id: &str, kind: &str, object: Value) -> Vec<u8> {
    let body = stripe_event(id, kind, object);
    let read = cinema::payments::events::Event::parse(&body).expect("an event");
    assert_ne!(read.body, EventBody::Other, "{kind} is a type the service acts on");
    body
}

/// An event of a type the service does not act on (it acknowledges and ignores it).
fn foreign_event(id: &str, kind: &str, object: Value) -> Vec<u8> {
    let body = stripe_event(id, kind, object);
    let read = cinema::payments::events::Event::parse(&body).expect("an event");
    assert_eq!(read.body, EventBody::Other, "{kind} is a type the service ignores");
    body
}

fn stripe_event(id: &str, kind: &str, object: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({ "id": id, "object": "event", "type": kind, "data": { "object": object } })).unwrap()
}

pub(crate) fn completed(id: &str, payment: &PaymentRow, amount: i64) -> Vec<u8> {
    event(
        id,
        "checkout.session.completed",
        json!({ "id": payment.checkout_session_id, "object": "checkout.session", "payment_status": "paid",
                "payment_intent": format!("pi_{}", payment.uuid), "amount_total": amount, "currency": "usd" }),
    )
}

pub(crate) async fn deliver(app: &TestApp, body: &[u8], signature: Option<String>) -> (u16, Value, String) {
    let mut request = app
        .client
        .post(app.url("/api/v1/webhooks/stripe"))
        .header("content-type", "application/json")
        .body(body.to_vec());
    if let Some(signature) = signature {
        request = request.header("stripe-signature", signature);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let media = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null), media)
}

pub(crate) fn signed(app: &TestApp, body: &[u8]) -> Option<String> {
    let secret = &app.settings().payments.stripe_webhook_secret;
    Some(signature::sign(secret, chrono::Utc::now().timestamp(), body))
}

pub(crate) async fn delivered(app: &TestApp, body: &[u8]) {
    let (status, problem, _) = deliver(app, body, signed(app, body)).await;
    assert_eq!(status, 200, "{problem}");
}

pub(crate) async fn payment(app: &TestApp, id: i64) -> PaymentRow {
    use cinema::db::schema::payments;
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    let mut conn = app.conn().await;
    cinema::per_backend!(&mut conn, |c| payments::table
        .find(id)
        .select(PaymentRow::as_select())
        .first(c)
        .await)
    .unwrap()
}

/// The payment once the worker's automatic refund has landed (REFUNDED), or as it is after five seconds.
pub(crate) async fn refunded_by_the_worker(app: &TestApp, id: i64) -> PaymentRow {
    for _ in 0..100 {
        let now = payment(app, id).await;
        if now.status == PaymentStatus::Refunded {
            return now;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    payment(app, id).await
}

pub(crate) async fn order_status(b: &Buyer, order: &str) -> Value {
    gql(b, "query($o: ID!) { order(id: $o) { status } }", json!({ "o": order })).await["order"]["status"].clone()
}

/// What the order tells its payer to try (E4), empty when nothing.
async fn payment_hint(b: &Buyer, order: &str) -> String {
    gql(
        b,
        "query($o: ID!) { order(id: $o) { paymentHint } }",
        json!({ "o": order }),
    )
    .await["order"]["paymentHint"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

pub(crate) async fn owned(b: &Buyer) -> i64 {
    gql(b, "{ me { purchasedMovies { totalCount } } }", json!({})).await["me"]["purchasedMovies"]["totalCount"]
        .as_i64()
        .unwrap()
}

pub(crate) async fn events_recorded(app: &TestApp) -> i64 {
    use cinema::db::schema::stripe_events;
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    let mut conn = app.conn().await;
    cinema::per_backend!(&mut conn, |c| stripe_events::table.count().get_result(c).await).unwrap()
}

async fn a_confirmed_checkout_pays_the_order_once(backend: Backend) {
    let b = buyer(backend).await;
    let (order, pending) = pending_payment(&b, &b.movies[0..2], "cs_test_paid").await;
    let body = completed("evt_paid", &pending, pending.amount_cents);
    delivered(&b.app, &body).await;

    let paid = payment(&b.app, pending.id).await;
    assert_eq!(paid.status, PaymentStatus::Succeeded);
    assert_eq!(paid.amount_received_cents, Some(pending.amount_cents));
    assert_eq!(paid.payment_intent_id, Some(format!("pi_{}", pending.uuid)));
    assert!(!paid.needs_review && paid.succeeded_at.is_some());
    assert_eq!(order_status(&b, &order).await, "PAID");
    assert_eq!(owned(&b).await, 2);
    let mail = b.app.wait_for_mail(&b.email, "Your Cinema order is paid", 1).await;
    assert!(mail[0].contains("ready to watch"), "{}", mail[0]);

    // Stripe retries: the same event again answers 200 and changes nothing.
    delivered(&b.app, &body).await;
    assert_eq!(events_recorded(&b.app).await, 1);
    assert_eq!(owned(&b).await, 2);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(
        b.app
            .outbox(&b.email)
            .iter()
            .filter(|m| m.contains("order is paid"))
            .count(),
        1
    );
}

async fn unsigned_stale_tampered_or_malformed_deliveries_change_nothing(backend: Backend) {
    let b = buyer(backend).await;
    let (order, pending) = pending_payment(&b, &b.movies[0..1], "cs_test_guarded").await;
    let body = completed("evt_guarded", &pending, pending.amount_cents);
    let secret = b.app.settings().payments.stripe_webhook_secret.clone();
    let now = chrono::Utc::now().timestamp();
    let mut tampered = body.clone();
    tampered.extend_from_slice(b" ");
    for (what, body, header) in [
        ("unsigned", body.clone(), None),
        (
            "another secret",
            body.clone(),
            Some(signature::sign("whsec_someone_else", now, &body)),
        ),
        ("stale", body.clone(), Some(signature::sign(&secret, now - 600, &body))),
        ("tampered", tampered, Some(signature::sign(&secret, now, &body))),
        ("garbage header", body.clone(), Some("t=now,v1=xyz".to_string())),
    ] {
        let (status, problem, media) = deliver(&b.app, &body, header).await;
        assert_eq!(
            (status, problem["code"].as_str()),
            (400, Some("INVALID_SIGNATURE")),
            "{what}: {problem}"
        );
        assert_eq!(media, "application/problem+json", "{what}");
    }
    // A handled type whose object does not read as Stripe writes it (text where Stripe sends an amount), naming
    // the pending payment's checkout: refused, and the payment stays as it was.
    let misread = serde_json::to_vec(&json!({ "id": "evt_misread", "type": "checkout.session.completed",
        "data": { "object": { "id": pending.checkout_session_id, "payment_status": "paid", "amount_total": "all" } } }))
    .unwrap();
    for not_an_event in [
        &b"not json"[..],
        br#"{"id":"evt_x"}"#,
        br#"{"id":"","type":"x","data":{"object":{}}}"#,
        &misread[..],
    ] {
        let (status, problem, _) = deliver(&b.app, not_an_event, signed(&b.app, not_an_event)).await;
        assert_eq!(
            (status, problem["code"].as_str()),
            (400, Some("INVALID_EVENT")),
            "{problem}"
        );
    }
    let (status, problem, _) = deliver(&b.app, &vec![b'x'; 300 * 1024], None).await;
    assert_eq!((status, problem["code"].as_str()), (413, Some("PAYLOAD_TOO_LARGE")));
    assert_eq!(events_recorded(&b.app).await, 0);
    assert_eq!(payment(&b.app, pending.id).await.status, PaymentStatus::Pending);
    assert_eq!(order_status(&b, &order).await, "PENDING");
    assert_eq!(owned(&b).await, 0);
}

async fn declined_and_expired_checkouts_keep_the_order_payable(backend: Backend) {
    let b = buyer(backend).await;
    let (order, first) = pending_payment(&b, &b.movies[0..1], "cs_test_declined").await;
    let declined = event(
        "evt_declined",
        "checkout.session.async_payment_failed",
        json!({ "id": "cs_test_declined", "object": "checkout.session", "payment_status": "unpaid" }),
    );
    delivered(&b.app, &declined).await;
    let failed = payment(&b.app, first.id).await;
    assert_eq!(failed.status, PaymentStatus::Failed);
    assert!(failed.failure_reason.unwrap().contains("try another"));
    assert_eq!(order_status(&b, &order).await, "PENDING");
    let hint = payment_hint(&b, &order).await;
    assert!(
        hint.contains("did not go through") && hint.contains("another payment method"),
        "E4: {hint}"
    );

    // A completed session whose delayed payment is not in yet changes nothing.
    let (second_order, second) = pending_payment(&b, &b.movies[1..2], "cs_test_expired").await;
    let unpaid = event(
        "evt_unpaid",
        "checkout.session.completed",
        json!({ "id": "cs_test_expired", "object": "checkout.session", "payment_status": "unpaid" }),
    );
    delivered(&b.app, &unpaid).await;
    assert_eq!(payment(&b.app, second.id).await.status, PaymentStatus::Pending);
    let expired = event(
        "evt_expired",
        "checkout.session.expired",
        json!({ "id": "cs_test_expired", "object": "checkout.session" }),
    );
    delivered(&b.app, &expired).await;
    assert_eq!(payment(&b.app, second.id).await.status, PaymentStatus::Canceled);
    assert!(payment_hint(&b, &second_order).await.contains("expired"), "E4");
    // An expiry after the failure does not move a closed payment.
    let late = event(
        "evt_late",
        "checkout.session.expired",
        json!({ "id": "cs_test_declined" }),
    );
    delivered(&b.app, &late).await;
    assert_eq!(payment(&b.app, first.id).await.status, PaymentStatus::Failed);
    assert_eq!(owned(&b).await, 0);
}

async fn refunds_take_the_movies_back_even_before_the_confirmation(backend: Backend) {
    let b = buyer(backend).await;
    let (order, pending) = pending_payment(&b, &b.movies[0..2], "cs_test_refund").await;
    delivered(&b.app, &completed("evt_r1", &pending, pending.amount_cents)).await;
    assert_eq!(owned(&b).await, 2);
    let intent = format!("pi_{}", pending.uuid);
    let refunded = event(
        "evt_r2",
        "charge.refunded",
        json!({ "id": "ch_1", "object": "charge", "payment_intent": intent, "refunded": true }),
    );
    delivered(&b.app, &refunded).await;
    let after = payment(&b.app, pending.id).await;
    assert_eq!(after.status, PaymentStatus::Refunded);
    assert!(after.refunded_at.is_some());
    assert_eq!(order_status(&b, &order).await, "REFUNDED");
    assert_eq!(owned(&b).await, 0, "a refund takes the movies back");
    b.app.wait_for_mail(&b.email, "Your Cinema order was refunded", 1).await;
    // A second refund event for the same charge changes nothing more.
    let again = event(
        "evt_r3",
        "refund.updated",
        json!({ "id": "re_1", "object": "refund", "payment_intent": intent, "status": "succeeded" }),
    );
    delivered(&b.app, &again).await;
    assert_eq!(payment(&b.app, pending.id).await.status, PaymentStatus::Refunded);

    // Out of order: the refund of a payment arrives before its confirmation (matched by the intent the
    // confirmation brings; here the session's intent is known from an earlier failed attempt).
    let (second_order, second) = pending_payment(&b, &b.movies[2..3], "cs_test_refund_first").await;
    use cinema::payments::models::PaymentChanges;
    let intent = format!("pi_{}", second.uuid);
    b.app
        .db()
        .transaction(async |conn| {
            Ok(cinema::payments::repo::update_payment(
                conn,
                second.id,
                &PaymentChanges {
                    payment_intent_id: Some(intent.clone()),
                    ..PaymentChanges::default()
                },
            )
            .await?)
        })
        .await
        .unwrap();
    let early_refund = event(
        "evt_r4",
        "charge.refunded",
        json!({ "id": "ch_2", "object": "charge", "payment_intent": intent, "refunded": true }),
    );
    delivered(&b.app, &early_refund).await;
    assert_eq!(payment(&b.app, second.id).await.status, PaymentStatus::Pending);
    delivered(&b.app, &completed("evt_r5", &second, second.amount_cents)).await;
    let landed = payment(&b.app, second.id).await;
    assert_eq!(
        landed.status,
        PaymentStatus::Refunded,
        "the confirmation lands refunded"
    );
    assert_eq!(order_status(&b, &second_order).await, "PENDING", "nothing was granted");
    assert_eq!(owned(&b).await, 0);
}

async fn a_different_amount_is_flagged_and_other_events_are_ignored(backend: Backend) {
    let b = buyer(backend).await;
    let (order, pending) = pending_payment(&b, &b.movies[0..1], "cs_test_amount").await;
    delivered(&b.app, &completed("evt_a1", &pending, pending.amount_cents + 1)).await;
    let paid = payment(&b.app, pending.id).await;
    assert_eq!(paid.status, PaymentStatus::Succeeded);
    assert_eq!(paid.amount_received_cents, Some(pending.amount_cents + 1));
    assert!(
        paid.needs_review,
        "more than charged is granted but flagged, not accepted silently"
    );
    assert_eq!(order_status(&b, &order).await, "PAID");

    for (id, kind) in [("evt_i1", "customer.created"), ("evt_i2", "invoice.paid")] {
        delivered(&b.app, &foreign_event(id, kind, json!({ "id": "x" }))).await;
    }
    // An event about a session this service never opened is acknowledged.
    let stranger = event(
        "evt_i3",
        "checkout.session.completed",
        json!({ "id": "cs_unknown", "payment_status": "paid", "amount_total": 100 }),
    );
    delivered(&b.app, &stranger).await;
    assert_eq!(events_recorded(&b.app).await, 4);
}

/// A signed-in moderator of the buyer's app.
pub(crate) async fn moderator(b: &Buyer) -> String {
    b.app.signed_in_user("mod@example.com").await;
    b.app.set_role("mod@example.com", cinema::db::Role::Moderator).await;
    b.app.login("mod@example.com", crate::common::PASSWORD).await["accessToken"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Issue 22 (E3): money short of the charge grants nothing — even when the confirmation is signed — and the
/// order waits for a moderator, who accepts it (PAID, the receipt) or refunds it (the order payable again).
/// Meanwhile the payer is told, and cannot open another checkout.
async fn an_underpayment_grants_nothing_until_a_moderator_decides(backend: Backend) {
    let b = buyer(backend).await;
    let staff = moderator(&b).await;
    let (order, pending) = pending_payment(&b, &b.movies[0..1], "cs_test_short").await;
    delivered(&b.app, &completed("evt_short", &pending, 1)).await;
    let short = payment(&b.app, pending.id).await;
    assert_eq!(
        (short.status, short.amount_received_cents),
        (PaymentStatus::Succeeded, Some(1))
    );
    assert!(short.needs_review);
    assert_eq!(order_status(&b, &order).await, "PENDING");
    assert_eq!(owned(&b).await, 0, "nothing granted for 0.01");
    assert!(
        payment_hint(&b, &order)
            .await
            .contains("staff will refund it or accept it")
    );
    let refusal = pay_order_refused(&b, &order).await;
    assert_eq!(refusal["code"], "PAYMENT_UNDER_REVIEW", "{refusal}");
    let accept = "mutation($p: ID!) { acceptPayment(paymentId: $p) { status needsReview } }";
    let (_, body) = b.app.graphql_as(&b.token, accept, json!({ "p": pending.uuid })).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "a payer cannot accept their own"
    );

    let (_, body) = b.app.graphql_as(&staff, accept, json!({ "p": pending.uuid })).await;
    assert_eq!(body["data"]["acceptPayment"]["needsReview"], false, "{body}");
    assert_eq!(order_status(&b, &order).await, "PAID");
    assert_eq!(owned(&b).await, 1);
    b.app.wait_for_mail(&b.email, "Your Cinema order is paid", 1).await;
    let (_, body) = b.app.graphql_as(&staff, accept, json!({ "p": pending.uuid })).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "PAYMENT_NOT_UNDER_REVIEW");

    // The other answer: a refund. The money goes back, nothing is taken back, and the order is payable again.
    let (second, pending) = pending_payment(&b, &b.movies[1..2], "cs_test_short_again").await;
    delivered(&b.app, &completed("evt_short_again", &pending, 5)).await;
    let refund = "mutation($p: ID!) { refundPayment(paymentId: $p, reason: \"short\") { status } }";
    let (_, body) = b.app.graphql_as(&staff, refund, json!({ "p": pending.uuid })).await;
    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(payment(&b.app, pending.id).await.status, PaymentStatus::Refunded);
    assert_eq!(order_status(&b, &second).await, "PENDING");
    assert_eq!(owned(&b).await, 1);
    b.app
        .wait_for_mail(&b.email, "Your Cinema payment was returned", 1)
        .await;
    let again = pay_order(&b, &second).await;
    assert_eq!(again["payment"]["status"], "PENDING");

    // Nobody decides, and the payer cancels (or the abandoned-order job does): the money goes back by itself.
    let (third, pending) = pending_payment(&b, &b.movies[2..3], "cs_test_short_canceled").await;
    delivered(&b.app, &completed("evt_short_canceled", &pending, 7)).await;
    gql(
        &b,
        "mutation($o: ID!) { cancelOrder(id: $o) { status } }",
        json!({ "o": third }),
    )
    .await;
    let returned = refunded_by_the_worker(&b.app, pending.id).await;
    assert_eq!(returned.status, PaymentStatus::Refunded);
    assert_eq!(order_status(&b, &third).await, "CANCELED");
    b.app
        .wait_for_mail(&b.email, "Your Cinema payment was returned", 2)
        .await;
}

/// Issue 22 (E3, E4): money that lands for an order canceled meanwhile (the payer completed the checkout as
/// the order was canceled) is returned by itself — one refund at the provider, the payment REFUNDED, the
/// order still CANCELED, nothing granted, and the payer told.
async fn money_for_a_canceled_order_is_returned_by_itself(backend: Backend) {
    let b = buyer(backend).await;
    let (order, id) = money_lands_on_a_canceled_order(&b).await;
    let returned = refunded_by_the_worker(&b.app, id).await;
    assert_eq!(returned.status, PaymentStatus::Refunded, "{returned:?}");
    assert!(!returned.needs_review);
    assert_eq!(order_status(&b, &order).await, "CANCELED");
    assert_eq!(owned(&b).await, 0);
    b.app
        .wait_for_mail(&b.email, "Your Cinema payment was returned", 1)
        .await;
    let refunds = gql(
        &b,
        "{ payments(filter: {status: REFUNDED}) { nodes { refund { status decisionReason } } } }",
        json!({}),
    )
    .await;
    let nodes = refunds["payments"]["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 1);
    assert_eq!(nodes[0]["refund"]["status"], "SUCCEEDED");
    assert!(
        nodes[0]["refund"]["decisionReason"]
            .as_str()
            .unwrap()
            .contains("automatically")
    );
}

/// The payer completes the checkout as the order is canceled: the cancel closes the checkout, and then the
/// provider's confirmation of the money arrives. Returns the order and the payment, which the worker is to
/// refund (RefundUnwanted).
pub(crate) async fn money_lands_on_a_canceled_order(b: &Buyer) -> (String, i64) {
    let order = placed_order(b, &b.movies[0..2]).await;
    let started = pay_order(b, &order).await;
    let canceled = gql(
        b,
        "mutation($o: ID!) { cancelOrder(id: $o) { status } }",
        json!({ "o": order }),
    )
    .await;
    assert_eq!(canceled["cancelOrder"]["status"], "CANCELED");
    let closed = press(&b.app, &format!("{}/pay", checkout_path(&started))).await;
    assert_eq!(
        closed.status(),
        409,
        "the checkout was closed before cancelOrder answered"
    );
    // The provider had taken the money already: its confirmation arrives after the cancel.
    let id = {
        use cinema::db::schema::payments;
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        let mut conn = b.app.conn().await;
        let uuid = started["payment"]["id"].as_str().unwrap().to_string();
        cinema::per_backend!(&mut conn, |c| payments::table
            .filter(payments::uuid.eq(&uuid))
            .select(payments::id)
            .first::<i64>(c)
            .await)
        .unwrap()
    };
    let late = payment(&b.app, id).await;
    assert_eq!(late.status, PaymentStatus::Canceled);
    delivered(&b.app, &completed("evt_late", &late, late.amount_cents)).await;
    (order, id)
}

async fn one_event_delivered_at_once_many_times_lands_once(backend: Backend) {
    let b = buyer(backend).await;
    let (order, pending) = pending_payment(&b, &b.movies[0..3], "cs_test_burst").await;
    let body = completed("evt_burst", &pending, pending.amount_cents);
    let deliveries =
        futures_util::future::join_all((0..6).map(|_| deliver(&b.app, &body, signed(&b.app, &body)))).await;
    for (status, problem, _) in &deliveries {
        assert_eq!(*status, 200, "{problem}");
    }
    assert_eq!(events_recorded(&b.app).await, 1);
    assert_eq!(owned(&b).await, 3);
    assert_eq!(order_status(&b, &order).await, "PAID");
    b.app.wait_for_mail(&b.email, "Your Cinema order is paid", 1).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(
        b.app
            .outbox(&b.email)
            .iter()
            .filter(|m| m.contains("order is paid"))
            .count(),
        1
    );
}

/// E2: an event names its payment by our own id too (the checkout's metadata): found before the checkout's id
/// is stored with it; and one that names a payment not stored yet is refused with 503 (Stripe retries) without
/// being recorded.
async fn our_own_id_finds_the_payment_and_an_early_event_is_retried(backend: Backend) {
    let b = buyer(backend).await;
    let (order, pending) = pending_payment(&b, &b.movies[0..1], "cs_test_known_later").await;
    let early = event(
        "evt_early",
        "checkout.session.completed",
        json!({ "id": "cs_not_stored_yet", "payment_status": "paid", "amount_total": pending.amount_cents,
                "metadata": { "payment_id": "a-payment-not-committed-yet" } }),
    );
    let (status, problem, _) = deliver(&b.app, &early, signed(&b.app, &early)).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (503, Some("SERVICE_UNAVAILABLE")),
        "{problem}"
    );
    assert_eq!(
        events_recorded(&b.app).await,
        0,
        "not recorded: Stripe delivers it again"
    );

    let by_metadata = event(
        "evt_metadata",
        "checkout.session.completed",
        json!({ "id": "cs_other_id", "payment_status": "paid", "amount_total": pending.amount_cents,
                "metadata": { "payment_id": pending.uuid } }),
    );
    delivered(&b.app, &by_metadata).await;
    assert_eq!(payment(&b.app, pending.id).await.status, PaymentStatus::Succeeded);
    assert_eq!(order_status(&b, &order).await, "PAID");
}

/// `payOrder` as a client calls it.
pub(crate) async fn pay_order(b: &Buyer, order: &str) -> Value {
    gql(
        b,
        "mutation($o: ID!) { payOrder(orderId: $o) { payment { id status amount { amount } } checkoutUrl amount { amount } priceChanged } }",
        json!({ "o": order }),
    )
    .await["payOrder"]
        .clone()
}

/// The extensions of `payOrder`'s refusal of the buyer's `order` (a test that expects it refused).
pub(crate) async fn pay_order_refused(b: &Buyer, order: &str) -> Value {
    let (_, body) = b
        .app
        .graphql_as(
            &b.token,
            "mutation($o: ID!) { payOrder(orderId: $o) { checkoutUrl } }",
            json!({ "o": order }),
        )
        .await;
    assert!(body["data"]["payOrder"].is_null(), "payOrder must be refused: {body}");
    body["errors"][0]["extensions"].clone()
}

/// The mock checkout's path, from the URL `payOrder` gave (which names PUBLIC_URL; the test server listens
/// elsewhere).
pub(crate) fn checkout_path(started: &Value) -> String {
    let url = started["checkoutUrl"].as_str().unwrap();
    url[url.find("/mock-checkout/").unwrap()..].to_string()
}

/// Presses a mock checkout button, with a `Host` header an attacker chose: the server must deliver its signed
/// event to itself, not there.
pub(crate) async fn press(app: &TestApp, path: &str) -> reqwest::Response {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(app.url(path))
        .header("host", "attacker.invalid:9")
        .send()
        .await
        .unwrap()
}

/// E1, E7: `payOrder` opens a mock checkout for the order's total; paying on the mock page makes the server
/// deliver a signed event to its own webhook, which pays the order; the payer is sent back to the app.
async fn paying_through_the_mock_checkout_runs_the_real_path(backend: Backend) {
    let b = buyer(backend).await;
    for movie in &b.movies[0..2] {
        gql(
            &b,
            "mutation($m: ID!) { addToCart(movieId: $m) { count } }",
            json!({ "m": movie }),
        )
        .await;
    }
    let placed = gql(
        &b,
        "mutation { placeOrder { order { id total { amount } } } }",
        json!({}),
    )
    .await;
    let order = placed["placeOrder"]["order"]["id"].as_str().unwrap().to_string();
    let total = placed["placeOrder"]["order"]["total"]["amount"].clone();

    let started = pay_order(&b, &order).await;
    assert_eq!(
        started["payment"]["status"], "PENDING",
        "never paid before the money is confirmed"
    );
    assert_eq!(
        (started["amount"]["amount"].clone(), started["priceChanged"].clone()),
        (total, json!(false))
    );
    let again = pay_order(&b, &order).await;
    assert_eq!(
        again["payment"]["id"], started["payment"]["id"],
        "an open checkout is answered again"
    );
    assert_eq!(again["checkoutUrl"], started["checkoutUrl"]);

    let path = checkout_path(&started);
    let page = b.app.get(&path).await;
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"].to_str().unwrap().to_string();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    let html = page.text().await.unwrap();
    assert!(html.contains(&order) && html.contains("Pay "), "{html}");

    let paid = press(&b.app, &format!("{path}/pay")).await;
    assert_eq!(paid.status(), 303);
    let back = paid.headers()["location"].to_str().unwrap();
    assert!(back.ends_with(&format!("/orders/{order}?checkout=success")), "{back}");
    assert_eq!(order_status(&b, &order).await, "PAID");
    assert_eq!(owned(&b).await, 2);
    b.app.wait_for_mail(&b.email, "Your Cinema order is paid", 1).await;

    let closed = press(&b.app, &format!("{path}/pay")).await;
    assert_eq!(closed.status(), 409, "a closed checkout takes no second payment");
    assert!(b.app.get(&path).await.text().await.unwrap().contains("closed"));
    assert_eq!(pay_order_refused(&b, &order).await["code"], "ORDER_PAID");
    assert_eq!(b.app.get("/mock-checkout/cs_mock_unknown").await.status(), 404);
}

/// E4, D2: declining on the mock page fails the payment and keeps the order payable; paying again re-prices
/// and says when the price changed.
async fn a_declined_mock_checkout_keeps_the_order_payable(backend: Backend) {
    use cinema::db::schema::movies;
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    let b = buyer(backend).await;
    let order = placed_order(&b, &b.movies[0..1]).await;
    let first = pay_order(&b, &order).await;
    let declined = press(&b.app, &format!("{}/decline", checkout_path(&first))).await;
    assert_eq!(declined.status(), 303);
    assert!(
        declined.headers()["location"]
            .to_str()
            .unwrap()
            .ends_with("?checkout=canceled")
    );
    assert_eq!(order_status(&b, &order).await, "PENDING");

    let mut conn = b.app.conn().await;
    let raised = cinema::per_backend!(&mut conn, |c| {
        diesel::update(movies::table.filter(movies::uuid.eq(&b.movies[0])))
            .set(movies::price_cents.eq(movies::price_cents + 100))
            .execute(c)
            .await
    });
    assert_eq!(raised, Ok(1));
    // D2 (issue 22): a raised total is not charged unless the payer accepts it; nothing is stored meanwhile.
    let refusal = pay_order_refused(&b, &order).await;
    assert_eq!(refusal["code"], "PRICE_CHANGED", "{refusal}");
    let ordered = first["amount"]["amount"].as_i64().unwrap();
    assert_eq!(refusal["orderedTotal"]["amount"], ordered, "{refusal}");
    assert_eq!(refusal["chargedTotal"]["amount"], ordered + 100, "{refusal}");
    assert_eq!(payments_of_order(&b, &order).await, 1, "the refusal stored no payment");
    let second = gql(
        &b,
        "mutation($o: ID!) { payOrder(orderId: $o, acceptPriceChange: true) { payment { id status amount { amount } } checkoutUrl amount { amount } priceChanged } }",
        json!({ "o": order }),
    )
    .await["payOrder"]
        .clone();
    assert_ne!(
        second["payment"]["id"], first["payment"]["id"],
        "a new attempt after a decline"
    );
    assert_eq!(second["priceChanged"], true);
    assert_eq!(
        second["amount"]["amount"].as_i64().unwrap(),
        first["amount"]["amount"].as_i64().unwrap() + 100
    );

    // A lower total is simply charged.
    let declined = press(&b.app, &format!("{}/decline", checkout_path(&second))).await;
    assert_eq!(declined.status(), 303);
    let lowered = cinema::per_backend!(&mut conn, |c| {
        diesel::update(movies::table.filter(movies::uuid.eq(&b.movies[0])))
            .set(movies::price_cents.eq(movies::price_cents - 300))
            .execute(c)
            .await
    });
    assert_eq!(lowered, Ok(1));
    let third = pay_order(&b, &order).await;
    assert_eq!(third["priceChanged"], true);
    assert_eq!(third["amount"]["amount"].as_i64().unwrap(), ordered - 200);
}

/// How many payments an order has had.
async fn payments_of_order(b: &Buyer, order: &str) -> i64 {
    gql(b, "{ payments(first: 50) { nodes { orderId } } }", json!({})).await["payments"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["orderId"] == order)
        .count() as i64
}

/// E1: refusals of `payOrder`.
async fn pay_order_refuses_what_cannot_be_paid(backend: Backend) {
    let b = buyer(backend).await;
    let order = placed_order(&b, &b.movies[0..1]).await;
    let pay = "mutation($o: ID!) { payOrder(orderId: $o) { checkoutUrl } }";
    let (_, body) = b.app.graphql(pay, json!({ "o": order })).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
    let bob = b.app.signed_in_user("bob@example.com").await["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, body) = b.app.graphql_as(&bob, pay, json!({ "o": order })).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "NOT_FOUND",
        "someone else's order"
    );
    gql(
        &b,
        "mutation($o: ID!) { cancelOrder(id: $o) { id } }",
        json!({ "o": order }),
    )
    .await;
    let (_, body) = b.app.graphql_as(&b.token, pay, json!({ "o": order })).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "ORDER_CLOSED");
}

/// E8: with a Stripe key and Stripe out of reach, `payOrder` answers SERVICE_UNAVAILABLE and never fakes a
/// checkout; the order stays payable and says what to try. The mock's pages are not served then.
async fn an_unreachable_stripe_fakes_nothing(backend: Backend) {
    let app = TestApp::start_with(
        backend,
        &[
            ("SEED_DEMO", "on"),
            ("STRIPE_SECRET_KEY", "sk_test_example"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_test_example"),
            // Nothing listens on the discard port: every attempt fails to connect.
            ("STRIPE_API_BASE", "http://127.0.0.1:9"),
            ("STRIPE_TIMEOUT_MS", "300"),
        ],
    )
    .await;
    let token = app.signed_in_user("ann@example.com").await["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    let movie =
        app.query_ok("{ movies(first: 1) { nodes { id } } }", json!({})).await["movies"]["nodes"][0]["id"].clone();
    let (_, added) = app
        .graphql_as(
            &token,
            "mutation($m: ID!) { addToCart(movieId: $m) { count } }",
            json!({ "m": movie }),
        )
        .await;
    assert!(added.get("errors").is_none(), "{added}");
    let (_, placed) = app
        .graphql_as(&token, "mutation { placeOrder { order { id } } }", json!({}))
        .await;
    let order = placed["data"]["placeOrder"]["order"]["id"].clone();
    let pay = "mutation($o: ID!) { payOrder(orderId: $o) { checkoutUrl } }";
    for _ in 0..2 {
        let (_, body) = app.graphql_as(&token, pay, json!({ "o": order })).await;
        assert_eq!(body["errors"][0]["extensions"]["code"], "SERVICE_UNAVAILABLE", "{body}");
    }
    let (_, read) = app
        .graphql_as(
            &token,
            "query($o: ID!) { order(id: $o) { status paymentHint } }",
            json!({ "o": order }),
        )
        .await;
    assert_eq!(read["data"]["order"]["status"], "PENDING");
    let hint = read["data"]["order"]["paymentHint"].as_str().unwrap();
    assert!(
        hint.contains("did not answer") && hint.contains("Nothing was charged"),
        "{hint}"
    );
    assert_eq!(app.get("/mock-checkout/cs_mock_anything").await.status(), 404);
}

/// E2 on PostgreSQL under real concurrency: 50 deliveries of one event at once, then every kind of event about
/// one payment racing (confirmations, a decline, an expiry, a failed intent; each delivered ten times at once):
/// exactly one event record per event id, one SUCCEEDED payment per order (money taken beats a decline or an
/// expiry that lost the race), each movie granted once, one confirmation email per order.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_deliveries_leave_consistent_rows_on_postgres() {
    use cinema::db::schema::{payments, purchases};
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    if !crate::common::postgres_available() {
        return;
    }
    let b = buyer(Backend::Postgres).await;
    let (order, pending) = pending_payment(&b, &b.movies[0..3], "cs_test_fifty").await;
    let body = completed("evt_fifty", &pending, pending.amount_cents);
    let deliveries =
        futures_util::future::join_all((0..50).map(|_| deliver(&b.app, &body, signed(&b.app, &body)))).await;
    for (status, problem, _) in &deliveries {
        assert_eq!(*status, 200, "{problem}");
    }
    assert_eq!(events_recorded(&b.app).await, 1);
    assert_eq!(payment(&b.app, pending.id).await.status, PaymentStatus::Succeeded);
    assert_eq!(order_status(&b, &order).await, "PAID");
    assert_eq!(owned(&b).await, 3);

    let (second_order, second) = pending_payment(&b, &b.movies[3..4], "cs_test_race").await;
    let ours = json!({ "payment_id": second.uuid });
    let session = |status: &str| {
        json!({ "id": "cs_test_race", "object": "checkout.session", "payment_status": status,
                "payment_intent": format!("pi_{}", second.uuid), "amount_total": second.amount_cents,
                "metadata": ours })
    };
    let events = [
        event("evt_race_completed", "checkout.session.completed", session("paid")),
        event(
            "evt_race_async_ok",
            "checkout.session.async_payment_succeeded",
            session("paid"),
        ),
        event(
            "evt_race_declined",
            "checkout.session.async_payment_failed",
            session("unpaid"),
        ),
        event("evt_race_expired", "checkout.session.expired", session("unpaid")),
        event(
            "evt_race_intent_failed",
            "payment_intent.payment_failed",
            json!({ "id": format!("pi_{}", second.uuid), "object": "payment_intent", "metadata": ours }),
        ),
    ];
    let racing = futures_util::future::join_all(
        (0..10)
            .flat_map(|_| events.iter())
            .map(|body| deliver(&b.app, body, signed(&b.app, body))),
    )
    .await;
    for (status, problem, _) in &racing {
        assert_eq!(*status, 200, "{problem}");
    }
    assert_eq!(events_recorded(&b.app).await, 1 + events.len() as i64);
    assert_eq!(payment(&b.app, second.id).await.status, PaymentStatus::Succeeded);
    assert_eq!(order_status(&b, &second_order).await, "PAID");
    assert_eq!(owned(&b).await, 4);
    let mut conn = b.app.conn().await;
    let succeeded: i64 = cinema::per_backend!(&mut conn, |c| payments::table
        .filter(payments::status.eq(PaymentStatus::Succeeded))
        .count()
        .get_result(c)
        .await)
    .unwrap();
    assert_eq!(succeeded, 2, "one succeeded payment per order");
    let granted: i64 = cinema::per_backend!(&mut conn, |c| purchases::table.count().get_result(c).await).unwrap();
    assert_eq!(granted, 4, "each movie granted once");
    b.app.wait_for_mail(&b.email, "Your Cinema order is paid", 2).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let paid_mails = b
        .app
        .outbox(&b.email)
        .iter()
        .filter(|m| m.contains("order is paid"))
        .count();
    assert_eq!(paid_mails, 2, "one confirmation per order");
}
