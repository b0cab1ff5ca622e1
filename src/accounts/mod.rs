//! Users, roles and profiles: the REST sign-in endpoints, the GraphQL account fields, and the rules behind
//! both.

pub mod audit;
pub mod avatar;
pub mod cleanup;
pub mod graphql;
pub mod links;
pub mod models;
pub mod refresh_cookie;
pub mod repo;
pub mod rest;
pub mod service;
pub mod tokens;

pub use service::{AccountSettings, Accounts};
