//! Assembles the schema from the domains' parts.

use async_graphql::{MergedObject, MergedSubscription, Request, SDLExportOptions, Schema};

use crate::accounts::Accounts;
use crate::accounts::graphql::{AccountMutation, AccountQuery, AvatarMutation};
use crate::catalog::graphql::{CatalogMutation, CatalogQuery};
use crate::catalog::graphql_moderation::ModerationMutation;
use crate::catalog::suggestions::SearchQuery;
use crate::catalog::{Catalog, loader};
use crate::community::Community;
use crate::community::graphql::CommunityMutation;
use crate::config::GraphqlLimits;
use crate::graphql::pagination::CursorSeal;
use crate::jobs::Jobs;
use crate::jobs::graphql::JobQuery;
use crate::payments::Payments;
use crate::payments::graphql::{PaymentMutation, PaymentQuery};
use crate::shop::Shop;
use crate::shop::graphql::{ShopMutation, ShopQuery, ShopSubscription};

/// Every domain's queries; each domain adds its part here.
#[derive(MergedObject, Default)]
pub struct QueryRoot(
    CatalogQuery,
    SearchQuery,
    AccountQuery,
    JobQuery,
    ShopQuery,
    PaymentQuery,
);

/// Every domain's mutations.
#[derive(MergedObject, Default)]
pub struct MutationRoot(
    AccountMutation,
    AvatarMutation,
    CatalogMutation,
    ModerationMutation,
    CommunityMutation,
    ShopMutation,
    PaymentMutation,
);

/// Every domain's subscriptions (over WebSocket at /graphql/ws).
#[derive(MergedSubscription, Default)]
pub struct SubscriptionRoot(ShopSubscription);

pub type CinemaSchema = Schema<QueryRoot, MutationRoot, SubscriptionRoot>;

/// The domains' handles, which resolvers read from the schema's data (`ctx.data::<Catalog>()`).
pub struct Domains {
    pub accounts: Accounts,
    pub catalog: Catalog,
    pub jobs: Jobs,
    pub community: Community,
    pub shop: Shop,
    pub payments: Payments,
    /// Seals the catalog lists' keyset cursors.
    pub cursors: CursorSeal,
    /// What each user's mutations may spend (issue 22).
    pub write_budgets: crate::graphql::budgets::WriteBudgets,
    /// Movies' posters: uploaded, or generated (issue 24).
    pub posters: crate::catalog::posters::Posters,
}

/// The schema with its limits (G3, G11). The domains' handles are schema-wide data; the loader is per request
/// (`request_data`).
pub fn build_schema(domains: Domains, limits: &GraphqlLimits) -> CinemaSchema {
    let mut builder = Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        SubscriptionRoot::default(),
    )
    .data(domains.accounts)
    .data(domains.catalog)
    .data(domains.jobs)
    .data(domains.community)
    .data(domains.shop)
    .data(domains.payments)
    .data(domains.cursors)
    .data(domains.write_budgets)
    .data(domains.posters)
    .limit_complexity(limits.max_complexity)
    .limit_recursive_depth(64)
    // Depth, aliases and fields are checked by `graphql::limits::DocumentLimits` in the HTTP handler, not
    // by async-graphql's `limit_depth`, which would count the standard introspection query's type-reference
    // chain against the data limit.
    .limit_directives(10);
    if !limits.introspection {
        builder = builder.disable_introspection();
    }
    builder.finish()
}

/// Attaches what a request needs beyond the schema's data: a fresh loader (its cache lives one request).
pub fn request_data(request: Request, catalog: &Catalog) -> Request {
    request.data(loader::for_request(catalog))
}

/// The SDL as committed in `schema.graphql`: fields, arguments and enum values sorted, so diffs stay small.
pub fn sdl(schema: &CinemaSchema) -> String {
    schema.sdl_with_options(
        SDLExportOptions::new()
            .sorted_fields()
            .sorted_arguments()
            .sorted_enum_items(),
    )
}

/// The SDL without a database: the schema's shape does not depend on data or limits.
pub fn export_sdl() -> String {
    sdl(&Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        SubscriptionRoot::default(),
    )
    .finish())
}
