//! G1 (subscriptions): `orderStatusChanged` over WebSocket with the graphql-transport-ws protocol, as the app
//! uses it when the payer comes back from checkout; its refusals; and, on PostgreSQL, a change made on one
//! instance reaching a subscriber of another (LISTEN/NOTIFY). On both databases.

use std::time::Duration;

use crate::common::{TestApp, ok};
use crate::payments::{buyer, checkout_path, pay_order, placed_order, press};
use cinema::db::{Backend, DatabaseUrl};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

backend_tests!(
    the_subscriber_hears_the_moment_the_payment_lands,
    subscriptions_refuse_what_they_must,
    sockets_are_bounded_in_number_time_and_size,
    a_socket_closes_when_its_session_ends,
    a_socket_closes_when_its_token_expires,
    sockets_that_never_sign_in_hold_no_place,
);

pub(crate) const WATCH: &str =
    "subscription($o: ID!) { orderStatusChanged(orderId: $o) { id status lines { movie { name } } } }";

pub(crate) struct Socket(tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>);

impl Socket {
    /// Opens /graphql/ws, saying nothing yet; the HTTP status when the upgrade is refused.
    pub(crate) async fn connect(app: &TestApp) -> Result<Socket, u16> {
        Socket::connect_with(app, None).await
    }

    /// `connect` through a proxy that names `client` (the app trusts one hop).
    pub(crate) async fn connect_from(app: &TestApp, client: &str) -> Result<Socket, u16> {
        Socket::connect_with(app, Some(client)).await
    }

    async fn connect_with(app: &TestApp, forwarded_for: Option<&str>) -> Result<Socket, u16> {
        let url = format!("{}/graphql/ws", app.base.replace("http://", "ws://"));
        let mut request = url.into_client_request().unwrap();
        request
            .headers_mut()
            .insert("sec-websocket-protocol", "graphql-transport-ws".parse().unwrap());
        if let Some(client) = forwarded_for {
            request.headers_mut().insert("x-forwarded-for", client.parse().unwrap());
        }
        match tokio_tungstenite::connect_async(request).await {
            Ok((stream, response)) => {
                assert_eq!(response.headers()["sec-websocket-protocol"], "graphql-transport-ws");
                Ok(Socket(stream))
            }
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => Err(response.status().as_u16()),
            Err(other) => panic!("{other}"),
        }
    }

    /// Opens /graphql/ws and sends `connection_init` with `payload`.
    pub(crate) async fn open(app: &TestApp, payload: Value) -> Socket {
        let mut socket = Socket::connect(app).await.expect("the upgrade is accepted");
        socket
            .send(json!({ "type": "connection_init", "payload": payload }))
            .await;
        socket
    }

    /// A signed-in user's socket, acknowledged.
    pub(crate) async fn signed_in(app: &TestApp, token: &str) -> Socket {
        let mut socket = Socket::open(app, json!({ "authorization": format!("Bearer {token}") })).await;
        assert_eq!(socket.next().await["type"], "connection_ack");
        socket
    }

    pub(crate) async fn send(&mut self, message: Value) {
        // A socket the server closed refuses the write; the next read tells the test so.
        let _ = self.0.send(Message::Text(message.to_string().into())).await;
    }

    pub(crate) async fn subscribe(&mut self, id: &str, query: &str, variables: Value) {
        self.send(json!({ "id": id, "type": "subscribe", "payload": { "query": query, "variables": variables } }))
            .await;
    }

    /// The next protocol message (pings answered), or `{"type": "closed", "code": …}` when the server closed.
    pub(crate) async fn next(&mut self) -> Value {
        loop {
            let message = tokio::time::timeout(Duration::from_secs(10), self.0.next())
                .await
                .expect("a message within 10 seconds");
            match message {
                Some(Ok(Message::Text(text))) => {
                    let value: Value = serde_json::from_str(&text).unwrap();
                    if value["type"] == "ping" {
                        self.send(json!({ "type": "pong" })).await;
                        continue;
                    }
                    return value;
                }
                Some(Ok(Message::Close(frame))) => {
                    let (code, reason) = frame
                        .map(|f| (Some(u16::from(f.code)), f.reason.to_string()))
                        .unwrap_or_default();
                    return json!({ "type": "closed", "code": code, "reason": reason });
                }
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return json!({ "type": "closed", "code": null }),
            }
        }
    }
    /// The next message about subscription `id` (others, such as the `complete` of a stopped one, skipped).
    pub(crate) async fn next_for(&mut self, id: &str) -> Value {
        loop {
            let message = self.next().await;
            if message["id"] == id || message["type"] == "closed" {
                return message;
            }
        }
    }
}

/// The first error code of a `next` or `error` message.
fn code(message: &Value) -> String {
    let errors = if message["type"] == "error" {
        &message["payload"]
    } else {
        &message["payload"]["errors"]
    };
    errors[0]["extensions"]["code"].as_str().unwrap_or_default().to_string()
}

/// G1: the app subscribes to its order, is told its current state at once, and hears PAID the moment the
/// webhook lands (here: the mock's signed event), without asking again.
async fn the_subscriber_hears_the_moment_the_payment_lands(backend: Backend) {
    let b = buyer(backend).await;
    let order = placed_order(&b, &b.movies[0..1]).await;
    let started = pay_order(&b, &order).await;

    let mut socket = Socket::signed_in(&b.app, &b.token).await;
    socket.subscribe("1", WATCH, json!({ "o": order })).await;
    let now = socket.next().await;
    assert_eq!(now["type"], "next", "{now}");
    assert_eq!(now["id"], "1");
    assert_eq!(now["payload"]["data"]["orderStatusChanged"]["status"], "PENDING");
    assert!(now["payload"]["data"]["orderStatusChanged"]["lines"][0]["movie"]["name"].is_string());

    let paid = press(&b.app, &format!("{}/pay", checkout_path(&started))).await;
    assert_eq!(paid.status(), 303);
    let heard = socket.next().await;
    assert_eq!(
        heard["payload"]["data"]["orderStatusChanged"]["status"], "PAID",
        "{heard}"
    );

    // Other orders' changes are not sent; stopping the subscription is acknowledged by silence.
    socket.send(json!({ "id": "1", "type": "complete" })).await;
    socket.subscribe("2", WATCH, json!({ "o": order })).await;
    assert_eq!(
        socket.next_for("2").await["payload"]["data"]["orderStatusChanged"]["status"],
        "PAID"
    );
}

/// G1, H: who may subscribe to what, and the limits of a socket.
async fn subscriptions_refuse_what_they_must(backend: Backend) {
    let b = buyer(backend).await;
    let order = placed_order(&b, &b.movies[0..1]).await;

    // No token: every subscription needs a viewer, so the socket is closed at its `connection_init` (4401).
    let mut anonymous = Socket::open(&b.app, json!({})).await;
    let closed = anonymous.next().await;
    assert_eq!(
        (closed["type"].as_str(), closed["code"].as_u64()),
        (Some("closed"), Some(4401)),
        "{closed}"
    );
    assert!(
        closed["reason"].as_str().unwrap().contains("UNAUTHENTICATED"),
        "{closed}"
    );

    // A token that does not authenticate closes the socket too, saying why.
    let mut forged = Socket::open(&b.app, json!({ "authorization": "Bearer not.a.token" })).await;
    let closed = forged.next().await;
    assert_eq!(
        (closed["type"].as_str(), closed["code"].as_u64()),
        (Some("closed"), Some(4401)),
        "{closed}"
    );
    assert!(closed["reason"].as_str().unwrap().contains("INVALID_TOKEN"), "{closed}");

    // Someone else's order is NOT_FOUND; queries and mutations belong to POST /graphql.
    let bob = b.app.signed_in_user("bob@example.com").await["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    let mut theirs = Socket::signed_in(&b.app, &bob).await;
    theirs.subscribe("1", WATCH, json!({ "o": order })).await;
    assert_eq!(code(&theirs.next_for("1").await), "NOT_FOUND");
    theirs.subscribe("2", "{ me { id } }", json!({})).await;
    assert_eq!(code(&theirs.next_for("2").await), "METHOD_NOT_ALLOWED");
    theirs
        .subscribe("3", "mutation { clearCart { count } }", json!({}))
        .await;
    assert_eq!(code(&theirs.next_for("3").await), "METHOD_NOT_ALLOWED");
    let aliases: String = (0..40).map(|n| format!("a{n}: id ")).collect();
    let wide = format!("subscription {{ orderStatusChanged(orderId: \"x\") {{ {aliases} }} }}");
    theirs.subscribe("4", &wide, json!({})).await;
    assert_eq!(code(&theirs.next_for("4").await), "QUERY_TOO_COMPLEX");

    // Ten subscriptions per socket; the eleventh is refused, and a finished one frees its slot.
    let mut busy = Socket::signed_in(&b.app, &b.token).await;
    for id in 1..=10 {
        busy.subscribe(&id.to_string(), WATCH, json!({ "o": order })).await;
        assert_eq!(busy.next_for(&id.to_string()).await["type"], "next");
    }
    busy.subscribe("11", WATCH, json!({ "o": order })).await;
    assert_eq!(code(&busy.next_for("11").await), "TOO_MANY_SUBSCRIPTIONS");
    busy.send(json!({ "id": "1", "type": "complete" })).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    busy.subscribe("12", WATCH, json!({ "o": order })).await;
    assert_eq!(busy.next_for("12").await["type"], "next");

    // The data is the same as over HTTP.
    let over_http = ok(
        &b.app,
        &b.token,
        "query($o: ID!) { order(id: $o) { status } }",
        json!({ "o": order }),
    )
    .await;
    assert_eq!(over_http["order"]["status"], "PENDING");
}

/// G1 with several instances on one PostgreSQL: the payment lands on instance B (its webhook, its transaction)
/// and the subscriber on instance A hears it, through LISTEN/NOTIFY.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_on_one_instance_reaches_a_subscriber_of_another() {
    if !crate::common::postgres_available() {
        return;
    }
    let b = buyer(Backend::Postgres).await;
    let DatabaseUrl::Postgres(shared) = b.app.settings().database.url.clone() else {
        unreachable!("a PostgreSQL app")
    };
    let other = TestApp::start_with(Backend::Postgres, &[("DATABASE_URL", shared.as_str())]).await;
    let order = placed_order(&b, &b.movies[0..1]).await;
    let started = pay_order(&b, &order).await;
    let mut socket = Socket::signed_in(&b.app, &b.token).await;
    socket.subscribe("1", WATCH, json!({ "o": order })).await;
    assert_eq!(
        socket.next().await["payload"]["data"]["orderStatusChanged"]["status"],
        "PENDING"
    );
    // Give instance A's listener a moment to be connected before the change.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let paid = press(&other, &format!("{}/pay", checkout_path(&started))).await;
    assert_eq!(paid.status(), 303);
    let heard = socket.next().await;
    assert_eq!(
        heard["payload"]["data"]["orderStatusChanged"]["status"], "PAID",
        "{heard}"
    );
}

/// H (WebSocket limits): a client holds at most 16 sockets (TOO_MANY_SOCKETS, 429, before the upgrade), and a
/// closed one frees its place; a socket that says nothing is closed after 5 seconds; a message larger than a
/// query and its variables may be closes the socket.
async fn sockets_are_bounded_in_number_time_and_size(backend: Backend) {
    let b = buyer(backend).await;
    let mut open = Vec::new();
    for _ in 0..16 {
        open.push(Socket::signed_in(&b.app, &b.token).await);
    }
    assert_eq!(
        Socket::connect(&b.app).await.err(),
        Some(429),
        "the 17th socket of one client"
    );
    drop(open.pop());
    let mut freed = None;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        if let Ok(socket) = Socket::connect(&b.app).await {
            freed = Some(socket);
            break;
        }
    }
    let mut silent = freed.expect("a closed socket frees its place");
    drop(open);

    // Silent: closed once the time for `connection_init` is up.
    let started = std::time::Instant::now();
    assert_eq!(silent.next().await["type"], "closed");
    assert!(started.elapsed() >= Duration::from_secs(4), "{:?}", started.elapsed());

    // Too large: a message past GRAPHQL_MAX_QUERY_BYTES + GRAPHQL_MAX_BODY_BYTES closes the socket.
    let mut large = Socket::signed_in(&b.app, &b.token).await;
    let padding = "x".repeat(200 * 1024);
    large
        .subscribe("1", &format!("subscription {{ __typename }} # {padding}"), json!({}))
        .await;
    assert_eq!(large.next().await["type"], "closed");
    // The server is fine after all of it.
    let mut fine = Socket::signed_in(&b.app, &b.token).await;
    fine.subscribe("1", "subscription { __typename }", json!({})).await;
    assert_ne!(fine.next_for("1").await["type"], "closed");
}

/// Waits for the server to close `socket`, at most `within`; the close message.
async fn closed_within(socket: &mut Socket, within: Duration) -> Value {
    let started = std::time::Instant::now();
    let closed = tokio::time::timeout(within, async {
        loop {
            let message = socket.next().await;
            if message["type"] == "closed" {
                return message;
            }
            assert_ne!(
                message["type"], "next",
                "nothing is pushed once the session ended: {message}"
            );
        }
    })
    .await
    .unwrap_or_else(|_| panic!("the socket was not closed within {within:?}"));
    assert!(started.elapsed() <= within);
    closed
}

/// A signed-in user's socket with `order` watched and its first state heard.
async fn watching(app: &TestApp, token: &str, order: &str) -> Socket {
    let mut socket = Socket::signed_in(app, token).await;
    socket.subscribe("1", WATCH, json!({ "o": order })).await;
    assert_eq!(
        socket.next_for("1").await["payload"]["data"]["orderStatusChanged"]["status"],
        "PENDING"
    );
    socket
}

/// Issue 22 (A7, H4): a socket lives only as long as its session. A logout closes it within a second (4401),
/// an admin's ban too (4403), and the payment that lands afterwards is pushed to nobody.
async fn a_socket_closes_when_its_session_ends(backend: Backend) {
    let b = buyer(backend).await;
    let order = placed_order(&b, &b.movies[0..1]).await;
    let started = pay_order(&b, &order).await;
    let mut socket = watching(&b.app, &b.token, &order).await;
    let (status, _) = b.app.post_json("/api/v1/auth/logout", json!({}), Some(&b.token)).await;
    assert_eq!(status, 204);
    let closed = closed_within(&mut socket, Duration::from_secs(1)).await;
    assert_eq!(closed["code"], 4401, "{closed}");
    assert!(
        closed["reason"].as_str().unwrap().contains("SESSION_REVOKED"),
        "{closed}"
    );

    // A ban: the user signs in again, watches, and an admin disables the account.
    let again = b.app.login(&b.email, crate::common::PASSWORD).await["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    let mut socket = watching(&b.app, &again, &order).await;
    let me = ok(&b.app, &again, "{ me { id } }", json!({})).await["me"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    b.app.signed_in_user("root@example.com").await;
    b.app.set_role("root@example.com", cinema::db::Role::Admin).await;
    let admin = b.app.login("root@example.com", crate::common::PASSWORD).await["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    ok(
        &b.app,
        &admin,
        "mutation($id: ID!) { setUserActive(userId: $id, active: false) { isActive } }",
        json!({ "id": me }),
    )
    .await;
    let closed = closed_within(&mut socket, Duration::from_secs(1)).await;
    assert_eq!(closed["code"], 4403, "{closed}");
    assert!(
        closed["reason"].as_str().unwrap().contains("ACCOUNT_DISABLED"),
        "{closed}"
    );
    // The money lands; nobody hears of it on a socket any more, and a new one is refused.
    let paid = press(&b.app, &format!("{}/pay", checkout_path(&started))).await;
    assert_eq!(paid.status(), 303);
    let mut refused = Socket::open(&b.app, json!({ "authorization": format!("Bearer {again}") })).await;
    assert_eq!(refused.next().await["code"], 4403);
}

/// Issue 22: a socket closes when its access token expires (4401, TOKEN_EXPIRED), so the client reconnects
/// with a fresh one.
async fn a_socket_closes_when_its_token_expires(backend: Backend) {
    let app = TestApp::start_with(backend, &[("SEED_DEMO", "on"), ("ACCESS_TOKEN_TTL_SECS", "2")]).await;
    let b = crate::payments::buyer_in(app).await;
    let order = placed_order(&b, &b.movies[0..1]).await;
    let mut socket = watching(&b.app, &b.token, &order).await;
    let closed = closed_within(&mut socket, Duration::from_secs(4)).await;
    assert_eq!(closed["code"], 4401, "{closed}");
    assert!(closed["reason"].as_str().unwrap().contains("TOKEN_EXPIRED"), "{closed}");
}

/// Issue 22 (H1): sockets that never sign in hold no place. Many anonymous ones, each closed at its
/// `connection_init`, leave room for a signed-in user; at most four of a client may wait for their
/// `connection_init` at once, and an IPv6 client is counted by its /64.
async fn sockets_that_never_sign_in_hold_no_place(backend: Backend) {
    let app = TestApp::start_with(backend, &[("SEED_DEMO", "on"), ("TRUSTED_PROXY_HOPS", "1")]).await;
    let b = crate::payments::buyer_in(app).await;
    for n in 0..40 {
        let mut anonymous = match Socket::connect_from(&b.app, "203.0.113.7").await {
            Ok(socket) => socket,
            Err(status) => panic!("anonymous socket {n}: {status}"),
        };
        anonymous
            .send(json!({ "type": "connection_init", "payload": {} }))
            .await;
        assert_eq!(anonymous.next().await["code"], 4401);
    }
    let mut waiting = Vec::new();
    for n in 1..=4 {
        let address = format!("2001:db8:0:1::{n}");
        waiting.push(Socket::connect_from(&b.app, &address).await.expect("a waiting place"));
    }
    assert_eq!(
        Socket::connect_from(&b.app, "2001:db8:0:1:ffff::9").await.err(),
        Some(429),
        "a fifth socket of the same /64 waiting for its connection_init"
    );
    // Another network's signed-in sockets are not held up by these.
    let mut signed = Socket::connect_from(&b.app, "2001:db8:0:2::1").await.unwrap();
    signed
        .send(json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {}", b.token) } }))
        .await;
    assert_eq!(signed.next().await["type"], "connection_ack");
    signed.subscribe("1", "subscription { __typename }", json!({})).await;
    assert_ne!(signed.next_for("1").await["type"], "closed");
    // A closed waiting socket gives its place back.
    drop(waiting);
    let mut freed = None;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        if let Ok(socket) = Socket::connect_from(&b.app, "2001:db8:0:1::5").await {
            freed = Some(socket);
            break;
        }
    }
    assert!(freed.is_some(), "closed waiting sockets free their places");

    // A user holds at most 16 sockets, from however many networks: the seventeenth is closed at its
    // `connection_init` (4429, TOO_MANY_SOCKETS).
    drop(signed);
    drop(freed);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let init = json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {}", b.token) } });
    let mut held = Vec::new();
    for n in 0..16 {
        let mut socket = Socket::connect_from(&b.app, &format!("198.51.100.{n}")).await.unwrap();
        socket.send(init.clone()).await;
        assert_eq!(socket.next().await["type"], "connection_ack", "socket {n}");
        held.push(socket);
    }
    let mut seventeenth = Socket::connect_from(&b.app, "198.51.100.200").await.unwrap();
    seventeenth.send(init).await;
    let closed = seventeenth.next().await;
    assert_eq!(closed["code"], 4429, "{closed}");
    assert!(
        closed["reason"].as_str().unwrap().contains("TOO_MANY_SOCKETS"),
        "{closed}"
    );
}

/// Issue 22 with several instances on one PostgreSQL: a logout on instance B closes the socket held on
/// instance A within a second (the sessions notice travels like order status does).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logout_on_one_instance_closes_a_socket_on_another() {
    if !crate::common::postgres_available() {
        return;
    }
    let b = buyer(Backend::Postgres).await;
    let DatabaseUrl::Postgres(shared) = b.app.settings().database.url.clone() else {
        unreachable!("a PostgreSQL app")
    };
    let secret = b.app.settings().auth.jwt_secret.clone();
    let other = TestApp::start_with(
        Backend::Postgres,
        &[("DATABASE_URL", shared.as_str()), ("JWT_SECRET", secret.as_str())],
    )
    .await;
    other.hearing().await;
    b.app.hearing().await;
    let order = placed_order(&b, &b.movies[0..1]).await;
    let mut socket = watching(&b.app, &b.token, &order).await;
    let (status, _) = other.post_json("/api/v1/auth/logout", json!({}), Some(&b.token)).await;
    assert_eq!(status, 204);
    let closed = closed_within(&mut socket, Duration::from_secs(1)).await;
    assert_eq!(closed["code"], 4401, "{closed}");
    // And instance A's HTTP checks know it at once too, without waiting for its session cache.
    let (status, body) = b.app.graphql_as(&b.token, "{ me { id } }", json!({})).await;
    assert_eq!(
        (status, body["errors"][0]["extensions"]["code"].as_str()),
        (401, Some("SESSION_REVOKED"))
    );
}
