//! G4/G6: CORS follows CORS_ORIGINS: listed origins may call the API from a browser, others may not.

use crate::common::TestApp;
use cinema::db::Backend;

backend_tests!(listed_origins_pass_preflight_and_others_do_not);

async fn listed_origins_pass_preflight_and_others_do_not(backend: Backend) {
    let app = TestApp::start_with(
        backend,
        &[("CORS_ORIGINS", "https://app.example.com, http://localhost:5173")],
    )
    .await;
    let preflight = |origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.url("/graphql"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type, authorization")
            .send()
    };
    let allowed = preflight("https://app.example.com").await.unwrap();
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    let methods = allowed.headers()["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(methods.contains("POST"), "{methods}");
    let also = preflight("http://localhost:5173").await.unwrap();
    assert_eq!(also.headers()["access-control-allow-origin"], "http://localhost:5173");
    let refused = preflight("https://evil.example.net").await.unwrap();
    assert!(refused.headers().get("access-control-allow-origin").is_none());

    // A simple cross-origin request carries the header, and the request id is readable by the page.
    let response = app
        .client
        .get(app.url("/health/live"))
        .header("origin", "https://app.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    assert!(
        response.headers()["access-control-expose-headers"]
            .to_str()
            .unwrap()
            .contains("x-request-id")
    );

    // No CORS_ORIGINS: no cross-origin access at all.
    let closed = TestApp::start_with(backend, &[]).await;
    let response = closed
        .client
        .request(reqwest::Method::OPTIONS, closed.url("/graphql"))
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert!(response.headers().get("access-control-allow-origin").is_none());

    // CORS_ORIGINS=* (development only; production refuses it): any origin.
    let open = TestApp::start_with(backend, &[("CORS_ORIGINS", "*")]).await;
    let response = open
        .client
        .request(reqwest::Method::OPTIONS, open.url("/graphql"))
        .header("origin", "https://anything.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
}
