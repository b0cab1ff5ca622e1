//! G5 health probes, G7 request ids and metrics.

use crate::common::TestApp;
use cinema::db::Backend;
use diesel_async::RunQueryDsl;
use serde_json::Value;

backend_tests!(
    liveness_answers_ok,
    readiness_reports_current_migrations,
    readiness_is_503_with_a_pending_migration,
    readiness_is_503_when_the_database_is_gone,
    responses_carry_request_ids,
    metrics_count_requests_by_route,
    unknown_paths_are_problem_documents,
    metrics_can_require_a_scraper_token,
);

async fn liveness_answers_ok(backend: Backend) {
    let app = TestApp::start_with(backend, &[]).await;
    let response = app.get("/health/live").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().await.unwrap()["status"], "ok");
}

async fn readiness_reports_current_migrations(backend: Backend) {
    let app = TestApp::start_with(backend, &[]).await;
    let response = app.get("/health/ready").await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    assert_eq!(body["database"], "ok");
    assert_eq!(body["migrations"], "current");
    assert_eq!(body["backend"], backend.name());
}

async fn readiness_is_503_with_a_pending_migration(backend: Backend) {
    let app = TestApp::start_with(backend, &[]).await;
    // Forget the newest migration, as a database one release behind this binary would be.
    let mut conn = app.conn().await;
    let deleted = cinema::per_backend!(&mut conn, |c| {
        diesel::sql_query(
            "DELETE FROM __diesel_schema_migrations \
             WHERE version = (SELECT MAX(version) FROM __diesel_schema_migrations)",
        )
        .execute(c)
        .await
    });
    assert_eq!(deleted, Ok(1));
    let response = app.get("/health/ready").await;
    assert_eq!(response.status(), 503);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "unavailable");
    assert!(body["migrations"].as_str().unwrap() == "pending: 1", "{body}");
}

async fn readiness_is_503_when_the_database_is_gone(backend: Backend) {
    let app = TestApp::start_with(backend, &[]).await;
    assert_eq!(app.get("/health/ready").await.status(), 200);
    match backend {
        // The database itself disappears under the running server.
        Backend::Postgres => {
            let url = url::Url::parse(&std::env::var("TEST_DATABASE_URL").unwrap()).unwrap();
            let name = match &app.settings().database.url {
                cinema::db::DatabaseUrl::Postgres(u) => {
                    url::Url::parse(u).unwrap().path().trim_start_matches('/').to_string()
                }
                _ => unreachable!(),
            };
            let (client, connection) = tokio_postgres::connect(url.as_str(), tokio_postgres::NoTls)
                .await
                .unwrap();
            tokio::spawn(connection);
            client
                .batch_execute(&format!("DROP DATABASE {name} WITH (FORCE)"))
                .await
                .unwrap();
        }
        // An embedded file cannot vanish from under open handles; a closed pool is the same to the server.
        Backend::Sqlite => app.db().close(),
    }
    let response = app.get("/health/ready").await;
    assert_eq!(response.status(), 503);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "unavailable");
    assert!(body["database"].as_str().unwrap().starts_with("error"), "{body}");
    assert!(
        !body.to_string().contains("pool") && !body.to_string().contains("5432"),
        "no internals: {body}"
    );
    // Liveness does not depend on the database.
    assert_eq!(app.get("/health/live").await.status(), 200);
}

async fn responses_carry_request_ids(backend: Backend) {
    let app = TestApp::start_with(backend, &[]).await;
    let response = app.get("/health/live").await;
    let generated = response.headers()["x-request-id"].to_str().unwrap().to_string();
    assert_eq!(generated.len(), 36, "a UUID: {generated}");
    let response = app
        .client
        .get(app.url("/health/live"))
        .header("x-request-id", "trace-me-42")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "trace-me-42");
}

async fn metrics_count_requests_by_route(backend: Backend) {
    let app = TestApp::start_with(backend, &[]).await;
    app.get("/health/live").await;
    let response = app.get("/metrics").await;
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    assert!(
        text.contains("http_requests_total{method=\"GET\",route=\"/health/live\",status=\"200\"}"),
        "{text}"
    );
    assert!(text.contains("http_request_duration_seconds_bucket"), "{text}");
    assert!(text.contains("cinema_db_pool_max_size"), "{text}");

    let off = TestApp::start_with(backend, &[("METRICS", "off")]).await;
    assert_eq!(off.get("/metrics").await.status(), 404);
}

async fn unknown_paths_are_problem_documents(backend: Backend) {
    let app = TestApp::start_with(backend, &[]).await;
    let response = app.get("/no/such/thing").await;
    assert_eq!(response.status(), 404);
    assert_eq!(response.headers()["content-type"], "application/problem+json");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "NOT_FOUND");
    assert_eq!(body["status"], 404);
}

/// G7 with H2's production rule: with METRICS_TOKEN set, only a scraper sending it reads /metrics.
async fn metrics_can_require_a_scraper_token(backend: Backend) {
    let app = TestApp::start_with(backend, &[("METRICS", "on"), ("METRICS_TOKEN", "scraper-secret")]).await;
    assert_eq!(app.get("/metrics").await.status(), 401);
    let wrong = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth("guess")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let right = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth("scraper-secret")
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), 200);
    assert!(right.text().await.unwrap().contains("http_requests_total"));
}
