//! The whole HTTP surface in one router.

use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, StatusCode, header};
use axum::routing::{get, post};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;

use crate::server::AppState;
use crate::server::{docs, graphiql, graphql, media, metrics, middleware, storefront, subscriptions};

pub fn build_router(state: AppState) -> Router {
    let settings = state.settings.clone();
    let (rest, document) = docs::rest_api();

    let mut app = Router::new()
        .route("/graphql", get(graphql::get).post(graphql::post))
        .route("/graphql/ws", get(subscriptions::upgrade))
        .route("/media/{*key}", get(media::serve))
        .route("/posters/generated/{file}", get(media::generated_poster))
        .merge(rest)
        .merge(docs::docs_router(document, state.clone()));
    if settings.payments.stripe_secret_key.is_none() {
        // The mock checkout (E7): pages for people, outside the OpenAPI document like GraphiQL.
        app = app
            .route("/mock-checkout/{session}", get(crate::payments::mock::page))
            .route("/mock-checkout/{session}/pay", post(crate::payments::mock::pay))
            .route("/mock-checkout/{session}/decline", post(crate::payments::mock::decline));
    }
    if settings.http.storefront {
        app = app.merge(storefront::routes());
    }
    if settings.docs.graphiql {
        let mut explorer = Router::new()
            .route("/graphiql", get(graphiql::page))
            .route("/graphiql/assets/{file}", get(graphiql::asset));
        if settings.docs.graphiql_gated {
            explorer = explorer.layer(axum::middleware::from_fn_with_state(state.clone(), docs::gate));
        }
        app = app.merge(explorer);
    }

    app.route_layer(axum::middleware::from_fn(metrics::track))
        .fallback(middleware::not_found)
        .with_state(state)
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(middleware::REQUEST_ID, MakeRequestUuid))
                .layer(middleware::trace_layer())
                .layer(PropagateRequestIdLayer::new(middleware::REQUEST_ID))
                .layer(CatchPanicLayer::custom(middleware::panic_response))
                // Every answer: no content sniffing, and no Referer leaking a URL with a token in it (H7).
                .layer(SetResponseHeaderLayer::if_not_present(
                    header::X_CONTENT_TYPE_OPTIONS,
                    HeaderValue::from_static("nosniff"),
                ))
                .layer(SetResponseHeaderLayer::if_not_present(
                    header::REFERRER_POLICY,
                    HeaderValue::from_static("no-referrer"),
                ))
                .layer(middleware::cors_layer(&settings))
                .layer(TimeoutLayer::with_status_code(
                    StatusCode::SERVICE_UNAVAILABLE,
                    settings.http.request_timeout.max(Duration::from_secs(1)),
                ))
                .layer(DefaultBodyLimit::max(settings.http.request_body_limit)),
        )
}
