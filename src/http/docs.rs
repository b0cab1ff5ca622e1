//! The REST API's OpenAPI document (generated from the handlers by utoipa) and Swagger UI (vendored assets),
//! both behind the `DOCS_ACCESS` gate (G4).

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use utoipa::OpenApi;
use utoipa::openapi::OpenApi as OpenApiDocument;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use utoipa_swagger_ui::{Config, SwaggerUi};

use crate::config::DocsAccess;
use crate::error::{AppError, Problem};
use crate::http::{health, metrics};
use crate::state::AppState;

pub const OPENAPI_PATH: &str = "/api/openapi.json";
pub const SWAGGER_PATH: &str = "/api/docs";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Cinema API (REST side)",
        description = "REST endpoints of the online cinema: authentication, the Stripe webhook, health and \
                       metrics. The catalog, cart, orders and payments are served by GraphQL at `/graphql` \
                       (schema in `schema.graphql`, explorer at `/graphiql`).\n\n\
                       Errors are RFC 9457 problem documents (`application/problem+json`) with a stable `code`.",
        license(name = "MIT")
    ),
    tags(
        (name = "health", description = "Probes for orchestrators and monitoring.")
    ),
    components(schemas(Problem))
)]
pub struct ApiDoc;

/// Every documented REST route, with its OpenAPI description attached.
pub fn rest_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(health::live))
        .routes(routes!(health::ready))
        .routes(routes!(metrics::render))
}

/// The OpenAPI document alone (for `cinema export-openapi` and the snapshot test).
pub fn openapi() -> OpenApiDocument {
    rest_routes().split_for_parts().1
}

/// Swagger UI and the JSON document, behind the gate.
pub fn docs_router(document: OpenApiDocument, state: AppState) -> Router<AppState> {
    // No validator badge: it would call an outside service.
    let config = Config::new([OPENAPI_PATH])
        .validator_url("none")
        .try_it_out_enabled(true);
    let swagger: Router<AppState> = SwaggerUi::new(SWAGGER_PATH)
        .url(OPENAPI_PATH, document)
        .config(config)
        .into();
    swagger.layer(middleware::from_fn_with_state(state, gate))
}

/// `public` lets everyone in; `off` answers 404 as if there were no docs; `authenticated` and `admin` need a
/// bearer token of a signed-in user (of an admin), which this gate checks before anything is served.
async fn gate(State(state): State<AppState>, request: Request, next: Next) -> Response {
    match state.settings.docs_access {
        DocsAccess::Public => next.run(request).await,
        DocsAccess::Off => Problem::new(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "the API documentation is turned off",
        )
        .into_response(),
        DocsAccess::Authenticated | DocsAccess::Admin => {
            // Sign-in (issue "Accounts") provides the token check; until then no token is valid here.
            let mut response = AppError::Unauthenticated.into_response();
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            response
        }
    }
}
