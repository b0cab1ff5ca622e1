//! Payments (E1–E8): Stripe's signed webhook applied exactly once through one payment state machine, with
//! the shop's fulfilment and refund steps in the same transaction. (Checkout creation, the mock checkout page,
//! refunds through the gateway and the payment queries come next; see docs/architecture.md, "Payments".)
//!
//! Imports the shop (fulfil and revoke an order) and never the other way round.

pub mod gateway;
pub mod graphql;
pub mod mock;
pub mod models;
pub mod repo;
pub mod rest;
pub mod service;
pub mod signature;
pub mod webhook;

pub use service::Payments;
