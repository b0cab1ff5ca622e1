//! Online cinema backend: a GraphQL API for the catalog, cart, orders and payments, and a small REST side for
//! authentication, the Stripe webhook and health. See DESIGN.md for the map.

pub mod accounts;
pub mod app;
pub mod auth;
pub mod catalog;
pub mod config;
pub mod db;
pub mod error;
pub mod graphql;
pub mod http;
pub mod jobs;
pub mod notify;
pub mod state;
pub mod storage;
pub mod util;

pub use app::{prepare, serve, state_for};
pub use config::Settings;
pub use http::build_router;
pub use state::AppState;
