//! G1 GraphQL over HTTP (media types, methods, status codes), G3 limits, G4 documentation access, and GraphiQL.

use crate::common::TestApp;
use cinema::db::Backend;
use serde_json::{Value, json};

backend_tests!(
    get_runs_queries_and_refuses_mutations,
    malformed_requests_are_400_never_500,
    media_types_are_negotiated,
    legacy_json_clients_get_200_for_invalid_queries,
    depth_complexity_and_alias_limits,
    oversized_bodies_are_413,
    introspection_can_be_turned_off,
    standard_introspection_queries_describe_the_schema,
    abusive_queries_are_refused_introspection_or_not,
    docs_follow_docs_access,
    graphiql_is_self_hosted,
    get_requests_are_checked_like_posts,
    the_cost_of_a_request_is_bounded_before_it_runs,
    each_client_has_a_request_budget,
    parsed_documents_are_reused_and_refusals_are_not_kept,
);

async fn get_runs_queries_and_refuses_mutations(backend: Backend) {
    let app = TestApp::start(backend).await;
    let response = app
        .client
        .get(app.url("/graphql"))
        .query(&[
            ("query", "query($n: Int) { movies(first: $n) { nodes { name } } }"),
            ("variables", r#"{"n": 2}"#),
        ])
        .header("accept", "application/graphql-response+json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "application/graphql-response+json; charset=utf-8"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["data"]["movies"]["nodes"].as_array().unwrap().len(), 2);

    let response = app
        .client
        .get(app.url("/graphql"))
        .query(&[("query", "mutation { anything }")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "POST");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "METHOD_NOT_ALLOWED");

    let response = app
        .client
        .get(app.url("/graphql"))
        .header("accept", "application/graphql-response+json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400, "a GET without a query");
}

async fn malformed_requests_are_400_never_500(backend: Backend) {
    let app = TestApp::start(backend).await;
    let post = |body: &'static str| {
        app.client
            .post(app.url("/graphql"))
            .header("content-type", "application/json")
            .header("accept", "application/graphql-response+json")
            .body(body)
            .send()
    };
    for (body, code) in [
        ("{not json", "BAD_REQUEST"),
        ("", "BAD_REQUEST"),
        ("{}", "BAD_REQUEST"),
        (r#"{"query": 42}"#, "BAD_REQUEST"),
        (r#"[{"query": "{ genres { name } }"}]"#, "BAD_REQUEST"),
        (r#"{"query": "{ movies { "}"#, "GRAPHQL_PARSE_FAILED"),
        (r#"{"query": "{ movies }"}"#, "GRAPHQL_VALIDATION_FAILED"),
        (
            r#"{"query": "{ genres { name } }", "variables": "oops"}"#,
            "BAD_REQUEST",
        ),
    ] {
        let response = post(body).await.unwrap();
        assert_eq!(response.status(), 400, "{body}");
        let json: Value = response.json().await.unwrap();
        assert_eq!(json["errors"][0]["extensions"]["code"], code, "{body}: {json}");
    }
    let response = app
        .client
        .post(app.url("/graphql"))
        .header("content-type", "text/plain")
        .body(r#"{"query": "{ genres { name } }"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 415);
    let response = app.client.put(app.url("/graphql")).send().await.unwrap();
    assert_eq!(response.status(), 405);
}

async fn media_types_are_negotiated(backend: Backend) {
    let app = TestApp::start(backend).await;
    let ask = |accept: &'static str| {
        app.client
            .post(app.url("/graphql"))
            .header("accept", accept)
            .json(&json!({ "query": "{ certifications { name } }" }))
            .send()
    };
    let response = ask("application/json").await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json; charset=utf-8");
    let response = ask("application/graphql-response+json, application/json;q=0.9")
        .await
        .unwrap();
    assert_eq!(
        response.headers()["content-type"],
        "application/graphql-response+json; charset=utf-8"
    );
    let response = ask("text/html").await.unwrap();
    assert_eq!(response.status(), 406);
}

async fn legacy_json_clients_get_200_for_invalid_queries(backend: Backend) {
    let app = TestApp::start(backend).await;
    let response = app
        .client
        .post(app.url("/graphql"))
        .header("accept", "application/json")
        .json(&json!({ "query": "{ movies { nope } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED");
    assert!(body.get("data").is_none() || body["data"].is_null());
}

async fn depth_complexity_and_alias_limits(backend: Backend) {
    let app = TestApp::start_with(
        backend,
        &[
            ("SEED_DEMO", "on"),
            ("GRAPHQL_MAX_DEPTH", "6"),
            ("GRAPHQL_MAX_COMPLEXITY", "2000"),
            ("GRAPHQL_MAX_ALIASES", "5"),
        ],
    )
    .await;
    let deep = "{ movies { nodes { genres { movies { nodes { genres { movies { nodes { name } } } } } } } } }";
    let (status, code) = app.error_code(deep, json!({})).await;
    assert_eq!((status, code.as_str()), (400, "QUERY_TOO_COMPLEX"), "too deep");

    let wide = "{ movies(first: 100) { nodes { name genres { name movies(first: 100) { totalCount } } } } }";
    let (status, code) = app.error_code(wide, json!({})).await;
    assert_eq!((status, code.as_str()), (400, "QUERY_TOO_COMPLEX"), "too complex");

    let aliases = "{ a: genres { name } b: genres { name } c: genres { name } d: genres { name } e: genres { name } f: genres { name } }";
    let (status, body) = app.graphql(aliases, json!({})).await;
    assert_eq!(status, 400);
    assert_eq!(body["errors"][0]["extensions"]["code"], "QUERY_TOO_COMPLEX");
    assert!(
        body["errors"][0]["message"].as_str().unwrap().contains("6 aliases"),
        "{body}"
    );
    // Within the limits the same shapes run.
    app.query_ok("{ a: genres { name } b: certifications { name } }", json!({}))
        .await;
    app.query_ok("{ movies(first: 5) { nodes { name genres { name } } } }", json!({}))
        .await;
}

/// H1: a JSON body on /graphql is read up to GRAPHQL_MAX_BODY_BYTES (64 KiB), not the 3 MiB an upload may
/// need — 1,024 connections could otherwise hold 3 GiB; past the limit the answer is 413 PAYLOAD_TOO_LARGE.
async fn oversized_bodies_are_413(backend: Backend) {
    let app = TestApp::start(backend).await;
    let post = |padding: usize| {
        let app = &app;
        let body = json!({ "query": "{ genres { name } }", "variables": { "pad": "x".repeat(padding) } });
        async move {
            let response = app.client.post(app.url("/graphql")).json(&body).send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap())
        }
    };
    let (status, body) = post(60 * 1024).await;
    assert_eq!(status, 200, "within 64 KiB: {body}");
    let (status, body) = post(100 * 1024).await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["errors"][0]["extensions"]["code"], "PAYLOAD_TOO_LARGE");

    let small = TestApp::start_with(
        backend,
        &[("GRAPHQL_MAX_BODY_BYTES", "2048"), ("GRAPHQL_MAX_QUERY_BYTES", "1024")],
    )
    .await;
    let response = small
        .client
        .post(small.url("/graphql"))
        .header("content-type", "application/json")
        .body(format!(r#"{{"query": "{{ genres {{ name }} }}{}"}}"#, " ".repeat(4096)))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
}

async fn introspection_can_be_turned_off(backend: Backend) {
    let on = TestApp::start_with(backend, &[]).await;
    let data = on.query_ok("{ __schema { queryType { name } } }", json!({})).await;
    assert_eq!(data["__schema"]["queryType"]["name"], "QueryRoot");
    let off = TestApp::start_with(backend, &[("GRAPHQL_INTROSPECTION", "off")]).await;
    let (_, body) = off.graphql("{ __schema { queryType { name } } }", json!({})).await;
    assert_eq!(body["data"]["__schema"], Value::Null, "{body}");
}

/// The introspection queries that tools send, as graphql-js 16 builds them (tests/fixtures/introspection).
const INTROSPECTION_QUERIES: [(&str, &str); 2] = [
    (
        "graphiql-4-default",
        include_str!("fixtures/introspection/graphiql-4-default.graphql"),
    ),
    (
        "graphql-js-16-all-options",
        include_str!("fixtures/introspection/graphql-js-16-all-options.graphql"),
    ),
];

/// Every named type that `schema.graphql` declares.
fn sdl_type_names() -> Vec<String> {
    let sdl = include_str!("../schema.graphql");
    sdl.lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let keyword = words.next()?;
            let name = words.next()?;
            ["type", "input", "enum", "scalar", "interface", "union"]
                .contains(&keyword)
                .then(|| name.trim_end_matches('{').to_string())
        })
        .collect()
}

/// G11: GraphiQL, code generators and editor plugins load the schema under the default limits.
async fn standard_introspection_queries_describe_the_schema(backend: Backend) {
    let app = TestApp::start_with(backend, &[]).await;
    let declared = sdl_type_names();
    assert!(declared.len() > 20, "schema.graphql lists its types: {declared:?}");
    for (form, query) in INTROSPECTION_QUERIES {
        let response = app
            .client
            .post(app.url("/graphql"))
            .header("accept", "application/graphql-response+json")
            .json(&json!({ "query": query, "operationName": "IntrospectionQuery" }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{form}");
        let body: Value = response.json().await.unwrap();
        assert!(body.get("errors").is_none(), "{form}: {body:#}");
        let schema = &body["data"]["__schema"];
        assert_eq!(schema["queryType"]["name"], "QueryRoot", "{form}");
        assert_eq!(schema["mutationType"]["name"], "MutationRoot", "{form}");
        assert_eq!(schema["subscriptionType"]["name"], "SubscriptionRoot", "{form}");

        let types = schema["types"].as_array().unwrap();
        let type_named = |name: &str| types.iter().find(|t| t["name"] == name);
        for name in &declared {
            assert!(
                type_named(name).is_some(),
                "{form}: type {name} of schema.graphql is missing"
            );
        }
        // The query root's fields, with their type references resolved through the ofType chain.
        let query_root = type_named("QueryRoot").unwrap();
        let field = |name: &str| {
            query_root["fields"]
                .as_array()
                .unwrap()
                .iter()
                .find(|f| f["name"] == name)
                .unwrap_or_else(|| panic!("{form}: QueryRoot.{name}"))
                .clone()
        };
        let movies = field("movies");
        assert_eq!(movies["type"]["kind"], "NON_NULL", "{form}");
        assert_eq!(movies["type"]["ofType"]["name"], "MovieConnection", "{form}");
        let genres = field("genres");
        assert_eq!(
            (
                genres["type"]["kind"].as_str(),
                genres["type"]["ofType"]["kind"].as_str(),
                genres["type"]["ofType"]["ofType"]["kind"].as_str(),
                genres["type"]["ofType"]["ofType"]["ofType"]["name"].as_str(),
            ),
            (Some("NON_NULL"), Some("LIST"), Some("NON_NULL"), Some("Genre")),
            "{form}"
        );
        assert!(
            field("users")["args"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a["name"] == "first")
        );

        // The role directives (G2), with their argument.
        let directives = schema["directives"].as_array().unwrap();
        let directive = |name: &str| {
            directives
                .iter()
                .find(|d| d["name"] == name)
                .unwrap_or_else(|| panic!("{form}: directive @{name}"))
        };
        let requires_role = directive("requiresRole");
        assert_eq!(requires_role["locations"], json!(["FIELD_DEFINITION"]), "{form}");
        let role_arg = &requires_role["args"][0];
        assert_eq!(role_arg["name"], "role", "{form}");
        assert_eq!(role_arg["type"]["kind"], "NON_NULL", "{form}");
        assert_eq!(role_arg["type"]["ofType"]["name"], "Role", "{form}");
        directive("authenticated");
        for builtin in ["include", "skip", "deprecated"] {
            directive(builtin);
        }
    }
    let all_options = INTROSPECTION_QUERIES[1].1;
    let data = app.query_ok(all_options, json!({})).await;
    let directives = data["__schema"]["directives"].as_array().unwrap();
    assert!(
        directives.iter().all(|d| d["isRepeatable"].is_boolean()),
        "{directives:?}"
    );
    let role = data["__schema"]["types"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "Role")
        .unwrap();
    assert_eq!(role["kind"], "ENUM");

    // Turned off, the same queries learn nothing about the schema.
    let off = TestApp::start_with(backend, &[("GRAPHQL_INTROSPECTION", "off")]).await;
    for (form, query) in INTROSPECTION_QUERIES {
        let (_, body) = off.graphql(query, json!({})).await;
        assert_eq!(body["data"]["__schema"], Value::Null, "{form}: {body}");
        assert!(!body.to_string().contains("MovieConnection"), "{form}: {body}");
    }
}

/// G3 and G11: the room made for introspection is no way around the limits.
async fn abusive_queries_are_refused_introspection_or_not(backend: Backend) {
    let app = TestApp::start_with(backend, &[("SEED_DEMO", "on")]).await;
    let refused = |query: String| {
        let app = &app;
        async move {
            let (status, body) = app.graphql(&query, json!({})).await;
            assert_eq!(status, 400, "{query}: {body}");
            assert_eq!(body["errors"][0]["extensions"]["code"], "QUERY_TOO_COMPLEX", "{body}");
            body["errors"][0]["message"].as_str().unwrap().to_string()
        }
    };
    // Data 13 levels deep (the default limit is 12), also when hidden in fragments or beside introspection.
    let deep = "{ movies { nodes { genres { movies { nodes { genres { movies { nodes { genres { movies { nodes { genres { name } } } } } } } } } } } } }";
    assert!(refused(deep.to_string()).await.contains("nested too deep"));
    let hidden = "{ __schema { queryType { name } } movies { nodes { ...G } } } \
                  fragment G on Movie { genres { movies { nodes { ...H } } } } \
                  fragment H on Movie { genres { movies { nodes { genres { movies { nodes { genres { name } } } } } } } }";
    assert!(refused(hidden.to_string()).await.contains("nested too deep"));
    // Member lists nested three deep: the shape whose answer grows as a power of the schema's size.
    let lists = r#"{ __type(name: "Movie") { fields { type { fields { type { fields { name } } } } } } }"#;
    assert!(refused(lists.to_string()).await.contains("possibleTypes"));
    let through_fragments = r#"{ __schema { types { ...A } } }
        fragment A on __Type { fields { type { ...B } } }
        fragment B on __Type { interfaces { ...C } }
        fragment C on __Type { possibleTypes { name } }"#;
    refused(through_fragments.to_string()).await;
    // An ofType chain far past what any tool asks.
    let chain = format!(
        "{{ __schema {{ types {{ {}name{} }} }} }}",
        "ofType { ".repeat(25),
        " }".repeat(25)
    );
    assert!(refused(chain).await.contains("Introspection query is nested too deep"));
    // A wide introspection query is held by the complexity limit like any other.
    let wide = format!(
        "{{ {} }}",
        (0..25)
            .map(|i| format!("t{i}: __schema {{ types {{ fields {{ name type {{ name ofType {{ name }} }} }} }} }}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let narrow = TestApp::start_with(backend, &[("GRAPHQL_MAX_COMPLEXITY", "100")]).await;
    let (status, body) = narrow.graphql(&wide, json!({})).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["errors"][0]["extensions"]["code"], "QUERY_TOO_COMPLEX", "{body}");
    // Data at the limit still runs.
    app.query_ok(
        "{ movies(first: 1) { nodes { genres { movies(first: 1) { nodes { genres { movies(first: 1) { nodes { genres { name } } } } } } } } } }",
        json!({}),
    )
    .await;
}

async fn docs_follow_docs_access(backend: Backend) {
    let public = TestApp::start_with(backend, &[("DOCS_ACCESS", "public")]).await;
    let response = public.get("/api/openapi.json").await;
    assert_eq!(response.status(), 200);
    let document: Value = response.json().await.unwrap();
    assert!(document["paths"]["/health/ready"]["get"]["summary"].is_string());
    let page = public.get("/api/docs/").await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "{html}");
    assert!(
        !html.contains("https://"),
        "Swagger UI loads nothing from outside: {html}"
    );

    let off = TestApp::start_with(backend, &[("DOCS_ACCESS", "off")]).await;
    for path in ["/api/openapi.json", "/api/docs/"] {
        let response = off.get(path).await;
        assert_eq!(response.status(), 404, "{path}");
        assert_eq!(response.json::<Value>().await.unwrap()["code"], "NOT_FOUND");
    }
    for access in ["authenticated", "admin"] {
        let gated = TestApp::start_with(backend, &[("DOCS_ACCESS", access)]).await;
        for path in ["/api/openapi.json", "/api/docs/"] {
            let response = gated.get(path).await;
            assert_eq!(response.status(), 401, "{access} {path}");
            assert_eq!(response.headers()["www-authenticate"], "Bearer");
            assert_eq!(response.json::<Value>().await.unwrap()["code"], "UNAUTHENTICATED");
        }
    }
}

async fn graphiql_is_self_hosted(backend: Backend) {
    let app = TestApp::start_with(backend, &[("GRAPHIQL", "on")]).await;
    let response = app.get("/graphiql").await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("script-src 'self'")
    );
    let html = response.text().await.unwrap();
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "no external URL: {html}"
    );
    for asset in [
        "graphiql.min.js",
        "graphiql.min.css",
        "react.production.min.js",
        "react-dom.production.min.js",
        "init.js",
        "page.css",
    ] {
        assert!(
            html.contains(&format!("/graphiql/assets/{asset}")),
            "{asset} referenced"
        );
        let response = app.get(&format!("/graphiql/assets/{asset}")).await;
        assert_eq!(response.status(), 200, "{asset}");
    }
    assert_eq!(app.get("/graphiql/assets/../../Cargo.toml").await.status(), 404);
    assert_eq!(app.get("/graphiql/assets/other.js").await.status(), 404);

    let off = TestApp::start_with(backend, &[("GRAPHIQL", "off")]).await;
    assert_eq!(off.get("/graphiql").await.status(), 404);
}

/// G1: GET answers the same refusals as POST — an unacceptable Accept (406), an unreadable query string
/// (400), and a mutation chosen by operationName (405) — and G4: the docs gate refuses a token that does not
/// authenticate with that token's own code.
async fn get_requests_are_checked_like_posts(backend: Backend) {
    let app = TestApp::start_with(backend, &[("DOCS_ACCESS", "authenticated")]).await;
    let get = |query: &[(&str, &str)], accept: &str| {
        app.client
            .get(app.url("/graphql"))
            .query(query)
            .header("accept", accept.to_string())
            .send()
    };
    let response = get(&[("query", "{ genres { name } }")], "text/html").await.unwrap();
    assert_eq!(response.status(), 406);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "NOT_ACCEPTABLE");

    let response = get(
        &[("query", "{ genres { name } }"), ("variables", "{not json")],
        "application/graphql-response+json",
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_REQUEST");

    let two = "query Read { genres { name } } mutation Write { removeAvatar { avatarUrl } }";
    let response = get(&[("query", two), ("operationName", "Write")], "application/json")
        .await
        .unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(status, 405, "{text}");
    let response = get(
        &[("query", two), ("operationName", "Read"), ("extensions", "{}")],
        "application/json",
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 200);
    // Two operations and no name: refused, whichever comes first in the document.
    let response = get(&[("query", two)], "application/graphql-response+json")
        .await
        .unwrap();
    assert_eq!(response.status(), 400);

    // A multipart body that is not a GraphQL multipart request.
    let tokens = app.signed_in_user("uploader@example.com").await;
    let multipart = |token: Option<&str>| {
        let mut request = app
            .client
            .post(app.url("/graphql"))
            .header("content-type", "multipart/form-data; boundary=xyz")
            .body("--xyz\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nhello\r\n--xyz--\r\n");
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap();
            (
                status,
                body["errors"][0]["extensions"]["code"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        }
    };
    let signed_in = tokens["accessToken"].as_str();
    assert_eq!(multipart(signed_in).await, (400, "BAD_REQUEST".to_string()));
    // H1: an upload body is read only for a signed-in user.
    assert_eq!(multipart(Some("any")).await, (401, "INVALID_TOKEN".to_string()));
    assert_eq!(multipart(None).await, (400, "BAD_REQUEST".to_string()));

    let response = app
        .client
        .get(app.url("/api/openapi.json"))
        .bearer_auth("not-a-jwt")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["code"], "INVALID_TOKEN");
}

/// H2: the outside review's request — `genres { movies(first: 0, search: "zz") { totalCount } }` repeated
/// 2,400 times, no alias — ran 22,334 SQL statements. Now the text is capped, fields are counted where
/// fragments are spread, and every field that reads the database costs a query even for `first: 0`.
async fn the_cost_of_a_request_is_bounded_before_it_runs(backend: Backend) {
    // No background worker: its polling would count in the same pool.
    let app = TestApp::start_with(backend, &[("SEED_DEMO", "on"), ("RUN_WORKER", "off")]).await;
    let repeat = |n: usize| {
        format!(
            "{{ {} }}",
            "genres { movies(first: 0, search: \"zz\") { totalCount } } ".repeat(n)
        )
    };
    let refused_with = |query: String, expected: (u16, &'static str)| {
        let app = &app;
        async move {
            let before = app.statements();
            let (status, body) = app.graphql(&query, json!({})).await;
            assert_eq!(
                (status, body["errors"][0]["extensions"]["code"].as_str()),
                (expected.0, Some(expected.1)),
                "{body}"
            );
            assert_eq!(app.statements(), before, "refused before any SQL ran");
        }
    };
    let refused = |query: String, code: &'static str| refused_with(query, (400, code));
    // The review's 141 KB is not even read to the end (the JSON body limit); 35 KB is read, then refused.
    refused_with(repeat(2400), (413, "PAYLOAD_TOO_LARGE")).await;
    refused(repeat(600), "QUERY_TOO_LARGE").await;
    refused(repeat(150), "QUERY_TOO_COMPLEX").await;
    // Fragments spread into each other describe more fields than can be counted: refused.
    let mut bomb = String::from("{ genres { ...F0 } }");
    for i in 0..40 {
        bomb.push_str(&format!(
            " fragment F{i} on Genre {{ name ...F{} ...F{} }}",
            i + 1,
            i + 1
        ));
    }
    bomb.push_str(" fragment F40 on Genre { name }");
    refused(bomb, "QUERY_TOO_COMPLEX").await;
    // Plain repetition of one cheap field, no alias and no fragment: the field count holds it.
    let (status, body) = app
        .graphql(&format!("{{ genres {{ {} }} }}", "name ".repeat(600)), json!({}))
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["errors"][0]["message"].as_str().unwrap().contains("601 fields"),
        "{body}"
    );
    // A few repetitions stay within the budget, and cost what the model says they may.
    let before = app.statements();
    app.query_ok(&repeat(3), json!({})).await;
    let statements = app.statements() - before;
    assert!(statements < 200, "{statements} statements");
}

/// H2: one client address gets GRAPHQL_REQUESTS_PER_MINUTE requests a minute on /graphql, then 429 with
/// Retry-After.
async fn each_client_has_a_request_budget(backend: Backend) {
    let app = TestApp::start_with(backend, &[("GRAPHQL_REQUESTS_PER_MINUTE", "3")]).await;
    for _ in 0..3 {
        app.query_ok("{ certifications { name } }", json!({})).await;
    }
    let response = app
        .client
        .post(app.url("/graphql"))
        .json(&json!({ "query": "{ certifications { name } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    assert!(response.headers().contains_key("retry-after"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "RATE_LIMITED");
}

/// A document sent again is not parsed again: one that parsed and passed the document limits is kept
/// (`cinema_parsed_documents_entries`). What depends on more than the text still runs on every request:
/// validation against each request's variables, the rule that GET may not mutate, the operation chosen by
/// name. A document refused for its syntax or its limits is not kept, and is refused again.
async fn parsed_documents_are_reused_and_refusals_are_not_kept(backend: Backend) {
    let app = TestApp::start_with(
        backend,
        &[
            ("SEED_DEMO", "on"),
            ("GRAPHQL_MAX_ALIASES", "2"),
            ("RESPONSE_CACHE_BYTES", "0"),
        ],
    )
    .await;
    let kept = async || app.metric("cinema_parsed_documents_entries").await;
    let start = kept().await;
    let page = "query($n: Int) { movies(first: $n) { nodes { name } } }";
    for n in [1, 2] {
        let data = app.query_ok(page, json!({ "n": n })).await;
        assert_eq!(data["movies"]["nodes"].as_array().unwrap().len(), n);
    }
    assert_eq!(kept().await, start + 1.0, "parsed once, kept, used again");
    let (status, code) = app.error_code(page, json!({ "n": "two" })).await;
    assert_eq!(
        (status, code.as_str()),
        (400, "GRAPHQL_VALIDATION_FAILED"),
        "variables are validated every time"
    );

    let get = async |query: &str, operation: Option<&str>| {
        let mut parameters = vec![("query", query)];
        parameters.extend(operation.map(|name| ("operationName", name)));
        let response = app
            .client
            .get(app.url("/graphql"))
            .query(&parameters)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json::<Value>().await.unwrap())
    };
    let mutation = "mutation { anything }";
    let (_, code) = app.error_code(mutation, json!({})).await;
    assert_eq!(code, "GRAPHQL_VALIDATION_FAILED");
    let (status, body) = get(mutation, None).await;
    assert_eq!(status, 405, "a kept mutation is still refused on GET: {body}");
    let two = "query A { genres { name } } query B { certifications { name } }";
    for (operation, field) in [("A", "genres"), ("B", "certifications")] {
        let (status, body) = get(two, Some(operation)).await;
        assert_eq!(status, 200, "{body}");
        assert!(body["data"][field].is_array(), "{operation} runs: {body}");
    }
    assert_eq!(kept().await, start + 3.0);

    for (query, expected) in [
        ("{ movies { ", "GRAPHQL_PARSE_FAILED"),
        (
            "{ a: genres { name } b: genres { name } c: genres { name } }",
            "QUERY_TOO_COMPLEX",
        ),
    ] {
        for _ in 0..2 {
            let (_, code) = app.error_code(query, json!({})).await;
            assert_eq!(code, expected, "{query}");
        }
    }
    assert_eq!(kept().await, start + 3.0, "refused documents are not kept");
}
