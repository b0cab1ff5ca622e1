//! The movie catalog: movies, genres, people (directors and stars), certifications.

pub mod graphql;
pub mod loader;
pub mod models;
pub mod repo;
pub mod seed;
pub mod service;

pub use service::Catalog;
