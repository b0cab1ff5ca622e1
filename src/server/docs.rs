//! The REST API's OpenAPI document (generated from the handlers by utoipa) and Swagger UI (vendored assets),
//! both behind the `DOCS_ACCESS` gate (G4).

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tower_http::set_header::SetResponseHeaderLayer;
use utoipa::OpenApi;
use utoipa::openapi::OpenApi as OpenApiDocument;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use utoipa_swagger_ui::{Config, SwaggerUi};

use crate::accounts::rest;
use crate::config::DocsAccess;
use crate::db::Role;
use crate::error::{AppError, Problem};
use crate::server::{AppState, health, metrics};

pub const OPENAPI_PATH: &str = "/api/openapi.json";
/// Largest body the authentication endpoints read.
pub const AUTH_BODY_LIMIT: usize = 16 * 1024;
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
        (name = "auth", description = "Accounts and sessions: registration, activation, sign-in, tokens, passwords."),
        (name = "health", description = "Probes for orchestrators and monitoring."),
        (name = "payments", description = "Stripe's signed webhook.")
    ),
    components(schemas(Problem)),
    modifiers(&BearerScheme)
)]
pub struct ApiDoc;

/// Declares the `bearer` security scheme that signed-in endpoints name: a JWT access token from
/// `POST /api/v1/auth/login`. In Swagger UI, "Authorize" takes the token alone (without "Bearer ").
struct BearerScheme;

impl utoipa::Modify for BearerScheme {
    fn modify(&self, openapi: &mut OpenApiDocument) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// Every documented REST route, with its OpenAPI description attached.
pub fn rest_routes() -> OpenApiRouter<AppState> {
    // The sign-in family takes small JSON bodies: a few KiB is room for any email, password or token, and
    // keeps a client from making the server read megabytes before the first check (H1).
    let auth = OpenApiRouter::new()
        .routes(routes!(rest::register))
        .routes(routes!(rest::activate))
        .routes(routes!(rest::resend_activation))
        .routes(routes!(rest::login))
        .routes(routes!(rest::refresh))
        .routes(routes!(rest::logout))
        .routes(routes!(rest::change_password))
        .routes(routes!(rest::request_password_reset))
        .routes(routes!(rest::complete_password_reset))
        .layer(DefaultBodyLimit::max(AUTH_BODY_LIMIT))
        // Tokens must not rest in a browser's or a proxy's cache (H7).
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ));
    let webhooks = OpenApiRouter::new()
        .routes(routes!(crate::payments::rest::stripe_webhook))
        .layer(DefaultBodyLimit::max(crate::payments::rest::WEBHOOK_BODY_LIMIT));
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(auth)
        .merge(webhooks)
        .routes(routes!(health::live))
        .routes(routes!(health::ready))
        .routes(routes!(metrics::render))
}

/// The REST routes and their OpenAPI document, which states every refusal the routes can answer.
pub fn rest_api() -> (Router<AppState>, OpenApiDocument) {
    let (router, mut document) = rest_routes().split_for_parts();
    document_refusals(&mut document);
    (router, document)
}

/// The OpenAPI document alone (for `cinema export-openapi` and the snapshot test).
pub fn openapi() -> OpenApiDocument {
    rest_api().1
}

/// What every operation that reads a JSON body can also answer, before its own rules run.
const BODY_REFUSALS: [(&str, &str); 4] = [
    ("400", "`BAD_REQUEST`: the body is not JSON."),
    ("413", "`PAYLOAD_TOO_LARGE`: the body is larger than 16 KiB."),
    (
        "415",
        "`UNSUPPORTED_MEDIA_TYPE`: the body is not sent as `application/json`.",
    ),
    (
        "422",
        "`BAD_USER_INPUT`: a field is missing, of the wrong type, or breaks a rule.",
    ),
];

/// Makes the document say what the routes send (H8): refusals are RFC 9457 problem documents
/// (`application/problem+json`, not `application/json`), and every operation that reads a JSON body lists the
/// refusals of the body extractor (400, 413, 415, 422) beside its own.
fn document_refusals(document: &mut OpenApiDocument) {
    use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
    let problem = || {
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("Problem")))
            .build()
    };
    for (path, item) in document.paths.paths.iter_mut() {
        // The webhook reads its body raw, not through the JSON extractor: its refusals are its own.
        let json_extractor = !path.starts_with("/api/v1/webhooks/");
        let operations = [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
        ];
        for operation in operations.into_iter().flatten() {
            let responses = &mut operation.responses.responses;
            if operation.request_body.is_some() && json_extractor {
                for (status, description) in BODY_REFUSALS {
                    match responses.get_mut(status) {
                        Some(RefOr::T(response)) if !response.description.contains(description) => {
                            response.description = format!("{} Also {description}", response.description);
                        }
                        Some(_) => {}
                        None => {
                            let response = ResponseBuilder::new().description(description).build();
                            responses.insert(status.to_string(), RefOr::T(response));
                        }
                    }
                }
            }
            for (status, response) in responses.iter_mut() {
                let RefOr::T(response) = response else { continue };
                let json_problem = response.content.get("application/json").is_some_and(|content| {
                    matches!(content, RefOr::T(c) if matches!(&c.schema, Some(RefOr::Ref(r)) if r.ref_location.ends_with("/Problem")))
                });
                if status.as_str() >= "400" && (json_problem || response.content.is_empty()) {
                    response.content.shift_remove("application/json");
                    response
                        .content
                        .insert("application/problem+json".to_string(), RefOr::T(problem()));
                }
            }
        }
    }
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
    swagger
        .layer(middleware::from_fn_with_state(state, gate))
        // The docs pages are not to be framed by another site (clickjacking of "Try it out").
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("frame-ancestors 'none'"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
}

/// `public` lets everyone in; `off` answers 404 as if there were no docs; `authenticated` needs the bearer token
/// of a signed-in user, `admin` of an ADMIN. A browser does not send a bearer token by itself: with those
/// settings, read the document with a token (`curl -H "Authorization: Bearer …" /api/openapi.json`) and load it
/// into any OpenAPI viewer, or put the server behind a proxy that adds the header.
pub async fn gate(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let required = match state.settings.docs.access {
        DocsAccess::Public => return next.run(request).await,
        DocsAccess::Off => {
            return Problem::new(
                StatusCode::NOT_FOUND,
                "NOT_FOUND",
                "the API documentation is turned off",
            )
            .into_response();
        }
        DocsAccess::Authenticated => Role::User,
        DocsAccess::Admin => Role::Admin,
    };
    let refusal = match state.auth.viewer(request.headers()).await {
        Ok(Some(viewer)) if viewer.role.includes(required) => return next.run(request).await,
        Ok(Some(_)) => AppError::Forbidden("the API documentation is for admins".into()),
        Ok(None) => AppError::Unauthenticated,
        Err(error) => error,
    };
    let mut response = refusal.into_response();
    if response.status() == StatusCode::UNAUTHORIZED {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    response
}
