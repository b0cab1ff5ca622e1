//! Uploaded files (avatars, posters), served from object storage at /media/<key>, and the generated posters of
//! movies without one at /posters/generated/<movie id>.svg. Both carry an ETag and answer 304 to a browser
//! that has the file already.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::error::{AppError, Problem};
use crate::server::AppState;
use crate::storage::content_type_of;

/// The folders of the store that are served; anything else in the store is not.
const SERVED_FOLDERS: [&str; 2] = ["avatars/", "posters/"];

fn not_found() -> Response {
    Problem::new(StatusCode::NOT_FOUND, "NOT_FOUND", "no such file").into_response()
}

/// A strong ETag naming `content` (the bytes, or for an immutable file its key).
fn etag_of(content: &[u8]) -> HeaderValue {
    let digest = Sha256::digest(content);
    HeaderValue::from_str(&format!("\"{}\"", hex::encode(&digest[..12]))).expect("hex is a valid header")
}

/// 304 when the browser's `If-None-Match` names `etag`.
fn not_modified(request: &HeaderMap, etag: &HeaderValue) -> Option<Response> {
    let asked = request.get(header::IF_NONE_MATCH)?.to_str().ok()?;
    let etag = etag.to_str().ok()?;
    asked
        .split(',')
        .any(|candidate| candidate.trim() == etag || candidate.trim() == "*")
        .then(|| (StatusCode::NOT_MODIFIED, [(header::ETAG, etag.to_string())]).into_response())
}

pub async fn serve(State(state): State<AppState>, Path(key): Path<String>, request: HeaderMap) -> Response {
    if !SERVED_FOLDERS.iter().any(|folder| key.starts_with(folder))
        || key
            .split('/')
            .any(|part| part.is_empty() || part == "." || part == "..")
    {
        return not_found();
    }
    // Keys are never reused (a new upload gets a new key), so the key names the content for good.
    let etag = etag_of(key.as_bytes());
    if let Some(unchanged) = not_modified(&request, &etag) {
        return unchanged;
    }
    match state.storage.get(&key).await {
        Ok(Some(bytes)) => {
            let mut response = bytes.into_response();
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type_of(&key)));
            headers.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            );
            headers.insert(header::ETAG, etag);
            headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
            response
        }
        Ok(None) => not_found(),
        Err(error) => {
            tracing::warn!(error = format!("{error:#}"), %key, "could not read a stored file");
            AppError::Unavailable("file storage is unavailable; try again later".into()).into_response()
        }
    }
}

/// The generated poster of a movie (`<uuid>.svg`). It follows the movie's title and genres, so it is cached
/// for an hour and revalidated by its ETag. An SVG opened on its own is a document: its policy lets it run
/// nothing and load nothing.
pub async fn generated_poster(State(state): State<AppState>, Path(file): Path<String>, request: HeaderMap) -> Response {
    let Some(uuid) = file
        .strip_suffix(".svg")
        .filter(|uuid| uuid::Uuid::parse_str(uuid).is_ok())
    else {
        return not_found();
    };
    let svg = match state.posters.generated(uuid).await {
        Ok(Some(svg)) => svg,
        Ok(None) => return not_found(),
        Err(error) => return error.into_response(),
    };
    let etag = etag_of(svg.as_bytes());
    if let Some(unchanged) = not_modified(&request, &etag) {
        return unchanged;
    }
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("image/svg+xml")),
            (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600")),
            (header::ETAG, etag),
            (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'"),
            ),
        ],
        svg,
    )
        .into_response()
}
