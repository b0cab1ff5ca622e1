//! The served surface: the state handlers read, the router, the GraphQL endpoint and schema, GraphiQL, the REST
//! documentation, health, metrics, middleware and media (docs/architecture.md, "Layers").

pub mod docs;
pub mod graphiql;
pub mod graphql;
pub mod health;
pub mod listener;
pub mod media;
pub mod metrics;
pub mod middleware;
pub mod parsed_documents;
pub mod persisted_queries;
pub mod response_cache;
pub mod router;
pub mod schema;
pub mod state;
pub mod storefront;
pub mod subscriptions;

pub use router::build_router;
pub use state::AppState;
