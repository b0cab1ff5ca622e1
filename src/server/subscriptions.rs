//! GraphQL subscriptions over WebSocket at /graphql/ws (G1): the graphql-transport-ws protocol (and the older
//! graphql-ws one), authenticated by the access token in the connection's first message
//! (`connection_init` with `{"authorization": "Bearer <token>"}`), since browsers cannot set headers on a
//! WebSocket.
//!
//! A socket lives as long as its session does (issue 22): it keeps the session and the token's expiry, checks
//! the session again on every `subscribe` and before every item a subscription sends, and is closed at once —
//! 4401 when the session was revoked (logout, password change, refresh-token reuse) or the token expired, 4403
//! when the account was disabled — when a notice says the session or its user changed, on whichever instance
//! that happened (the notices travel between instances like order status does). The client reconnects with a
//! fresh token, as graphql-transport-ws expects.
//!
//! What holds against a client trying to break it:
//! - every subscription needs a signed-in viewer, so a `connection_init` without a valid token closes the socket
//!   at once (4401, or 4403 for a disabled account), and until its `connection_init` a socket holds only a
//!   waiting place: at most `MAX_WAITING_PER_CLIENT` per client and a quarter of `MAX_CONNECTIONS` in all, so
//!   sockets that never sign in cannot take the places of those that do;
//! - only subscriptions run here (queries and mutations go to POST /graphql, with its rate budget), under the
//!   same document limits as over HTTP;
//! - a message is at most GRAPHQL_MAX_QUERY_BYTES plus room for variables;
//! - a socket holds at most `MAX_SUBSCRIPTIONS_PER_SOCKET` subscriptions, and lives at most `SOCKET_LIFETIME`
//!   (clients reconnect; a subscription starts with the current state, so nothing is lost);
//! - a socket that sends no `connection_init` within `CONNECTION_INIT_TIMEOUT` is closed;
//! - a client (an IPv4 address, or an IPv6 /64 network) holds at most `MAX_SOCKETS_PER_CLIENT` sockets, a user
//!   at most `MAX_SOCKETS_PER_USER`, and all clients together at most `MAX_CONNECTIONS` (an upgraded connection
//!   no longer counts in the listener's limit);
//! - opening a socket spends the client's GraphQL request budget.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_graphql::futures_util::stream::BoxStream;
use async_graphql::parser::types::OperationType;
use async_graphql::{Data, Executor, Response, ServerError};
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response as HttpResponse};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::watch;

use crate::auth::Viewer;
use crate::auth::jwt::token_expired;
use crate::auth::service::Freshness;
use crate::auth::sessions::{SESSIONS_CHANNEL, SessionsChanged};
use crate::error::AppError;
use crate::graphql::limits::SubscriptionSlots;
use crate::http::extract::ClientAddress;
use crate::server::AppState;
use crate::server::graphql::{document_limits, operation_type};
use crate::server::schema::{CinemaSchema, request_data};

/// How long one socket may stay open.
pub const SOCKET_LIFETIME: Duration = Duration::from_secs(60 * 60);

/// How long a new socket may wait before its `connection_init`: an idle socket holds a task and buffers.
pub const CONNECTION_INIT_TIMEOUT: Duration = Duration::from_secs(5);

/// Sockets one client (an IPv4 address or an IPv6 /64) may hold open at once.
pub const MAX_SOCKETS_PER_CLIENT: usize = 16;

/// Sockets one client may hold before their `connection_init` has signed them in.
pub const MAX_WAITING_PER_CLIENT: usize = 4;

/// Sockets one signed-in user may hold open at once (a tab each, and some to spare).
pub const MAX_SOCKETS_PER_USER: usize = 16;

/// Close codes of graphql-transport-ws for a socket whose viewer is gone.
const CLOSE_UNAUTHORIZED: u16 = 4401;
const CLOSE_FORBIDDEN: u16 = 4403;
const CLOSE_TOO_MANY: u16 = 4429;

/// The sockets open now: per client, per signed-in user, waiting for their `connection_init`, and in all. An
/// upgraded connection leaves the listener's `MAX_CONNECTIONS` count, so sockets are counted here, against the
/// same figure in all.
#[derive(Clone, Default)]
pub struct OpenSockets(Arc<Mutex<SocketCounts>>);

#[derive(Default)]
struct SocketCounts {
    total: usize,
    waiting: usize,
    per_client: HashMap<String, usize>,
    waiting_per_client: HashMap<String, usize>,
    per_user: HashMap<i64, usize>,
}

/// One open socket's place, given back when dropped: waiting until its `connection_init` signs it in.
pub struct SocketPlace {
    sockets: OpenSockets,
    client: String,
    user: Mutex<Option<i64>>,
}

fn too_many(message: String) -> AppError {
    AppError::rejected(StatusCode::TOO_MANY_REQUESTS, "TOO_MANY_SOCKETS", message)
}

/// One fewer under `key`; the key goes at zero, so the maps hold only what is open.
fn lower<K: std::hash::Hash + Eq>(counts: &mut HashMap<K, usize>, key: &K) {
    if let Some(count) = counts.get_mut(key) {
        *count -= 1;
        if *count == 0 {
            counts.remove(key);
        }
    }
}

impl OpenSockets {
    fn counts(&self) -> std::sync::MutexGuard<'_, SocketCounts> {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A waiting place for one more socket of `client`; TOO_MANY_SOCKETS past any cap.
    fn admit(&self, client: &str, total_cap: usize) -> Result<Arc<SocketPlace>, AppError> {
        let mut counts = self.counts();
        let mine = counts.per_client.get(client).copied().unwrap_or(0);
        let mine_waiting = counts.waiting_per_client.get(client).copied().unwrap_or(0);
        if mine >= MAX_SOCKETS_PER_CLIENT || counts.total >= total_cap {
            return Err(too_many(format!(
                "at most {MAX_SOCKETS_PER_CLIENT} open sockets per client; close one first"
            )));
        }
        if mine_waiting >= MAX_WAITING_PER_CLIENT || counts.waiting >= (total_cap / 4).max(1) {
            return Err(too_many(format!(
                "at most {MAX_WAITING_PER_CLIENT} sockets per client may wait for their connection_init"
            )));
        }
        counts.total += 1;
        counts.waiting += 1;
        *counts.per_client.entry(client.to_string()).or_default() += 1;
        *counts.waiting_per_client.entry(client.to_string()).or_default() += 1;
        Ok(Arc::new(SocketPlace {
            sockets: self.clone(),
            client: client.to_string(),
            user: Mutex::new(None),
        }))
    }

    /// The waiting place becomes `user_id`'s; TOO_MANY_SOCKETS when the user holds as many as allowed.
    fn sign_in(&self, place: &SocketPlace, user_id: i64) -> Result<(), AppError> {
        let mut counts = self.counts();
        let mut user = place.user.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if user.is_some() {
            return Ok(());
        }
        if counts.per_user.get(&user_id).copied().unwrap_or(0) >= MAX_SOCKETS_PER_USER {
            return Err(too_many(format!(
                "at most {MAX_SOCKETS_PER_USER} open sockets per user; close one first"
            )));
        }
        counts.waiting -= 1;
        lower(&mut counts.waiting_per_client, &place.client);
        *counts.per_user.entry(user_id).or_default() += 1;
        *user = Some(user_id);
        Ok(())
    }
}

impl Drop for SocketPlace {
    fn drop(&mut self) {
        let mut counts = self.sockets.counts();
        counts.total = counts.total.saturating_sub(1);
        lower(&mut counts.per_client, &self.client);
        match *self.user.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) {
            Some(user) => lower(&mut counts.per_user, &user),
            None => {
                counts.waiting = counts.waiting.saturating_sub(1);
                lower(&mut counts.waiting_per_client, &self.client);
            }
        }
    }
}

/// Why the server closes a socket: a close code and its reason (`CODE: message`).
#[derive(Debug, Clone)]
struct Closing {
    code: u16,
    reason: String,
}

impl Closing {
    /// The close for a token or session that no longer authenticates.
    fn for_refusal(error: &AppError) -> Closing {
        let code = match error.code() {
            "ACCOUNT_DISABLED" => CLOSE_FORBIDDEN,
            "TOO_MANY_SOCKETS" => CLOSE_TOO_MANY,
            _ => CLOSE_UNAUTHORIZED,
        };
        // A close frame's reason is at most 123 bytes.
        let mut reason = format!("{}: {}", error.code(), error.public_message());
        while reason.len() > 120 {
            reason.pop();
        }
        Closing { code, reason }
    }
}

/// A signed-in socket's session, kept with it: checked again on every `subscribe`, before each item a
/// subscription sends, and when a notice says the session or its user changed.
struct SocketSession {
    auth: crate::auth::Auth,
    viewer: Viewer,
    /// When the access token expires, in seconds since the epoch.
    expires_at: i64,
    closer: watch::Sender<Option<Closing>>,
}

impl SocketSession {
    /// Whether the socket may go on; when not, it is closed with the reason.
    async fn check(&self, freshness: Freshness) -> bool {
        if chrono::Utc::now().timestamp() >= self.expires_at {
            close(&self.closer, Closing::for_refusal(&token_expired()));
            return false;
        }
        let viewer = &self.viewer;
        match self
            .auth
            .check_session(&viewer.session_id, &viewer.user_uuid, freshness)
            .await
        {
            Ok(_) => true,
            Err(error) if error.status() == StatusCode::UNAUTHORIZED || error.status() == StatusCode::FORBIDDEN => {
                close(&self.closer, Closing::for_refusal(&error));
                false
            }
            // The database did not answer: the session is not known to have ended; the next check decides.
            Err(_) => true,
        }
    }

    /// Whether a notice on the sessions channel concerns this socket.
    fn concerned_by(&self, change: &SessionsChanged) -> bool {
        match change {
            SessionsChanged::Session(id) => *id == self.viewer.session_id,
            SessionsChanged::User(id) => *id == self.viewer.user_id,
        }
    }
}

/// Asks the socket loop to close with `closing`; the first reason given wins.
fn close(closer: &watch::Sender<Option<Closing>>, closing: Closing) {
    closer.send_if_modified(|current| {
        if current.is_none() {
            *current = Some(closing);
            true
        } else {
            false
        }
    });
}

const ONLY_SUBSCRIPTIONS: &str =
    "only subscriptions run over the WebSocket; send queries and mutations to POST /graphql";

/// Runs subscription operations only, each checked like an HTTP request first.
#[derive(Clone)]
struct SubscriptionsOnly {
    schema: CinemaSchema,
    state: AppState,
}

fn refusal(code: &str, message: &str) -> Response {
    let mut error = ServerError::new(message, None);
    let mut extensions = async_graphql::ErrorExtensionValues::default();
    extensions.set("code", code);
    error.extensions = Some(extensions);
    Response::from_errors(vec![error])
}

impl SubscriptionsOnly {
    /// The request ready to run, or the code and reason that refuse it.
    fn admit(&self, mut request: async_graphql::Request) -> Result<async_graphql::Request, (&'static str, String)> {
        let limits = &self.state.settings.graphql;
        if request.query.len() > limits.max_query_bytes {
            let message = format!("the query text is longer than {} bytes", limits.max_query_bytes);
            return Err(("QUERY_TOO_LARGE", message));
        }
        let document = async_graphql::parser::parse_query(&request.query)
            .map_err(|error| ("GRAPHQL_PARSE_FAILED", error.to_string()))?;
        document_limits(&self.state)
            .check(&document)
            .map_err(|reason| ("QUERY_TOO_COMPLEX", reason))?;
        let operation = operation_type(&document, request.operation_name.as_deref());
        if operation.is_some_and(|ty| ty != OperationType::Subscription) {
            return Err(("METHOD_NOT_ALLOWED", ONLY_SUBSCRIPTIONS.to_string()));
        }
        request.set_parsed_query(document);
        Ok(request_data(request, &self.state.catalog))
    }
}

impl Executor for SubscriptionsOnly {
    async fn execute(&self, _request: async_graphql::Request) -> Response {
        refusal("METHOD_NOT_ALLOWED", ONLY_SUBSCRIPTIONS)
    }

    fn execute_stream(
        &self,
        request: async_graphql::Request,
        session_data: Option<Arc<Data>>,
    ) -> BoxStream<'static, Response> {
        let data = session_data.unwrap_or_default();
        let session = data
            .get(&std::any::TypeId::of::<Arc<SocketSession>>())
            .and_then(|kept| kept.downcast_ref::<Arc<SocketSession>>())
            .cloned();
        let stream = match self.admit(request) {
            Ok(request) => self.schema.execute_stream_with_session_data(request, data).boxed(),
            Err((code, reason)) => {
                let refused = refusal(code, &reason);
                futures_util::stream::once(async move { refused }).boxed()
            }
        };
        let Some(session) = session else {
            return stream;
        };
        // The session is checked when the subscription starts and before each item it sends; once it has
        // ended, the subscription sends nothing more and the socket closes.
        futures_util::stream::unfold(Some((stream, session)), |state| async move {
            let (mut stream, session) = state?;
            if !session.check(Freshness::Cached).await {
                return None;
            }
            let item = stream.next().await?;
            if !session.check(Freshness::Cached).await {
                return None;
            }
            Some((item, Some((stream, session))))
        })
        .boxed()
    }
}

/// The token in a `connection_init` payload: `authorization` (or `Authorization`) as `Bearer <token>`, or
/// a bare `token`.
fn token_in(payload: &serde_json::Value) -> Option<String> {
    let header = payload
        .get("authorization")
        .or_else(|| payload.get("Authorization"))
        .and_then(|v| v.as_str());
    if let Some(header) = header {
        let (scheme, token) = header.split_once(' ')?;
        return scheme.eq_ignore_ascii_case("bearer").then(|| token.trim().to_string());
    }
    payload.get("token").and_then(|v| v.as_str()).map(str::to_string)
}

/// Signs a socket in from its `connection_init`: the viewer and its session go into the socket's data, and
/// the socket's place becomes the user's. Any refusal closes the socket (the reason is set before the error
/// returns, so the loop sends our code rather than the library's generic one).
async fn sign_in(
    payload: serde_json::Value,
    state: AppState,
    place: std::sync::Weak<SocketPlace>,
    closer: watch::Sender<Option<Closing>>,
) -> Result<(Data, Arc<SocketSession>), AppError> {
    let refuse = |error: AppError| {
        close(&closer, Closing::for_refusal(&error));
        error
    };
    let token = token_in(&payload).ok_or_else(|| refuse(AppError::Unauthenticated))?;
    let (viewer, expires_at) = state.auth.token_holder(&token).await.map_err(refuse)?;
    // The socket loop owns the place; gone means the socket is closing anyway.
    let place = place.upgrade().ok_or(AppError::Unauthenticated)?;
    state.sockets.sign_in(&place, viewer.user_id).map_err(refuse)?;
    let session = Arc::new(SocketSession {
        auth: state.auth.clone(),
        viewer: viewer.clone(),
        expires_at,
        closer: closer.clone(),
    });
    let mut data = Data::default();
    data.insert(SubscriptionSlots::default());
    data.insert(viewer);
    data.insert(session.clone());
    Ok((data, session))
}

pub async fn upgrade(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    protocol: GraphQLProtocol,
    upgrade: WebSocketUpgrade,
) -> HttpResponse {
    let limits = &state.settings.graphql;
    if let Err(error) = state
        .graphql_budget
        .hit(&["graphql", &client], limits.requests_per_minute)
        .await
    {
        return error.into_response();
    }
    let network = client_network(&client);
    let place = match state.sockets.admit(&network, state.settings.http.max_connections) {
        Ok(place) => place,
        Err(error) => return error.into_response(),
    };
    let max_message = limits.max_query_bytes + limits.max_body_bytes;
    upgrade
        .protocols(async_graphql::http::ALL_WEBSOCKET_PROTOCOLS)
        .max_message_size(max_message)
        .max_frame_size(max_message)
        .on_upgrade(move |socket| run_socket(socket, state, protocol, place))
}

/// The life of one socket: the protocol runs in a task of its own and writes to a channel; this loop passes
/// its messages on and closes the socket itself when the session ends, the token expires, no
/// `connection_init` came in time, or the socket's lifetime is up.
async fn run_socket(socket: WebSocket, state: AppState, protocol: GraphQLProtocol, place: Arc<SocketPlace>) {
    let (mut to_client, from_client) = socket.split();
    let (outgoing, mut to_send) = futures_channel::mpsc::channel::<Message>(16);
    let (closer, mut closing) = watch::channel::<Option<Closing>>(None);
    let (signed_in, mut signed_in_rx) = tokio::sync::oneshot::channel::<Arc<SocketSession>>();
    let mut notices = state.db.notices();
    let executor = SubscriptionsOnly {
        schema: state.schema.clone(),
        state: state.clone(),
    };
    let init_state = state.clone();
    // Only the loop holds the place, so that it is given back before the close frame goes out.
    let init_place = Arc::downgrade(&place);
    let init_closer = closer.clone();
    let protocol_task = tokio::spawn(
        GraphQLWebSocket::new_with_pair(outgoing, from_client, executor, protocol)
            .on_connection_init(move |payload| async move {
                let (data, session) = sign_in(payload, init_state, init_place, init_closer)
                    .await
                    .map_err(|error| {
                        async_graphql::Error::new(format!("{}: {}", error.code(), error.public_message()))
                    })?;
                let _ = signed_in.send(session);
                Ok(data)
            })
            .keepalive_timeout(Duration::from_secs(30))
            .serve(),
    );
    let mut session: Option<Arc<SocketSession>> = None;
    let mut init_answered = false;
    let init_deadline = tokio::time::sleep(CONNECTION_INIT_TIMEOUT);
    let lifetime = tokio::time::sleep(SOCKET_LIFETIME);
    let token_expiry = tokio::time::sleep(SOCKET_LIFETIME);
    tokio::pin!(init_deadline, lifetime, token_expiry);
    let closing_sent: Option<Closing> = loop {
        tokio::select! {
            biased;
            _ = closing.changed() => break closing.borrow().clone(),
            message = to_send.next() => match message {
                // The protocol closes (a refused `connection_init`, a bad message): with our reason when the
                // loop has one.
                Some(Message::Close(frame)) => {
                    if let Some(ours) = closing.borrow().clone() {
                        break Some(ours);
                    }
                    let _ = to_client.send(Message::Close(frame)).await;
                    break None;
                }
                Some(message) => {
                    if to_client.send(message).await.is_err() {
                        break None;
                    }
                }
                None => break closing.borrow().clone(),
            },
            // A oneshot must not be polled once it has answered, whatever the answer.
            signed = &mut signed_in_rx, if !init_answered => {
                init_answered = true;
                if let Ok(signed) = signed {
                    let left = (signed.expires_at - chrono::Utc::now().timestamp()).max(0) as u64;
                    token_expiry.as_mut().reset(tokio::time::Instant::now() + Duration::from_secs(left));
                    session = Some(signed);
                }
            }
            notice = notices.recv(), if session.is_some() => {
                let Some(signed) = &session else { continue };
                let concerned = match &notice {
                    Ok(notice) if notice.channel == SESSIONS_CHANNEL => {
                        SessionsChanged::parse(&notice.payload).is_some_and(|change| signed.concerned_by(&change))
                    }
                    Ok(_) => false,
                    // Fell behind: the session's notice may be among those missed.
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => true,
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => false,
                };
                if concerned {
                    signed.check(Freshness::Database).await;
                }
            }
            () = &mut token_expiry, if session.is_some() => {
                close(&closer, Closing::for_refusal(&token_expired()));
            }
            () = &mut init_deadline, if session.is_none() => {
                break Some(Closing { code: CLOSE_UNAUTHORIZED, reason: "no connection_init in time".into() });
            }
            () = &mut lifetime => {
                break Some(Closing { code: 1000, reason: "the socket's lifetime is over; reconnect".into() });
            }
        }
    };
    protocol_task.abort();
    drop(place);
    if let Some(Closing { code, reason }) = closing_sent {
        let frame = CloseFrame {
            code,
            reason: reason.into(),
        };
        let _ = to_client.send(Message::Close(Some(frame))).await;
    }
    let _ = to_client.close().await;
}

/// What sockets are counted by: the client's address, or for IPv6 its /64 network (one subscriber line holds
/// a whole /64, so counting single addresses there would count nothing).
fn client_network(client: &str) -> String {
    match client.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_none() => {
            let segments = v6.segments();
            format!(
                "{:x}:{:x}:{:x}:{:x}::/64",
                segments[0], segments[1], segments[2], segments[3]
            )
        }
        _ => client.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_are_counted_by_their_64() {
        assert_eq!(client_network("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(client_network("2001:db8:1:2:ffff:1:2:3"), "2001:db8:1:2::/64");
        assert_eq!(client_network("203.0.113.9"), "203.0.113.9");
        assert_eq!(client_network("::ffff:203.0.113.9"), "::ffff:203.0.113.9");
        assert_eq!(client_network("unknown"), "unknown");
    }

    #[test]
    fn waiting_places_are_bounded_and_signing_in_frees_one() {
        let sockets = OpenSockets::default();
        let waiting: Vec<_> = (0..MAX_WAITING_PER_CLIENT)
            .map(|_| sockets.admit("a", 1024).unwrap())
            .collect();
        assert_eq!(
            sockets.admit("a", 1024).err().map(|e| e.code()),
            Some("TOO_MANY_SOCKETS")
        );
        assert!(sockets.admit("b", 1024).is_ok(), "another client has its own");
        sockets.sign_in(&waiting[0], 7).unwrap();
        let fifth = sockets.admit("a", 1024).expect("a signed-in socket waits no more");
        drop(fifth);
        drop(waiting);
        let counts = sockets.counts();
        assert_eq!((counts.total, counts.waiting, counts.per_user.len()), (0, 0, 0));
    }

    #[test]
    fn a_user_holds_a_bounded_number_of_sockets() {
        let sockets = OpenSockets::default();
        let mut held = Vec::new();
        for n in 0..MAX_SOCKETS_PER_USER {
            let place = sockets.admit(&format!("client{}", n % 4), 1024).unwrap();
            sockets.sign_in(&place, 1).unwrap();
            held.push(place);
        }
        let one_more = sockets.admit("client9", 1024).unwrap();
        assert_eq!(
            sockets.sign_in(&one_more, 1).err().map(|e| e.code()),
            Some("TOO_MANY_SOCKETS")
        );
        assert!(sockets.sign_in(&one_more, 2).is_ok(), "another user");
    }

    #[test]
    fn waiting_sockets_take_at_most_a_quarter_of_all_places() {
        let sockets = OpenSockets::default();
        let held: Vec<_> = (0..4).map(|n| sockets.admit(&format!("c{n}"), 16).unwrap()).collect();
        assert_eq!(
            sockets.admit("c9", 16).err().map(|e| e.code()),
            Some("TOO_MANY_SOCKETS")
        );
        sockets.sign_in(&held[0], 1).unwrap();
        assert!(sockets.admit("c9", 16).is_ok());
    }
}
