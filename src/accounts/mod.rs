//! Users, roles and profiles.

pub mod graphql;
pub mod models;
pub mod repo;
pub mod service;
