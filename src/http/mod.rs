//! The HTTP surface: router, REST documentation, health, metrics and middleware (DESIGN.md §5).

pub mod docs;
pub mod health;
pub mod json;
pub mod media;
pub mod metrics;
pub mod middleware;
pub mod router;

pub use router::build_router;
