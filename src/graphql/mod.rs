//! What every domain's part of the GraphQL schema shares: role guards and directives, document limits, the
//! generic page type and scalars. The schema is assembled from the domains' parts in `server::schema`.

pub mod budgets;
pub mod guards;
pub mod limits;
pub mod pagination;
pub mod scalars;
pub mod shown;
