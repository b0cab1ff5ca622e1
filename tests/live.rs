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
);

pub(crate) const WATCH: &str =
    "subscription($o: ID!) { orderStatusChanged(orderId: $o) { id status lines { movie { name } } } }";

pub(crate) struct Socket(tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>);

impl Socket {
    /// Opens /graphql/ws, saying nothing yet; the HTTP status when the upgrade is refused.
    pub(crate) async fn connect(app: &TestApp) -> Result<Socket, u16> {
        let url = format!("{}/graphql/ws", app.base.replace("http://", "ws://"));
        let mut request = url.into_client_request().unwrap();
        request
            .headers_mut()
            .insert("sec-websocket-protocol", "graphql-transport-ws".parse().unwrap());
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

    // No token: the socket opens, the subscription is refused.
    let mut anonymous = Socket::open(&b.app, json!({})).await;
    assert_eq!(anonymous.next().await["type"], "connection_ack");
    anonymous.subscribe("1", WATCH, json!({ "o": order })).await;
    assert_eq!(code(&anonymous.next_for("1").await), "UNAUTHENTICATED");

    // A token that does not authenticate closes the socket, saying why (async-graphql closes a refused
    // `connection_init` with 1002).
    let mut forged = Socket::open(&b.app, json!({ "authorization": "Bearer not.a.token" })).await;
    let closed = forged.next().await;
    assert_eq!(closed["type"], "closed", "{closed}");
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
