//! A11 avatars: GraphQL multipart uploads, type and size checks, served back from object storage — a local
//! folder, and an S3-compatible server on loopback (moto, from TEST_S3_ENDPOINT; started by .ci/run).

use crate::common::TestApp;
use cinema::db::Backend;
use serde_json::{Value, json};

backend_tests!(
    avatars_in_a_local_folder,
    avatars_in_s3,
    a_file_one_byte_over_the_limit_is_refused_by_the_rules,
    a_storage_outage_answers_503_quickly_and_keeps_the_profile,
    concurrent_uploads_leave_one_file,
);

/// A real 2x2 PNG.
fn png() -> Vec<u8> {
    let mut out = Vec::new();
    image::RgbaImage::from_pixel(2, 2, image::Rgba([200, 30, 30, 255]))
        .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

/// A real 2x2 JPEG carrying an EXIF segment with a position, as cameras write it.
fn jpeg_with_exif() -> Vec<u8> {
    let mut plain = Vec::new();
    image::RgbImage::from_pixel(2, 2, image::Rgb([30, 30, 200]))
        .write_to(&mut std::io::Cursor::new(&mut plain), image::ImageFormat::Jpeg)
        .unwrap();
    let payload = b"Exif\0\0GPS 48.8584N 2.2945E secret-location";
    let mut out = plain[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(payload);
    out.extend_from_slice(&plain[2..]);
    out
}

async fn upload(app: &TestApp, token: Option<&str>, bytes: &[u8], name: &str) -> (u16, Value) {
    let operations = json!({
        "query": "mutation($file: Upload!) { uploadAvatar(file: $file) { avatarUrl } }",
        "variables": { "file": null }
    });
    let form = reqwest::multipart::Form::new()
        .text("operations", operations.to_string())
        .text("map", json!({ "0": ["variables.file"] }).to_string())
        .part(
            "0",
            reqwest::multipart::Part::bytes(bytes.to_vec())
                .file_name(name.to_string())
                .mime_str("image/png")
                .unwrap(),
        );
    let mut request = app.client.post(app.url("/graphql")).multipart(form);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

async fn round_trip(app: &TestApp) {
    let tokens = app.signed_in_user("pic@example.com").await;
    let token = tokens["accessToken"].as_str().unwrap();

    let (status, body) = upload(app, Some(token), &png(), "me.png").await;
    assert_eq!(status, 200, "{body}");
    let first_url = body["data"]["uploadAvatar"]["avatarUrl"].as_str().unwrap().to_string();
    assert!(
        first_url.starts_with(&format!("{}/media/avatars/", app.settings().http.public_url)),
        "{first_url}"
    );
    let path = first_url
        .trim_start_matches(&app.settings().http.public_url)
        .to_string();
    let served = app.get(&path).await;
    assert_eq!(served.status(), 200);
    assert_eq!(served.headers()["content-type"], "image/png");
    assert_eq!(served.headers()["x-content-type-options"], "nosniff");
    let served = served.bytes().await.unwrap();
    let decoded = image::load_from_memory(&served).expect("a PNG comes back");
    assert_eq!((decoded.width(), decoded.height()), (2, 2));

    // A new avatar replaces the old, whose file goes.
    let (_, body) = upload(app, Some(token), &jpeg_with_exif(), "me.jpg").await;
    let second_url = body["data"]["uploadAvatar"]["avatarUrl"].as_str().unwrap().to_string();
    assert!(second_url.ends_with(".jpg"), "{second_url}");
    assert_eq!(app.get(&path).await.status(), 404);
    // Re-encoded: the camera's EXIF (a position) is gone from what is stored and served.
    let second_path = second_url
        .trim_start_matches(&app.settings().http.public_url)
        .to_string();
    let served = app.get(&second_path).await.bytes().await.unwrap();
    assert!(served.starts_with(&[0xFF, 0xD8, 0xFF]));
    assert!(!served.windows(15).any(|w| w == b"secret-location"), "EXIF survived");
    let (_, me) = app
        .graphql_as(token, "{ me { profile { avatarUrl } } }", json!({}))
        .await;
    assert_eq!(me["data"]["me"]["profile"]["avatarUrl"], second_url.as_str());

    // Refusals change nothing.
    let (status, body) = upload(app, Some(token), b"<svg onload=alert(1)/>", "x.png").await;
    assert_eq!(
        (status, body["errors"][0]["extensions"]["field"].as_str()),
        (200, Some("file")),
        "{body}"
    );
    let big = [png(), vec![0u8; 3000]].concat();
    let (status, body) = upload(app, Some(token), &big, "big.png").await;
    assert_eq!(
        (status, body["errors"][0]["extensions"]["code"].as_str()),
        (200, Some("BAD_USER_INPUT")),
        "{body}"
    );
    assert_eq!(body["errors"][0]["extensions"]["field"], "file");
    let (status, body) = upload(app, None, &png(), "anon.png").await;
    assert_eq!(
        (status, body["errors"][0]["extensions"]["code"].as_str()),
        (400, Some("BAD_REQUEST")),
        "{body}"
    );
    let (_, me) = app
        .graphql_as(token, "{ me { profile { avatarUrl } } }", json!({}))
        .await;
    assert_eq!(me["data"]["me"]["profile"]["avatarUrl"], second_url.as_str());

    let (_, body) = app
        .graphql_as(token, "mutation { removeAvatar { avatarUrl } }", json!({}))
        .await;
    assert_eq!(body["data"]["removeAvatar"]["avatarUrl"], Value::Null);
    let second_path = second_url
        .trim_start_matches(&app.settings().http.public_url)
        .to_string();
    assert_eq!(app.get(&second_path).await.status(), 404);
    assert_eq!(app.get("/media/avatars/../../etc/passwd").await.status(), 404);
    assert_eq!(app.get("/media/other/file.png").await.status(), 404);
}

async fn avatars_in_a_local_folder(backend: Backend) {
    let app = TestApp::start_with(backend, &[("AVATAR_MAX_BYTES", "2048")]).await;
    round_trip(&app).await;
    assert!(
        app.settings().var_dir.join("uploads").exists(),
        "the default store is var/uploads"
    );
}

async fn avatars_in_s3(backend: Backend) {
    let Some((endpoint, bucket, storage)) = crate::common::s3_bucket().await else {
        return;
    };
    let mut settings = vec![("AVATAR_MAX_BYTES", "2048")];
    settings.extend(storage.iter().map(|(name, value)| (*name, value.as_str())));
    let app = TestApp::start_with(backend, &settings).await;
    round_trip(&app).await;
    // The object really lives in the bucket: list it through the S3 API.
    let listing = reqwest::Client::new()
        .get(format!("{endpoint}/{bucket}?list-type=2"))
        .send()
        .await
        .unwrap();
    let text = listing.text().await.unwrap();
    assert!(
        text.contains("<KeyCount>0</KeyCount>") || !text.contains("avatars/"),
        "removed from the bucket: {text}"
    );
}

/// A11: a file of exactly AVATAR_MAX_BYTES is taken (the multipart reader leaves room for the other parts); one
/// byte more is refused by the rule, which names the field; far more is refused by the reader (413).
async fn a_file_one_byte_over_the_limit_is_refused_by_the_rules(backend: Backend) {
    let app = TestApp::start_with(backend, &[("AVATAR_MAX_BYTES", "1024")]).await;
    let token = app.signed_in_user("edge@example.com").await["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    let exactly = [png(), vec![0u8; 1024 - png().len()]].concat();
    let (status, body) = upload(&app, Some(&token), &exactly, "max.png").await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body["data"]["uploadAvatar"]["avatarUrl"].is_string(),
        "the limit itself is allowed: {body}"
    );
    let over = [png(), vec![0u8; 1025 - png().len()]].concat();
    let (status, body) = upload(&app, Some(&token), &over, "over.png").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{body}");
    assert_eq!(body["errors"][0]["extensions"]["field"], "file", "{body}");
    let huge = [png(), vec![0u8; 64 * 1024]].concat();
    let (status, body) = upload(&app, Some(&token), &huge, "huge.png").await;
    assert_eq!(
        (status, body["errors"][0]["extensions"]["code"].as_str()),
        (413, Some("PAYLOAD_TOO_LARGE"))
    );
}

/// G8: object storage that does not answer fails the upload with SERVICE_UNAVAILABLE within seconds (bounded
/// retries, not the request timeout), leaves the profile as it was, and /media answers 503.
async fn a_storage_outage_answers_503_quickly_and_keeps_the_profile(backend: Backend) {
    // A port nobody listens on.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", dead.local_addr().unwrap());
    drop(dead);
    let app = TestApp::start_with(
        backend,
        &[
            ("STORAGE_URL", "s3://nowhere"),
            ("S3_ENDPOINT", &endpoint),
            ("S3_ACCESS_KEY_ID", "test"),
            ("S3_SECRET_ACCESS_KEY", "test"),
        ],
    )
    .await;
    let token = app.signed_in_user("outage@example.com").await["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    let started = std::time::Instant::now();
    let (status, body) = upload(&app, Some(&token), &png(), "me.png").await;
    assert!(
        started.elapsed() < std::time::Duration::from_secs(15),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["errors"][0]["extensions"]["code"], "SERVICE_UNAVAILABLE", "{body}");
    assert!(
        !body.to_string().contains("127.0.0.1"),
        "the storage's address stays in the log: {body}"
    );
    let (_, me) = app
        .graphql_as(&token, "{ me { profile { avatarUrl } } }", json!({}))
        .await;
    assert_eq!(me["data"]["me"]["profile"]["avatarUrl"], Value::Null);
    let response = app.get("/media/avatars/someone/file.png").await;
    assert_eq!(response.status(), 503);
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["code"], "SERVICE_UNAVAILABLE");
    assert!(!problem.to_string().contains("127.0.0.1"), "{problem}");
}

/// A11: several uploads at once leave one avatar and one file: each replaces the one before it in turn.
async fn concurrent_uploads_leave_one_file(backend: Backend) {
    let app = TestApp::start(backend).await;
    let token = app.signed_in_user("many@example.com").await["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    let picture = png();
    let uploads = (0..5).map(|i| {
        let (app, token, picture) = (&app, token.clone(), picture.clone());
        async move { upload(app, Some(&token), &picture, &format!("{i}.png")).await }
    });
    let answers = futures_util::future::join_all(uploads).await;
    assert!(
        answers
            .iter()
            .all(|(status, body)| *status == 200 && body.get("errors").is_none()),
        "{answers:?}"
    );
    let dir = app.settings().var_dir.join("uploads");
    let mut files = Vec::new();
    let mut folders = vec![dir];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else {
                files.push(path);
            }
        }
    }
    assert_eq!(files.len(), 1, "{files:?}");
    let (_, me) = app
        .graphql_as(&token, "{ me { profile { avatarUrl } } }", json!({}))
        .await;
    let url = me["data"]["me"]["profile"]["avatarUrl"].as_str().unwrap();
    assert!(
        url.ends_with(files[0].file_name().unwrap().to_str().unwrap()),
        "{url} {files:?}"
    );
}
