//! GraphQL infrastructure shared by every domain: schema assembly, the HTTP handler, role guards and
//! directives, limits, pagination and scalars (DESIGN.md §4).

pub mod graphiql;
pub mod guards;
pub mod handler;
pub mod limits;
pub mod pagination;
pub mod scalars;
pub mod schema;

pub use schema::{CinemaSchema, build_schema, sdl};
