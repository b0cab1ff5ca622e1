//! H8: the OpenAPI document describes what the REST routes really send. Every refusal is documented for its
//! operation, as an RFC 9457 problem document (`application/problem+json`); the statuses the body extractor
//! can produce are produced here, on every operation that reads a body, and looked up in the document.

use cinema::db::Backend;
use serde_json::Value;

use crate::common::TestApp;

backend_tests!(every_refusal_the_routes_send_is_documented);

#[test]
fn error_answers_are_documented_as_problem_documents() {
    let document = serde_json::to_value(cinema::server::docs::openapi()).unwrap();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let responses = operation["responses"].as_object().unwrap();
            // The webhook reads its body raw, not through the JSON extractor: it answers 400 and 413 only
            // (the live test below sends it every kind of body).
            if operation.get("requestBody").is_some() && !path.starts_with("/api/v1/webhooks/") {
                for status in ["400", "413", "415", "422"] {
                    assert!(responses.contains_key(status), "{method} {path} lacks {status}");
                }
            }
            for (status, response) in responses {
                if status.as_str() >= "400" && path != "/health/ready" {
                    let content = response["content"]
                        .as_object()
                        .unwrap_or_else(|| panic!("{method} {path} {status}"));
                    assert!(
                        content.contains_key("application/problem+json"),
                        "{method} {path} {status}: {content:?}"
                    );
                    assert!(!content.contains_key("application/json"), "{method} {path} {status}");
                }
            }
        }
    }
}

async fn every_refusal_the_routes_send_is_documented(backend: Backend) {
    let app = TestApp::start(backend).await;
    let document = serde_json::to_value(cinema::server::docs::openapi()).unwrap();
    let big = format!(r#"{{"email": "{}"}}"#, "a".repeat(20 * 1024));
    let bodies: [(&str, String); 4] = [
        ("application/json", "{not json".into()),
        ("text/plain", "hello".into()),
        ("application/json", big),
        ("application/json", "{}".into()),
    ];
    let mut checked = 0;
    for (path, item) in document["paths"].as_object().unwrap() {
        let Some(operation) = item.get("post") else { continue };
        if operation.get("requestBody").is_none() {
            continue;
        }
        let documented = operation["responses"].as_object().unwrap();
        for (content_type, body) in &bodies {
            let response = app
                .client
                .post(app.url(path))
                .header("content-type", *content_type)
                .bearer_auth("not-a-token")
                .body(body.clone())
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16().to_string();
            assert!(
                documented.contains_key(&status),
                "POST {path} answered {status}, which it does not document"
            );
            assert_eq!(
                response.headers()["content-type"],
                "application/problem+json",
                "POST {path} {status}"
            );
            let problem: Value = response.json().await.unwrap();
            assert!(problem["code"].is_string(), "{problem}");
            checked += 1;
        }
    }
    assert!(checked >= 8 * 4, "{checked} answers checked");
}
