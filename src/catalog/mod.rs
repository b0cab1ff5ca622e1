//! The movie catalog: movies, genres, people (directors and stars), certifications.

pub mod connection;
pub mod graphql;
pub mod graphql_moderation;
pub mod loader;
pub mod models;
pub mod moderation;
pub mod posters;
pub mod probe;
pub mod repo;
pub mod seed;
pub mod service;
pub mod suggestions;
pub mod typos;
pub mod words;

pub use service::Catalog;
