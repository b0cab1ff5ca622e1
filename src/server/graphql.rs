//! /graphql over HTTP, following the GraphQL-over-HTTP specification: POST with `application/json`, GET for
//! queries only, `application/graphql-response+json` answers with 4xx for requests that cannot run, and
//! `application/json` answers (legacy clients) with 200.

use std::sync::Arc;

use async_graphql::ParseRequestError;
use async_graphql::ServerError;
use async_graphql::http::MultipartOptions;
use async_graphql::parser::types::{ExecutableDocument, OperationType};
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::db::notify::ReadSet;
use crate::error::AppError;
use crate::graphql::limits::DocumentLimits;
use crate::http::extract::ClientAddress;
use crate::server::AppState;
use crate::server::persisted_queries::Refusal;
use crate::server::response_cache::{PublicAnswer, public_max_age};
use crate::server::schema::request_data;

const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";
/// Room in a multipart upload for everything but the file: the `operations` and `map` parts and boundaries.
const MULTIPART_OVERHEAD: usize = 16 * 1024;
const APPLICATION_JSON: &str = "application/json";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Media {
    GraphqlResponseJson,
    Json,
}

impl Media {
    fn content_type(self) -> &'static str {
        match self {
            Media::GraphqlResponseJson => "application/graphql-response+json; charset=utf-8",
            Media::Json => "application/json; charset=utf-8",
        }
    }
}

/// Picks the answer's media type from `Accept`; none acceptable is a 406.
fn negotiate(headers: &HeaderMap) -> Option<Media> {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return Some(Media::Json);
    };
    let ranges: Vec<&str> = accept
        .split(',')
        .filter(|range| !range.contains("q=0") || range.contains("q=0."))
        .map(|range| range.split(';').next().unwrap_or_default().trim())
        .collect();
    if ranges.contains(&GRAPHQL_RESPONSE_JSON) {
        Some(Media::GraphqlResponseJson)
    } else if ranges
        .iter()
        .any(|r| matches!(*r, APPLICATION_JSON | "*/*" | "application/*"))
        || ranges.is_empty()
    {
        Some(Media::Json)
    } else {
        None
    }
}

/// What an answer that is not public tells HTTP caches: keep nothing (it names the viewer, or an error).
const PRIVATE: HeaderValue = HeaderValue::from_static("private, no-store");
/// Public answers differ by media type, and an answer to a request with a token is never a public one.
const VARY: HeaderValue = HeaderValue::from_static("Accept, Authorization");

/// A response made of errors only, for requests refused before they run.
fn request_error(status: StatusCode, media: Media, code: &str, message: &str) -> Response {
    let body = json!({ "errors": [{ "message": message, "extensions": { "code": code } }] });
    let mut response = (status, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(media.content_type()));
    headers.insert(header::CACHE_CONTROL, PRIVATE);
    response
}

/// A public answer (see `response_cache`): HTTP caches may keep it for its max age and revalidate it with its
/// entity tag; a GET whose `If-None-Match` names the tag gets 304 without a body.
fn public_answer(media: Media, request_headers: &HeaderMap, answer: &PublicAnswer, via_get: bool) -> Response {
    let unchanged = via_get
        && request_headers
            .get(header::IF_NONE_MATCH)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|tags| names_tag(tags, &answer.etag));
    let mut response = if unchanged {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut response = (StatusCode::OK, answer.body.clone()).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(media.content_type()));
        response
    };
    let headers = response.headers_mut();
    headers.insert(header::ETAG, answer.etag.clone());
    let control = format!("public, max-age={}", answer.max_age);
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_str(&control).expect("digits are a valid header value"),
    );
    headers.insert(header::VARY, VARY);
    response
}

/// Whether an `If-None-Match` value (`*`, or a list of tags, weak or strong) names `etag` (weak comparison, as
/// RFC 9110 asks for If-None-Match).
fn names_tag(if_none_match: &str, etag: &HeaderValue) -> bool {
    let etag = etag.to_str().unwrap_or_default();
    if_none_match
        .split(',')
        .map(|tag| tag.trim())
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag)
}

pub async fn get(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let Some(media) = negotiate(&headers) else {
        return not_acceptable();
    };
    let request = match get_request(query.as_deref().unwrap_or_default()) {
        Ok(request) => request,
        Err(error) => {
            return request_error(
                StatusCode::BAD_REQUEST,
                media,
                "BAD_REQUEST",
                &format!("invalid GET request: {error}"),
            );
        }
    };
    execute(state, &client, &headers, media, request, true).await
}

/// A GET request's parameters as GraphQL over HTTP names them: `query`, `operationName`, and `variables` and
/// `extensions` as JSON objects. (async-graphql's own reader expects `operation_name`, which no client sends:
/// with it, the operation a client named was ignored.)
fn get_request(query_string: &str) -> Result<async_graphql::Request, String> {
    let mut request = async_graphql::Request::new("");
    for (key, value) in url::form_urlencoded::parse(query_string.as_bytes()) {
        match key.as_ref() {
            "query" => request.query = value.into_owned(),
            "operationName" if !value.is_empty() => request.operation_name = Some(value.into_owned()),
            "variables" => {
                let variables: serde_json::Map<String, serde_json::Value> =
                    serde_json::from_str(&value).map_err(|e| format!("variables must be a JSON object ({e})"))?;
                request.variables = async_graphql::Variables::from_json(variables.into());
            }
            "extensions" => {
                request.extensions =
                    serde_json::from_str(&value).map_err(|e| format!("extensions must be a JSON object ({e})"))?;
            }
            _ => {}
        }
    }
    Ok(request)
}

pub async fn post(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Some(media) = negotiate(&headers) else {
        return not_acceptable();
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    // Read no more than the request can use (H1): a JSON body holds a query of at most GRAPHQL_MAX_QUERY_BYTES
    // and its variables, so it gets GRAPHQL_MAX_BODY_BYTES; only an upload gets the whole REQUEST_BODY_LIMIT,
    // and only from a signed-in user, checked before a byte of it is read.
    let limit = if essence == "multipart/form-data" {
        // A browser may send multipart/form-data cross-site without asking first, so an upload must carry a
        // bearer token: a header no other site can add.
        match state.auth.viewer(&headers).await {
            Ok(Some(_)) => {}
            Ok(None) => {
                let message = "multipart requests (uploads) must carry the bearer token of a signed-in user";
                return request_error(StatusCode::BAD_REQUEST, media, "BAD_REQUEST", message);
            }
            Err(error) => {
                let mut response = request_error(error.status(), media, error.code(), &error.public_message());
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                return response;
            }
        }
        state.settings.http.request_body_limit
    } else {
        state.settings.graphql.max_body_bytes
    };
    let Ok(body) = axum::body::to_bytes(body, limit).await else {
        // Over the limit, or a body that broke off: either way nothing to run.
        let message = format!("the body is larger than {limit} bytes, or ended early");
        return request_error(StatusCode::PAYLOAD_TOO_LARGE, media, "PAYLOAD_TOO_LARGE", &message);
    };
    let request = if essence == APPLICATION_JSON {
        match serde_json::from_slice::<async_graphql::Request>(&body) {
            Ok(request) => request,
            Err(error) => {
                let message = if body.first() == Some(&b'[') {
                    "batched requests are not supported; send one operation per request".to_string()
                } else {
                    format!("the body is not a GraphQL request: {error}")
                };
                return request_error(StatusCode::BAD_REQUEST, media, "BAD_REQUEST", &message);
            }
        }
    } else if essence == "multipart/form-data" {
        // File uploads (GraphQL multipart request spec), from a signed-in user (checked above).
        // The reader caps the whole stream at this size times the number of files, so the cap leaves room for
        // the `operations` and `map` parts; the avatar rule checks the file's exact size.
        let options = MultipartOptions::default()
            .max_num_files(1)
            .max_file_size(state.settings.avatar_max_bytes.saturating_add(MULTIPART_OVERHEAD));
        let reader = futures_util::io::Cursor::new(body.to_vec());
        match async_graphql::http::receive_body(Some(content_type), reader, options).await {
            Ok(request) => request,
            Err(ParseRequestError::PayloadTooLarge) => {
                let message = "the uploaded file is too large";
                return request_error(StatusCode::PAYLOAD_TOO_LARGE, media, "PAYLOAD_TOO_LARGE", message);
            }
            Err(error) => {
                let message = format!("invalid multipart request: {error}");
                return request_error(StatusCode::BAD_REQUEST, media, "BAD_REQUEST", &message);
            }
        }
    } else {
        return request_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            media,
            "UNSUPPORTED_MEDIA_TYPE",
            "POST /graphql takes Content-Type: application/json (or multipart/form-data for uploads)",
        );
    };
    execute(state, &client, &headers, media, request, false).await
}

fn not_acceptable() -> Response {
    request_error(
        StatusCode::NOT_ACCEPTABLE,
        Media::Json,
        "NOT_ACCEPTABLE",
        "Accept must allow application/graphql-response+json or application/json",
    )
}

async fn execute(
    state: AppState,
    client: &str,
    headers: &HeaderMap,
    media: Media,
    mut request: async_graphql::Request,
    via_get: bool,
) -> Response {
    // A per-client budget (H2): one address cannot keep the pool busy with request after request.
    let limits = &state.settings.graphql;
    if let Err(AppError::RateLimited { retry_after_secs }) = state
        .graphql_budget
        .hit(&["graphql", client], limits.requests_per_minute)
        .await
    {
        let message = format!("too many requests; retry after {retry_after_secs} seconds");
        let mut response = request_error(StatusCode::TOO_MANY_REQUESTS, media, "RATE_LIMITED", &message);
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
        return response;
    }
    // A persisted query's hash stands for its text (see `persisted_queries`).
    let to_register = match state.persisted_queries.resolve(&mut request) {
        Ok(to_register) => to_register,
        Err(refusal) => {
            let status = match refusal {
                Refusal::Malformed(_) => StatusCode::BAD_REQUEST,
                _ => bad_request_status(media),
            };
            return request_error(status, media, refusal.code(), refusal.message());
        }
    };
    if request.query.len() > limits.max_query_bytes {
        let message = format!("the query text is longer than {} bytes", limits.max_query_bytes);
        return request_error(bad_request_status(media), media, "QUERY_TOO_LARGE", &message);
    }
    if request.query.trim().is_empty() {
        return request_error(
            StatusCode::BAD_REQUEST,
            media,
            "BAD_REQUEST",
            "the request has no query",
        );
    }
    // An anonymous request may find its answer among the public ones (see `response_cache`), read before
    // anything is parsed: that is the whole point.
    let anonymous = !headers.contains_key(header::AUTHORIZATION);
    let content = state.db.content_version();
    // Where public content stood when this request started (None while changes elsewhere might go unheard:
    // nothing is reused or kept then).
    let as_of = content.current();
    let cache_key = if anonymous && as_of.is_some() {
        state.response_cache.key(&request)
    } else {
        None
    };
    if let Some(answer) = cache_key
        .as_ref()
        .and_then(|key| state.response_cache.get(key, content))
    {
        return public_answer(media, headers, &answer, via_get);
    }
    // Parsed once, here, or kept from an earlier request (see `parsed_documents`): a parse error gets its own
    // code, the document limits run before the schema sees the document (see `DocumentLimits::check`), a GET
    // that would mutate is refused (GET must be safe), and the schema executes this parsed document instead of
    // parsing the text again.
    let document = match state.parsed_documents.get(&request.query) {
        Some(kept) => kept,
        None => match parse_within_limits(&state, &request.query) {
            Ok(document) => document,
            Err((code, message)) => return request_error(bad_request_status(media), media, code, &message),
        },
    };
    // Without a name, a document of several operations is refused by the executor; with one operation, that
    // one runs.
    let operation = operation_type(&document, request.operation_name.as_deref());
    if via_get && operation.is_some_and(|ty| ty != OperationType::Query) {
        let mut response = request_error(
            StatusCode::METHOD_NOT_ALLOWED,
            media,
            "METHOD_NOT_ALLOWED",
            "only queries may be sent with GET; use POST for mutations",
        );
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    if let Some(to_register) = to_register {
        state.persisted_queries.register(to_register, &request.query);
    }
    request.set_parsed_query(document);

    // A token that does not authenticate is refused outright (401), so the client knows to refresh it, rather
    // than answered as if anonymous.
    let mut request = request_data(request, &state.catalog);
    // What the answer shows of public content, marked by the resolvers, when it may be kept.
    let shown = cache_key.as_ref().map(|_| Arc::new(ReadSet::default()));
    if let Some(shown) = &shown {
        request = request.data(shown.clone());
    }
    match state.auth.viewer(headers).await {
        Ok(Some(viewer)) => request = request.data(viewer),
        Ok(None) => {}
        Err(error) => {
            let mut response = request_error(error.status(), media, error.code(), &error.public_message());
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            return response;
        }
    }
    let mut response = state.schema.execute(request).await;

    // Errors without a path come from validation or limits: the request never ran.
    let refused = response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| e.path.is_empty());
    for error in &mut response.errors {
        if refused {
            label_request_error(error);
        } else {
            label_field_error(error);
        }
    }
    let status = if refused {
        bad_request_status(media)
    } else {
        StatusCode::OK
    };
    let body = match serde_json::to_vec(&response) {
        Ok(body) => body,
        Err(error) => {
            tracing::error!(%error, "could not serialize a GraphQL response");
            return request_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                media,
                "INTERNAL_SERVER_ERROR",
                "internal error",
            );
        }
    };
    let public_max_age = public_max_age(&response).filter(|_| anonymous && operation == Some(OperationType::Query));
    if let Some(max_age) = public_max_age {
        // Kept as long as it is read: without the room the serializer grew into (up to as much again).
        let mut body = body;
        body.shrink_to_fit();
        let answer = Arc::new(PublicAnswer::new(body.into(), max_age));
        if let (Some(key), Some(as_of), Some(shown)) = (cache_key, as_of, shown) {
            state
                .response_cache
                .keep(key, answer.clone(), as_of, shown.slots(), content);
        }
        return public_answer(media, headers, &answer, via_get);
    }
    let mut http = (status, body).into_response();
    let headers = http.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(media.content_type()));
    headers.insert(header::CACHE_CONTROL, PRIVATE);
    http
}

/// Parses `text` and checks the document limits. A document that passes is kept for the next request that
/// sends the same text; one that fails is refused with its code and a message, and not kept.
fn parse_within_limits(state: &AppState, text: &str) -> Result<ExecutableDocument, (&'static str, String)> {
    let document =
        async_graphql::parser::parse_query(text).map_err(|error| ("GRAPHQL_PARSE_FAILED", error.to_string()))?;
    document_limits(state)
        .check(&document)
        .map_err(|reason| ("QUERY_TOO_COMPLEX", reason))?;
    state.parsed_documents.keep(text, &document);
    Ok(document)
}

/// The type of the operation a request runs: the one named, or the only one. None when the executor will refuse
/// the choice (no such name; several operations and no name).
pub(crate) fn operation_type(document: &ExecutableDocument, name: Option<&str>) -> Option<OperationType> {
    let mut operations = document.operations.iter();
    let operation = match name {
        Some(name) => operations.find(|(n, _)| n.is_some_and(|n| n.as_str() == name)),
        None if operations.len() == 1 => operations.next(),
        None => None,
    };
    operation.map(|(_, op)| op.node.ty)
}

pub(crate) fn document_limits(state: &AppState) -> DocumentLimits {
    let limits = &state.settings.graphql;
    DocumentLimits {
        max_depth: limits.max_depth,
        max_aliases: limits.max_aliases,
        max_fields: limits.max_fields,
    }
}

/// With the new media type a request that cannot run is a 400; legacy JSON clients expect 200.
fn bad_request_status(media: Media) -> StatusCode {
    match media {
        Media::GraphqlResponseJson => StatusCode::BAD_REQUEST,
        Media::Json => StatusCode::OK,
    }
}

/// Gives a field error without a code one. The resolvers' own errors all carry codes; what arrives without one
/// is an argument that did not parse as its type (a bad scalar or input object value), which async-graphql
/// reports from inside the field, or, failing that, an internal error.
fn label_field_error(error: &mut ServerError) {
    let has_code = error.extensions.as_ref().is_some_and(|ext| ext.get("code").is_some());
    if has_code {
        return;
    }
    let bad_input = error.message.starts_with("Failed to parse")
        || error.message.starts_with("Expected input type")
        || error.message.contains("(occurred while parsing");
    let mut ext = error.extensions.take().unwrap_or_default();
    ext.set(
        "code",
        if bad_input {
            "BAD_USER_INPUT"
        } else {
            "INTERNAL_SERVER_ERROR"
        },
    );
    error.extensions = Some(ext);
}

/// Gives validation and limit errors a code, as every other error has one.
fn label_request_error(error: &mut ServerError) {
    let has_code = error.extensions.as_ref().is_some_and(|ext| ext.get("code").is_some());
    if has_code {
        return;
    }
    let code = if error.message.contains("nested too deep")
        || error.message.contains("too complex")
        || error.message.contains("directives")
    {
        "QUERY_TOO_COMPLEX"
    } else {
        "GRAPHQL_VALIDATION_FAILED"
    };
    let mut ext = error.extensions.take().unwrap_or_default();
    ext.set("code", code);
    error.extensions = Some(ext);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn get_parameters_follow_graphql_over_http() {
        let request = get_request("query=query%20A%7Bx%7D&operationName=A&variables=%7B%22n%22%3A1%7D").unwrap();
        assert_eq!(request.query, "query A{x}");
        assert_eq!(request.operation_name.as_deref(), Some("A"));
        assert_eq!(request.variables.get("n"), Some(&async_graphql::Value::from(1)));
        assert!(
            get_request("query=%7Bx%7D&variables=%5B1%5D")
                .unwrap_err()
                .contains("JSON object")
        );
        assert!(get_request("query=%7Bx%7D&extensions=nope").is_err());
        assert_eq!(
            get_request("query=%7Bx%7D&operationName=").unwrap().operation_name,
            None
        );
    }

    #[test]
    fn if_none_match_names_a_tag_weakly_or_any() {
        let etag = HeaderValue::from_static("\"abc\"");
        assert!(names_tag("\"abc\"", &etag));
        assert!(names_tag("\"x\", W/\"abc\"", &etag));
        assert!(names_tag("*", &etag));
        assert!(!names_tag("\"abd\"", &etag));
        assert!(!names_tag("abc", &etag));
    }

    #[test]
    fn negotiates_media_types() {
        assert_eq!(negotiate(&HeaderMap::new()), Some(Media::Json));
        assert_eq!(
            negotiate(&accept("application/graphql-response+json")),
            Some(Media::GraphqlResponseJson)
        );
        assert_eq!(
            negotiate(&accept("application/json;q=0.9, application/graphql-response+json")),
            Some(Media::GraphqlResponseJson)
        );
        assert_eq!(negotiate(&accept("*/*")), Some(Media::Json));
        assert_eq!(negotiate(&accept("text/html")), None);
    }
}
