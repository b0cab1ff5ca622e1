//! Uploaded files (avatars), served from object storage at /media/<key>.

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::{AppError, Problem};
use crate::server::AppState;
use crate::storage::content_type_of;

pub async fn serve(State(state): State<AppState>, Path(key): Path<String>) -> Response {
    let not_found = || Problem::new(StatusCode::NOT_FOUND, "NOT_FOUND", "no such file").into_response();
    if !key.starts_with("avatars/")
        || key
            .split('/')
            .any(|part| part.is_empty() || part == "." || part == "..")
    {
        return not_found();
    }
    match state.storage.get(&key).await {
        Ok(Some(bytes)) => {
            let mut response = bytes.into_response();
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type_of(&key)));
            // Keys are never reused (a new upload gets a new key), so the file can be cached for good.
            headers.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            );
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
