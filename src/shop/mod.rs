//! The shop (C1–C4, D1–D5): one cart per user, orders placed from it with every left-out line explained,
//! cancellation, the staff views, and the two steps the payments domain calls inside its own transaction
//! (`service::reprice_pending_order` right before payment, `service::fulfil_order` when the money is
//! confirmed).
//!
//! Imports the catalog (its `Movie` type and currency) and never the other way round.

pub mod abandoned;
pub mod graphql;
pub mod lifecycle;
pub mod models;
pub mod repo;
pub mod service;

pub use service::Shop;
