//! B10, B11: comments with replies and likes, the delete rules, and notifications in-app and by email, on both
//! databases.

use crate::common::{TestApp, decode_mail, ok};
use cinema::db::{Backend, Role};
use serde_json::{Value, json};

backend_tests!(
    comments_and_replies_thread_two_levels_deep,
    comment_pages_follow_keyset_cursors_both_ways,
    comment_refusals,
    deleting_follows_author_and_moderator_rules,
    replies_and_likes_notify_once_in_app_and_by_email,
    posting_is_limited_per_user,
);

struct People {
    app: TestApp,
    ann: String,
    bob: String,
    moderator: String,
    movie: String,
}

async fn people(backend: Backend) -> People {
    people_with(backend, &[]).await
}

async fn people_with(backend: Backend, vars: &[(&str, &str)]) -> People {
    let mut all = vec![("SEED_DEMO", "on")];
    all.extend_from_slice(vars);
    let app = TestApp::start_with(backend, &all).await;
    for email in ["ann@example.com", "bob@example.com", "mod@example.com"] {
        app.signed_in_user(email).await;
    }
    app.set_role("mod@example.com", Role::Moderator).await;
    let token = |t: Value| t["accessToken"].as_str().unwrap().to_string();
    let movie = app.query_ok("{ movies(first: 1) { nodes { id } } }", json!({})).await["movies"]["nodes"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    People {
        ann: token(app.login("ann@example.com", crate::common::PASSWORD).await),
        bob: token(app.login("bob@example.com", crate::common::PASSWORD).await),
        moderator: token(app.login("mod@example.com", crate::common::PASSWORD).await),
        movie,
        app,
    }
}

async fn error_of(app: &TestApp, token: Option<&str>, query: &str, variables: Value) -> Value {
    let body = match token {
        Some(token) => app.graphql_as(token, query, variables).await.1,
        None => app.graphql(query, variables).await.1,
    };
    body["errors"][0]["extensions"].clone()
}

const ADD: &str = "mutation($m: ID!, $t: String!) { addComment(movieId: $m, text: $t) { id text author { name } likes viewerLiked replyCount } }";
const REPLY: &str = "mutation($c: ID!, $t: String!) { reply(commentId: $c, text: $t) { id text } }";
const THREAD: &str = "query($m: ID!, $first: Int, $after: String, $order: CommentOrder) { movie(id: $m) {
    comments(first: $first, after: $after, order: $order) { totalCount pageInfo { hasNextPage endCursor }
      nodes { id text isDeleted author { id name } likes viewerLiked replyCount
              replies(first: 5) { totalCount nodes { id text author { name } } } } } } }";

async fn comments_and_replies_thread_two_levels_deep(backend: Backend) {
    let p = people(backend).await;
    let app = &p.app;
    ok(
        app,
        &p.ann,
        "mutation { updateProfile(input: { firstName: \"Ann\", lastName: \"Lee\" }) { firstName } }",
        json!({}),
    )
    .await;
    let top = ok(app, &p.ann, ADD, json!({ "m": p.movie, "t": "  A masterpiece.  " })).await["addComment"].clone();
    assert_eq!(top["text"], "A masterpiece.", "trimmed");
    assert_eq!(top["author"]["name"], "Ann Lee", "the profile's name, never the email");
    let first_reply = ok(app, &p.bob, REPLY, json!({ "c": top["id"], "t": "Agreed." })).await["reply"].clone();
    // A reply to a reply joins the same thread: two levels, no deeper.
    ok(app, &p.ann, REPLY, json!({ "c": first_reply["id"], "t": "Thanks!" })).await;

    let thread = app.query_ok(THREAD, json!({ "m": p.movie })).await["movie"]["comments"].clone();
    assert_eq!(thread["totalCount"], 1);
    let comment = &thread["nodes"][0];
    assert_eq!(comment["replyCount"], 2);
    assert_eq!(comment["replies"]["totalCount"], 2);
    let replies: Vec<&str> = comment["replies"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["text"].as_str().unwrap())
        .collect();
    assert_eq!(replies, ["Agreed.", "Thanks!"], "replies oldest first");
    assert_eq!(
        comment["replies"]["nodes"][0]["author"]["name"], "Cinema viewer",
        "no profile name: a neutral label"
    );

    // Likes: once per user, counted; the viewer sees their own.
    let like = "mutation($c: ID!) { likeComment(commentId: $c) { likes viewerLiked } }";
    for _ in 0..2 {
        let liked = ok(app, &p.bob, like, json!({ "c": top["id"] })).await;
        assert_eq!(liked["likeComment"], json!({ "likes": 1, "viewerLiked": true }));
    }
    let seen_by_ann = ok(app, &p.ann, THREAD, json!({ "m": p.movie })).await;
    assert_eq!(seen_by_ann["movie"]["comments"]["nodes"][0]["viewerLiked"], false);
    let unliked = ok(
        app,
        &p.bob,
        "mutation($c: ID!) { unlikeComment(commentId: $c) { likes viewerLiked } }",
        json!({ "c": top["id"] }),
    )
    .await;
    assert_eq!(unliked["unlikeComment"], json!({ "likes": 0, "viewerLiked": false }));
}

async fn comment_pages_follow_keyset_cursors_both_ways(backend: Backend) {
    let p = people(backend).await;
    let app = &p.app;
    for n in 0..7 {
        ok(app, &p.ann, ADD, json!({ "m": p.movie, "t": format!("comment {n}") })).await;
    }
    for (order, expected) in [
        ("NEWEST", (0..7).rev().collect::<Vec<_>>()),
        ("OLDEST", (0..7).collect()),
    ] {
        let mut seen = Vec::new();
        let mut after = Value::Null;
        loop {
            let page = app
                .query_ok(
                    THREAD,
                    json!({ "m": p.movie, "first": 3, "after": after, "order": order }),
                )
                .await["movie"]["comments"]
                .clone();
            assert_eq!(page["totalCount"], 7);
            seen.extend(
                page["nodes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| c["text"].as_str().unwrap().to_string()),
            );
            if page["pageInfo"]["hasNextPage"] == false {
                break;
            }
            after = page["pageInfo"]["endCursor"].clone();
        }
        let expected: Vec<String> = expected.iter().map(|n| format!("comment {n}")).collect();
        assert_eq!(seen, expected, "{order}");
    }
    // A cursor of one order is refused in the other.
    let page = app
        .query_ok(THREAD, json!({ "m": p.movie, "first": 2, "order": "NEWEST" }))
        .await;
    let cursor = page["movie"]["comments"]["pageInfo"]["endCursor"].clone();
    let (_, body) = app
        .graphql(
            THREAD,
            json!({ "m": p.movie, "first": 2, "after": cursor, "order": "OLDEST" }),
        )
        .await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{body}");
}

async fn comment_refusals(backend: Backend) {
    let p = people(backend).await;
    let app = &p.app;
    let error = error_of(app, None, ADD, json!({ "m": p.movie, "t": "hi" })).await;
    assert_eq!(error["code"], "UNAUTHENTICATED");
    // B10 (issue 22): a text of only invisible characters (zero-width spaces and joiners, a byte-order mark, a Hangul
    // filler) is refused like an empty one.
    let invisible = "\u{200B}\u{200D}\u{FEFF}\u{3164}";
    for text in ["", "   \n ", invisible, &"x".repeat(2001)] {
        let error = error_of(app, Some(&p.ann), ADD, json!({ "m": p.movie, "t": text })).await;
        assert_eq!(
            (error["code"].as_str(), error["field"].as_str()),
            (Some("BAD_USER_INPUT"), Some("text")),
            "{error}"
        );
    }
    ok(app, &p.ann, ADD, json!({ "m": p.movie, "t": "x".repeat(2000) })).await;
    let error = error_of(app, Some(&p.ann), ADD, json!({ "m": "no-such-movie", "t": "hi" })).await;
    assert_eq!(error["code"], "NOT_FOUND");
    for mutation in [
        REPLY,
        "mutation($c: ID!) { likeComment(commentId: $c) { id } }",
        "mutation($c: ID!) { deleteComment(commentId: $c) }",
    ] {
        let error = error_of(
            app,
            Some(&p.ann),
            mutation,
            json!({ "c": "no-such-comment", "t": "hi" }),
        )
        .await;
        assert_eq!(error["code"], "NOT_FOUND", "{mutation}");
    }
    let error = error_of(app, Some(&p.ann), "mutation { markNotificationsRead }", json!({})).await;
    assert_eq!(error["code"], "BAD_USER_INPUT");
}

async fn deleting_follows_author_and_moderator_rules(backend: Backend) {
    let p = people(backend).await;
    let app = &p.app;
    let delete = "mutation($c: ID!) { deleteComment(commentId: $c) }";
    let lonely = ok(app, &p.ann, ADD, json!({ "m": p.movie, "t": "alone" })).await["addComment"]["id"].clone();
    let error = error_of(app, Some(&p.bob), delete, json!({ "c": lonely })).await;
    assert_eq!(error["code"], "FORBIDDEN", "someone else's comment");
    ok(app, &p.ann, delete, json!({ "c": lonely })).await;

    let parent = ok(app, &p.ann, ADD, json!({ "m": p.movie, "t": "has replies" })).await["addComment"]["id"].clone();
    let reply = ok(app, &p.bob, REPLY, json!({ "c": parent, "t": "a reply" })).await["reply"]["id"].clone();
    ok(app, &p.ann, delete, json!({ "c": parent })).await;
    let thread = app.query_ok(THREAD, json!({ "m": p.movie })).await["movie"]["comments"].clone();
    assert_eq!(
        thread["totalCount"], 1,
        "the deleted comment keeps its place for its reply"
    );
    let kept = &thread["nodes"][0];
    assert_eq!(
        (kept["isDeleted"].clone(), kept["text"].clone(), kept["author"].clone()),
        (json!(true), Value::Null, Value::Null)
    );
    assert_eq!(kept["replies"]["nodes"][0]["text"], "a reply");
    let error = error_of(app, Some(&p.bob), REPLY, json!({ "c": parent, "t": "more" })).await;
    assert_eq!(error["code"], "COMMENT_DELETED");
    let error = error_of(app, Some(&p.ann), delete, json!({ "c": parent })).await;
    assert_eq!(
        error["code"], "COMMENT_DELETED",
        "a deleted comment is not deleted twice"
    );
    let error = error_of(app, Some(&p.ann), delete, json!({ "c": lonely })).await;
    assert_eq!(error["code"], "NOT_FOUND", "a comment without replies is gone");

    // A moderator deletes anyone's; the last reply of a deleted comment takes it along.
    ok(app, &p.moderator, delete, json!({ "c": reply })).await;
    let thread = app.query_ok(THREAD, json!({ "m": p.movie })).await["movie"]["comments"].clone();
    assert_eq!(thread["totalCount"], 0);
}

async fn replies_and_likes_notify_once_in_app_and_by_email(backend: Backend) {
    let p = people(backend).await;
    let app = &p.app;
    let mine = ok(app, &p.ann, ADD, json!({ "m": p.movie, "t": "notify me" })).await["addComment"]["id"].clone();
    // Your own actions notify nobody.
    ok(app, &p.ann, REPLY, json!({ "c": mine, "t": "talking to myself" })).await;
    ok(
        app,
        &p.ann,
        "mutation($c: ID!) { likeComment(commentId: $c) { id } }",
        json!({ "c": mine }),
    )
    .await;
    let count = "{ me { unreadNotificationCount } }";
    assert_eq!(
        ok(app, &p.ann, count, json!({})).await["me"]["unreadNotificationCount"],
        0
    );

    ok(app, &p.bob, REPLY, json!({ "c": mine, "t": "hello Ann" })).await;
    for _ in 0..3 {
        ok(
            app,
            &p.bob,
            "mutation($c: ID!) { likeComment(commentId: $c) { id } }",
            json!({ "c": mine }),
        )
        .await;
        ok(
            app,
            &p.bob,
            "mutation($c: ID!) { unlikeComment(commentId: $c) { id } }",
            json!({ "c": mine }),
        )
        .await;
    }
    assert_eq!(
        ok(app, &p.ann, count, json!({})).await["me"]["unreadNotificationCount"],
        2,
        "a reply and one like, however toggled"
    );
    let list = "query($unread: Boolean) { me { notifications(unreadOnly: $unread) { totalCount nodes { id kind readAt comment { text } } } } }";
    let notes = ok(app, &p.ann, list, json!({ "unread": true })).await["me"]["notifications"].clone();
    let kinds: Vec<&str> = notes["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["COMMENT_LIKE", "COMMENT_REPLY"], "newest first");
    assert_eq!(notes["nodes"][1]["comment"]["text"], "hello Ann");
    assert_eq!(notes["nodes"][0]["comment"]["text"], "notify me");

    // One email for the first unread notification, over the outbox.
    let mail = app
        .wait_for_mail("ann@example.com", "New activity on your Cinema comments", 1)
        .await;
    assert!(decode_mail(&mail[0]).contains("/notifications"));
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let activity = app
        .outbox("ann@example.com")
        .iter()
        .filter(|m| decode_mail(m).contains("New activity"))
        .count();
    assert_eq!(activity, 1, "a busy thread sends one email until it is read");

    // Others cannot read or mark them.
    let bobs = app
        .graphql_as(&p.bob, "{ me { notifications { totalCount } } }", json!({}))
        .await
        .1;
    assert_eq!(bobs["data"]["me"]["notifications"]["totalCount"], 0);
    let first = notes["nodes"][0]["id"].clone();
    let marked = ok(
        app,
        &p.bob,
        "mutation($ids: [ID!]) { markNotificationsRead(ids: $ids) }",
        json!({ "ids": [first] }),
    )
    .await;
    assert_eq!(marked["markNotificationsRead"], 0, "not Bob's");
    let marked = ok(
        app,
        &p.ann,
        "mutation($ids: [ID!]) { markNotificationsRead(ids: $ids) }",
        json!({ "ids": [first] }),
    )
    .await;
    assert_eq!(marked["markNotificationsRead"], 1);
    assert_eq!(
        ok(app, &p.ann, count, json!({})).await["me"]["unreadNotificationCount"],
        1
    );
    let marked = ok(app, &p.ann, "mutation { markNotificationsRead(all: true) }", json!({})).await;
    assert_eq!(marked["markNotificationsRead"], 1);
    let all = ok(app, &p.ann, list, json!({ "unread": false })).await["me"]["notifications"].clone();
    assert_eq!(all["totalCount"], 2);
    assert!(all["nodes"].as_array().unwrap().iter().all(|n| !n["readAt"].is_null()));
}

/// H2, B10: one user posts at most COMMENTS_PER_MINUTE comments and replies; past it RATE_LIMITED with the
/// seconds to wait, and nothing is stored; another user is not held back.
async fn posting_is_limited_per_user(backend: Backend) {
    let p = people_with(backend, &[("COMMENTS_PER_MINUTE", "3")]).await;
    let app = &p.app;
    let first = ok(app, &p.ann, ADD, json!({ "m": p.movie, "t": "one" })).await["addComment"]["id"].clone();
    ok(app, &p.ann, ADD, json!({ "m": p.movie, "t": "two" })).await;
    ok(app, &p.ann, REPLY, json!({ "c": first, "t": "three" })).await;
    for (query, variables) in [
        (ADD, json!({ "m": p.movie, "t": "four" })),
        (REPLY, json!({ "c": first, "t": "four" })),
    ] {
        let error = error_of(app, Some(&p.ann), query, variables).await;
        assert_eq!(error["code"], "RATE_LIMITED", "{error}");
        assert!(error["retryAfterSeconds"].as_u64().unwrap() >= 1);
    }
    let thread = app.query_ok(THREAD, json!({ "m": p.movie })).await["movie"]["comments"].clone();
    assert_eq!(thread["totalCount"], 2, "the refused posts left nothing");
    ok(app, &p.bob, REPLY, json!({ "c": first, "t": "Bob has his own count" })).await;
}
