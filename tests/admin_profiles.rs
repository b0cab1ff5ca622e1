//! A10 admin user management and A11 profiles over GraphQL, with the role checks for every admin field
//! (anonymous, USER, MODERATOR, ADMIN).

use crate::common::{PASSWORD, TestApp};
use cinema::db::{Backend, Role};
use serde_json::{Value, json};

backend_tests!(
    admin_fields_refuse_every_other_role,
    admins_list_and_filter_users,
    admins_change_roles_and_the_change_applies_at_once,
    deactivation_signs_the_user_out_and_activation_lets_them_in,
    users_edit_their_profile,
    the_first_admin_is_created_or_promoted,
    a_ban_sticks,
    the_last_admin_stays_and_admin_actions_are_recorded,
);

const USERS: &str = "query($email: String, $role: Role, $active: Boolean, $first: Int, $after: String) {
  users(emailContains: $email, role: $role, isActive: $active, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor } nodes { id email role isActive } } }";
const SET_ROLE: &str = "mutation($id: ID!, $role: Role!) { setUserRole(userId: $id, role: $role) { email role } }";
const SET_ACTIVE: &str =
    "mutation($id: ID!, $active: Boolean!) { setUserActive(userId: $id, active: $active) { email isActive } }";

/// An app with an ADMIN, a MODERATOR and a USER signed in; returns their access tokens.
async fn staffed(backend: Backend) -> (TestApp, String, String, String) {
    let app = TestApp::start(backend).await;
    for email in ["admin@example.com", "mod@example.com", "user@example.com"] {
        app.signed_in_user(email).await;
    }
    app.set_role("admin@example.com", Role::Admin).await;
    app.set_role("mod@example.com", Role::Moderator).await;
    let token = |t: Value| t["accessToken"].as_str().unwrap().to_string();
    let admin = token(app.login("admin@example.com", PASSWORD).await);
    let moderator = token(app.login("mod@example.com", PASSWORD).await);
    let user = token(app.login("user@example.com", PASSWORD).await);
    (app, admin, moderator, user)
}

async fn id_of(app: &TestApp, admin: &str, email: &str) -> String {
    let (_, body) = app.graphql_as(admin, USERS, json!({ "email": email })).await;
    body["data"]["users"]["nodes"][0]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_string()
}

async fn admin_fields_refuse_every_other_role(backend: Backend) {
    let (app, admin, moderator, user) = staffed(backend).await;
    let target = id_of(&app, &admin, "user@example.com").await;
    let operations = [
        (USERS, json!({})),
        ("{ jobs { id kind lastError } }", json!({})),
        (SET_ROLE, json!({ "id": target, "role": "MODERATOR" })),
        (SET_ACTIVE, json!({ "id": target, "active": false })),
    ];
    for (query, variables) in &operations {
        let (_, body) = app.graphql(query, variables.clone()).await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
            "anonymous: {query}"
        );
        for token in [&user, &moderator] {
            let (_, body) = app.graphql_as(token, query, variables.clone()).await;
            assert_eq!(body["errors"][0]["extensions"]["code"], "FORBIDDEN", "{query}: {body}");
        }
    }
    // Nothing changed for the refused calls.
    let (_, body) = app.graphql_as(&admin, USERS, json!({ "email": "user@" })).await;
    assert_eq!(body["data"]["users"]["nodes"][0]["role"], "USER");
    assert_eq!(body["data"]["users"]["nodes"][0]["isActive"], true);
    let (status, body) = app
        .graphql_as(
            &admin,
            "{ jobs(status: SUCCEEDED) { kind status attempts } }",
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body["data"]["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|j| j["status"] == "SUCCEEDED")
    );
    // The status is an enum: a value outside it is refused before anything runs.
    let (status, body) = app.graphql_as(&admin, "{ jobs(status: LOST) { id } }", json!({})).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["errors"][0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED");
    // The schema shows the rule.
    let sdl = cinema::server::schema::export_sdl();
    assert!(sdl.contains("@requiresRole(role: ADMIN)"), "{sdl}");
}

async fn admins_list_and_filter_users(backend: Backend) {
    let (app, admin, _, _) = staffed(backend).await;
    app.post_json(
        "/api/v1/auth/register",
        json!({ "email": "pending@example.com", "password": PASSWORD }),
        None,
    )
    .await;
    let list = |variables: Value| {
        let app = &app;
        let admin = admin.clone();
        async move {
            let (status, body) = app.graphql_as(&admin, USERS, variables).await;
            assert_eq!(status, 200, "{body}");
            body["data"]["users"].clone()
        }
    };
    assert_eq!(list(json!({})).await["totalCount"], 4);
    assert_eq!(
        list(json!({ "active": false })).await["nodes"][0]["email"],
        "pending@example.com"
    );
    assert_eq!(
        list(json!({ "role": "MODERATOR" })).await["nodes"][0]["email"],
        "mod@example.com"
    );
    assert_eq!(
        list(json!({ "email": "ADMIN@" })).await["totalCount"],
        1,
        "case-insensitive"
    );
    assert_eq!(
        list(json!({ "email": "%" })).await["totalCount"],
        0,
        "wildcards are literal"
    );
    let first = list(json!({ "first": 3 })).await;
    assert_eq!(first["pageInfo"]["hasNextPage"], true);
    let rest = list(json!({ "first": 3, "after": first["pageInfo"]["endCursor"] })).await;
    assert_eq!(rest["nodes"].as_array().unwrap().len(), 1);
    assert_eq!(first["nodes"][0]["email"], "pending@example.com", "newest first");
}

async fn admins_change_roles_and_the_change_applies_at_once(backend: Backend) {
    let (app, admin, _, user) = staffed(backend).await;
    let target = id_of(&app, &admin, "user@example.com").await;
    let (_, body) = app.graphql_as(&user, USERS, json!({})).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "FORBIDDEN");
    let (status, body) = app
        .graphql_as(&admin, SET_ROLE, json!({ "id": target, "role": "ADMIN" }))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"]["setUserRole"],
        json!({ "email": "user@example.com", "role": "ADMIN" })
    );
    let (_, body) = app.graphql_as(&user, USERS, json!({})).await;
    assert!(
        body.get("errors").is_none(),
        "the same token now has the new role: {body}"
    );

    let own = id_of(&app, &admin, "admin@example.com").await;
    let (_, body) = app
        .graphql_as(&admin, SET_ROLE, json!({ "id": own, "role": "USER" }))
        .await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "CONFLICT");
    let (_, body) = app
        .graphql_as(
            &admin,
            SET_ROLE,
            json!({ "id": uuid::Uuid::new_v4().to_string(), "role": "USER" }),
        )
        .await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "NOT_FOUND");
    let (status, body) = app
        .graphql_as(&admin, SET_ROLE, json!({ "id": target, "role": "KING" }))
        .await;
    assert_eq!(
        (status, body["errors"][0]["extensions"]["code"].as_str()),
        (400, Some("GRAPHQL_VALIDATION_FAILED"))
    );
}

async fn deactivation_signs_the_user_out_and_activation_lets_them_in(backend: Backend) {
    let (app, admin, _, user) = staffed(backend).await;
    let target = id_of(&app, &admin, "user@example.com").await;
    let (_, body) = app
        .graphql_as(&admin, SET_ACTIVE, json!({ "id": target, "active": false }))
        .await;
    assert_eq!(body["data"]["setUserActive"]["isActive"], false, "{body}");
    let (status, body) = app.graphql_as(&user, "{ me { email } }", json!({})).await;
    assert_eq!(
        (status, body["errors"][0]["extensions"]["code"].as_str()),
        (403, Some("ACCOUNT_DISABLED")),
        "signed out everywhere, with the reason: {body}"
    );
    let (status, body) = app
        .post_json(
            "/api/v1/auth/login",
            json!({ "email": "user@example.com", "password": PASSWORD }),
            None,
        )
        .await;
    assert_eq!((status, body["code"].as_str()), (403, Some("ACCOUNT_DISABLED")));
    app.graphql_as(&admin, SET_ACTIVE, json!({ "id": target, "active": true }))
        .await;
    app.login("user@example.com", PASSWORD).await;

    // Manual activation of a never-activated account.
    app.post_json(
        "/api/v1/auth/register",
        json!({ "email": "manual@example.com", "password": PASSWORD }),
        None,
    )
    .await;
    let pending = id_of(&app, &admin, "manual@").await;
    app.graphql_as(&admin, SET_ACTIVE, json!({ "id": pending, "active": true }))
        .await;
    app.login("manual@example.com", PASSWORD).await;

    let own = id_of(&app, &admin, "admin@example.com").await;
    let (_, body) = app
        .graphql_as(&admin, SET_ACTIVE, json!({ "id": own, "active": false }))
        .await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "CONFLICT");
}

async fn users_edit_their_profile(backend: Backend) {
    let (app, admin, _, user) = staffed(backend).await;
    let update = "mutation($input: ProfileInput!) { updateProfile(input: $input) {
        firstName lastName gender dateOfBirth info } }";
    let (status, body) = app
        .graphql_as(
            &user,
            update,
            json!({ "input": { "firstName": " Ada ", "lastName": "Lovelace", "gender": "FEMALE", "dateOfBirth": "1990-12-10", "info": "Likes noir." } }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"]["updateProfile"],
        json!({ "firstName": "Ada", "lastName": "Lovelace", "gender": "FEMALE", "dateOfBirth": "1990-12-10", "info": "Likes noir." })
    );
    // Omitted fields stay; null clears.
    let (_, body) = app
        .graphql_as(&user, update, json!({ "input": { "info": null } }))
        .await;
    assert_eq!(body["data"]["updateProfile"]["firstName"], "Ada");
    assert_eq!(body["data"]["updateProfile"]["info"], Value::Null);
    let (_, body) = app
        .graphql_as(&user, "{ me { profile { firstName lastName } } }", json!({}))
        .await;
    assert_eq!(
        body["data"]["me"]["profile"],
        json!({ "firstName": "Ada", "lastName": "Lovelace" })
    );

    for (input, field) in [
        (json!({ "dateOfBirth": "2999-01-01" }), "dateOfBirth"),
        (json!({ "dateOfBirth": "1800-01-01" }), "dateOfBirth"),
        (json!({ "firstName": "x".repeat(101) }), "firstName"),
        (json!({ "info": "y".repeat(2001) }), "info"),
    ] {
        let (_, body) = app.graphql_as(&user, update, json!({ "input": input })).await;
        assert_eq!(body["errors"][0]["extensions"]["field"], field, "{body}");
    }
    let (status, body) = app
        .graphql_as(&user, update, json!({ "input": { "gender": "ROBOT" } }))
        .await;
    assert_eq!(
        (status, body["errors"][0]["extensions"]["code"].as_str()),
        (400, Some("GRAPHQL_VALIDATION_FAILED"))
    );
    let (_, body) = app.graphql(update, json!({ "input": {} })).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");

    // Admins read any profile through the users list.
    let (_, body) = app
        .graphql_as(
            &admin,
            "{ users(emailContains: \"user@\") { nodes { profile { firstName } } } }",
            json!({}),
        )
        .await;
    assert_eq!(body["data"]["users"]["nodes"][0]["profile"]["firstName"], "Ada");
}

/// A10: `cinema create-admin` (its rules, called in-process; tests/cli.rs runs the command itself): a new
/// address becomes an active ADMIN; an existing account is promoted and activated with the given password;
/// a bad email or a weak password is refused and changes nothing.
async fn the_first_admin_is_created_or_promoted(backend: Backend) {
    use cinema::accounts::service::create_admin;
    let app = TestApp::start_with(backend, &[("RUN_WORKER", "off")]).await;
    let db = app.db();
    let created = create_admin(db, "Root@Example.com", PASSWORD, 4).await;
    assert_eq!(
        created.map_err(|e| e.code()),
        Ok("created ADMIN root@example.com".to_string())
    );
    let root = app.login("root@example.com", PASSWORD).await;
    let (_, me) = app
        .graphql_as(
            root["accessToken"].as_str().unwrap(),
            "{ me { role isActive } }",
            json!({}),
        )
        .await;
    assert_eq!(me["data"]["me"], json!({ "role": "ADMIN", "isActive": true }));

    // An account registered but never activated: promoted, activated, and its password replaced.
    app.post_json(
        "/api/v1/auth/register",
        json!({ "email": "later@example.com", "password": PASSWORD }),
        None,
    )
    .await;
    let promoted = create_admin(db, "later@example.com", "N3w!password", 4).await.unwrap();
    assert!(promoted.contains("already existed"), "{promoted}");
    let later = app.login("later@example.com", "N3w!password").await;
    let (_, me) = app
        .graphql_as(later["accessToken"].as_str().unwrap(), "{ me { role } }", json!({}))
        .await;
    assert_eq!(me["data"]["me"]["role"], "ADMIN");

    for (email, password) in [("not an email", PASSWORD), ("weak@example.com", "short")] {
        let refused = create_admin(db, email, password, 4).await.map_err(|e| e.code());
        assert_eq!(refused, Err("BAD_USER_INPUT"), "{email}");
    }
    let (status, body) = app
        .post_json(
            "/api/v1/auth/login",
            json!({ "email": "weak@example.com", "password": "short" }),
            None,
        )
        .await;
    assert_eq!((status, body["code"].as_str()), (401, Some("INVALID_CREDENTIALS")));
}

/// H4: a disabled account cannot get back in by itself. Before, disabling cleared the same flag that meant
/// "email not verified", so a banned user asked for a new activation link, followed it and signed in again.
async fn a_ban_sticks(backend: Backend) {
    let (app, admin, _, _) = staffed(backend).await;
    let tokens = app.login("user@example.com", PASSWORD).await;
    let access = tokens["accessToken"].as_str().unwrap().to_string();
    let refresh = tokens["refreshToken"].as_str().unwrap().to_string();
    // An account registered but not verified yet, with its activation link in the mailbox.
    app.post_json(
        "/api/v1/auth/register",
        json!({ "email": "pending@example.com", "password": PASSWORD }),
        None,
    )
    .await;
    let link = crate::common::token_in(&app.wait_for_mail("pending@example.com", "Activate", 1).await[0]);

    for email in ["user@example.com", "pending@example.com"] {
        let id = id_of(&app, &admin, email).await;
        let (_, body) = app
            .graphql_as(&admin, SET_ACTIVE, json!({ "id": id, "active": false }))
            .await;
        assert_eq!(body["data"]["setUserActive"]["isActive"], false, "{body}");
    }
    let disabled = |status: u16, code: Option<&str>| (status, code) == (403, Some("ACCOUNT_DISABLED"));
    // Every way back in answers the ban.
    let (status, body) = app
        .post_json(
            "/api/v1/auth/login",
            json!({ "email": "user@example.com", "password": PASSWORD }),
            None,
        )
        .await;
    assert!(disabled(status, body["code"].as_str()), "login: {status} {body}");
    let (status, body) = app
        .post_json("/api/v1/auth/refresh", json!({ "refreshToken": refresh }), None)
        .await;
    assert!(disabled(status, body["code"].as_str()), "refresh: {status} {body}");
    let (status, body) = app.graphql_as(&access, "{ me { email } }", json!({})).await;
    assert!(
        disabled(status, body["errors"][0]["extensions"]["code"].as_str()),
        "token: {status} {body}"
    );
    let (status, body) = app
        .post_json("/api/v1/auth/activate", json!({ "token": link }), None)
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("INVALID_TOKEN")),
        "the old link died with the ban"
    );
    // Asking for new links sends nothing (and answers as for anyone).
    for (path, email) in [
        ("/api/v1/auth/activation/resend", "pending@example.com"),
        ("/api/v1/auth/activation/resend", "user@example.com"),
        ("/api/v1/auth/password/reset/request", "user@example.com"),
    ] {
        let (status, _) = app.post_json(path, json!({ "email": email }), None).await;
        assert_eq!(status, 202, "{path}");
    }
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    assert_eq!(app.outbox("pending@example.com").len(), 1, "no new activation link");
    assert!(
        app.outbox("user@example.com")
            .iter()
            .all(|m| !crate::common::decode_mail(m).contains("Reset your")),
        "no reset link"
    );
    let (status, body) = app
        .post_json(
            "/api/v1/auth/login",
            json!({ "email": "pending@example.com", "password": PASSWORD }),
            None,
        )
        .await;
    assert!(disabled(status, body["code"].as_str()), "{status} {body}");

    // Only an admin lets them back in; the admin's word also verifies the address.
    let (_, listed) = app.graphql_as(&admin, USERS, json!({ "active": false })).await;
    assert_eq!(listed["data"]["users"]["totalCount"], 2, "{listed}");
    for email in ["user@example.com", "pending@example.com"] {
        let id = id_of(&app, &admin, email).await;
        app.graphql_as(&admin, SET_ACTIVE, json!({ "id": id, "active": true }))
            .await;
        app.login(email, PASSWORD).await;
    }
    let (_, me) = app
        .graphql_as(
            &admin,
            "query($e: String) { users(emailContains: $e) { nodes { emailVerified disabledAt } } }",
            json!({ "e": "pending@" }),
        )
        .await;
    assert_eq!(
        me["data"]["users"]["nodes"][0],
        json!({ "emailVerified": true, "disabledAt": null })
    );
}

/// A10: two admins demoting (or disabling) each other at once leave one admin, never none; every role change
/// and (de)activation is recorded for admins to read.
async fn the_last_admin_stays_and_admin_actions_are_recorded(backend: Backend) {
    let (app, first_admin, _, user) = staffed(backend).await;
    app.signed_in_user("second@example.com").await;
    app.set_role("second@example.com", Role::Admin).await;
    let second_admin = app.login("second@example.com", PASSWORD).await["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    let first_id = id_of(&app, &first_admin, "admin@example.com").await;
    let second_id = id_of(&app, &first_admin, "second@example.com").await;
    let demote = |token: String, id: String| {
        let app = &app;
        async move {
            app.graphql_as(&token, SET_ROLE, json!({ "id": id, "role": "USER" }))
                .await
        }
    };
    let (a, b) = tokio::join!(
        demote(first_admin.clone(), second_id.clone()),
        demote(second_admin.clone(), first_id.clone())
    );
    let codes: Vec<Option<&str>> = [&a.1, &b.1]
        .iter()
        .map(|body| body["errors"][0]["extensions"]["code"].as_str())
        .collect();
    assert_eq!(
        codes.iter().filter(|c| c.is_none()).count(),
        1,
        "one demotion went through: {a:?} {b:?}"
    );
    // The other is refused: LAST_ADMIN when it got past the role check first, FORBIDDEN when its sender was
    // already demoted by then (both keep one admin).
    assert!(
        codes.contains(&Some("LAST_ADMIN")) || codes.contains(&Some("FORBIDDEN")),
        "{a:?} {b:?}"
    );
    let (_, admins) = app
        .graphql_as(
            if codes[0].is_none() {
                &first_admin
            } else {
                &second_admin
            },
            USERS,
            json!({ "role": "ADMIN", "active": true }),
        )
        .await;
    assert_eq!(admins["data"]["users"]["totalCount"], 1, "{admins}");

    // The remaining admin cannot be disabled by the demoted one (no longer an admin), and is the last.
    let remaining = if codes[0].is_none() {
        &first_admin
    } else {
        &second_admin
    };
    let (_, body) = app
        .graphql_as(&user, "{ adminActions { totalCount } }", json!({}))
        .await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "FORBIDDEN");
    let target = id_of(&app, remaining, "user@example.com").await;
    app.graphql_as(remaining, SET_ACTIVE, json!({ "id": target, "active": false }))
        .await;
    app.graphql_as(remaining, SET_ACTIVE, json!({ "id": target, "active": true }))
        .await;
    let (_, body) = app
        .graphql_as(
            remaining,
            "{ adminActions(first: 10) { totalCount nodes { action adminEmail userEmail detail at } } }",
            json!({}),
        )
        .await;
    let actions = &body["data"]["adminActions"];
    assert_eq!(actions["totalCount"], 3, "{body}");
    let nodes = actions["nodes"].as_array().unwrap();
    let listed: Vec<(&str, &str)> = nodes
        .iter()
        .map(|n| (n["action"].as_str().unwrap(), n["userEmail"].as_str().unwrap()))
        .collect();
    assert_eq!(
        listed[..2],
        [("ENABLE", "user@example.com"), ("DISABLE", "user@example.com")],
        "newest first: {body}"
    );
    assert_eq!(nodes[2]["action"], "SET_ROLE");
    assert_eq!(nodes[2]["detail"], "ADMIN -> USER");
}
