//! A fake Stripe on loopback that speaks the part of Stripe's HTTP API this service calls — Checkout Session
//! create, retrieve and expire, and refund create — with Stripe's JSON shapes, error format and idempotency
//! (a repeated `Idempotency-Key` replays the first answer). It records every request, and can be told to answer
//! the next requests with an error status or to answer them too late (after doing the work, as a slow Stripe
//! does). The real async-stripe client points at it through `STRIPE_API_BASE`.
//!
//! It also writes the events Stripe would send about what it did (`completed`, `refunded`), for the tests to
//! sign and deliver to the webhook.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use cinema::payments::events::{EventBody, Payload};
use serde_json::{Value, json};

pub const SECRET_KEY: &str = "sk_test_fake_stripe";
pub const WEBHOOK_SECRET: &str = "whsec_fake_stripe_endpoint";

/// One request as the fake received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub idempotency_key: Option<String>,
    /// The form body, pair by pair (`line_items[0][price_data][unit_amount]` = `700`, …).
    pub form: Vec<(String, String)>,
}

impl Recorded {
    pub fn field(&self, name: &str) -> Option<&str> {
        self.form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// What the next request gets instead of a normal answer.
#[derive(Debug, Clone, Copy)]
pub enum Trouble {
    /// This status with a Stripe error body, and nothing done.
    Status(u16),
    /// The work is done, but the answer comes after this long (longer than the client waits).
    Late(Duration),
}

/// A key's first request (its path and sorted parameters) and the answer Stripe replays for it.
type FirstUse = (String, Vec<(String, String)>, (u16, Value));

#[derive(Default)]
struct Books {
    requests: Vec<Recorded>,
    trouble: VecDeque<Trouble>,
    sessions: HashMap<String, Value>,
    refunds: Vec<Value>,
    /// Idempotency key → the first request's path and parameters, and its answer (Stripe replays it for 24
    /// hours, and refuses the key with other parameters).
    answers: HashMap<String, FirstUse>,
    next_id: u64,
}

#[derive(Clone)]
pub struct FakeStripe {
    pub url: String,
    books: Arc<Mutex<Books>>,
    server: Arc<tokio::task::JoinHandle<()>>,
}

impl Drop for FakeStripe {
    fn drop(&mut self) {
        if Arc::strong_count(&self.server) == 1 {
            self.server.abort();
        }
    }
}

impl FakeStripe {
    pub async fn start() -> FakeStripe {
        let books = Arc::new(Mutex::new(Books::default()));
        let router = Router::new()
            .route("/v1/checkout/sessions", post(create_session))
            .route("/v1/checkout/sessions/{id}", get(retrieve_session))
            .route("/v1/checkout/sessions/{id}/expire", post(expire_session))
            .route("/v1/refunds", post(create_refund))
            .fallback(unknown)
            .with_state(books.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        FakeStripe {
            url,
            books,
            server: Arc::new(server),
        }
    }

    /// The settings that point the app's Stripe client here.
    pub fn settings(&self) -> Vec<(&'static str, String)> {
        vec![
            ("STRIPE_SECRET_KEY", SECRET_KEY.to_string()),
            ("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET.to_string()),
            ("STRIPE_API_BASE", self.url.clone()),
            ("STRIPE_TIMEOUT_MS", "400".to_string()),
            ("STRIPE_MAX_ATTEMPTS", "3".to_string()),
        ]
    }

    /// The next `times` requests get `trouble`.
    pub fn trouble(&self, trouble: Trouble, times: usize) {
        let mut books = self.books.lock().unwrap();
        books.trouble.extend(std::iter::repeat_n(trouble, times));
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.books.lock().unwrap().requests.clone()
    }

    pub fn requests_to(&self, path_start: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.path.starts_with(path_start))
            .collect()
    }

    pub fn session(&self, id: &str) -> Value {
        self.books.lock().unwrap().sessions[id].clone()
    }

    pub fn session_count(&self) -> usize {
        self.books.lock().unwrap().sessions.len()
    }

    pub fn refunds(&self) -> Vec<Value> {
        self.books.lock().unwrap().refunds.clone()
    }

    /// The payer pays on Stripe's page: the session completes with a payment intent, and the event Stripe
    /// sends about it is returned (unsigned).
    pub fn complete(&self, session_id: &str) -> Vec<u8> {
        let mut books = self.books.lock().unwrap();
        books.next_id += 1;
        let number = books.next_id;
        let intent = format!("pi_test_{number}");
        let session = books.sessions.get_mut(session_id).expect("a session the fake opened");
        session["status"] = json!("complete");
        session["payment_status"] = json!("paid");
        session["payment_intent"] = json!(intent);
        let typed = serde_json::from_value(session.clone()).expect("the session reads as the service reads it");
        event(
            &format!("evt_test_{number}"),
            EventBody::CheckoutSessionCompleted(Payload::of(typed)),
            session.clone(),
        )
    }

    /// The event Stripe sends when a refund went through (`charge.refunded`), unsigned.
    pub fn refunded_event(&self, refund: &Value) -> Vec<u8> {
        let mut books = self.books.lock().unwrap();
        books.next_id += 1;
        let charge = json!({
            "id": format!("ch_test_{}", books.next_id),
            "object": "charge",
            "amount": refund["amount"],
            "amount_refunded": refund["amount"],
            "currency": refund["currency"],
            "payment_intent": refund["payment_intent"],
            "refunded": true,
            "metadata": refund["metadata"],
        });
        let typed = serde_json::from_value(charge.clone()).expect("the charge reads as the service reads it");
        event(
            &format!("evt_test_{}", books.next_id),
            EventBody::ChargeRefunded(Payload::of(typed)),
            charge,
        )
    }
}

/// An event as Stripe sends it: the type named through the service's own `EventBody` (so a misspelt type does
/// not compile, and the object must read as the service reads it), and the whole object as the fake keeps it,
/// since Stripe sends every field, not only those the service reads.
fn event(id: &str, body: EventBody, object: Value) -> Vec<u8> {
    let mut event: Value = serde_json::from_slice(&body.to_json(id, chrono::Utc::now().timestamp())).unwrap();
    event["api_version"] = json!("2026-09-30.clover");
    event["livemode"] = json!(false);
    event["data"]["object"] = object;
    serde_json::to_vec(&event).unwrap()
}

fn stripe_error(status: u16, kind: &str, message: &str) -> Response {
    (
        StatusCode::from_u16(status).unwrap(),
        axum::Json(json!({ "error": { "type": kind, "message": message } })),
    )
        .into_response()
}

type Shared = State<Arc<Mutex<Books>>>;

/// Records the request, checks the key, and applies trouble or an idempotent replay; otherwise runs `work`.
async fn handle(
    State(books): Shared,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
    work: impl FnOnce(&mut Books, &[(String, String)]) -> (u16, Value),
) -> Response {
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let (trouble, replay, answer) = {
        let mut books = books.lock().unwrap();
        books.requests.push(Recorded {
            method: method.to_string(),
            path: uri.path().to_string(),
            idempotency_key: key.clone(),
            form: form.clone(),
        });
        if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(&format!("Bearer {SECRET_KEY}")) {
            return stripe_error(401, "invalid_request_error", "Invalid API Key provided");
        }
        let trouble = books.trouble.pop_front();
        if let Some(Trouble::Status(status)) = trouble {
            drop(books);
            return stripe_error(status, "api_error", "Something went wrong on Stripe's end.");
        }
        // Stripe compares a reused key's parameters, not their order in the body.
        let mut parameters = form.clone();
        parameters.sort();
        let first = key.as_ref().and_then(|k| books.answers.get(k).cloned());
        if let Some((path, first_parameters, _)) = &first
            && (path != uri.path() || *first_parameters != parameters)
        {
            drop(books);
            return stripe_error(
                400,
                "idempotency_error",
                "Keys for idempotent requests can only be used with the same parameters they were first used with.",
            );
        }
        let replay = first.map(|(_, _, answer)| answer);
        let answer = match &replay {
            Some(answer) => answer.clone(),
            None => {
                let answer = work(&mut books, &form);
                if let Some(key) = &key {
                    books
                        .answers
                        .insert(key.clone(), (uri.path().to_string(), parameters, answer.clone()));
                }
                answer
            }
        };
        (trouble, replay.is_some(), answer)
    };
    if let Some(Trouble::Late(delay)) = trouble {
        tokio::time::sleep(delay).await;
    }
    let (status, body) = answer;
    let mut response = (StatusCode::from_u16(status).unwrap(), axum::Json(body)).into_response();
    if replay {
        response
            .headers_mut()
            .insert("idempotent-replayed", "true".parse().unwrap());
    }
    response
}

fn metadata(form: &[(String, String)], prefix: &str) -> Value {
    let mut map = serde_json::Map::new();
    for (k, v) in form {
        if let Some(name) = k.strip_prefix(prefix).and_then(|rest| rest.strip_suffix(']')) {
            map.insert(name.trim_start_matches('[').to_string(), json!(v));
        }
    }
    Value::Object(map)
}

fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

async fn create_session(state: Shared, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    handle(state, method, uri, headers, body, |books, form| {
        let mut total = 0;
        let mut line = 0;
        while let Some(amount) = field(form, &format!("line_items[{line}][price_data][unit_amount]")) {
            let quantity: i64 = field(form, &format!("line_items[{line}][quantity]"))
                .unwrap_or("1")
                .parse()
                .unwrap();
            total += amount.parse::<i64>().unwrap() * quantity;
            line += 1;
        }
        if line == 0 || field(form, "mode") != Some("payment") {
            return (
                400,
                json!({ "error": { "type": "invalid_request_error", "message": "line_items and mode=payment are required" } }),
            );
        }
        books.next_id += 1;
        let id = format!("cs_test_{}", books.next_id);
        let now = chrono::Utc::now().timestamp();
        let session = json!({
            "id": id,
            "object": "checkout.session",
            "amount_subtotal": total,
            "amount_total": total,
            "automatic_tax": { "enabled": false, "liability": null, "status": null },
            "cancel_url": field(form, "cancel_url"),
            "client_reference_id": field(form, "client_reference_id"),
            "created": now,
            "currency": field(form, "line_items[0][price_data][currency]"),
            "custom_fields": [],
            "custom_text": { "after_submit": null, "shipping_address": null, "submit": null, "terms_of_service_acceptance": null },
            "expires_at": field(form, "expires_at").map(|v| v.parse::<i64>().unwrap()).unwrap_or(now + 86_400),
            "livemode": false,
            "metadata": metadata(form, "metadata"),
            "mode": "payment",
            "payment_intent": null,
            "payment_method_types": ["card"],
            "payment_status": "unpaid",
            "shipping_options": [],
            "status": "open",
            "success_url": field(form, "success_url"),
            "url": format!("https://checkout.stripe.test/c/pay/{id}"),
        });
        books.sessions.insert(id, session.clone());
        (200, session)
    })
    .await
}

async fn retrieve_session(
    state: Shared,
    Path(id): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    handle(state, method, uri, headers, body, |books, _| match books.sessions.get(&id) {
        Some(session) => (200, session.clone()),
        None => (
            404,
            json!({ "error": { "type": "invalid_request_error", "message": format!("No such checkout.session: '{id}'") } }),
        ),
    })
    .await
}

async fn expire_session(
    state: Shared,
    Path(id): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    handle(state, method, uri, headers, body, |books, _| match books.sessions.get_mut(&id) {
        Some(session) if session["status"] == "open" => {
            session["status"] = json!("expired");
            (200, session.clone())
        }
        Some(_) => (
            400,
            json!({ "error": { "type": "invalid_request_error", "message": "Only Checkout Sessions with a status of open can be expired." } }),
        ),
        None => (
            404,
            json!({ "error": { "type": "invalid_request_error", "message": format!("No such checkout.session: '{id}'") } }),
        ),
    })
    .await
}

async fn create_refund(state: Shared, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    handle(state, method, uri, headers, body, |books, form| {
        let Some(intent) = field(form, "payment_intent") else {
            return (
                400,
                json!({ "error": { "type": "invalid_request_error", "message": "payment_intent is required" } }),
            );
        };
        let paid = books.sessions.values().find(|s| s["payment_intent"] == intent).cloned();
        let Some(session) = paid else {
            return (
                400,
                json!({ "error": { "type": "invalid_request_error", "message": format!("No such payment_intent: '{intent}'") } }),
            );
        };
        if books.refunds.iter().any(|r| r["payment_intent"] == intent) {
            return (
                400,
                json!({ "error": { "type": "invalid_request_error", "code": "charge_already_refunded", "message": "This charge has already been refunded." } }),
            );
        }
        books.next_id += 1;
        let refund = json!({
            "id": format!("re_test_{}", books.next_id),
            "object": "refund",
            "amount": field(form, "amount").map(|v| v.parse::<i64>().unwrap()).unwrap_or(session["amount_total"].as_i64().unwrap()),
            "created": chrono::Utc::now().timestamp(),
            "currency": session["currency"],
            "metadata": metadata(form, "metadata"),
            "payment_intent": intent,
            "status": "succeeded",
        });
        books.refunds.push(refund.clone());
        (200, refund)
    })
    .await
}

async fn unknown(uri: Uri) -> Response {
    stripe_error(
        404,
        "invalid_request_error",
        &format!("Unrecognized request URL (POST: {uri})"),
    )
}
