//! Background work in the database (DESIGN.md §8): a queue that callers write in their own transaction, a worker
//! that claims due jobs, retries them with exponential backoff and keeps the ones that ran out of attempts.

pub mod graphql;
pub mod queue;
pub mod worker;

pub use queue::{JobRow, JobStatus, NewJob};
