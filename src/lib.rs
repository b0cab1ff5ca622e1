//! Online cinema backend: a GraphQL API for the catalog, cart, orders and payments, and a small REST side for
//! authentication, the Stripe webhook and health. docs/architecture.md has the map: the layers, from `db` up to
//! `server` and `app`, and the rules that keep them apart.

pub mod accounts;
pub mod app;
pub mod auth;
pub mod catalog;
pub mod community;
pub mod config;
pub mod db;
pub mod error;
pub mod graphql;
pub mod http;
pub mod images;
pub mod jobs;
pub mod notify;
pub mod payments;
pub mod server;
pub mod shop;
pub mod storage;
pub mod util;

pub use app::{prepare, serve, state_for};
pub use config::Settings;
pub use server::{AppState, build_router};
