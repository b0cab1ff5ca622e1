//! What both benchmarks need: a scratch database on the chosen backend, and latency percentiles.

use std::time::Duration;

/// A database for one benchmark run: a file in `dir` on SQLite, or a new database on the PostgreSQL server of
/// TEST_DATABASE_URL, dropped by `finish`.
pub struct Scratch {
    pub url: String,
    postgres: Option<(tokio_postgres::Client, String)>,
}

impl Scratch {
    pub async fn create(backend: &str, dir: &std::path::Path, label: &str) -> Scratch {
        match backend {
            "sqlite" => Scratch {
                url: format!("sqlite://{}", dir.join("bench.db").display()),
                postgres: None,
            },
            "postgres" => {
                let admin = std::env::var("TEST_DATABASE_URL").expect("TEST_DATABASE_URL for --backend postgres");
                let name = format!("cinema_bench_{label}_{}", std::process::id());
                let (client, connection) = tokio_postgres::connect(&admin, tokio_postgres::NoTls).await.unwrap();
                tokio::spawn(connection);
                client.batch_execute(&format!("CREATE DATABASE {name}")).await.unwrap();
                let mut url = url::Url::parse(&admin).unwrap();
                url.set_path(&format!("/{name}"));
                Scratch {
                    url: url.to_string(),
                    postgres: Some((client, name)),
                }
            }
            other => panic!("unknown backend {other} (sqlite or postgres)"),
        }
    }

    pub async fn finish(self) {
        if let Some((client, name)) = self.postgres {
            client
                .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .await
                .unwrap();
        }
    }
}

/// The `p` quantile (0 to 1) of sorted latencies, in milliseconds.
pub fn percentile_ms(sorted: &[Duration], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p) as usize].as_secs_f64() * 1000.0
}
