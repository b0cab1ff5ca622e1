//! A1–A9, A12 over REST and GraphQL, on both databases: registration, activation, sign-in, refresh rotation
//! with reuse detection, logout, password change and reset, and rate limits; every refusal with its code.

use crate::common::{PASSWORD, TestApp, decode_mail, token_in};
use cinema::db::{Backend, Role};
use serde_json::{Value, json};
use std::time::Duration;

backend_tests!(
    register_activate_login_and_me,
    an_expired_access_token_answers_token_expired,
    registration_refusals_change_nothing,
    activation_tokens_are_single_use_and_expire,
    resend_kills_the_old_token_and_tells_nothing,
    wrong_email_and_wrong_password_answer_alike,
    refresh_rotates_and_reuse_revokes_the_session,
    logout_kills_refresh_and_access_tokens_at_once,
    password_change_revokes_other_sessions,
    password_reset_by_email,
    graphql_refuses_bad_tokens,
    docs_access_follows_sign_in,
    login_is_rate_limited_per_account_and_per_client,
    registration_resend_and_reset_are_rate_limited,
    malformed_bodies_never_answer_500,
    concurrent_registrations_of_one_email_create_one_account,
    concurrent_uses_of_one_activation_token_succeed_once,
    unreadable_emails_get_the_same_answer_as_unknown_ones,
    rate_limits_key_on_the_normalised_account_and_stay_small,
    password_change_is_rate_limited,
    token_answers_are_not_cached_and_bodies_not_logged,
    two_tabs_refreshing_at_once_stay_signed_in,
    sessions_end_at_their_maximum_age,
);

const ME: &str = "{ me { id email role isActive createdAt } }";

async fn register(app: &TestApp, email: &str, password: &str) -> (u16, Value) {
    app.post_json(
        "/api/v1/auth/register",
        json!({ "email": email, "password": password }),
        None,
    )
    .await
}

async fn register_activate_login_and_me(backend: Backend) {
    let app = TestApp::start_with(backend, &[("FRONTEND_URL", "https://app.example.com")]).await;
    let (status, body) = register(&app, "Ann@Example.com", PASSWORD).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["email"], "ann@example.com", "stored case-folded");
    assert_eq!(body["isActive"], false);

    let (status, body) = app
        .post_json(
            "/api/v1/auth/login",
            json!({ "email": "ann@example.com", "password": PASSWORD }),
            None,
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("ACCOUNT_INACTIVE")),
        "{body}"
    );

    let mail = app
        .wait_for_mail("ann@example.com", "Activate your Cinema account", 1)
        .await;
    let text = decode_mail(&mail[0]);
    assert!(text.contains("https://app.example.com/activate?token="), "{text}");
    assert!(text.contains("Content-Type: text/html"), "text and HTML parts: {text}");
    let token = token_in(&mail[0]);
    let (status, _) = app
        .post_json("/api/v1/auth/activate", json!({ "token": token }), None)
        .await;
    assert_eq!(status, 204);

    let tokens = app.login("ANN@example.com", PASSWORD).await;
    assert_eq!(tokens["tokenType"], "Bearer");
    assert_eq!(tokens["expiresIn"], 900);
    let (status, body) = app
        .graphql_as(tokens["accessToken"].as_str().unwrap(), ME, json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["me"]["email"], "ann@example.com");
    assert_eq!(body["data"]["me"]["role"], "USER");
    assert_eq!(body["data"]["me"]["isActive"], true);

    let (_, anonymous) = app.graphql(ME, json!({})).await;
    assert_eq!(anonymous["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
}

async fn registration_refusals_change_nothing(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (status, first) = register(&app, "bob@example.com", PASSWORD).await;
    assert_eq!(status, 201);
    // H8: a second registration of the address, in any case, is answered as a new one (and makes no account).
    let (status, body) = register(&app, "BOB@example.COM", PASSWORD).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        (body["email"].clone(), body["isActive"].clone()),
        (first["email"].clone(), first["isActive"].clone())
    );
    assert_ne!(body["id"], first["id"]);
    assert_eq!(accounts_with_email(&app, "bob@example.com").await, 1);

    // Display names and trailing text would deliver somewhere else than the stored address (H8).
    for email in [
        "not-an-email",
        "",
        "a@b",
        "two@@example.com",
        "x<me@mail.example>",
        "me@mail.example;a.io",
        "me@mail.example, other@mail.example",
    ] {
        let (status, body) = register(&app, email, PASSWORD).await;
        assert_eq!(
            (status, body["code"].as_str(), body["field"].as_str()),
            (422, Some("BAD_USER_INPUT"), Some("email")),
            "{email}: {body}"
        );
    }
    let long = format!("Aa1!{}", "x".repeat(70));
    for (password, rule) in [
        ("Sh0rt!", "8 characters"),
        ("nouppercase1!", "upper-case"),
        ("NOLOWERCASE1!", "lower-case"),
        ("NoDigitsHere!", "digit"),
        ("NoSpecial123", "special"),
        (long.as_str(), "72 bytes"),
    ] {
        let (status, body) = register(&app, "carol@example.com", password).await;
        assert_eq!((status, body["field"].as_str()), (422, Some("password")), "{body}");
        assert!(body["detail"].as_str().unwrap().contains(rule), "{rule}: {body}");
    }
    // None of the refused registrations left an account or an email behind.
    let (status, body) = register(&app, "carol@example.com", PASSWORD).await;
    assert_eq!(status, 201, "{body}");
    app.wait_for_mail("carol@example.com", "Activate", 1).await;
    assert!(app.outbox("not-an-email").is_empty());
}

async fn activation_tokens_are_single_use_and_expire(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (status, body) = app
        .post_json("/api/v1/auth/activate", json!({ "token": "f".repeat(64) }), None)
        .await;
    assert_eq!((status, body["code"].as_str()), (400, Some("INVALID_TOKEN")));

    register(&app, "dan@example.com", PASSWORD).await;
    let token = token_in(&app.wait_for_mail("dan@example.com", "Activate", 1).await[0]);
    // Age the token past its 24 hours.
    expire_tokens(&app).await;
    let (status, body) = app
        .post_json("/api/v1/auth/activate", json!({ "token": token }), None)
        .await;
    assert_eq!((status, body["code"].as_str()), (400, Some("TOKEN_EXPIRED")), "{body}");

    app.post_json(
        "/api/v1/auth/activation/resend",
        json!({ "email": "dan@example.com" }),
        None,
    )
    .await;
    let fresh = token_in(&app.wait_for_mail("dan@example.com", "Activate", 2).await[1]);
    assert_ne!(fresh, token);
    let chosen = json!({ "token": fresh, "password": PASSWORD });
    assert_eq!(
        app.post_json("/api/v1/auth/activate", chosen.clone(), None).await.0,
        204
    );
    let (status, body) = app.post_json("/api/v1/auth/activate", chosen, None).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("INVALID_TOKEN")),
        "used: {body}"
    );
}

async fn expire_tokens(app: &TestApp) {
    use cinema::db::schema::one_time_tokens;
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    let past = cinema::db::now() - chrono::Duration::hours(25);
    let mut conn = app.conn().await;
    let expired = cinema::per_backend!(&mut conn, |c| {
        diesel::update(one_time_tokens::table)
            .set(one_time_tokens::expires_at.eq(past))
            .execute(c)
            .await
    });
    assert!(expired.unwrap() > 0);
}

/// A3: a resend replaces the previous resent link and answers alike for every address; its link asks whoever
/// follows it for the password (H4), while the registration's own link stays valid until one of them is used.
async fn resend_kills_the_old_token_and_tells_nothing(backend: Backend) {
    let app = TestApp::start(backend).await;
    register(&app, "eve@example.com", PASSWORD).await;
    let registered = token_in(&app.wait_for_mail("eve@example.com", "Activate", 1).await[0]);
    let resend = |email: &'static str| app.post_json("/api/v1/auth/activation/resend", json!({ "email": email }), None);
    let (status, known) = resend("eve@example.com").await;
    assert_eq!(status, 202);
    let (status, unknown) = resend("nobody@example.com").await;
    assert_eq!(status, 202);
    assert_eq!(known, unknown, "the same answer whether or not the account exists");
    let first = token_in(&app.wait_for_mail("eve@example.com", "Activate", 2).await[1]);
    resend("eve@example.com").await;
    let mails = app.wait_for_mail("eve@example.com", "Activate", 3).await;
    assert!(
        decode_mail(&mails[2]).contains("choosePassword=true"),
        "the link asks for a password"
    );
    let second = token_in(&mails[2]);
    let (status, body) = app
        .post_json("/api/v1/auth/activate", json!({ "token": first }), None)
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("INVALID_TOKEN")),
        "the older resent link died"
    );
    let (status, body) = app
        .post_json("/api/v1/auth/activate", json!({ "token": second }), None)
        .await;
    assert_eq!(
        (status, body["code"].as_str(), body["field"].as_str()),
        (422, Some("BAD_USER_INPUT"), Some("password")),
        "a resent link needs a password: {body}"
    );
    let chosen = json!({ "token": second, "password": "Ch0sen!pass" });
    assert_eq!(app.post_json("/api/v1/auth/activate", chosen, None).await.0, 204);
    app.login("eve@example.com", "Ch0sen!pass").await;
    let (status, body) = app
        .post_json("/api/v1/auth/activate", json!({ "token": registered }), None)
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("INVALID_TOKEN")),
        "activation ended every other link"
    );
    // An active account gets no more activation emails.
    resend("eve@example.com").await;
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    assert_eq!(app.outbox("eve@example.com").len(), 3);
    assert!(app.outbox("nobody@example.com").is_empty());
}

async fn wrong_email_and_wrong_password_answer_alike(backend: Backend) {
    let app = TestApp::start(backend).await;
    app.signed_in_user("fay@example.com").await;
    let (s1, wrong_password) = app
        .post_json(
            "/api/v1/auth/login",
            json!({ "email": "fay@example.com", "password": "Wr0ng!pass" }),
            None,
        )
        .await;
    let (s2, wrong_email) = app
        .post_json(
            "/api/v1/auth/login",
            json!({ "email": "who@example.com", "password": PASSWORD }),
            None,
        )
        .await;
    assert_eq!((s1, s2), (401, 401));
    assert_eq!(wrong_password, wrong_email);
    assert_eq!(wrong_email["code"], "INVALID_CREDENTIALS");
}

async fn refresh_rotates_and_reuse_revokes_the_session(backend: Backend) {
    let app = TestApp::start_with(backend, &[("SEED_DEMO", "on"), ("REFRESH_REUSE_WINDOW_SECS", "1")]).await;
    let first = app.signed_in_user("gus@example.com").await;
    let (status, second) = app
        .post_json(
            "/api/v1/auth/refresh",
            json!({ "refreshToken": first["refreshToken"] }),
            None,
        )
        .await;
    assert_eq!(status, 200, "{second}");
    assert_ne!(second["refreshToken"], first["refreshToken"]);
    let (status, _) = app
        .graphql_as(second["accessToken"].as_str().unwrap(), ME, json!({}))
        .await;
    assert_eq!(status, 200);

    // The rotated token again, past the reuse window: theft is assumed, the whole session ends.
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let (status, body) = app
        .post_json(
            "/api/v1/auth/refresh",
            json!({ "refreshToken": first["refreshToken"] }),
            None,
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("REFRESH_TOKEN_REUSED")),
        "{body}"
    );
    let (status, body) = app
        .post_json(
            "/api/v1/auth/refresh",
            json!({ "refreshToken": second["refreshToken"] }),
            None,
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("INVALID_REFRESH_TOKEN")),
        "{body}"
    );
    let (status, body) = app
        .graphql_as(second["accessToken"].as_str().unwrap(), ME, json!({}))
        .await;
    assert_eq!(
        (status, body["errors"][0]["extensions"]["code"].as_str()),
        (401, Some("SESSION_REVOKED"))
    );

    let (status, body) = app
        .post_json("/api/v1/auth/refresh", json!({ "refreshToken": "garbage" }), None)
        .await;
    assert_eq!((status, body["code"].as_str()), (401, Some("INVALID_REFRESH_TOKEN")));
    // Other sessions of the same user are untouched.
    let other = app.login("gus@example.com", PASSWORD).await;
    assert_eq!(
        app.graphql_as(other["accessToken"].as_str().unwrap(), ME, json!({}))
            .await
            .0,
        200
    );
}

async fn logout_kills_refresh_and_access_tokens_at_once(backend: Backend) {
    let app = TestApp::start(backend).await;
    let tokens = app.signed_in_user("hal@example.com").await;
    let access = tokens["accessToken"].as_str().unwrap();
    assert_eq!(app.graphql_as(access, ME, json!({})).await.0, 200);
    let (status, _) = app.post_json("/api/v1/auth/logout", json!({}), Some(access)).await;
    assert_eq!(status, 204);
    let (status, body) = app.graphql_as(access, ME, json!({})).await;
    assert_eq!(
        (status, body["errors"][0]["extensions"]["code"].as_str()),
        (401, Some("SESSION_REVOKED"))
    );
    let (status, body) = app.post_json("/api/v1/auth/logout", json!({}), Some(access)).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("SESSION_REVOKED")));
    let (status, body) = app
        .post_json(
            "/api/v1/auth/refresh",
            json!({ "refreshToken": tokens["refreshToken"] }),
            None,
        )
        .await;
    assert_eq!((status, body["code"].as_str()), (401, Some("INVALID_REFRESH_TOKEN")));
    let (status, body) = app.post_json("/api/v1/auth/logout", json!({}), None).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("UNAUTHENTICATED")));
}

async fn password_change_revokes_other_sessions(backend: Backend) {
    let app = TestApp::start(backend).await;
    let here = app.signed_in_user("ivy@example.com").await;
    let elsewhere = app.login("ivy@example.com", PASSWORD).await;
    let here_access = here["accessToken"].as_str().unwrap();
    let change = |old: &str, new: &str| json!({ "oldPassword": old, "newPassword": new });
    // A reset link asked for before the change (by the user, or by someone who knows their address).
    app.post_json(
        "/api/v1/auth/password/reset/request",
        json!({ "email": "ivy@example.com" }),
        None,
    )
    .await;
    let reset_link = token_in(&app.wait_for_mail("ivy@example.com", "Reset your", 1).await[0]);

    let (status, body) = app
        .post_json(
            "/api/v1/auth/password/change",
            change("Wr0ng!old", "N3w!password"),
            Some(here_access),
        )
        .await;
    assert_eq!((status, body["code"].as_str()), (400, Some("WRONG_PASSWORD")));
    let (status, body) = app
        .post_json(
            "/api/v1/auth/password/change",
            change(PASSWORD, "weak"),
            Some(here_access),
        )
        .await;
    assert_eq!((status, body["field"].as_str()), (422, Some("newPassword")), "{body}");
    let (status, body) = app
        .post_json("/api/v1/auth/password/change", change(PASSWORD, "N3w!password"), None)
        .await;
    assert_eq!((status, body["code"].as_str()), (401, Some("UNAUTHENTICATED")));

    let (status, _) = app
        .post_json(
            "/api/v1/auth/password/change",
            change(PASSWORD, "N3w!password"),
            Some(here_access),
        )
        .await;
    assert_eq!(status, 204);
    assert_eq!(
        app.graphql_as(here_access, ME, json!({})).await.0,
        200,
        "this session stays"
    );
    let (status, _) = app
        .graphql_as(elsewhere["accessToken"].as_str().unwrap(), ME, json!({}))
        .await;
    assert_eq!(status, 401, "the other session ended");
    let (status, _) = app
        .post_json(
            "/api/v1/auth/refresh",
            json!({ "refreshToken": elsewhere["refreshToken"] }),
            None,
        )
        .await;
    assert_eq!(status, 401);
    let (status, _) = app
        .post_json(
            "/api/v1/auth/login",
            json!({ "email": "ivy@example.com", "password": PASSWORD }),
            None,
        )
        .await;
    assert_eq!(status, 401, "the old password no longer works");
    app.login("ivy@example.com", "N3w!password").await;
    // The change voided the earlier reset link: it cannot set the password back.
    let (status, body) = app
        .post_json(
            "/api/v1/auth/password/reset/complete",
            json!({ "token": reset_link, "newPassword": "Oth3r!password" }),
            None,
        )
        .await;
    assert_eq!((status, body["code"].as_str()), (400, Some("INVALID_TOKEN")), "{body}");
    app.wait_for_mail("ivy@example.com", "password was changed", 1).await;
}

async fn password_reset_by_email(backend: Backend) {
    let app = TestApp::start(backend).await;
    let before = app.signed_in_user("jo@example.com").await;
    register(&app, "inactive@example.com", PASSWORD).await;
    let request = |email: &str| {
        let app = &app;
        let body = json!({ "email": email });
        async move { app.post_json("/api/v1/auth/password/reset/request", body, None).await }
    };
    let (status, known) = request("jo@example.com").await;
    assert_eq!(status, 202);
    let (_, unknown) = request("ghost@example.com").await;
    let (_, inactive) = request("inactive@example.com").await;
    assert_eq!(known, unknown);
    assert_eq!(known, inactive);
    let mail = app
        .wait_for_mail("jo@example.com", "Reset your Cinema password", 1)
        .await;
    let token = token_in(&mail[0]);
    assert!(decode_mail(&mail[0]).contains("/reset-password?token="));

    let complete = |token: &str, password: &str| json!({ "token": token, "newPassword": password });
    let (status, body) = app
        .post_json("/api/v1/auth/password/reset/complete", complete(&token, "weak"), None)
        .await;
    assert_eq!((status, body["field"].as_str()), (422, Some("newPassword")));
    let (status, _) = app
        .post_json(
            "/api/v1/auth/password/reset/complete",
            complete(&token, "Res3t!pass"),
            None,
        )
        .await;
    assert_eq!(status, 204);
    let (status, body) = app
        .post_json(
            "/api/v1/auth/password/reset/complete",
            complete(&token, "Res3t!again"),
            None,
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("INVALID_TOKEN")),
        "single use"
    );
    let (status, _) = app
        .graphql_as(before["accessToken"].as_str().unwrap(), ME, json!({}))
        .await;
    assert_eq!(status, 401, "every session ended");
    app.login("jo@example.com", "Res3t!pass").await;
    app.wait_for_mail("jo@example.com", "password was changed", 1).await;
    // H4: an account not yet verified gets the reset link too (completing it verifies the address).
    app.wait_for_mail("inactive@example.com", "Reset your", 1).await;
    assert!(app.outbox("ghost@example.com").is_empty());
}

async fn graphql_refuses_bad_tokens(backend: Backend) {
    let app = TestApp::start(backend).await;
    for header in ["Bearer not-a-jwt", "Basic abc", "Bearer "] {
        let response = app
            .client
            .post(app.url("/graphql"))
            .header("authorization", header)
            .json(&json!({ "query": "{ genres { name } }" }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{header}");
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "INVALID_TOKEN",
            "{header}: {body}"
        );
    }
    // Public queries still work with a valid token.
    let tokens = app.signed_in_user("kim@example.com").await;
    let (status, body) = app
        .graphql_as(
            tokens["accessToken"].as_str().unwrap(),
            "{ genres { name } }",
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

/// A5 (issue 22): an access token past its expiry answers TOKEN_EXPIRED (refresh and ask again), on a public read too, so a
/// client can tell it from a forged one (INVALID_TOKEN, sign in again).
async fn an_expired_access_token_answers_token_expired(backend: Backend) {
    let app = TestApp::start(backend).await;
    let tokens = app.signed_in_user("eve@example.com").await;
    let keys = cinema::auth::jwt::JwtKeys::new(&app.settings().auth.jwt_secret, Duration::from_secs(900));
    let claims = keys.verify(tokens["accessToken"].as_str().unwrap()).unwrap();
    let an_hour_ago = chrono::Utc::now().timestamp() - 3600;
    let expired = keys
        .issue_at(&claims.sub, Role::User, &claims.sid, an_hour_ago)
        .unwrap();
    let (status, body) = app.graphql_as(&expired, "{ genres { name } }", json!({})).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["errors"][0]["extensions"]["code"], "TOKEN_EXPIRED", "{body}");
    let (status, body) = app.graphql_as(&expired, "{ me { email } }", json!({})).await;
    assert_eq!(
        (status, body["errors"][0]["extensions"]["code"].as_str()),
        (401, Some("TOKEN_EXPIRED"))
    );
    let forged = cinema::auth::jwt::JwtKeys::new("another-secret-that-is-long-enough-0123", Duration::from_secs(900))
        .issue_at(&claims.sub, Role::User, &claims.sid, an_hour_ago)
        .unwrap();
    let (status, body) = app.graphql_as(&forged, "{ genres { name } }", json!({})).await;
    assert_eq!(
        (status, body["errors"][0]["extensions"]["code"].as_str()),
        (401, Some("INVALID_TOKEN"))
    );
}

async fn docs_access_follows_sign_in(backend: Backend) {
    let app = TestApp::start_with(backend, &[("DOCS_ACCESS", "authenticated")]).await;
    assert_eq!(app.get("/api/openapi.json").await.status(), 401);
    let user = app.signed_in_user("lea@example.com").await;
    let response = app
        .client
        .get(app.url("/api/openapi.json"))
        .bearer_auth(user["accessToken"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    let admin_only = TestApp::start_with(backend, &[("DOCS_ACCESS", "admin")]).await;
    let user = admin_only.signed_in_user("max@example.com").await;
    let response = admin_only
        .client
        .get(admin_only.url("/api/docs/"))
        .bearer_auth(user["accessToken"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    assert_eq!(
        admin_only.get("/graphiql").await.status(),
        200,
        "GRAPHIQL=on is not gated"
    );
    admin_only.set_role("max@example.com", Role::Admin).await;
    let admin = admin_only.login("max@example.com", PASSWORD).await;
    let response = admin_only
        .client
        .get(admin_only.url("/api/docs/"))
        .bearer_auth(admin["accessToken"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    // GRAPHIQL=docs puts GraphiQL behind the same gate.
    let gated = TestApp::start_with(backend, &[("DOCS_ACCESS", "admin"), ("GRAPHIQL", "docs")]).await;
    assert_eq!(gated.get("/graphiql").await.status(), 401);
    assert_eq!(gated.get("/graphiql/assets/init.js").await.status(), 401);
    gated.signed_in_user("nia@example.com").await;
    gated.set_role("nia@example.com", Role::Admin).await;
    let admin = gated.login("nia@example.com", PASSWORD).await;
    let response = gated
        .client
        .get(gated.url("/graphiql"))
        .bearer_auth(admin["accessToken"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

/// A12, H8: failed sign-ins back off per (account, client) — 1 s, then 2 s… — so the owner signs in from
/// elsewhere while someone fails on purpose; a success clears the backoff; across clients an account takes ten
/// times RATE_LIMIT_PER_ACCOUNT failures per window; and a client's own limit counts every attempt.
async fn login_is_rate_limited_per_account_and_per_client(backend: Backend) {
    let app = TestApp::start_with(
        backend,
        &[
            ("RATE_LIMIT_PER_ACCOUNT", "3"),
            ("RATE_LIMIT_PER_CLIENT", "1000"),
            ("TRUSTED_PROXY_HOPS", "1"),
        ],
    )
    .await;
    app.signed_in_user("target@example.com").await;
    let attempt = |client: String, email: &'static str, password: &'static str| {
        let app = &app;
        let body = json!({ "email": email, "password": password });
        async move {
            let response = app
                .client
                .post(app.url("/api/v1/auth/login"))
                .header("x-forwarded-for", client)
                .json(&body)
                .send()
                .await
                .unwrap();
            let retry_after = response
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().parse::<u64>().unwrap());
            let body = response.json::<Value>().await.unwrap();
            (body["code"].as_str().unwrap_or("OK").to_string(), retry_after)
        }
    };
    let attacker = || "203.0.113.66".to_string();
    for _ in 0..3 {
        let (code, _) = attempt(attacker(), "target@example.com", "Wr0ng!pass").await;
        assert_eq!(code, "INVALID_CREDENTIALS");
    }
    let (code, retry_after) = attempt(attacker(), "target@example.com", PASSWORD).await;
    assert_eq!(
        (code.as_str(), retry_after),
        ("RATE_LIMITED", Some(1)),
        "the pair backs off"
    );
    let (code, _) = attempt("198.51.100.1".into(), "target@example.com", PASSWORD).await;
    assert_eq!(code, "OK", "the owner, elsewhere, is not locked out");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (code, _) = attempt(attacker(), "target@example.com", "Wr0ng!pass").await;
    assert_eq!(code, "INVALID_CREDENTIALS", "the wait is over");
    let (code, retry_after) = attempt(attacker(), "target@example.com", "Wr0ng!pass").await;
    assert_eq!((code.as_str(), retry_after), ("RATE_LIMITED", Some(2)), "and doubles");
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let (code, _) = attempt(attacker(), "target@example.com", PASSWORD).await;
    assert_eq!(code, "OK");
    for _ in 0..2 {
        let (code, _) = attempt(attacker(), "target@example.com", "Wr0ng!pass").await;
        assert_eq!(code, "INVALID_CREDENTIALS", "a success cleared the failures");
    }

    // Across clients: ten times RATE_LIMIT_PER_ACCOUNT failures per window for one account, then every client
    // waits (6 failures so far, so 24 more from as many addresses reach 30).
    for n in 0..24 {
        let (code, _) = attempt(format!("192.0.2.{n}"), "target@example.com", "Wr0ng!pass").await;
        assert_eq!(code, "INVALID_CREDENTIALS", "client {n}");
    }
    let (code, retry_after) = attempt("192.0.2.200".into(), "target@example.com", PASSWORD).await;
    assert_eq!(code, "RATE_LIMITED");
    assert!(retry_after.unwrap() >= 1);

    // Per client: every attempt counts, whichever account it names.
    let strict = TestApp::start_with(backend, &[("RATE_LIMIT_PER_CLIENT", "6")]).await;
    for n in 0..6 {
        let (status, _) = strict
            .post_json(
                "/api/v1/auth/login",
                json!({ "email": format!("other{n}@example.com"), "password": "Wr0ng!pass" }),
                None,
            )
            .await;
        assert_eq!(status, 401);
    }
    let (status, body) = strict
        .post_json(
            "/api/v1/auth/login",
            json!({ "email": "other7@example.com", "password": "Wr0ng!pass" }),
            None,
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (429, Some("RATE_LIMITED")),
        "seven attempts from one client"
    );
    // Registration and reset have their own counters.
    assert_eq!(register(&strict, "fresh@example.com", PASSWORD).await.0, 201);
}

async fn registration_resend_and_reset_are_rate_limited(backend: Backend) {
    let app = TestApp::start_with(
        backend,
        &[
            ("RATE_LIMIT_PER_ACCOUNT", "2"),
            ("RATE_LIMIT_PER_CLIENT", "100"),
            ("TRUST_FORWARDED_FOR", "on"),
        ],
    )
    .await;
    let post = |path: &'static str, body: Value, client: &'static str| {
        let app = &app;
        async move {
            let response = app
                .client
                .post(app.url(path))
                .header("x-forwarded-for", client)
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap())
        }
    };
    let weak = json!({ "email": "spam@example.com", "password": "weak" });
    for _ in 0..2 {
        assert_eq!(post("/api/v1/auth/register", weak.clone(), "203.0.113.1").await.0, 422);
    }
    let (status, body) = post("/api/v1/auth/register", weak.clone(), "203.0.113.2").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (429, Some("RATE_LIMITED")),
        "per account, whatever the client"
    );
    for path in ["/api/v1/auth/activation/resend", "/api/v1/auth/password/reset/request"] {
        let email = json!({ "email": "victim@example.com" });
        for _ in 0..2 {
            assert_eq!(post(path, email.clone(), "203.0.113.3").await.0, 202, "{path}");
        }
        assert_eq!(post(path, email.clone(), "203.0.113.3").await.0, 429, "{path}");
    }

    // Per client, with the address taken from X-Forwarded-For (TRUST_FORWARDED_FOR=on).
    let strict = TestApp::start_with(
        backend,
        &[("RATE_LIMIT_PER_CLIENT", "2"), ("TRUST_FORWARDED_FOR", "on")],
    )
    .await;
    let reset = |n: u32, client: &'static str| {
        let app = &strict;
        async move {
            app.client
                .post(app.url("/api/v1/auth/password/reset/complete"))
                .header("x-forwarded-for", client)
                .json(&json!({ "token": format!("unknown-{n}"), "newPassword": PASSWORD }))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(reset(1, "198.51.100.7").await, 400);
    assert_eq!(reset(2, "198.51.100.7").await, 400);
    assert_eq!(reset(3, "198.51.100.7").await, 429, "a third guess from one client");
    assert_eq!(reset(4, "198.51.100.8").await, 400, "another client has its own count");
    // H5: the client writes the left of the header, the proxy appends the right: rotating the left changes
    // nothing, and what the proxy appended is the client.
    for spoofed in ["1.1.1.1", "2.2.2.2", "3.3.3.3"] {
        let header = format!("{spoofed}, 198.51.100.8");
        let status = strict
            .client
            .post(strict.url("/api/v1/auth/password/reset/complete"))
            .header("x-forwarded-for", header)
            .json(&json!({ "token": "unknown", "newPassword": PASSWORD }))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16();
        let expected = if spoofed == "1.1.1.1" { 400 } else { 429 };
        assert_eq!(status, expected, "{spoofed}");
    }
    // Two proxies: the entry the outer one appended; a malformed one falls back to the peer.
    let two = TestApp::start_with(backend, &[("RATE_LIMIT_PER_CLIENT", "1"), ("TRUSTED_PROXY_HOPS", "2")]).await;
    let guess = |header: &'static str| {
        let app = &two;
        async move {
            app.client
                .post(app.url("/api/v1/auth/password/reset/complete"))
                .header("x-forwarded-for", header)
                .json(&json!({ "token": "unknown", "newPassword": PASSWORD }))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(guess("9.9.9.9, 198.51.100.20, 10.0.0.2").await, 400);
    assert_eq!(
        guess("8.8.8.8, 198.51.100.20, 10.0.0.3").await,
        429,
        "same client behind the proxies"
    );
    assert_eq!(guess("not-an-ip, 10.0.0.2").await, 400, "peer 127.0.0.1, first guess");
    assert_eq!(guess("x").await, 429, "too few entries: the peer again");
}

async fn malformed_bodies_never_answer_500(backend: Backend) {
    let app = TestApp::start(backend).await;
    let paths = [
        "/api/v1/auth/register",
        "/api/v1/auth/activate",
        "/api/v1/auth/activation/resend",
        "/api/v1/auth/login",
        "/api/v1/auth/refresh",
        "/api/v1/auth/password/reset/request",
        "/api/v1/auth/password/reset/complete",
    ];
    for path in paths {
        for (content_type, body) in [
            ("application/json", "{not json"),
            ("application/json", "{}"),
            (
                "application/json",
                r#"{"email": 5, "password": [], "token": {}, "refreshToken": 1, "newPassword": null}"#,
            ),
            ("application/json", "[]"),
            ("text/plain", "hello"),
        ] {
            let response = app
                .client
                .post(app.url(path))
                .header("content-type", content_type)
                .body(body)
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            assert!((400..500).contains(&status), "{path} {body}: {status}");
            assert_eq!(
                response.headers()["content-type"],
                "application/problem+json",
                "{path} {body}"
            );
            let problem: Value = response.json().await.unwrap();
            if content_type == "text/plain" {
                assert_eq!(
                    (status, problem["code"].as_str()),
                    (415, Some("UNSUPPORTED_MEDIA_TYPE"))
                );
            }
        }
    }
    let huge = format!(r#"{{"email": "{}", "password": "x"}}"#, "a".repeat(64 * 1024));
    let response = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["code"], "PAYLOAD_TOO_LARGE");
}

/// A1: two people (or one double click) registering one address at the same moment make one account, and
/// every one of them is answered alike (H8), whichever check (the service's or the unique index) caught them.
async fn concurrent_registrations_of_one_email_create_one_account(backend: Backend) {
    let app = TestApp::start_with(backend, &[("RUN_WORKER", "off")]).await;
    let attempts = (0..6).map(|_| register(&app, "race@example.com", PASSWORD));
    let answers = futures_util::future::join_all(attempts).await;
    assert!(answers.iter().all(|(status, _)| *status == 201), "{answers:?}");
    assert_eq!(accounts_with_email(&app, "race@example.com").await, 1);
}

/// How many accounts hold `email`.
pub async fn accounts_with_email(app: &TestApp, email: &str) -> i64 {
    use cinema::db::schema::users;
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    let mut conn = app.conn().await;
    cinema::per_backend!(&mut conn, |c| users::table
        .filter(users::email.eq(email))
        .count()
        .get_result(c)
        .await)
    .unwrap()
}

/// A2: an activation link used by several requests at once activates once; the others are told the link is
/// no longer valid.
async fn concurrent_uses_of_one_activation_token_succeed_once(backend: Backend) {
    let app = TestApp::start(backend).await;
    register(&app, "twice@example.com", PASSWORD).await;
    let token = token_in(&app.wait_for_mail("twice@example.com", "Activate", 1).await[0]);
    let uses = (0..6).map(|_| app.post_json("/api/v1/auth/activate", json!({ "token": token }), None));
    let answers = futures_util::future::join_all(uses).await;
    assert_eq!(
        answers.iter().filter(|(status, _)| *status == 204).count(),
        1,
        "{answers:?}"
    );
    for (status, body) in answers.iter().filter(|(status, _)| *status != 204) {
        assert_eq!((*status, body["code"].as_str()), (400, Some("INVALID_TOKEN")), "{body}");
    }
    app.login("twice@example.com", PASSWORD).await;
}

/// A3, A8: an email that cannot be an address gets the same answer as one without an account.
async fn unreadable_emails_get_the_same_answer_as_unknown_ones(backend: Backend) {
    let app = TestApp::start(backend).await;
    for path in ["/api/v1/auth/activation/resend", "/api/v1/auth/password/reset/request"] {
        let (unknown_status, unknown) = app
            .post_json(path, json!({ "email": "nobody@example.com" }), None)
            .await;
        let (status, body) = app.post_json(path, json!({ "email": "not an address" }), None).await;
        assert_eq!((status, &body), (unknown_status, &unknown), "{path}");
        assert_eq!(status, 202);
    }
}

/// A12, H1: the per-account limit counts an address however it is written; text that is not an address is
/// counted against the client only, so it adds no key; and the sign-in endpoints read at most a few KiB.
/// Before, the limiter kept every raw email as a key (up to the 3 MiB body limit) until it held 100,000.
async fn rate_limits_key_on_the_normalised_account_and_stay_small(backend: Backend) {
    let app = TestApp::start_with(backend, &[("RATE_LIMIT_PER_ACCOUNT", "3")]).await;
    let login = |email: String| {
        app.post_json(
            "/api/v1/auth/login",
            json!({ "email": email, "password": "Wr0ng!pass" }),
            None,
        )
    };
    // The failures of one client on one account, however the address is written.
    for email in ["bob@example.com", "  Bob@Example.COM ", "BOB@example.com"] {
        let (status, body) = login(email.to_string()).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (401, Some("INVALID_CREDENTIALS")),
            "{email}"
        );
    }
    let (status, body) = login("bob@EXAMPLE.com".to_string()).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (429, Some("RATE_LIMITED")),
        "one account, however written"
    );

    let keys = app.state.rate_limits.tracked_keys();
    for i in 0..20 {
        let junk = format!("{}{i}", "x".repeat(5000));
        let (status, _) = login(junk).await;
        assert_eq!(status, 401);
    }
    assert_eq!(app.state.rate_limits.tracked_keys(), keys, "non-addresses add no key");

    let oversized = json!({ "email": "a".repeat(20 * 1024), "password": "x" });
    let (status, body) = app.post_json("/api/v1/auth/login", oversized, None).await;
    assert_eq!((status, body["code"].as_str()), (413, Some("PAYLOAD_TOO_LARGE")));
}

/// A12: every password change attempt costs a bcrypt verify; a stolen access token buys few guesses.
async fn password_change_is_rate_limited(backend: Backend) {
    let app = TestApp::start_with(backend, &[("RATE_LIMIT_PER_ACCOUNT", "2")]).await;
    let tokens = app.signed_in_user("guess@example.com").await;
    let access = tokens["accessToken"].as_str().unwrap();
    let guess = json!({ "oldPassword": "Wr0ng!guess", "newPassword": "N3w!password" });
    for _ in 0..2 {
        let (status, body) = app
            .post_json("/api/v1/auth/password/change", guess.clone(), Some(access))
            .await;
        assert_eq!((status, body["code"].as_str()), (400, Some("WRONG_PASSWORD")));
    }
    let (status, body) = app.post_json("/api/v1/auth/password/change", guess, Some(access)).await;
    assert_eq!((status, body["code"].as_str()), (429, Some("RATE_LIMITED")));
}

/// H7: token answers say no-store; every answer says nosniff and no-referrer; the docs pages refuse framing;
/// request bodies holding secrets print redacted.
async fn token_answers_are_not_cached_and_bodies_not_logged(backend: Backend) {
    let app = TestApp::start(backend).await;
    app.signed_in_user("cache@example.com").await;
    let response = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({ "email": "cache@example.com", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    assert_eq!(response.headers()["referrer-policy"], "no-referrer");
    let tokens: Value = response.json().await.unwrap();
    let response = app
        .client
        .post(app.url("/api/v1/auth/refresh"))
        .json(&json!({ "refreshToken": tokens["refreshToken"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["cache-control"], "no-store");
    let docs = app.get("/api/docs/").await;
    assert!(
        docs.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'"),
        "{:?}",
        docs.headers()
    );
    assert_eq!(docs.headers()["x-frame-options"], "DENY");

    let body: cinema::accounts::rest::PasswordChange =
        serde_json::from_value(json!({ "oldPassword": "Old!pass1", "newPassword": "N3w!secret" })).unwrap();
    let printed = format!("{body:?}");
    assert!(
        !printed.contains("Old!pass1") && !printed.contains("N3w!secret"),
        "{printed}"
    );
}

/// H6: a single-page app open in two tabs (or retrying) that refreshes with one token at the same moment stays
/// signed in: within the reuse window every use gets a fresh pair of the same session. Before, one request won
/// and the others revoked the whole session, signing the user out.
async fn two_tabs_refreshing_at_once_stay_signed_in(backend: Backend) {
    let app = TestApp::start(backend).await;
    let tokens = app.signed_in_user("tabs@example.com").await;
    let uses = (0..10).map(|_| {
        app.post_json(
            "/api/v1/auth/refresh",
            json!({ "refreshToken": tokens["refreshToken"] }),
            None,
        )
    });
    let answers = futures_util::future::join_all(uses).await;
    assert!(answers.iter().all(|(status, _)| *status == 200), "{answers:?}");
    for (_, pair) in &answers {
        let (status, _) = app
            .graphql_as(pair["accessToken"].as_str().unwrap(), ME, json!({}))
            .await;
        assert_eq!(status, 200, "the session lives");
    }
    let (status, _) = app
        .post_json(
            "/api/v1/auth/refresh",
            json!({ "refreshToken": answers[3].1["refreshToken"] }),
            None,
        )
        .await;
    assert_eq!(status, 200, "each tab's new refresh token works");
}

/// H6: however often it is refreshed, a session ends SESSION_MAX_AGE_DAYS after its sign-in.
async fn sessions_end_at_their_maximum_age(backend: Backend) {
    use cinema::db::schema::sessions;
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    let app = TestApp::start(backend).await;
    let tokens = app.signed_in_user("old@example.com").await;
    let signed_in_long_ago = cinema::db::now() - chrono::Duration::days(31);
    let mut conn = app.conn().await;
    let aged = cinema::per_backend!(&mut conn, |c| {
        diesel::update(sessions::table)
            .set(sessions::created_at.eq(signed_in_long_ago))
            .execute(c)
            .await
    });
    assert_eq!(aged, Ok(1));
    let (status, body) = app
        .post_json(
            "/api/v1/auth/refresh",
            json!({ "refreshToken": tokens["refreshToken"] }),
            None,
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("INVALID_REFRESH_TOKEN")),
        "{body}"
    );
}
