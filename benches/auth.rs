//! Sign-in benchmark: login and token-refresh throughput over real HTTP on loopback, with concurrent clients.
//! Login is dominated by bcrypt by design, so the cost is a parameter (production default 12).
//!
//!   cargo bench --bench auth -- [--backend sqlite|postgres] [--cost 12] [--seconds 5] [--clients 8]

use std::time::{Duration, Instant};

use cinema::Settings;

mod support;
use serde_json::{Value, json};

fn arg(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| default.to_string())
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let backend = arg("--backend", "sqlite");
    let cost = arg("--cost", "12");
    let seconds: u64 = arg("--seconds", "5").parse().unwrap();
    let clients: usize = arg("--clients", "8").parse().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let scratch = support::Scratch::create(&backend, dir.path(), "auth").await;
    let settings = Settings::from_vars(vec![
        ("VAR_DIR".to_string(), dir.path().display().to_string()),
        ("DATABASE_URL".to_string(), scratch.url.clone()),
        ("BCRYPT_COST".to_string(), cost.clone()),
        ("METRICS".to_string(), "off".to_string()),
        ("SEED_DEMO".to_string(), "off".to_string()),
        ("RUN_WORKER".to_string(), "off".to_string()),
        ("RATE_LIMIT_PER_CLIENT".to_string(), "100000000".to_string()),
        ("RATE_LIMIT_PER_ACCOUNT".to_string(), "100000000".to_string()),
    ])
    .unwrap();
    let state = cinema::prepare(settings).await.unwrap();
    let password = "Bench!pass1";
    for i in 0..clients {
        let email = format!("bench{i}@example.com");
        cinema::accounts::service::create_admin(&state.db, &email, password, cost.parse().unwrap())
            .await
            .map_err(|e| e.public_message())
            .unwrap();
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let served = state.clone();
    tokio::spawn(async move { cinema::serve(served, listener, std::future::pending()).await.unwrap() });
    let client = reqwest::Client::new();
    println!(
        "{} clients, {backend}, bcrypt cost {cost}, {seconds} s per scenario",
        clients
    );
    println!(
        "{:<22} {:>9} {:>9} {:>9} {:>12}",
        "scenario", "req/s", "p50 ms", "p99 ms", "SQL/request"
    );

    for scenario in ["login", "refresh"] {
        let before = state.db.stats().statements();
        let started = Instant::now();
        let deadline = started + Duration::from_secs(seconds);
        let mut workers = Vec::new();
        for i in 0..clients {
            let client = client.clone();
            let base = base.clone();
            workers.push(tokio::spawn(async move {
                let email = format!("bench{i}@example.com");
                let login = json!({ "email": email, "password": password });
                let first: Value = client
                    .post(format!("{base}/api/v1/auth/login"))
                    .json(&login)
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                let mut refresh_token = first["refreshToken"].as_str().unwrap().to_string();
                let mut latencies = Vec::new();
                while Instant::now() < deadline {
                    let t = Instant::now();
                    if scenario == "login" {
                        let response = client
                            .post(format!("{base}/api/v1/auth/login"))
                            .json(&login)
                            .send()
                            .await
                            .unwrap();
                        assert_eq!(response.status(), 200);
                    } else {
                        let response = client
                            .post(format!("{base}/api/v1/auth/refresh"))
                            .json(&json!({ "refreshToken": refresh_token }))
                            .send()
                            .await
                            .unwrap();
                        assert_eq!(response.status(), 200);
                        let pair: Value = response.json().await.unwrap();
                        refresh_token = pair["refreshToken"].as_str().unwrap().to_string();
                    }
                    latencies.push(t.elapsed());
                }
                latencies
            }));
        }
        let mut latencies = Vec::new();
        for worker in workers {
            latencies.extend(worker.await.unwrap());
        }
        let elapsed = started.elapsed().as_secs_f64();
        latencies.sort();
        let pct = |p: f64| support::percentile_ms(&latencies, p);
        // The per-client warm-up login is counted in the statements but not in the requests.
        let statements = state.db.stats().statements() - before;
        println!(
            "{:<22} {:>9.1} {:>9.2} {:>9.2} {:>12.1}",
            scenario,
            latencies.len() as f64 / elapsed,
            pct(0.5),
            pct(0.99),
            statements as f64 / (latencies.len() + clients) as f64
        );
    }
    state.db.close();
    scratch.finish().await;
}
