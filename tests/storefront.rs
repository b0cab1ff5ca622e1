//! Issue 24: the storefront at `/`. Every link the server hands a person (the emails, the checkout's return)
//! lands on one of its pages; the shell allows only this server's own scripts; its files are kept by
//! browsers under a path that changes with them; STOREFRONT=off takes it away. (What the pages do is checked
//! in Chromium by scripts/browser/storefront.mjs.)

use crate::common::{PASSWORD, TestApp, decode_mail};
use crate::payments::{buyer, checkout_path, gql, pay_order, press};
use cinema::db::Backend;
use serde_json::json;

backend_tests!(every_link_the_server_hands_out_lands_on_a_page);

/// The links of a mail that point at the front end, as paths on this server (the test server's FRONTEND_URL
/// names another address than the one it listens on).
fn front_end_links(app: &TestApp, mail: &str) -> Vec<String> {
    let frontend = &app.settings().http.frontend_url;
    let text = decode_mail(mail);
    let mut links = Vec::new();
    let mut rest = text.as_str();
    while let Some(at) = rest.find(frontend.as_str()) {
        let link: String = rest[at + frontend.len()..]
            .chars()
            .take_while(|c| !c.is_whitespace() && !matches!(c, '"' | '<' | '>'))
            .collect();
        links.push(if link.is_empty() { "/".to_string() } else { link });
        rest = &rest[at + frontend.len()..];
    }
    assert!(!links.is_empty(), "no link to {frontend} in {text}");
    links
}

/// A page of the storefront: the shell, answered with 200 and a strict policy.
async fn assert_lands_on_a_page(app: &TestApp, path: &str) {
    let response = app.get(path).await;
    assert_eq!(response.status(), 200, "{path}");
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"),
        "{path}"
    );
    let html = response.text().await.unwrap();
    assert!(html.contains(r#"<div id="app">"#), "{path}: {html}");
}

/// A1, A5, D, E7: the activation link, the password-reset link, the receipt's link and the checkout's return
/// all land on storefront pages (before issue 24 each was a JSON 404 with the defaults).
async fn every_link_the_server_hands_out_lands_on_a_page(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (status, _) = app
        .post_json(
            "/api/v1/auth/register",
            json!({ "email": "new@example.com", "password": PASSWORD }),
            None,
        )
        .await;
    assert_eq!(status, 201);
    let activation = app.wait_for_mail("new@example.com", "Activate", 1).await;
    let links = front_end_links(&app, &activation[0]);
    assert!(
        links.iter().any(|link| link.starts_with("/activate?token=")),
        "{links:?}"
    );
    for link in &links {
        assert_lands_on_a_page(&app, link).await;
    }

    let b = buyer(backend).await;
    b.app
        .post_json("/api/v1/auth/password/reset/request", json!({ "email": b.email }), None)
        .await;
    let reset = b.app.wait_for_mail(&b.email, "Reset your Cinema password", 1).await;
    let links = front_end_links(&b.app, reset.last().unwrap());
    assert!(
        links.iter().any(|link| link.starts_with("/reset-password?token=")),
        "{links:?}"
    );
    for link in &links {
        assert_lands_on_a_page(&b.app, link).await;
    }

    gql(
        &b,
        "mutation($m: ID!) { addToCart(movieId: $m) { count } }",
        json!({ "m": b.movies[0] }),
    )
    .await;
    let order = gql(&b, "mutation { placeOrder { order { id } } }", json!({})).await["placeOrder"]["order"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let started = pay_order(&b, &order).await;
    let back = press(&b.app, &format!("{}/pay", checkout_path(&started))).await;
    assert!(back.status().is_redirection());
    let location = back.headers()["location"].to_str().unwrap().to_string();
    let frontend = &b.app.settings().http.frontend_url;
    assert_eq!(
        location,
        format!("{frontend}/orders/{order}?checkout=success"),
        "the checkout returns to the order's page"
    );
    assert_lands_on_a_page(&b.app, &location[frontend.len()..]).await;
    let receipt = b.app.wait_for_mail(&b.email, "Your Cinema order is paid", 1).await;
    for link in front_end_links(&b.app, &receipt[0]) {
        assert_lands_on_a_page(&b.app, &link).await;
    }
}

/// The shell names its files under the build's path; each is served with the type the browser needs and kept
/// for a year (or revalidated by its tag); every module the app imports is one of them; nothing inline, no
/// other origin.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shell_is_strict_and_its_files_are_kept() {
    let app = TestApp::start(Backend::Sqlite).await;
    let response = app.get("/").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-cache");
    let policy = response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    for rule in [
        "default-src 'none'",
        "script-src 'self';",
        "style-src 'self';",
        "connect-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ] {
        assert!(policy.contains(rule), "{rule} in {policy}");
    }
    assert!(!policy.contains("unsafe"), "{policy}");
    let html = response.text().await.unwrap();
    assert!(
        !html.contains("<script>") && !html.contains("style="),
        "nothing inline: {html}"
    );
    assert!(!html.contains("https://"), "no other origin: {html}");

    // Follow the module graph from the entry point: every import resolves to a file this server serves.
    let entry = html
        .split('"')
        .find(|part| part.starts_with("/app/") && part.ends_with("/main.js"))
        .expect("the shell loads main.js")
        .to_string();
    let build_path = entry.trim_end_matches("main.js").to_string();
    let mut pending = vec![entry.clone()];
    let mut seen = std::collections::BTreeSet::new();
    while let Some(path) = pending.pop() {
        if !seen.insert(path.clone()) {
            continue;
        }
        let response = app.get(&path).await;
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(
            response.headers()["content-type"],
            "text/javascript; charset=utf-8",
            "{path}"
        );
        assert_eq!(
            response.headers()["cache-control"],
            "public, max-age=31536000, immutable"
        );
        let source = response.text().await.unwrap();
        let folder = &path[..path.rfind('/').unwrap() + 1];
        for line in source.lines() {
            let Some(start) = line.find(" from '") else { continue };
            let target = &line[start + " from '".len()..];
            let target = &target[..target.find('\'').unwrap()];
            assert!(
                target.starts_with("./") || target.starts_with("../"),
                "{path} imports {target}"
            );
            let resolved = url::Url::parse(&format!("http://x{folder}"))
                .unwrap()
                .join(target)
                .unwrap()
                .path()
                .to_string();
            pending.push(resolved);
        }
    }
    assert!(seen.len() >= 10, "the app's modules: {seen:?}");
    assert!(seen.contains(&format!("{build_path}vendor/htm-preact.js")));

    let style = app.get(&format!("{build_path}style.css")).await;
    assert_eq!(style.headers()["content-type"], "text/css; charset=utf-8");
    let tag = style.headers()["etag"].to_str().unwrap().to_string();
    let again = app
        .client
        .get(app.url(&format!("{build_path}style.css")))
        .header("if-none-match", &tag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);

    // A shell of an older binary asks for its build's path: it gets today's files, not to be kept.
    let stale = app.get("/app/0000000000000000/main.js").await;
    assert_eq!(stale.status(), 200);
    assert_eq!(stale.headers()["cache-control"], "no-cache");
    assert_eq!(app.get(&format!("{build_path}nothing.js")).await.status(), 404);
    assert_eq!(app.get(&format!("{build_path}../../Cargo.toml")).await.status(), 404);
    // The staff dashboard is a part of the same app, under /staff.
    for path in ["/staff", "/staff/movies", "/staff/movies/new"] {
        assert_lands_on_a_page(&app, path).await;
    }
    // Addresses that are not pages of the app stay the API's JSON 404.
    let missing = app.get("/no-such-page").await;
    assert_eq!(missing.status(), 404);
    assert!(missing.headers()["content-type"].to_str().unwrap().contains("json"));
}

/// STOREFRONT=off (another front end is deployed): no pages, no files; the API is unchanged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_storefront_can_be_turned_off() {
    let app = TestApp::start_with(Backend::Sqlite, &[("STOREFRONT", "off")]).await;
    for path in ["/", "/orders/x", "/activate?token=x"] {
        assert_eq!(app.get(path).await.status(), 404, "{path}");
    }
    assert_eq!(app.get("/health/live").await.status(), 200);
}
