//! Issue 24 (G8): movie posters. A moderator uploads a PNG, JPEG or WebP picture (GraphQL multipart); it is
//! stored in every size, scaled down and never up, as JPEG, in the storage layer (a local folder, or S3 on the
//! test server), served with a year's cache and an ETag; a movie without one gets a generated SVG of its title.
//! Refusals (not a picture, too many pixels, the wrong role, an unknown movie) change nothing. On both
//! databases.

use cinema::db::{Backend, Role};
use serde_json::{Value, json};

use crate::common::{PASSWORD, TestApp};

backend_tests!(posters_in_a_local_folder, posters_in_s3);

const POSTERS: &str = "query($id: ID!) { movie(id: $id) { name
    large: poster { url width height generated } small: poster(size: SMALL) { url width height generated } } }";

fn picture(width: u32, height: u32, format: image::ImageFormat) -> Vec<u8> {
    let mut out = Vec::new();
    image::RgbImage::from_fn(width, height, |x, y| image::Rgb([(x % 256) as u8, (y % 256) as u8, 90]))
        .write_to(&mut std::io::Cursor::new(&mut out), format)
        .unwrap();
    out
}

async fn upload(app: &TestApp, token: &str, movie: &str, bytes: &[u8]) -> Value {
    let operations = json!({
        "query": "mutation($m: ID!, $file: Upload!) { uploadPoster(movieId: $m, file: $file) { poster { url width height generated } } }",
        "variables": { "m": movie, "file": null }
    });
    let form = reqwest::multipart::Form::new()
        .text("operations", operations.to_string())
        .text("map", json!({ "0": ["variables.file"] }).to_string())
        .part("0", reqwest::multipart::Part::bytes(bytes.to_vec()).file_name("poster"));
    let response = app
        .client
        .post(app.url("/graphql"))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

fn path_of(app: &TestApp, url: &Value) -> String {
    url.as_str()
        .unwrap()
        .trim_start_matches(&app.settings().http.public_url)
        .to_string()
}

/// GETs `path`, checks its type and caching, and that the ETag makes a second ask a 304.
async fn served(app: &TestApp, path: &str, content_type: &str) -> bytes::Bytes {
    let answer = app.get(path).await;
    assert_eq!(answer.status(), 200, "{path}");
    assert_eq!(answer.headers()["content-type"], content_type);
    assert_eq!(answer.headers()["x-content-type-options"], "nosniff");
    assert!(
        answer.headers()["cache-control"]
            .to_str()
            .unwrap()
            .starts_with("public, max-age=")
    );
    let etag = answer.headers()["etag"].to_str().unwrap().to_string();
    let bytes = answer.bytes().await.unwrap();
    let again = app
        .client
        .get(app.url(path))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304, "{path}");
    bytes
}

async fn round_trip(app: &TestApp) {
    for email in ["mod@example.com", "user@example.com"] {
        app.signed_in_user(email).await;
    }
    app.set_role("mod@example.com", Role::Moderator).await;
    let token = |t: Value| t["accessToken"].as_str().unwrap().to_string();
    let moderator = token(app.login("mod@example.com", PASSWORD).await);
    let user = token(app.login("user@example.com", PASSWORD).await);
    let first = app
        .query_ok(
            "{ movies(first: 1, search: \"Godfather\") { nodes { id name } } }",
            json!({}),
        )
        .await;
    let movie = first["movies"]["nodes"][0]["id"].as_str().unwrap().to_string();
    let name = first["movies"]["nodes"][0]["name"].as_str().unwrap().to_string();

    // No poster yet: the generated one, an SVG of the title.
    let before = app.query_ok(POSTERS, json!({ "id": movie })).await["movie"].clone();
    assert_eq!(before["large"]["generated"], true);
    assert_eq!(
        (before["large"]["width"].as_i64(), before["large"]["height"].as_i64()),
        (Some(780), Some(1170))
    );
    assert_eq!(before["small"]["width"], 342);
    let svg = served(app, &path_of(app, &before["large"]["url"]), "image/svg+xml").await;
    let svg = String::from_utf8(svg.to_vec()).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains(&name), "{svg}");
    assert_eq!(app.get("/posters/generated/not-a-uuid.svg").await.status(), 404);
    let nobody = format!("/posters/generated/{}.svg", uuid::Uuid::new_v4());
    assert_eq!(app.get(&nobody).await.status(), 404);

    // A large PNG: stored at 780 and 342 pixels wide, ratio kept, as JPEG.
    let body = upload(app, &moderator, &movie, &picture(1200, 1800, image::ImageFormat::Png)).await;
    let poster = &body["data"]["uploadPoster"]["poster"];
    assert_eq!(poster["generated"], false, "{body}");
    assert_eq!(
        (poster["width"].as_i64(), poster["height"].as_i64()),
        (Some(780), Some(1170))
    );
    let after = app.query_ok(POSTERS, json!({ "id": movie })).await["movie"].clone();
    assert_eq!(after["large"], *poster, "anonymous readers see the new poster at once");
    assert_eq!(
        (after["small"]["width"].as_i64(), after["small"]["height"].as_i64()),
        (Some(342), Some(513))
    );
    let mut old_paths = Vec::new();
    for (size, width, height) in [("large", 780, 1170), ("small", 342, 513)] {
        let path = path_of(app, &after[size]["url"]);
        assert!(path.starts_with("/media/posters/"), "{path}");
        let bytes = served(app, &path, "image/jpeg").await;
        let decoded = image::load_from_memory(&bytes).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (width, height), "{size}");
        old_paths.push(path);
    }

    // A small WebP replaces it: never scaled up; the previous files are gone.
    let body = upload(app, &moderator, &movie, &picture(300, 450, image::ImageFormat::WebP)).await;
    let poster = &body["data"]["uploadPoster"]["poster"];
    assert_eq!(
        (poster["width"].as_i64(), poster["height"].as_i64()),
        (Some(300), Some(450)),
        "{body}"
    );
    for path in &old_paths {
        assert_eq!(app.get(path).await.status(), 404, "{path}");
    }
    let current = app.query_ok(POSTERS, json!({ "id": movie })).await["movie"].clone();

    // Refusals change nothing.
    let code = |body: &Value| {
        body["errors"][0]["extensions"]["code"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    let not_a_picture = upload(app, &moderator, &movie, b"<svg onload=alert(1)/>").await;
    assert_eq!(code(&not_a_picture), "BAD_USER_INPUT", "{not_a_picture}");
    assert_eq!(not_a_picture["errors"][0]["extensions"]["field"], "file");
    let too_wide = upload(app, &moderator, &movie, &picture(5000, 8, image::ImageFormat::Png)).await;
    assert_eq!(code(&too_wide), "BAD_USER_INPUT", "{too_wide}");
    assert!(
        too_wide["errors"][0]["message"].as_str().unwrap().contains("pixels"),
        "{too_wide}"
    );
    let by_a_user = upload(app, &user, &movie, &picture(10, 15, image::ImageFormat::Png)).await;
    assert_eq!(code(&by_a_user), "FORBIDDEN", "{by_a_user}");
    let unknown = upload(
        app,
        &moderator,
        &uuid::Uuid::new_v4().to_string(),
        &picture(10, 15, image::ImageFormat::Png),
    )
    .await;
    assert_eq!(code(&unknown), "NOT_FOUND", "{unknown}");
    let (_, body) = app
        .graphql_as(
            &user,
            "mutation($m: ID!) { removePoster(movieId: $m) { name } }",
            json!({ "m": movie }),
        )
        .await;
    assert_eq!(code(&body), "FORBIDDEN", "{body}");
    assert_eq!(app.query_ok(POSTERS, json!({ "id": movie })).await["movie"], current);

    // Removed: the generated poster again, and the files go.
    let (_, body) = app
        .graphql_as(
            &moderator,
            "mutation($m: ID!) { removePoster(movieId: $m) { poster { generated } } }",
            json!({ "m": movie }),
        )
        .await;
    assert_eq!(body["data"]["removePoster"]["poster"]["generated"], true, "{body}");
    assert_eq!(app.get(&path_of(app, &current["large"]["url"])).await.status(), 404);
    assert_eq!(app.get("/media/posters/../avatars/x.jpg").await.status(), 404);
}

async fn posters_in_a_local_folder(backend: Backend) {
    let app = TestApp::start(backend).await;
    round_trip(&app).await;
}

async fn posters_in_s3(backend: Backend) {
    let Some((endpoint, bucket, storage)) = crate::common::s3_bucket().await else {
        return;
    };
    let mut settings = vec![("SEED_DEMO", "on")];
    settings.extend(storage.iter().map(|(name, value)| (*name, value.as_str())));
    let app = TestApp::start_with(backend, &settings).await;
    round_trip(&app).await;
    // What is left in the bucket is nothing: the last poster was removed, and its files with it. Upload once
    // more and find the files through the S3 API.
    let moderator = app.login("mod@example.com", PASSWORD).await["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    let movie = app
        .query_ok(
            "{ movies(first: 1, search: \"Godfather\") { nodes { id } } }",
            json!({}),
        )
        .await["movies"]["nodes"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    upload(&app, &moderator, &movie, &picture(400, 600, image::ImageFormat::Jpeg)).await;
    let listing = reqwest::Client::new()
        .get(format!("{endpoint}/{bucket}?list-type=2"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(listing.matches("-780.jpg</Key>").count(), 1, "{listing}");
    assert_eq!(listing.matches("-342.jpg</Key>").count(), 1, "{listing}");
}
