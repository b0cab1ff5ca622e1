//! E5, E6, E7 in mock mode: refunds asked for by users and decided by staff, the mock confirming a refund with a
//! signed `charge.refunded` through the real webhook, the role rules on every staff field, and the payment
//! histories (own, refund requests, all) with their filters and pages. On both databases.

use crate::common::{TestApp, ok, refused};
use crate::payments::{Buyer, buyer, checkout_path, gql, order_status, owned, pay_order, placed_order, press};
use cinema::db::{Backend, Role};
use serde_json::{Value, json};

backend_tests!(
    a_mock_refund_runs_the_real_path,
    refund_rules_and_role_checks,
    payment_histories_filter_and_page,
);

/// An order of `movies`, paid on the mock checkout; returns (order id, payment id).
async fn paid_order(b: &Buyer, movies: &[String]) -> (String, String) {
    let order = placed_order(b, movies).await;
    let started = pay_order(b, &order).await;
    let paid = press(&b.app, &format!("{}/pay", checkout_path(&started))).await;
    assert_eq!(paid.status(), 303);
    (order, started["payment"]["id"].as_str().unwrap().to_string())
}

async fn staff(app: &TestApp, email: &str, role: Role) -> String {
    let token = app.signed_in_user(email).await["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    app.set_role(email, role).await;
    token
}

const REQUEST: &str =
    "mutation($o: ID!, $r: String!) { requestRefund(orderId: $o, reason: $r) { id status reason amount { amount } } }";
const REFUND: &str = "mutation($p: ID!, $r: String!) { refundPayment(paymentId: $p, reason: $r) { id status refundedAt refund { status decisionReason } } }";
const DECLINE: &str =
    "mutation($f: ID!, $r: String!) { declineRefund(refundId: $f, reason: $r) { id status decisionReason decidedAt } }";

fn code(error: &Value) -> &str {
    error["extensions"]["code"].as_str().unwrap_or("")
}

/// E5, E7: the user asks, a moderator refunds, the mock delivers a signed `charge.refunded` to the webhook:
/// payment and order REFUNDED, movies taken back, email queued — before `refundPayment` answers.
async fn a_mock_refund_runs_the_real_path(backend: Backend) {
    let b = buyer(backend).await;
    let (order, payment) = paid_order(&b, &b.movies[0..2]).await;
    assert_eq!(owned(&b).await, 2);
    let asked = gql(&b, REQUEST, json!({ "o": order, "r": "  It would not play  " })).await["requestRefund"].clone();
    assert_eq!(asked["status"], "REQUESTED");
    assert_eq!(asked["reason"], "It would not play", "trimmed");
    assert!(asked["amount"]["amount"].as_i64().unwrap() > 0);

    let moderator = staff(&b.app, "mod@example.com", Role::Moderator).await;
    let waiting = ok(
        &b.app,
        &moderator,
        "{ refundRequests { totalCount nodes { id orderId refund { id reason } } } }",
        json!({}),
    )
    .await;
    assert_eq!(waiting["refundRequests"]["totalCount"], 1);
    assert_eq!(waiting["refundRequests"]["nodes"][0]["id"], payment.as_str());

    let refunded = ok(&b.app, &moderator, REFUND, json!({ "p": payment, "r": "fair" })).await["refundPayment"].clone();
    assert_eq!(
        refunded["status"], "REFUNDED",
        "the mock confirms at once, through the webhook"
    );
    assert!(refunded["refundedAt"].is_string());
    assert_eq!(refunded["refund"]["status"], "SUCCEEDED");
    assert_eq!(refunded["refund"]["decisionReason"], "fair");
    assert_eq!(order_status(&b, &order).await, "REFUNDED");
    assert_eq!(owned(&b).await, 0);
    b.app.wait_for_mail(&b.email, "Your Cinema order was refunded", 1).await;
    let left = ok(&b.app, &moderator, "{ refundRequests { totalCount } }", json!({})).await;
    assert_eq!(left["refundRequests"]["totalCount"], 0);

    // Staff may refund without a request; a refunded payment is not refunded again.
    let (second_order, second) = paid_order(&b, &b.movies[2..3]).await;
    let done = ok(&b.app, &moderator, REFUND, json!({ "p": second, "r": "goodwill" })).await;
    assert_eq!(done["refundPayment"]["status"], "REFUNDED");
    assert_eq!(order_status(&b, &second_order).await, "REFUNDED");
    let again = refused(&b.app, Some(&moderator), REFUND, json!({ "p": second, "r": "again" })).await;
    assert_eq!(code(&again), "ALREADY_REFUNDED");
    // The refunded movies can be bought again.
    let (_, third) = paid_order(&b, &b.movies[2..3]).await;
    assert!(!third.is_empty());
    assert_eq!(owned(&b).await, 1);
}

/// E5: every way a refund is refused, and who may do what.
async fn refund_rules_and_role_checks(backend: Backend) {
    let b = buyer(backend).await;
    let (order, payment) = paid_order(&b, &b.movies[0..1]).await;
    let pending = placed_order(&b, &b.movies[1..2]).await;
    let pending_payment = pay_order(&b, &pending).await["payment"]["id"]
        .as_str()
        .unwrap()
        .to_string();

    let (_, body) = b.app.graphql(REQUEST, json!({ "o": order, "r": "x" })).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
    let bob = b.app.signed_in_user("bob@example.com").await["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    let theirs = refused(&b.app, Some(&bob), REQUEST, json!({ "o": order, "r": "mine?" })).await;
    assert_eq!(code(&theirs), "NOT_FOUND", "someone else's order");
    let unpaid = refused(&b.app, Some(&b.token), REQUEST, json!({ "o": pending, "r": "x" })).await;
    assert_eq!(code(&unpaid), "ORDER_NOT_PAID");
    for reason in ["   ".to_string(), "x".repeat(1_001)] {
        let bad = refused(&b.app, Some(&b.token), REQUEST, json!({ "o": order, "r": reason })).await;
        assert_eq!(code(&bad), "BAD_USER_INPUT");
    }
    let asked = gql(&b, REQUEST, json!({ "o": order, "r": "changed my mind" })).await["requestRefund"].clone();
    let twice = refused(&b.app, Some(&b.token), REQUEST, json!({ "o": order, "r": "again" })).await;
    assert_eq!(code(&twice), "REFUND_REQUESTED");

    // Users may not refund, decline, or read the staff lists and flags.
    let refund_id = asked["id"].as_str().unwrap();
    for (query, variables) in [
        (REFUND, json!({ "p": payment, "r": "me" })),
        (DECLINE, json!({ "f": refund_id, "r": "me" })),
        ("{ refundRequests { totalCount } }", json!({})),
        ("{ allPayments { totalCount } }", json!({})),
    ] {
        let error = refused(&b.app, Some(&b.token), query, variables).await;
        assert_eq!(code(&error), "FORBIDDEN", "{query}");
    }
    // The review flag is a staff field: the rest of the payment is still answered.
    let (_, body) = b
        .app
        .graphql_as(&b.token, "{ payments { nodes { status needsReview } } }", json!({}))
        .await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "FORBIDDEN", "{body}");
    assert_eq!(body["errors"][0]["path"][3], "needsReview");
    assert!(body["data"]["payments"]["nodes"][0]["status"].is_string(), "{body}");
    let moderator = staff(&b.app, "mod@example.com", Role::Moderator).await;
    let error = refused(&b.app, Some(&moderator), "{ allPayments { totalCount } }", json!({})).await;
    assert_eq!(code(&error), "FORBIDDEN", "all payments are for admins");
    let flags = ok(
        &b.app,
        &moderator,
        "{ refundRequests { nodes { needsReview } } }",
        json!({}),
    )
    .await;
    assert_eq!(flags["refundRequests"]["nodes"][0]["needsReview"], false);

    for (payment_id, expected) in [
        ("no-such-payment", "NOT_FOUND"),
        (pending_payment.as_str(), "PAYMENT_NOT_REFUNDABLE"),
    ] {
        let error = refused(&b.app, Some(&moderator), REFUND, json!({ "p": payment_id, "r": "x" })).await;
        assert_eq!(code(&error), expected, "{payment_id}");
    }
    let blank = refused(&b.app, Some(&moderator), REFUND, json!({ "p": payment, "r": "" })).await;
    assert_eq!(code(&blank), "BAD_USER_INPUT");

    // A moderator turns the request down; it cannot be decided twice; the user may ask again.
    let declined = ok(
        &b.app,
        &moderator,
        DECLINE,
        json!({ "f": refund_id, "r": "watched already" }),
    )
    .await["declineRefund"]
        .clone();
    assert_eq!(declined["status"], "REJECTED");
    assert_eq!(declined["decisionReason"], "watched already");
    assert!(declined["decidedAt"].is_string());
    let twice = refused(&b.app, Some(&moderator), DECLINE, json!({ "f": refund_id, "r": "x" })).await;
    assert_eq!(code(&twice), "REFUND_DECIDED");
    let unknown = refused(&b.app, Some(&moderator), DECLINE, json!({ "f": "nope", "r": "x" })).await;
    assert_eq!(code(&unknown), "NOT_FOUND");
    let mine = gql(
        &b,
        "{ payments(filter: {status: SUCCEEDED}) { nodes { refund { status decisionReason } } } }",
        json!({}),
    )
    .await;
    assert_eq!(mine["payments"]["nodes"][0]["refund"]["status"], "REJECTED");
    // Issue 22: asking again at once is refused, with the wait; after REFUND_RETRY_AFTER_HOURS it is a new
    // request.
    let soon = refused(&b.app, Some(&b.token), REQUEST, json!({ "o": order, "r": "please" })).await;
    assert_eq!(code(&soon), "REFUND_DECLINED_RECENTLY", "{soon}");
    let wait = soon["extensions"]["retryAfterSeconds"].as_i64().unwrap();
    assert!((86_000..=86_400).contains(&wait), "{soon}");
    {
        use cinema::db::schema::refunds;
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        let mut conn = b.app.conn().await;
        let earlier = cinema::db::now() - chrono::Duration::hours(25);
        let moved = cinema::per_backend!(&mut conn, |c| {
            diesel::update(refunds::table.filter(refunds::uuid.eq(&refund_id)))
                .set(refunds::decided_at.eq(earlier))
                .execute(c)
                .await
        });
        assert_eq!(moved, Ok(1));
    }
    let again = gql(&b, REQUEST, json!({ "o": order, "r": "please" })).await;
    assert_eq!(again["requestRefund"]["status"], "REQUESTED");
    assert_eq!(order_status(&b, &order).await, "PAID", "nothing refunded by a request");
}

/// E6: own history and the admin's list, filtered by status, time and user, in keyset pages.
async fn payment_histories_filter_and_page(backend: Backend) {
    let b = buyer(backend).await;
    paid_order(&b, &b.movies[0..1]).await;
    let declined_order = placed_order(&b, &b.movies[1..2]).await;
    let started = pay_order(&b, &declined_order).await;
    press(&b.app, &format!("{}/decline", checkout_path(&started))).await;
    let open = pay_order(&b, &declined_order).await;
    assert_eq!(open["payment"]["status"], "PENDING");
    let hint = gql(
        &b,
        "query($o: ID!) { order(id: $o) { paymentHint } }",
        json!({ "o": declined_order }),
    )
    .await;
    assert_eq!(
        hint["order"]["paymentHint"],
        Value::Null,
        "a new checkout clears the hint"
    );

    let all = gql(
        &b,
        "{ payments { totalCount nodes { status createdAt amount { amount currency } } } }",
        json!({}),
    )
    .await;
    assert_eq!(all["payments"]["totalCount"], 3);
    let statuses: Vec<&str> = all["payments"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["PENDING", "FAILED", "SUCCEEDED"], "newest first");

    // Keyset pages: two, then one, then none; each payment once.
    let page =
        "query($a: String) { payments(first: 2, after: $a) { nodes { id } pageInfo { hasNextPage endCursor } } }";
    let first = gql(&b, page, json!({ "a": null })).await;
    assert_eq!(first["payments"]["nodes"].as_array().unwrap().len(), 2);
    assert_eq!(first["payments"]["pageInfo"]["hasNextPage"], true);
    let second = gql(&b, page, json!({ "a": first["payments"]["pageInfo"]["endCursor"] })).await;
    assert_eq!(second["payments"]["nodes"].as_array().unwrap().len(), 1);
    assert_eq!(second["payments"]["pageInfo"]["hasNextPage"], false);
    let forged = refused(&b.app, Some(&b.token), page, json!({ "a": "forged" })).await;
    assert_eq!(code(&forged), "BAD_USER_INPUT");

    let failed = gql(
        &b,
        "{ payments(filter: {status: FAILED}) { totalCount nodes { failureReason } } }",
        json!({}),
    )
    .await;
    assert_eq!(failed["payments"]["totalCount"], 1);
    assert!(
        failed["payments"]["nodes"][0]["failureReason"]
            .as_str()
            .unwrap()
            .contains("try another")
    );
    let future = gql(
        &b,
        "{ payments(filter: {from: \"2100-01-01T00:00:00Z\"}) { totalCount } }",
        json!({}),
    )
    .await;
    assert_eq!(future["payments"]["totalCount"], 0);
    let past = gql(
        &b,
        "{ payments(filter: {to: \"2100-01-01T00:00:00Z\"}) { totalCount } }",
        json!({}),
    )
    .await;
    assert_eq!(past["payments"]["totalCount"], 3);
    let backwards = refused(
        &b.app,
        Some(&b.token),
        "{ payments(filter: {from: \"2100-01-01T00:00:00Z\", to: \"2000-01-01T00:00:00Z\"}) { totalCount } }",
        json!({}),
    )
    .await;
    assert_eq!(code(&backwards), "BAD_USER_INPUT");

    // Someone else sees only their own.
    let bob = b.app.signed_in_user("bob@example.com").await["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    let theirs = ok(&b.app, &bob, "{ payments { totalCount } }", json!({})).await;
    assert_eq!(theirs["payments"]["totalCount"], 0);

    let admin = staff(&b.app, "admin@example.com", Role::Admin).await;
    let ann = gql(&b, "{ me { id } }", json!({})).await["me"]["id"].clone();
    let everything = ok(
        &b.app,
        &admin,
        "{ allPayments { totalCount nodes { userId } } }",
        json!({}),
    )
    .await;
    assert_eq!(everything["allPayments"]["totalCount"], 3);
    let by_user = ok(
        &b.app,
        &admin,
        "query($u: ID!) { allPayments(filter: {userId: $u, status: SUCCEEDED}) { totalCount nodes { userId needsReview } } }",
        json!({ "u": ann }),
    )
    .await;
    assert_eq!(by_user["allPayments"]["totalCount"], 1);
    assert_eq!(by_user["allPayments"]["nodes"][0]["userId"], ann);
    let flagged = ok(
        &b.app,
        &admin,
        "{ allPayments(filter: {needsReview: true}) { totalCount } }",
        json!({}),
    )
    .await;
    assert_eq!(flagged["allPayments"]["totalCount"], 0);
    let requested = ok(
        &b.app,
        &admin,
        "{ allPayments(filter: {refundRequested: true}) { totalCount } }",
        json!({}),
    )
    .await;
    assert_eq!(requested["allPayments"]["totalCount"], 0);
    let nobody = refused(
        &b.app,
        Some(&admin),
        "{ allPayments(filter: {userId: \"nobody\"}) { totalCount } }",
        json!({}),
    )
    .await;
    assert_eq!(code(&nobody), "BAD_USER_INPUT");
}
