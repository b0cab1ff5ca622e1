//! Identity: password rules and hashing, access tokens, sessions with rotating refresh tokens, rate limits on
//! the sign-in endpoints, and the signed-in viewer shared by REST and GraphQL.

pub mod jwt;
pub mod password;
pub mod ratelimit;
pub mod service;
pub mod sessions;
pub mod shared_counts;
pub mod viewer;

pub use ratelimit::RateLimits;
pub use service::{Auth, SessionRules, TokenPair};
pub use viewer::Viewer;
