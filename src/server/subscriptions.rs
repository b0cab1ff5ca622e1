//! GraphQL subscriptions over WebSocket at /graphql/ws (G1): the graphql-transport-ws protocol (and the older
//! graphql-ws one), authenticated by the access token in the connection's first message
//! (`connection_init` with `{"authorization": "Bearer <token>"}`), since browsers cannot set headers on a
//! WebSocket.
//!
//! What holds against a client trying to break it:
//! - only subscriptions run here (queries and mutations go to POST /graphql, with its rate budget), under the
//!   same document limits as over HTTP;
//! - a message is at most GRAPHQL_MAX_QUERY_BYTES plus room for variables;
//! - a socket holds at most `MAX_SUBSCRIPTIONS_PER_SOCKET` subscriptions, and lives at most `SOCKET_LIFETIME`
//!   (clients reconnect; a subscription starts with the current state, so nothing is lost);
//! - a socket that sends no `connection_init` within `CONNECTION_INIT_TIMEOUT` is closed;
//! - a client address holds at most `MAX_SOCKETS_PER_CLIENT` sockets, and all clients together at most
//!   `MAX_CONNECTIONS` (an upgraded connection no longer counts in the listener's limit);
//! - opening a socket spends the client's GraphQL request budget, and a bad token closes the socket at once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_graphql::futures_util::stream::BoxStream;
use async_graphql::parser::types::OperationType;
use async_graphql::{Data, Executor, Response, ServerError};
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::extract::State;
use axum::extract::ws::WebSocketUpgrade;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response as HttpResponse};
use futures_util::StreamExt;

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

/// Sockets one client address may hold open at once.
pub const MAX_SOCKETS_PER_CLIENT: usize = 16;

/// The sockets open now, per client address and in all. An upgraded connection leaves the listener's
/// `MAX_CONNECTIONS` count, so sockets are counted here, against the same figure in all.
#[derive(Clone, Default)]
pub struct OpenSockets(Arc<Mutex<SocketCounts>>);

#[derive(Default)]
struct SocketCounts {
    total: usize,
    per_client: HashMap<String, usize>,
}

/// One open socket, counted until dropped.
pub struct OpenSocket {
    sockets: OpenSockets,
    client: String,
}

impl OpenSockets {
    /// A place for one more socket of `client`; TOO_MANY_SOCKETS past either cap.
    fn open(&self, client: &str, total_cap: usize) -> Result<OpenSocket, AppError> {
        let mut counts = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mine = counts.per_client.get(client).copied().unwrap_or(0);
        if mine >= MAX_SOCKETS_PER_CLIENT || counts.total >= total_cap {
            return Err(AppError::rejected(
                StatusCode::TOO_MANY_REQUESTS,
                "TOO_MANY_SOCKETS",
                format!("at most {MAX_SOCKETS_PER_CLIENT} open sockets per client; close one first"),
            ));
        }
        counts.total += 1;
        counts.per_client.insert(client.to_string(), mine + 1);
        Ok(OpenSocket {
            sockets: self.clone(),
            client: client.to_string(),
        })
    }
}

impl Drop for OpenSocket {
    fn drop(&mut self) {
        let mut counts = self.sockets.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        counts.total = counts.total.saturating_sub(1);
        if let Some(mine) = counts.per_client.get_mut(&self.client) {
            *mine -= 1;
            if *mine == 0 {
                counts.per_client.remove(&self.client);
            }
        }
    }
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
        match self.admit(request) {
            Ok(request) => self
                .schema
                .execute_stream_with_session_data(request, session_data.unwrap_or_default())
                .boxed(),
            Err((code, reason)) => {
                let refused = refusal(code, &reason);
                futures_util::stream::once(async move { refused }).boxed()
            }
        }
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
    {
        return error.into_response();
    }
    let counted = match state.sockets.open(&client, state.settings.http.max_connections) {
        Ok(counted) => counted,
        Err(error) => return error.into_response(),
    };
    let max_message = limits.max_query_bytes + limits.max_body_bytes;
    let executor = SubscriptionsOnly {
        schema: state.schema.clone(),
        state: state.clone(),
    };
    let auth = state.auth.clone();
    upgrade
        .protocols(async_graphql::http::ALL_WEBSOCKET_PROTOCOLS)
        .max_message_size(max_message)
        .max_frame_size(max_message)
        .on_upgrade(move |socket| async move {
            let (initialized, init_seen) = tokio::sync::oneshot::channel::<()>();
            let session = GraphQLWebSocket::new(socket, executor, protocol)
                .on_connection_init(move |payload| async move {
                    let _ = initialized.send(());
                    let mut data = Data::default();
                    data.insert(SubscriptionSlots::default());
                    if let Some(token) = token_in(&payload) {
                        let viewer = auth.viewer_of_token(&token).await.map_err(|error: AppError| {
                            async_graphql::Error::new(format!("{}: {}", error.code(), error.public_message()))
                        })?;
                        data.insert(viewer);
                    }
                    Ok(data)
                })
                .keepalive_timeout(Duration::from_secs(30))
                .serve();
            // Dropping the session closes the socket: at the end of its lifetime, or when no
            // `connection_init` came in time.
            let init_deadline = async {
                if tokio::time::timeout(CONNECTION_INIT_TIMEOUT, init_seen).await.is_ok() {
                    std::future::pending::<()>().await;
                }
            };
            tokio::select! {
                () = session => {}
                () = init_deadline => {}
                () = tokio::time::sleep(SOCKET_LIFETIME) => {}
            }
            drop(counted);
        })
}
