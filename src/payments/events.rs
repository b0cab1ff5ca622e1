//! Stripe's events, typed: one enum of the types this service acts on, read by the webhook, written by the mock
//! checkout and the mock refunds, and by the tests' fake Stripe, so that a type's name is written once and a
//! misspelt one does not compile. Objects keep the fields this service reads; Stripe sends many more, which are
//! skipped. Every field Stripe may leave out or send as `null` is an `Option`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// An event as the webhook received it: its id and type as sent (recorded and logged for every event, the
/// ignored ones too), the id of its object, and what the type says of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: String,
    /// The type as Stripe wrote it; what the webhook does follows `body`, never this text.
    pub type_name: String,
    /// `data.object.id`, whatever the type.
    pub object_id: Option<String>,
    pub body: EventBody,
}

/// Why a body is not an event.
#[derive(Debug)]
pub struct NotAnEvent;

impl Event {
    /// Reads an event: an object with a non-empty `id`, a `type` and an object in `data.object`; the object as
    /// its type says when it is one this service acts on.
    pub fn parse(body: &[u8]) -> Result<Event, NotAnEvent> {
        #[derive(Deserialize)]
        struct Head {
            id: String,
            #[serde(rename = "type")]
            type_name: String,
            data: HeadData,
        }
        #[derive(Deserialize)]
        struct HeadData {
            object: serde_json::Map<String, Value>,
        }
        let value: Value = serde_json::from_slice(body).map_err(|_| NotAnEvent)?;
        let head = Head::deserialize(&value).map_err(|_| NotAnEvent)?;
        if head.id.is_empty() {
            return Err(NotAnEvent);
        }
        let body = EventBody::deserialize(&value).map_err(|_| NotAnEvent)?;
        Ok(Event {
            id: head.id,
            type_name: head.type_name,
            object_id: head.data.object.get("id").and_then(Value::as_str).map(str::to_string),
            body,
        })
    }
}

/// The event types this service acts on (E2–E5), by Stripe's names; any other type is `Other`, acknowledged
/// and ignored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum EventBody {
    /// A checkout finished; paid at once unless its `payment_status` says otherwise (a delayed method).
    #[serde(rename = "checkout.session.completed")]
    CheckoutSessionCompleted(Payload<CheckoutSession>),
    /// A delayed method's money arrived.
    #[serde(rename = "checkout.session.async_payment_succeeded")]
    CheckoutSessionAsyncPaymentSucceeded(Payload<CheckoutSession>),
    /// A delayed method was declined.
    #[serde(rename = "checkout.session.async_payment_failed")]
    CheckoutSessionAsyncPaymentFailed(Payload<CheckoutSession>),
    /// The checkout expired unpaid.
    #[serde(rename = "checkout.session.expired")]
    CheckoutSessionExpired(Payload<CheckoutSession>),
    /// A payment attempt failed.
    #[serde(rename = "payment_intent.payment_failed")]
    PaymentIntentPaymentFailed(Payload<PaymentIntent>),
    /// A charge was refunded (in whole or in part).
    #[serde(rename = "charge.refunded")]
    ChargeRefunded(Payload<Charge>),
    #[serde(rename = "refund.created")]
    RefundCreated(Payload<Refund>),
    #[serde(rename = "refund.updated")]
    RefundUpdated(Payload<Refund>),
    /// A type this service does not act on.
    #[serde(other)]
    Other,
}

impl EventBody {
    /// The metadata of the event's object: a checkout's carries our payment's id.
    pub fn metadata(&self) -> Option<&Metadata> {
        match self {
            EventBody::CheckoutSessionCompleted(payload)
            | EventBody::CheckoutSessionAsyncPaymentSucceeded(payload)
            | EventBody::CheckoutSessionAsyncPaymentFailed(payload)
            | EventBody::CheckoutSessionExpired(payload) => payload.data.object.metadata.as_ref(),
            EventBody::PaymentIntentPaymentFailed(payload) => payload.data.object.metadata.as_ref(),
            EventBody::ChargeRefunded(payload) => payload.data.object.metadata.as_ref(),
            EventBody::RefundCreated(payload) | EventBody::RefundUpdated(payload) => {
                payload.data.object.metadata.as_ref()
            }
            EventBody::Other => None,
        }
    }
}

/// `data` of an event: its object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Payload<T> {
    pub data: Data<T>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Data<T> {
    pub object: T,
}

impl<T> Payload<T> {
    pub fn of(object: T) -> Payload<T> {
        Payload { data: Data { object } }
    }
}

/// What a checkout session says of its payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionPaymentStatus {
    Paid,
    Unpaid,
    NoPaymentRequired,
    #[serde(other)]
    Other,
}

/// A refund's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundStatus {
    Pending,
    RequiresAction,
    Succeeded,
    Failed,
    Canceled,
    #[serde(other)]
    Other,
}

/// The metadata this service puts on a checkout (and Stripe copies to its payment intent's charges when asked).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Metadata {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
}

/// A Checkout Session (`cs_…`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CheckoutSession {
    pub id: Option<String>,
    pub payment_status: Option<SessionPaymentStatus>,
    /// The payment intent's id (`pi_…`), once there is one.
    pub payment_intent: Option<String>,
    /// What the payer was charged, in minor units.
    pub amount_total: Option<i64>,
    pub currency: Option<String>,
    /// Our order's id.
    pub client_reference_id: Option<String>,
    pub metadata: Option<Metadata>,
}

/// A Payment Intent (`pi_…`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PaymentIntent {
    pub id: Option<String>,
    pub last_payment_error: Option<PaymentError>,
    pub metadata: Option<Metadata>,
}

/// Why a payment attempt failed, in words for the payer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PaymentError {
    pub message: Option<String>,
}

/// A Charge (`ch_…`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Charge {
    pub id: Option<String>,
    pub payment_intent: Option<String>,
    pub amount: Option<i64>,
    pub amount_refunded: Option<i64>,
    pub currency: Option<String>,
    pub refunded: Option<bool>,
    pub metadata: Option<Metadata>,
    pub refunds: Option<List<Refund>>,
}

/// A Refund (`re_…`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Refund {
    pub id: Option<String>,
    pub status: Option<RefundStatus>,
    pub payment_intent: Option<String>,
    pub amount: Option<i64>,
    pub metadata: Option<Metadata>,
}

/// One of Stripe's lists (`{"object": "list", "data": [...]}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct List<T> {
    pub data: Vec<T>,
}

/// An event as Stripe sends it: the envelope's fields beside the type and its object.
#[derive(Debug, Clone, Serialize)]
pub struct Outgoing<'a> {
    pub id: &'a str,
    pub object: &'static str,
    pub created: i64,
    #[serde(flatten)]
    pub body: &'a EventBody,
}

impl EventBody {
    /// This event's body as Stripe sends it, with `id` and `created` (Unix seconds).
    pub fn to_json(&self, id: &str, created: i64) -> Vec<u8> {
        let outgoing = Outgoing {
            id,
            object: "event",
            created,
            body: self,
        };
        serde_json::to_vec(&outgoing).expect("an event serializes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> CheckoutSession {
        CheckoutSession {
            id: Some("cs_test_1".into()),
            payment_status: Some(SessionPaymentStatus::Paid),
            payment_intent: Some("pi_test_1".into()),
            amount_total: Some(1299),
            currency: Some("usd".into()),
            client_reference_id: Some("order-1".into()),
            metadata: Some(Metadata {
                payment_id: Some("payment-1".into()),
                order_id: Some("order-1".into()),
            }),
        }
    }

    #[test]
    fn an_event_written_is_the_event_read() {
        let body = EventBody::CheckoutSessionCompleted(Payload::of(session()));
        let json = body.to_json("evt_1", 1_700_000_000);
        let value: Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(value["type"], "checkout.session.completed");
        assert_eq!(value["object"], "event");
        assert_eq!(value["data"]["object"]["payment_status"], "paid");
        let read = Event::parse(&json).unwrap();
        assert_eq!(read.id, "evt_1");
        assert_eq!(read.type_name, "checkout.session.completed");
        assert_eq!(read.object_id.as_deref(), Some("cs_test_1"));
        assert_eq!(read.body, body);
        assert_eq!(read.body.metadata().unwrap().payment_id.as_deref(), Some("payment-1"));
    }

    #[test]
    fn stripe_s_own_shapes_are_read() {
        // As Stripe sends them: fields this service does not read, nulls, and values of enums it does not know.
        let json = br#"{"id":"evt_2","object":"event","api_version":"2024-06-20","created":1,
            "type":"checkout.session.completed","livemode":false,"pending_webhooks":1,
            "data":{"object":{"id":"cs_2","object":"checkout.session","payment_status":"unpaid",
            "payment_intent":null,"amount_total":500,"customer_details":{"email":"a@example.com"},
            "metadata":{"payment_id":"p2","other":"x"}}}}"#;
        let read = Event::parse(json).unwrap();
        let EventBody::CheckoutSessionCompleted(payload) = &read.body else {
            panic!("{:?}", read.body)
        };
        assert_eq!(payload.data.object.payment_status, Some(SessionPaymentStatus::Unpaid));
        assert_eq!(payload.data.object.payment_intent, None);
        let refund = br#"{"id":"evt_3","type":"refund.updated","data":{"object":{"id":"re_1",
            "status":"some_new_state","payment_intent":"pi_1"}}}"#;
        let EventBody::RefundUpdated(payload) = Event::parse(refund).unwrap().body else {
            panic!("a refund")
        };
        assert_eq!(payload.data.object.status, Some(RefundStatus::Other));
    }

    #[test]
    fn other_types_are_kept_as_sent_and_not_acted_on() {
        let json = br#"{"id":"evt_4","type":"customer.created","data":{"object":{"id":"cus_1","email":"x"}}}"#;
        let read = Event::parse(json).unwrap();
        assert_eq!(read.body, EventBody::Other);
        assert_eq!(read.type_name, "customer.created");
        assert_eq!(read.object_id.as_deref(), Some("cus_1"));
    }

    #[test]
    fn what_is_not_an_event_is_refused() {
        for body in [
            &b"not json"[..],
            br#"[]"#,
            br#"{"type":"charge.refunded","data":{"object":{}}}"#,
            br#"{"id":"","type":"charge.refunded","data":{"object":{}}}"#,
            br#"{"id":"evt_5","data":{"object":{}}}"#,
            br#"{"id":"evt_5","type":"charge.refunded"}"#,
            br#"{"id":"evt_5","type":"charge.refunded","data":{"object":["ch_1"]}}"#,
            br#"{"id":"evt_5","type":"charge.refunded","data":{"object":{"amount":"twelve"}}}"#,
        ] {
            assert!(Event::parse(body).is_err(), "{}", String::from_utf8_lossy(body));
        }
    }
}
