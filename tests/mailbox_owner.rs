//! H4, H8: the owner of a mailbox, not whoever registers its address first, decides the account's password;
//! registration, resend and reset tell nobody whether an address has an account; no inbox can be flooded
//! through the API. On both databases.

use crate::auth::accounts_with_email;
use crate::common::{PASSWORD, TestApp, decode_mail, token_in};
use cinema::accounts::cleanup::Cleanup;
use cinema::db::Backend;
use serde_json::{Value, json};

backend_tests!(
    a_squatters_registration_does_not_decide_the_password,
    a_resent_link_makes_its_follower_choose_the_password,
    a_reset_on_an_unverified_account_verifies_it,
    abandoned_registrations_are_purged,
    registering_a_taken_address_answers_as_new_and_mails_the_owner,
    account_emails_have_a_budget_per_address,
    requests_for_links_do_the_same_work_for_every_address,
);

const SQUATTER: &str = "Squ4tter!pass";
const OWNER: &str = "Own3r!pass";

async fn register(app: &TestApp, email: &str, password: &str) -> (u16, Value) {
    app.post_json(
        "/api/v1/auth/register",
        json!({ "email": email, "password": password }),
        None,
    )
    .await
}

async fn login_code(app: &TestApp, email: &str, password: &str) -> String {
    let (_, body) = app
        .post_json(
            "/api/v1/auth/login",
            json!({ "email": email, "password": password }),
            None,
        )
        .await;
    body["code"].as_str().unwrap_or("OK").to_string()
}

/// A squatter registers the owner's address first; the owner registers too and follows their own link: the
/// owner's password is the account's, the squatter's is not, and the squatter's link died with the activation.
/// Before, the owner was told EMAIL_TAKEN and the squatter's account waited for anyone to activate it.
async fn a_squatters_registration_does_not_decide_the_password(backend: Backend) {
    let app = TestApp::start(backend).await;
    assert_eq!(register(&app, "owner@example.com", SQUATTER).await.0, 201);
    let squatters = token_in(&app.wait_for_mail("owner@example.com", "Activate", 1).await[0]);
    let (status, body) = register(&app, "owner@example.com", OWNER).await;
    assert_eq!(status, 201, "{body}");
    let mails = app.wait_for_mail("owner@example.com", "Activate", 2).await;
    let owners = mails
        .iter()
        .map(|mail| token_in(mail))
        .find(|token| *token != squatters)
        .unwrap();
    assert_eq!(
        login_code(&app, "owner@example.com", SQUATTER).await,
        "ACCOUNT_INACTIVE"
    );

    let (status, _) = app
        .post_json("/api/v1/auth/activate", json!({ "token": owners }), None)
        .await;
    assert_eq!(status, 204);
    assert_eq!(login_code(&app, "owner@example.com", OWNER).await, "OK");
    assert_eq!(
        login_code(&app, "owner@example.com", SQUATTER).await,
        "INVALID_CREDENTIALS"
    );
    let (status, body) = app
        .post_json("/api/v1/auth/activate", json!({ "token": squatters }), None)
        .await;
    assert_eq!((status, body["code"].as_str()), (400, Some("INVALID_TOKEN")));
    assert_eq!(login_code(&app, "owner@example.com", OWNER).await, "OK");
    assert_eq!(accounts_with_email(&app, "owner@example.com").await, 1);
}

/// "Resend activation" no longer turns on the password of whoever registered: its link needs a password, and
/// the one given is the account's.
async fn a_resent_link_makes_its_follower_choose_the_password(backend: Backend) {
    let app = TestApp::start(backend).await;
    register(&app, "owner@example.com", SQUATTER).await;
    app.wait_for_mail("owner@example.com", "Activate", 1).await;
    let (status, _) = app
        .post_json(
            "/api/v1/auth/activation/resend",
            json!({ "email": "owner@example.com" }),
            None,
        )
        .await;
    assert_eq!(status, 202);
    let mail = &app.wait_for_mail("owner@example.com", "Activate", 2).await[1];
    assert!(
        decode_mail(mail).contains("choose your password"),
        "{}",
        decode_mail(mail)
    );
    let token = token_in(mail);
    for (body, code) in [
        (json!({ "token": token }), "BAD_USER_INPUT"),
        (json!({ "token": token, "password": "weak" }), "BAD_USER_INPUT"),
    ] {
        let (status, answer) = app.post_json("/api/v1/auth/activate", body, None).await;
        assert_eq!((status, answer["code"].as_str()), (422, Some(code)), "{answer}");
    }
    assert_eq!(
        login_code(&app, "owner@example.com", SQUATTER).await,
        "ACCOUNT_INACTIVE"
    );
    let (status, _) = app
        .post_json(
            "/api/v1/auth/activate",
            json!({ "token": token, "password": OWNER }),
            None,
        )
        .await;
    assert_eq!(status, 204);
    assert_eq!(login_code(&app, "owner@example.com", OWNER).await, "OK");
    assert_eq!(
        login_code(&app, "owner@example.com", SQUATTER).await,
        "INVALID_CREDENTIALS"
    );
}

/// A password reset reaches an unverified account (before, it was silently ignored) and, completed, verifies
/// it with the owner's password.
async fn a_reset_on_an_unverified_account_verifies_it(backend: Backend) {
    let app = TestApp::start(backend).await;
    register(&app, "owner@example.com", SQUATTER).await;
    let registration = token_in(&app.wait_for_mail("owner@example.com", "Activate", 1).await[0]);
    let (status, _) = app
        .post_json(
            "/api/v1/auth/password/reset/request",
            json!({ "email": "owner@example.com" }),
            None,
        )
        .await;
    assert_eq!(status, 202);
    let reset = token_in(&app.wait_for_mail("owner@example.com", "Reset your", 1).await[0]);
    let (status, body) = app
        .post_json(
            "/api/v1/auth/password/reset/complete",
            json!({ "token": reset, "newPassword": OWNER }),
            None,
        )
        .await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(login_code(&app, "owner@example.com", OWNER).await, "OK");
    assert_eq!(
        login_code(&app, "owner@example.com", SQUATTER).await,
        "INVALID_CREDENTIALS"
    );
    let (status, body) = app
        .post_json("/api/v1/auth/activate", json!({ "token": registration }), None)
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("INVALID_TOKEN")),
        "the squatter's link died"
    );
}

/// An unverified account whose links have all expired is deleted by the hourly cleanup, freeing the address;
/// one with a live link, a verified one and a disabled one stay.
async fn abandoned_registrations_are_purged(backend: Backend) {
    use cinema::db::schema::{one_time_tokens, users};
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    let app = TestApp::start(backend).await;
    for email in ["abandoned@example.com", "waiting@example.com", "banned@example.com"] {
        register(&app, email, SQUATTER).await;
        app.wait_for_mail(email, "Activate", 1).await;
    }
    app.signed_in_user("verified@example.com").await;
    let long_ago = cinema::db::now() - chrono::Duration::hours(30);
    let mut conn = app.conn().await;
    for email in [
        "abandoned@example.com",
        "waiting@example.com",
        "banned@example.com",
        "verified@example.com",
    ] {
        cinema::per_backend!(&mut conn, |c| diesel::update(
            users::table.filter(users::email.eq(email))
        )
        .set(users::created_at.eq(long_ago))
        .execute(c)
        .await)
        .unwrap();
    }
    cinema::per_backend!(&mut conn, |c| diesel::update(
        users::table.filter(users::email.eq("banned@example.com"))
    )
    .set(users::disabled_at.eq(Some(long_ago)))
    .execute(c)
    .await)
    .unwrap();
    let abandoned_or_banned = users::table
        .filter(users::email.eq_any(["abandoned@example.com", "banned@example.com"]))
        .select(users::id);
    cinema::per_backend!(&mut conn, |c| diesel::update(
        one_time_tokens::table.filter(one_time_tokens::user_id.eq_any(abandoned_or_banned))
    )
    .set(one_time_tokens::expires_at.eq(long_ago))
    .execute(c)
    .await)
    .unwrap();
    drop(conn);

    Cleanup::new(app.db().clone()).run_now().await.unwrap();
    for (email, left) in [
        ("abandoned@example.com", 0),
        ("waiting@example.com", 1),
        ("banned@example.com", 1),
        ("verified@example.com", 1),
    ] {
        assert_eq!(accounts_with_email(&app, email).await, left, "{email}");
    }
    // The address is free again: a new registration is a new account with a link of its own.
    let (status, body) = register(&app, "abandoned@example.com", OWNER).await;
    assert_eq!(status, 201, "{body}");
    let link = token_in(&app.wait_for_mail("abandoned@example.com", "Activate", 2).await[1]);
    let (status, _) = app
        .post_json("/api/v1/auth/activate", json!({ "token": link }), None)
        .await;
    assert_eq!(status, 204);
    assert_eq!(login_code(&app, "abandoned@example.com", OWNER).await, "OK");
}

/// Registration of an address with an account answers exactly as for a new one (status, fields, no code),
/// changes nothing, and emails the owner instead. Before, it answered 409 EMAIL_TAKEN.
async fn registering_a_taken_address_answers_as_new_and_mails_the_owner(backend: Backend) {
    let app = TestApp::start(backend).await;
    app.signed_in_user("taken@example.com").await;
    let (new_status, new) = register(&app, "new@example.com", OWNER).await;
    let (status, taken) = register(&app, "Taken@Example.com", SQUATTER).await;
    assert_eq!((status, new_status), (201, 201), "{taken}");
    let keys = |body: &Value| body.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&taken), keys(&new));
    assert_eq!(taken["isActive"], new["isActive"]);
    assert_eq!(taken["email"], "taken@example.com");
    let notice = &app
        .wait_for_mail("taken@example.com", "You already have a Cinema account", 1)
        .await[0];
    assert!(decode_mail(notice).contains("/forgot-password"));
    assert_eq!(login_code(&app, "taken@example.com", PASSWORD).await, "OK");
    assert_eq!(
        login_code(&app, "taken@example.com", SQUATTER).await,
        "INVALID_CREDENTIALS"
    );
    assert_eq!(accounts_with_email(&app, "taken@example.com").await, 1);
}

/// H8: however often anyone asks (within the request limits), one address gets at most
/// ACCOUNT_EMAILS_PER_HOUR account emails; the answers do not change.
async fn account_emails_have_a_budget_per_address(backend: Backend) {
    let app = TestApp::start_with(backend, &[("ACCOUNT_EMAILS_PER_HOUR", "3")]).await;
    register(&app, "victim@example.com", SQUATTER).await;
    for path in [
        "/api/v1/auth/activation/resend",
        "/api/v1/auth/password/reset/request",
        "/api/v1/auth/activation/resend",
        "/api/v1/auth/password/reset/request",
    ] {
        let (status, _) = app
            .post_json(path, json!({ "email": "victim@example.com" }), None)
            .await;
        assert_eq!(status, 202);
    }
    for _ in 0..3 {
        assert_eq!(register(&app, "victim@example.com", OWNER).await.0, 201);
    }
    app.wait_for_mail("victim@example.com", "Cinema", 3).await;
    wait_for_idle_queue(&app).await;
    assert_eq!(app.outbox("victim@example.com").len(), 3, "the budget held");
    // Another address has its own budget.
    app.post_json(
        "/api/v1/auth/password/reset/request",
        json!({ "email": "victim@example.com" }),
        None,
    )
    .await;
    register(&app, "bystander@example.com", OWNER).await;
    app.wait_for_mail("bystander@example.com", "Activate", 1).await;
}

/// Waits until the worker has finished every queued job.
async fn wait_for_idle_queue(app: &TestApp) {
    use cinema::db::schema::jobs;
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    for _ in 0..200 {
        let mut conn = app.conn().await;
        let waiting: i64 = cinema::per_backend!(&mut conn, |c| jobs::table
            .filter(jobs::status.eq_any(["QUEUED", "RUNNING"]))
            .count()
            .get_result(c)
            .await)
        .unwrap();
        if waiting == 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the queue never emptied");
}

/// H8: resend and reset requests queue one job whatever the address (an account, none, or not an address at
/// all gives the same answer) — the worker decides later, so the request path does not reveal which addresses
/// have accounts by the work it does.
async fn requests_for_links_do_the_same_work_for_every_address(backend: Backend) {
    use cinema::db::schema::jobs;
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    let app = TestApp::start_with(backend, &[("RUN_WORKER", "off")]).await;
    app.signed_in_user_without_worker("known@example.com").await;
    let count_jobs = async || {
        let mut conn = app.conn().await;
        let count: i64 = cinema::per_backend!(&mut conn, |c| jobs::table
            .filter(jobs::kind.eq("email.link"))
            .count()
            .get_result(c)
            .await)
        .unwrap();
        count
    };
    for path in ["/api/v1/auth/activation/resend", "/api/v1/auth/password/reset/request"] {
        let mut answers = Vec::new();
        for email in ["known@example.com", "unknown@example.com"] {
            let before = count_jobs().await;
            answers.push(app.post_json(path, json!({ "email": email }), None).await);
            assert_eq!(count_jobs().await, before + 1, "{path} {email}");
        }
        assert_eq!(answers[0], answers[1], "{path}");
    }
}
