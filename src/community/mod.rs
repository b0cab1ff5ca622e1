//! What viewers say about movies and hear back (B10, B11): threaded comments with likes, and in-app
//! notifications (with an email) when someone replies to or likes your comment.
//!
//! Depends on nothing above the database and the job queue; the catalog shows a movie's comments by calling
//! in here, so this module never imports the catalog.

pub mod graphql;
pub mod models;
pub mod repo;
pub mod service;

pub use service::Community;
