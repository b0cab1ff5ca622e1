//! Issue 24 (A5–A7): a browser keeps its refresh token in an HttpOnly cookie. Sign-in with
//! `refreshTokenIn: "cookie"` sets it and answers no refresh token; refresh and logout read it when the body
//! has none, only with `X-Requested-With: XMLHttpRequest` (a cross-site form cannot send it); logout clears it;
//! two tabs refreshing with one cookie at once stay signed in (the reuse window); a reused cookie past the
//! window ends the session. The JSON mode is unchanged (tests/auth.rs). On both databases.

use reqwest::header::{COOKIE, SET_COOKIE};
use serde_json::{Value, json};

use crate::common::{PASSWORD, TestApp};
use cinema::db::Backend;

backend_tests!(
    the_refresh_cookie_signs_in_refreshes_and_logs_out,
    the_cookie_is_refused_without_the_script_header,
    two_tabs_share_one_cookie_session,
);

const SCRIPT: (&str, &str) = ("x-requested-with", "XMLHttpRequest");
const ME: &str = "{ me { email } }";

/// A POST as a browser's script sends it: JSON, optionally the cookie and the script header. Returns the
/// status, the body, and the cookie the answer set (`Some("")` when it cleared it).
async fn post(
    app: &TestApp,
    path: &str,
    body: Value,
    cookie: Option<&str>,
    script: bool,
) -> (u16, Value, Option<String>) {
    let mut request = app.client.post(app.url(path)).json(&body);
    if let Some(cookie) = cookie {
        request = request.header(COOKIE, format!("theme=dark; cinema_refresh={cookie}"));
    }
    if script {
        request = request.header(SCRIPT.0, SCRIPT.1);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let set = response
        .headers()
        .get(SET_COOKIE)
        .map(|value| value.to_str().unwrap().to_string());
    if let Some(set) = &set {
        for attribute in ["Path=/api/v1/auth", "HttpOnly", "SameSite=Strict"] {
            assert!(set.contains(attribute), "{set}");
        }
    }
    let value = set.map(|set| {
        set.split(';')
            .next()
            .unwrap()
            .strip_prefix("cinema_refresh=")
            .unwrap()
            .to_string()
    });
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body, value)
}

/// Registers `email` and signs in asking for the cookie: the access token, and the cookie's value.
async fn cookie_sign_in(app: &TestApp, email: &str) -> (String, String) {
    app.signed_in_user(email).await;
    cookie_sign_in_again(app, email).await
}

/// Signs an existing account in asking for the cookie.
async fn cookie_sign_in_again(app: &TestApp, email: &str) -> (String, String) {
    let (status, body, cookie) = post(
        app,
        "/api/v1/auth/login",
        json!({ "email": email, "password": PASSWORD, "refreshTokenIn": "cookie" }),
        None,
        true,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("refreshToken").is_none(), "not in the body: {body}");
    let cookie = cookie.expect("the refresh token is in Set-Cookie");
    assert_eq!(cookie.len(), 64);
    (body["accessToken"].as_str().unwrap().to_string(), cookie)
}

async fn the_refresh_cookie_signs_in_refreshes_and_logs_out(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (access, cookie) = cookie_sign_in(&app, "cookie@example.com").await;
    assert_eq!(app.graphql_as(&access, ME, json!({})).await.0, 200);

    // Refresh from the cookie: a new access token, and a new cookie in place of the old one.
    let (status, body, renewed) = post(&app, "/api/v1/auth/refresh", json!({}), Some(&cookie), true).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("refreshToken").is_none());
    let renewed = renewed.expect("a new cookie");
    assert_ne!(renewed, cookie, "rotated");
    let access = body["accessToken"].as_str().unwrap().to_string();

    // Logout with the access token clears the cookie and ends the session.
    let response = app
        .client
        .post(app.url("/api/v1/auth/logout"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    let cleared = response.headers()[SET_COOKIE].to_str().unwrap().to_string();
    assert!(
        cleared.starts_with("cinema_refresh=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
    let (status, body, dropped) = post(&app, "/api/v1/auth/refresh", json!({}), Some(&renewed), true).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("INVALID_REFRESH_TOKEN")),
        "{body}"
    );
    assert_eq!(dropped.as_deref(), Some(""), "a dead cookie is cleared");

    // Logout with only the cookie (the access token lost or expired) ends its session too.
    let (_, cookie) = cookie_sign_in_again(&app, "cookie@example.com").await;
    let (status, _, cleared) = post(&app, "/api/v1/auth/logout", json!({}), Some(&cookie), true).await;
    assert_eq!(status, 204);
    assert_eq!(cleared.as_deref(), Some(""));
    let (status, _, _) = post(&app, "/api/v1/auth/refresh", json!({}), Some(&cookie), true).await;
    assert_eq!(status, 401, "the session ended");
    let (status, body, _) = post(&app, "/api/v1/auth/logout", json!({}), None, true).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("UNAUTHENTICATED")),
        "{body}"
    );
}

/// What a cross-site form could send — the cookie without the script header — is refused and changes nothing.
async fn the_cookie_is_refused_without_the_script_header(backend: Backend) {
    let app = TestApp::start(backend).await;
    app.signed_in_user("csrf@example.com").await;
    let (status, body, set) = post(
        &app,
        "/api/v1/auth/login",
        json!({ "email": "csrf@example.com", "password": PASSWORD, "refreshTokenIn": "cookie" }),
        None,
        false,
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("CSRF_HEADER_REQUIRED")),
        "{body}"
    );
    assert!(set.is_none());
    let (_, cookie) = cookie_sign_in_again(&app, "csrf@example.com").await;
    for path in ["/api/v1/auth/refresh", "/api/v1/auth/logout"] {
        let (status, body, set) = post(&app, path, json!({}), Some(&cookie), false).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (403, Some("CSRF_HEADER_REQUIRED")),
            "{path}: {body}"
        );
        assert!(set.is_none(), "{path}");
    }
    let (status, body, _) = post(&app, "/api/v1/auth/refresh", json!({}), Some(&cookie), true).await;
    assert_eq!(status, 200, "the refused requests changed nothing: {body}");
    // No cookie at all: nothing to refresh.
    let (status, body, _) = post(&app, "/api/v1/auth/refresh", json!({}), None, true).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("INVALID_REFRESH_TOKEN")),
        "{body}"
    );
    // A body with an unknown field mode is refused as input.
    let (status, _) = app
        .post_json(
            "/api/v1/auth/login",
            json!({ "email": "csrf@example.com", "password": PASSWORD, "refreshTokenIn": "localStorage" }),
            None,
        )
        .await;
    assert!((400..500).contains(&status), "{status}");
}

/// Two tabs share the browser's one cookie: refreshing at once, both stay signed in (the reuse window); the
/// same cookie presented after the window ends the session.
async fn two_tabs_share_one_cookie_session(backend: Backend) {
    let app = TestApp::start_with(backend, &[("REFRESH_REUSE_WINDOW_SECS", "1")]).await;
    let (_, cookie) = cookie_sign_in(&app, "tabs@example.com").await;
    let (a, b) = tokio::join!(
        post(&app, "/api/v1/auth/refresh", json!({}), Some(&cookie), true),
        post(&app, "/api/v1/auth/refresh", json!({}), Some(&cookie), true),
    );
    for (status, body, set) in [&a, &b] {
        assert_eq!(*status, 200, "{body}");
        assert!(set.as_ref().is_some_and(|value| value.len() == 64));
        assert_eq!(
            app.graphql_as(body["accessToken"].as_str().unwrap(), ME, json!({}))
                .await
                .0,
            200
        );
    }
    tokio::time::sleep(std::time::Duration::from_millis(1_500)).await;
    let (status, body, cleared) = post(&app, "/api/v1/auth/refresh", json!({}), Some(&cookie), true).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("REFRESH_TOKEN_REUSED")),
        "{body}"
    );
    assert_eq!(cleared.as_deref(), Some(""));
    let (status, _, _) = post(&app, "/api/v1/auth/refresh", json!({}), a.2.as_deref(), true).await;
    assert_eq!(status, 401, "the whole session ended");
}
