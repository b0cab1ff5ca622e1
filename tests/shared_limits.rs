//! Issue 23: limits hold across instances. With a shared store (REDIS_URL) two instances on one database count
//! each per-user and per-client budget once: what one instance spent, the other refuses. Without one (the
//! single-instance default) each counts alone, and a store that does not answer makes each instance count
//! alone again rather than refuse or fail requests. On both databases.

use serde_json::json;

use crate::common::{TestApp, ok, refused};
use crate::payments::buyer_in;
use cinema::db::Backend;

backend_tests!(
    two_instances_with_a_shared_store_spend_one_budget,
    a_large_budget_leased_in_parts_still_holds_across_instances,
    without_an_answering_store_each_instance_counts_alone,
);

/// Settings that count in the test Redis under a key prefix of this test's own (tests sharing the Redis never
/// count into each other), with `limits`; None without a Redis (skipped as `redis_url` says).
fn shared_store(limits: &[(&'static str, &'static str)]) -> Option<Vec<(&'static str, String)>> {
    let redis = crate::common::redis_url()?;
    let mut settings = vec![
        ("REDIS_URL", redis),
        (
            "REDIS_KEY_PREFIX",
            format!("cinema-test:{}:", uuid::Uuid::new_v4().simple()),
        ),
    ];
    settings.extend(limits.iter().map(|(name, value)| (*name, value.to_string())));
    Some(settings)
}

fn as_vars<'a>(settings: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    settings.iter().map(|(name, value)| (*name, value.as_str())).collect()
}

fn code(error: &serde_json::Value) -> &str {
    error["extensions"]["code"].as_str().unwrap_or("")
}

const FAVORITE: &str = "mutation($m: ID!) { addFavorite(movieId: $m) { id } }";

async fn two_instances_with_a_shared_store_spend_one_budget(backend: Backend) {
    let Some(store) = shared_store(&[("WRITES_PER_MINUTE", "4"), ("RATE_LIMIT_PER_ACCOUNT", "3")]) else {
        return;
    };
    let limits = as_vars(&store);
    let mut first = vec![("SEED_DEMO", "on")];
    first.extend_from_slice(&limits);
    let b = buyer_in(TestApp::start_with(backend, &first).await).await;
    let other = b.app.beside(&limits).await;

    // A user's write budget (4 a minute): two writes on each instance spend it, and both refuse the fifth.
    for (app, movie) in [(&b.app, 0), (&other, 1), (&b.app, 2), (&other, 3)] {
        ok(app, &b.token, FAVORITE, json!({ "m": b.movies[movie] })).await;
    }
    for app in [&b.app, &other] {
        let refusal = refused(app, Some(&b.token), FAVORITE, json!({ "m": b.movies[4] })).await;
        assert_eq!(code(&refusal), "RATE_LIMITED", "{refusal}");
    }
    let mine = ok(
        &other,
        &b.token,
        "{ me { favorites(first: 10) { totalCount } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        mine["me"]["favorites"]["totalCount"], 4,
        "the refused writes changed nothing"
    );

    // Failed sign-ins of one (account, client) pair: three on one instance make the pair wait on the other.
    for _ in 0..3 {
        let (status, body) = b
            .app
            .post_json(
                "/api/v1/auth/login",
                json!({ "email": b.email, "password": "Wrong!pass1" }),
                None,
            )
            .await;
        assert_eq!(status, 401, "{body}");
    }
    let (status, body) = other
        .post_json(
            "/api/v1/auth/login",
            json!({ "email": b.email, "password": crate::common::PASSWORD }),
            None,
        )
        .await;
    assert_eq!(status, 429, "the other instance makes the pair wait too: {body}");
    assert_eq!(body["code"], "RATE_LIMITED", "{body}");
}

async fn without_an_answering_store_each_instance_counts_alone(backend: Backend) {
    // Nothing listens on this port: every count falls back to the instance's memory.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let nowhere = format!("redis://{}", silent.local_addr().unwrap());
    drop(silent);
    let limits = [("REDIS_URL", nowhere.as_str()), ("WRITES_PER_MINUTE", "2")];
    let mut first = vec![("SEED_DEMO", "on")];
    first.extend_from_slice(&limits);
    let b = buyer_in(TestApp::start_with(backend, &first).await).await;
    let other = b.app.beside(&limits).await;

    // Each instance allows the budget once (the default without a store), and still refuses past it.
    for (app, movie) in [(&b.app, 0), (&b.app, 1), (&other, 2), (&other, 3)] {
        ok(app, &b.token, FAVORITE, json!({ "m": b.movies[movie] })).await;
    }
    for app in [&b.app, &other] {
        let refusal = refused(app, Some(&b.token), FAVORITE, json!({ "m": b.movies[4] })).await;
        assert_eq!(code(&refusal), "RATE_LIMITED", "{refusal}");
    }
    assert!(
        b.app.metric("cinema_shared_limits_unavailable_total").await >= 1.0,
        "the failing store is counted for alerts"
    );
}

/// The per-client GraphQL request budget is large, so instances take it from Redis a fiftieth at a time
/// (a round trip per lease, not per request). Spread over two instances, a client still gets no more than the
/// limit, and loses at most one unused lease per instance to the leasing.
async fn a_large_budget_leased_in_parts_still_holds_across_instances(backend: Backend) {
    let Some(store) = shared_store(&[("GRAPHQL_REQUESTS_PER_MINUTE", "500")]) else {
        return;
    };
    let limits = as_vars(&store);
    let first = TestApp::start_with(backend, &limits).await;
    let second = first.beside(&limits).await;
    let mut answered = 0;
    let mut refused_by = std::collections::HashSet::new();
    for turn in 0..600 {
        let app = if turn % 2 == 0 { &first } else { &second };
        let (status, body) = app.graphql("{ __typename }", json!({})).await;
        match status {
            200 => answered += 1,
            429 => {
                assert_eq!(body["errors"][0]["extensions"]["code"], "RATE_LIMITED", "{body}");
                refused_by.insert(turn % 2);
            }
            other => panic!("{other}: {body}"),
        }
    }
    // A lease is 500 / 50 = 10 hits: each instance may hold up to 9 it did not spend.
    assert!(
        (482..=500).contains(&answered),
        "{answered} answered of a budget of 500"
    );
    assert_eq!(refused_by.len(), 2, "both instances refuse once it is spent");
}
