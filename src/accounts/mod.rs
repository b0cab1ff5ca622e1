//! Users, roles and profiles.

pub mod models;
pub mod repo;
pub mod service;
