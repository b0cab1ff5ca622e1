//! The storefront (issue 24): the single-page app at `/`, served by this server so that the links in emails and
//! the checkout's return land on real pages. It is plain ES modules and a vendored UI library
//! (`assets/storefront/`, no build step), embedded in the binary, and it speaks only the public API.
//!
//! Every page of the app answers with the same small shell, which names the app's files under a path holding
//! a hash of their contents (`/app/<build>/…`): the files can then be kept by browsers for a year, and a new
//! binary's shell names new paths. The shell itself is never kept without asking (`no-cache`).

use std::sync::LazyLock;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};

use crate::server::AppState;

/// The addresses of the app's pages. Each answers with the shell; the app draws the page the address names.
/// Links the server hands out (emails, the checkout's return) point at some of these, and a test follows them.
pub const PAGES: &[&str] = &[
    "/",
    "/movies/{id}",
    "/sign-in",
    "/sign-up",
    "/activate",
    "/forgot-password",
    "/reset-password",
    "/profile",
    "/cart",
    "/orders",
    "/orders/{id}",
    "/library",
    "/favorites",
    "/notifications",
    "/staff",
    "/staff/{*section}",
];

struct Asset {
    path: &'static str,
    body: &'static [u8],
    content_type: &'static str,
}

const JS: &str = "text/javascript; charset=utf-8";

macro_rules! asset {
    ($path:literal, $content_type:expr) => {
        Asset {
            path: $path,
            body: include_bytes!(concat!("../../assets/storefront/", $path)),
            content_type: $content_type,
        }
    };
}

static ASSETS: &[Asset] = &[
    asset!("main.js", JS),
    asset!("api.js", JS),
    asset!("queries.js", JS),
    asset!("ui.js", JS),
    asset!("pages/auth.js", JS),
    asset!("pages/cart.js", JS),
    asset!("pages/catalog.js", JS),
    asset!("pages/library.js", JS),
    asset!("pages/movie.js", JS),
    asset!("pages/notifications.js", JS),
    asset!("pages/orders.js", JS),
    asset!("pages/profile.js", JS),
    asset!("staff/index.js", JS),
    asset!("staff/money.js", JS),
    asset!("staff/movies.js", JS),
    asset!("staff/names.js", JS),
    asset!("staff/queries.js", JS),
    asset!("staff/users.js", JS),
    asset!("vendor/htm-preact.js", JS),
    asset!("vendor/LICENSE.htm", "text/plain; charset=utf-8"),
    asset!("vendor/LICENSE.preact", "text/plain; charset=utf-8"),
    asset!("style.css", "text/css; charset=utf-8"),
    asset!("icon.svg", "image/svg+xml"),
];

/// A hash of every file of the app: the path segment that changes whenever one of them does.
static BUILD: LazyLock<String> = LazyLock::new(|| {
    let mut hasher = Sha256::new();
    for asset in ASSETS {
        hasher.update(asset.path.as_bytes());
        hasher.update((asset.body.len() as u64).to_le_bytes());
        hasher.update(asset.body);
    }
    hex::encode(&hasher.finalize()[..8])
});

/// The routes of the app's pages and files (only when `STOREFRONT` is on).
pub fn routes() -> Router<AppState> {
    let mut router = Router::new().route("/app/{build}/{*file}", get(file));
    for page in PAGES {
        router = router.route(page, get(shell));
    }
    router
}

/// The shell every page answers with. Its policy allows only this server's own scripts and styles (no inline
/// script, no `eval`), pictures from here or from where uploads are served, and requests to this origin
/// (WebSocket included); the page cannot be framed.
async fn shell(State(state): State<AppState>) -> Response {
    let build = BUILD.as_str();
    let page = format!(
        r#"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Cinema</title>
  <meta name="description" content="Browse, buy and rate movies.">
  <link rel="icon" href="/app/{build}/icon.svg" type="image/svg+xml">
  <link rel="stylesheet" href="/app/{build}/style.css">
  <link rel="modulepreload" href="/app/{build}/vendor/htm-preact.js">
  <script type="module" src="/app/{build}/main.js"></script>
</head>
<body>
  <div id="app"><noscript>This shop runs in your browser and needs JavaScript.</noscript></div>
</body>
</html>
"#
    );
    let images = images_origin(&state.settings.http.public_url);
    let policy = format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: {images}; \
         connect-src 'self'; font-src 'self'; manifest-src 'self'; form-action 'self'; base-uri 'none'; \
         frame-ancestors 'none'"
    );
    let mut response = ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], page).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(policy) = HeaderValue::from_str(&policy) {
        headers.insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    response
}

/// Where uploaded pictures come from: this server's public address, which can differ from the address the
/// page was loaded from behind a proxy.
fn images_origin(public_url: &str) -> String {
    url::Url::parse(public_url)
        .map(|url| url.origin().ascii_serialization())
        .unwrap_or_default()
}

/// One of the app's files: kept for a year under the current build's path; under another build's path (a
/// shell from an older binary) the current file, which the browser must not keep.
async fn file(Path((build, file)): Path<(String, String)>, request_headers: HeaderMap) -> Response {
    let Some(asset) = ASSETS.iter().find(|asset| asset.path == file) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let current = build == *BUILD;
    let tag = format!("\"{}:{}\"", BUILD.as_str(), asset.path);
    if request_headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|sent| sent.as_bytes() == tag.as_bytes())
    {
        return StatusCode::NOT_MODIFIED.into_response();
    }
    let cache = if current {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let mut response = ([(header::CONTENT_TYPE, asset.content_type)], asset.body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if let Ok(tag) = HeaderValue::from_str(&tag) {
        headers.insert(header::ETAG, tag);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every file in assets/storefront/ is served (a module the app imports but the table forgets would
    /// break the app in the browser only).
    #[test]
    fn every_file_of_the_app_is_embedded() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/storefront");
        let mut on_disk = Vec::new();
        let mut folders = vec![root.clone()];
        while let Some(folder) = folders.pop() {
            for entry in std::fs::read_dir(folder).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    folders.push(path);
                } else if path.file_name().is_some_and(|name| name != "README.md") {
                    on_disk.push(path.strip_prefix(&root).unwrap().to_string_lossy().replace('\\', "/"));
                }
            }
        }
        on_disk.sort();
        let mut embedded: Vec<String> = ASSETS.iter().map(|asset| asset.path.to_string()).collect();
        embedded.sort();
        assert_eq!(on_disk, embedded);
    }
}
