//! Assembles the schema from the domains' parts.

use async_graphql::{EmptySubscription, MergedObject, Request, SDLExportOptions, Schema};

use crate::accounts::graphql::{AccountMutation, AccountQuery, AvatarMutation};
use crate::catalog::graphql::CatalogQuery;
use crate::catalog::loaders::CatalogLoaders;
use crate::config::GraphqlLimits;
use crate::db::Db;
use crate::graphql::limits::DocumentLimits;
use crate::jobs::graphql::JobQuery;

/// Every domain's queries; each domain adds its part here.
#[derive(MergedObject, Default)]
pub struct QueryRoot(CatalogQuery, AccountQuery, JobQuery);

/// Every domain's mutations.
#[derive(MergedObject, Default)]
pub struct MutationRoot(AccountMutation, AvatarMutation);

pub type CinemaSchema = Schema<QueryRoot, MutationRoot, EmptySubscription>;

/// The schema with its limits (G3, G11). `Db` is schema-wide data; loaders are per request (`request_data`).
pub fn build_schema(db: Db, limits: &GraphqlLimits) -> CinemaSchema {
    let mut builder = Schema::build(QueryRoot::default(), MutationRoot::default(), EmptySubscription)
        .data(db)
        .limit_complexity(limits.max_complexity)
        .limit_recursive_depth(64)
        .limit_directives(10)
        // Depth is measured by DocumentLimits rather than async-graphql's `limit_depth`, which would count the
        // standard introspection query's type-reference chain against the data limit (see graphql/limits.rs).
        .extension(DocumentLimits {
            max_depth: limits.max_depth,
            max_aliases: limits.max_aliases,
        });
    if !limits.introspection {
        builder = builder.disable_introspection();
    }
    builder.finish()
}

/// Attaches what a request needs beyond the schema's data: fresh DataLoaders (their cache lives one request).
pub fn request_data(request: Request, db: &Db) -> Request {
    request.data(CatalogLoaders::new(db))
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
    sdl(&Schema::build(QueryRoot::default(), MutationRoot::default(), EmptySubscription).finish())
}
