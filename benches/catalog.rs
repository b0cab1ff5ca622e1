//! Catalog benchmark: a synthetic catalog, the real server on loopback, concurrent clients over HTTP.
//! Prints requests per second, latency percentiles and SQL statements per request for each scenario.
//!
//!   cargo bench --bench catalog -- [--movies N] [--backend sqlite|postgres] [--seconds S] [--clients C]
//!
//! PostgreSQL comes from TEST_DATABASE_URL (a scratch database is created and dropped).

use std::time::{Duration, Instant};

use cinema::Settings;

mod support;
use serde_json::{Value, json};

struct Options {
    movies: usize,
    backend: String,
    seconds: u64,
    clients: usize,
}

fn options() -> Options {
    let mut options = Options {
        movies: 20_000,
        backend: "sqlite".into(),
        seconds: 5,
        clients: 8,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let value = args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--movies" => options.movies = value.parse().expect("--movies N"),
            "--backend" => options.backend = value,
            "--seconds" => options.seconds = value.parse().expect("--seconds S"),
            "--clients" => options.clients = value.parse().expect("--clients C"),
            _ => {
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    options
}

const PAGE: &str = r#"query($after: String) { movies(first: 20, after: $after, sort: {field: IMDB, direction: DESC}) {
  totalCount pageInfo { endCursor } nodes { id name year imdbScore price { amount currency }
  certification { name } genres { name } directors { name } stars { name } } } }"#;
const FILTERED: &str = r#"query($genre: ID!) { movies(first: 20, filter: {genreIds: [$genre], yearMin: 1980, yearMax: 2010},
  sort: {field: PRICE}) { totalCount nodes { name price { amount } genres { name } } } }"#;
const SEARCH: &str = r#"{ movies(first: 20, search: "crimson") { totalCount nodes { name stars { name } } } }"#;
const DETAIL: &str = r#"query($id: ID!) { movie(id: $id) { name year description imdbScore price { formatted }
  certification { name } genres { name movieCount } directors { name } stars { name } } }"#;

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let options = options();
    let dir = tempfile::tempdir().unwrap();
    let scratch = support::Scratch::create(&options.backend, dir.path(), "catalog").await;
    let settings = Settings::from_vars(vec![
        ("VAR_DIR".to_string(), dir.path().display().to_string()),
        ("DATABASE_URL".to_string(), scratch.url.clone()),
        ("SEED_DEMO".to_string(), "on".to_string()),
        ("METRICS".to_string(), "off".to_string()),
    ])
    .unwrap();
    let state = cinema::prepare(settings).await.unwrap();
    let seeding = Instant::now();
    cinema::catalog::seed::seed_synthetic(&state.db, options.movies)
        .await
        .map_err(|e| e.public_message())
        .unwrap();
    println!(
        "catalog: {} synthetic + 116 demo movies on {} (seeded in {:.1?})",
        options.movies,
        options.backend,
        seeding.elapsed()
    );

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/graphql", listener.local_addr().unwrap());
    let served = state.clone();
    tokio::spawn(async move { cinema::serve(served, listener, std::future::pending()).await.unwrap() });
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(options.clients)
        .build()
        .unwrap();

    let post = move |query: &'static str, variables: Value| {
        let client = client.clone();
        let base = base.clone();
        async move {
            let response = client
                .post(&base)
                .json(&json!({ "query": query, "variables": variables }))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
            let body: Value = response.json().await.unwrap();
            assert!(body.get("errors").is_none(), "{body}");
            body
        }
    };
    // Ids and a deep cursor for the scenarios.
    let first = post(PAGE, json!({})).await;
    let movie_id = first["data"]["movies"]["nodes"][0]["id"].clone();
    let genres = post("{ genres { id } }", json!({})).await;
    let genre_id = genres["data"]["genres"][0]["id"].clone();
    // The cursor after 5,000 movies, walked to in pages of 100 (cursors are sealed keyset positions).
    let mut deep_cursor = Value::Null;
    for _ in 0..50 {
        let walked = post(
            "query($after: String) { movies(first: 100, after: $after, sort: {field: IMDB, direction: DESC}) { pageInfo { endCursor } } }",
            json!({ "after": deep_cursor }),
        )
        .await;
        deep_cursor = walked["data"]["movies"]["pageInfo"]["endCursor"].clone();
    }

    println!(
        "{:<34} {:>9} {:>9} {:>9} {:>9} {:>12}",
        "scenario", "req/s", "p50 ms", "p99 ms", "max ms", "SQL/request"
    );
    let scenarios: Vec<(&str, &'static str, Value)> = vec![
        ("catalog page (20, IMDb desc)", PAGE, json!({})),
        (
            "catalog page after 5,000 (keyset)",
            PAGE,
            json!({ "after": deep_cursor }),
        ),
        ("genre + years, by price", FILTERED, json!({ "genre": genre_id })),
        ("search (title/description/people)", SEARCH, json!({})),
        ("movie detail", DETAIL, json!({ "id": movie_id })),
    ];
    for (name, query, variables) in scenarios {
        post(query, variables.clone()).await; // warm-up
        let statements_before = state.db.stats().statements();
        let started = Instant::now();
        let deadline = started + Duration::from_secs(options.seconds);
        let mut workers = Vec::new();
        for _ in 0..options.clients {
            let post = post.clone();
            let variables = variables.clone();
            workers.push(tokio::spawn(async move {
                let mut latencies = Vec::new();
                while Instant::now() < deadline {
                    let t = Instant::now();
                    post(query, variables.clone()).await;
                    latencies.push(t.elapsed());
                }
                latencies
            }));
        }
        let mut latencies: Vec<Duration> = Vec::new();
        for worker in workers {
            latencies.extend(worker.await.unwrap());
        }
        let elapsed = started.elapsed().as_secs_f64();
        latencies.sort();
        let pct = |p: f64| support::percentile_ms(&latencies, p);
        let statements = state.db.stats().statements() - statements_before;
        println!(
            "{:<34} {:>9.0} {:>9.2} {:>9.2} {:>9.2} {:>12.1}",
            name,
            latencies.len() as f64 / elapsed,
            pct(0.50),
            pct(0.99),
            latencies.last().unwrap().as_secs_f64() * 1000.0,
            statements as f64 / latencies.len() as f64
        );
    }
    state.db.close();
    scratch.finish().await;
}
