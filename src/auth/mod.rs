//! Identity: password rules and hashing, and the signed-in viewer shared by REST and GraphQL.

pub mod password;
pub mod viewer;

pub use viewer::Viewer;
