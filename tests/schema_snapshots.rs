//! G2/G4: the committed GraphQL SDL and the OpenAPI document match the code. A change to either API shows up
//! here and is reviewed: regenerate `schema.graphql` with `cargo run -- export-schema > schema.graphql`, and the
//! OpenAPI snapshot with `cargo insta review` (or INSTA_UPDATE=always).

#[test]
fn schema_graphql_matches_the_code() {
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql"))
        .expect("schema.graphql at the repository root");
    let current = cinema::server::schema::export_sdl();
    assert!(
        committed == current,
        "schema.graphql is out of date: run `cargo run -- export-schema > schema.graphql` and review the diff"
    );
}

#[test]
fn openapi_document_matches_the_snapshot() {
    let document = cinema::server::docs::openapi();
    insta::assert_json_snapshot!("openapi", document);
}

#[test]
fn every_rest_operation_is_documented() {
    let document = serde_json::to_value(cinema::server::docs::openapi()).unwrap();
    for (path, operations) in document["paths"].as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            for key in ["summary", "description", "responses"] {
                assert!(operation.get(key).is_some(), "{method} {path} lacks {key}");
            }
            assert!(
                operation["description"].as_str().unwrap().contains("Public")
                    || operation["description"].as_str().unwrap().contains("role"),
                "{method} {path} states who may call it"
            );
        }
    }
}
