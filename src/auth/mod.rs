//! Identity: password rules and hashing, and the signed-in viewer shared by REST and GraphQL.

pub mod authenticator;
pub mod jwt;
pub mod password;
pub mod ratelimit;
pub mod rest;
pub mod sessions;
pub mod viewer;

pub use viewer::Viewer;
