//! Payments (E1–E8): checkouts and refunds through a gateway (Stripe or the built-in mock), and Stripe's signed
//! webhook applied exactly once through one payment state machine, with the shop's fulfilment and refund steps
//! in the same transaction. See docs/architecture.md, "Payments".
//!
//! Imports the shop (fulfil and revoke an order) and never the other way round.

pub mod events;
pub mod gateway;
pub mod graphql;
pub mod machine;
pub mod mock;
pub mod models;
pub mod repo;
pub mod rest;
pub mod service;
pub mod signature;
pub mod stripe_gateway;
pub mod webhook;

pub use service::{PaymentOptions, Payments};
