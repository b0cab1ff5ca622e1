//! Test harness: the real router served over real HTTP on loopback, on a fresh database per test —
//! a temporary SQLite file, or a PostgreSQL database copied from a migrated template.

pub mod fake_stripe;
pub mod smtp;

use std::sync::Arc;
use std::time::Duration;

use cinema::db::{Backend, Db, PoolOptions};
use cinema::{AppState, Settings};
use serde_json::{Value, json};

/// Runs each named scenario (`async fn name(backend: Backend)`) once on SQLite and once on PostgreSQL.
/// PostgreSQL comes from TEST_DATABASE_URL; without it the PostgreSQL half is skipped loudly, or fails in CI.
#[macro_export]
macro_rules! backend_tests {
    ($($scenario:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    super::$scenario(cinema::db::Backend::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    if $crate::common::postgres_available() {
                        super::$scenario(cinema::db::Backend::Postgres).await;
                    }
                }
            )*
        }
    };
}

/// Whether PostgreSQL tests can run. In CI a missing TEST_DATABASE_URL is a failure, not a skip.
pub fn postgres_available() -> bool {
    if std::env::var("TEST_DATABASE_URL").is_ok_and(|v| !v.is_empty()) {
        return true;
    }
    if std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false") {
        panic!("TEST_DATABASE_URL is not set: in CI the PostgreSQL half of the suite must run");
    }
    eprintln!(
        "\n*** SKIPPED on PostgreSQL: TEST_DATABASE_URL is not set (e.g. postgres://postgres@127.0.0.1:5432/postgres) ***\n"
    );
    false
}

/// The S3-compatible server for storage tests (TEST_S3_ENDPOINT, e.g. moto on loopback). Missing: skipped
/// loudly, or a failure in CI.
pub fn s3_endpoint() -> Option<String> {
    if let Ok(endpoint) = std::env::var("TEST_S3_ENDPOINT")
        && !endpoint.is_empty()
    {
        return Some(endpoint.trim_end_matches('/').to_string());
    }
    if std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false") {
        panic!("TEST_S3_ENDPOINT is not set: in CI the S3 storage tests must run");
    }
    eprintln!(
        "\n*** SKIPPED S3 storage test: TEST_S3_ENDPOINT is not set (./scripts/test starts moto when it can) ***\n"
    );
    None
}

/// The Redis of the shared-limits tests (TEST_REDIS_URL, e.g. redis://127.0.0.1:6379). Missing: skipped
/// loudly, or a failure in CI.
pub fn redis_url() -> Option<String> {
    if let Ok(url) = std::env::var("TEST_REDIS_URL")
        && !url.is_empty()
    {
        return Some(url);
    }
    if std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false") {
        panic!("TEST_REDIS_URL is not set: in CI the shared-limits tests must run");
    }
    eprintln!("\n*** SKIPPED shared-limits test: TEST_REDIS_URL is not set (e.g. redis://127.0.0.1:6379) ***\n");
    None
}

/// A new bucket on the S3 test server, and the settings that store files in it (None: no S3 server, the test
/// is skipped as `s3_endpoint` says).
pub async fn s3_bucket() -> Option<(String, String, Vec<(&'static str, String)>)> {
    let endpoint = s3_endpoint()?;
    let bucket = format!("cinema-test-{}", uuid::Uuid::new_v4().simple());
    // moto creates a bucket from a plain unsigned PUT.
    let created = reqwest::Client::new()
        .put(format!("{endpoint}/{bucket}"))
        .send()
        .await
        .unwrap();
    assert!(created.status().is_success(), "create bucket: {}", created.status());
    let settings = vec![
        ("STORAGE_URL", format!("s3://{bucket}")),
        ("S3_ENDPOINT", endpoint.clone()),
        ("S3_ACCESS_KEY_ID", "test".to_string()),
        ("S3_SECRET_ACCESS_KEY", "test".to_string()),
    ];
    Some((endpoint, bucket, settings))
}

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub state: AppState,
    server: tokio::task::JoinHandle<()>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    _var_dir: tempfile::TempDir,
    postgres_database: Option<(String, String)>,
}

impl TestApp {
    /// A server with the demo catalog.
    pub async fn start(backend: Backend) -> TestApp {
        TestApp::start_with(backend, &[("SEED_DEMO", "on")]).await
    }

    /// A server with the demo catalog whose SQL statements a test counts: no background worker (its polling
    /// would count in the same pool) and no response cache (it would answer a repeated anonymous read without
    /// a statement), once it hears changes made elsewhere (on PostgreSQL the catalog keeps its copy of the
    /// certifications only then).
    pub async fn counting_statements(backend: Backend) -> TestApp {
        let app = TestApp::start_with(
            backend,
            &[
                ("SEED_DEMO", "on"),
                ("RUN_WORKER", "off"),
                ("RESPONSE_CACHE_BYTES", "0"),
            ],
        )
        .await;
        app.hearing().await;
        app
    }

    /// `counting_statements` with a pool of one connection: what the server keeps per connection (prepared
    /// statements) is what a test reads through `conn()`, the same connection.
    pub async fn on_one_connection(backend: Backend) -> TestApp {
        let app = TestApp::start_with(
            backend,
            &[
                ("SEED_DEMO", "on"),
                ("RUN_WORKER", "off"),
                ("RESPONSE_CACHE_BYTES", "0"),
                ("DB_POOL_SIZE", "1"),
            ],
        )
        .await;
        app.hearing().await;
        app
    }

    /// Waits until the instance hears changes made elsewhere (on PostgreSQL its LISTEN connection is up): only
    /// then does it keep answers and its copy of the certifications.
    pub async fn hearing(&self) {
        let started = std::time::Instant::now();
        while self.db().content_version().current().is_none() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "the listener never came up"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// A server with extra settings (later pairs override the harness defaults).
    pub async fn start_with(backend: Backend, vars: &[(&str, &str)]) -> TestApp {
        let var_dir = tempfile::tempdir().expect("temporary folder");
        let given_database = vars.iter().find(|(name, _)| *name == "DATABASE_URL");
        let (database_url, postgres_database) = match backend {
            // Another instance's database (`beside`), or one the test made: nothing to create here.
            _ if given_database.is_some() => (given_database.unwrap().1.to_string(), None),
            Backend::Sqlite => (format!("sqlite://{}", var_dir.path().join("cinema.db").display()), None),
            Backend::Postgres => {
                let (url, admin_url, name) = postgres::fresh_database().await;
                (url, Some((admin_url, name)))
            }
        };
        let mut all: Vec<(String, String)> = vec![
            ("VAR_DIR".into(), var_dir.path().display().to_string()),
            ("DATABASE_URL".into(), database_url),
            ("BCRYPT_COST".into(), "4".into()),
            ("SEED_DEMO".into(), "off".into()),
            ("DB_POOL_SIZE".into(), "8".into()),
            ("WORKER_POLL_MS".into(), "50".into()),
            ("JOB_BACKOFF_BASE_MS".into(), "200".into()),
            // Tests share one client address; the rate-limit tests set their own limits.
            ("RATE_LIMIT_PER_CLIENT".into(), "1000".into()),
            ("RATE_LIMIT_PER_ACCOUNT".into(), "1000".into()),
            // Scenarios write in quick succession as one user; the write-limit tests set their own budgets.
            ("GRAPHQL_REQUESTS_PER_MINUTE".into(), "100000".into()),
            ("WRITES_PER_MINUTE".into(), "100000".into()),
            ("ORDER_WRITES_PER_MINUTE".into(), "100000".into()),
            ("CHECKOUTS_PER_MINUTE".into(), "100000".into()),
            ("STAFF_WRITES_PER_MINUTE".into(), "100000".into()),
        ];
        all.extend(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let settings = Settings::from_vars(all).expect("test settings are valid");
        let state = cinema::prepare(settings).await.expect("the app starts");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let served = state.clone();
        let server = tokio::spawn(async move {
            cinema::serve(served, listener, async {
                let _ = rx.await;
            })
            .await
            .expect("server runs");
        });
        TestApp {
            base,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
            state,
            server,
            shutdown: Some(tx),
            _var_dir: var_dir,
            postgres_database,
        }
    }

    /// A second instance on this one's database, with its secrets (tokens and signed events from either are
    /// good at both) and `vars`, as a deployment runs replicas. It drops its database with neither.
    pub async fn beside(&self, vars: &[(&str, &str)]) -> TestApp {
        let settings = self.settings();
        let database_url = match &settings.database.url {
            cinema::db::DatabaseUrl::Postgres(url) => url.clone(),
            cinema::db::DatabaseUrl::Sqlite(path) => format!("sqlite://{}", path.display()),
        };
        let mut all = vec![
            ("DATABASE_URL", database_url.as_str()),
            ("JWT_SECRET", settings.auth.jwt_secret.as_str()),
            (
                "STRIPE_WEBHOOK_SECRET",
                settings.payments.stripe_webhook_secret.as_str(),
            ),
        ];
        all.extend_from_slice(vars);
        TestApp::start_with(self.state.db.backend(), &all).await
    }

    pub fn db(&self) -> &Db {
        &self.state.db
    }

    /// A connection of the app's pool, for tests that set up or inspect rows directly
    /// (`cinema::per_backend!(&mut conn, |c| …)`).
    pub async fn conn(&self) -> cinema::db::DbConn {
        self.db()
            .conn()
            .await
            .map_err(|e| e.public_message())
            .expect("a database connection")
    }

    pub fn settings(&self) -> &Arc<Settings> {
        &self.state.settings
    }

    /// The titles' word index as stored, and as the application computes it from every title today (issue 25,
    /// `catalog::words`): equal when every write kept it in step.
    pub async fn title_words(&self) -> (Vec<(String, i64)>, Vec<(String, i64)>) {
        use cinema::db::schema::{movie_title_words, movies};
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        let mut conn = self.conn().await;
        let (mut stored, titles) = cinema::per_backend!(&mut conn, |c| {
            let stored: Vec<(String, i64)> = movie_title_words::table
                .select((movie_title_words::suffix, movie_title_words::movie_id))
                .load(c)
                .await
                .unwrap();
            let titles: Vec<(i64, String)> = movies::table.select((movies::id, movies::name)).load(c).await.unwrap();
            (stored, titles)
        });
        let mut expected: Vec<(String, i64)> = titles
            .iter()
            .flat_map(|(id, title)| cinema::catalog::words::title_words(*id, title))
            .map(|word| (word.suffix, word.movie_id))
            .collect();
        stored.sort();
        expected.sort();
        (stored, expected)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// POSTs a GraphQL request (as application/json) and returns the status and body.
    pub async fn graphql(&self, query: &str, variables: Value) -> (u16, Value) {
        let (status, _, body) = self.graphql_request(None, query, variables).await;
        (status, body)
    }

    /// POSTs a GraphQL request, with `token` as bearer when given: the status, the headers and the body.
    pub async fn graphql_request(
        &self,
        token: Option<&str>,
        query: &str,
        variables: Value,
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        let mut request = self
            .client
            .post(self.url("/graphql"))
            .header("accept", "application/graphql-response+json")
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("request sent");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        (status, headers, response.json().await.expect("JSON body"))
    }

    /// `data` of a successful GraphQL request; panics with the errors otherwise.
    pub async fn query_ok(&self, query: &str, variables: Value) -> Value {
        let (status, body) = self.graphql(query, variables).await;
        assert!(
            status == 200 && body.get("errors").is_none(),
            "status {status}: {body:#}"
        );
        body["data"].clone()
    }

    /// The `extensions.code` of the first error of a GraphQL request.
    pub async fn error_code(&self, query: &str, variables: Value) -> (u16, String) {
        let (status, body) = self.graphql(query, variables).await;
        let code = body["errors"][0]["extensions"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("no error code in {body:#}"));
        (status, code.to_string())
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.expect("request sent")
    }

    /// The value of a metric on /metrics (one without labels).
    pub async fn metric(&self, name: &str) -> f64 {
        let metrics = self.get("/metrics").await.text().await.unwrap();
        metrics
            .lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
            .unwrap_or_else(|| panic!("no {name} in {metrics}"))
            .parse()
            .unwrap()
    }

    /// Number of SQL statements the app has run so far.
    pub fn statements(&self) -> u64 {
        self.db().stats().statements()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.server.abort();
        self.state.db.close();
        if let Some((admin_url, name)) = self.postgres_database.take() {
            // Drop runs inside the test's runtime: drop the database from a thread of its own.
            let _ = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                runtime.block_on(postgres::drop_database(&admin_url, &name));
            })
            .join();
        }
    }
}

pub mod postgres {
    use super::*;
    use tokio_postgres::NoTls;

    /// Serializes template creation across test processes.
    const TEMPLATE_LOCK: i64 = 7_262_001;

    fn with_database(url: &str, name: &str) -> String {
        let mut parsed = url::Url::parse(url).expect("TEST_DATABASE_URL is a URL");
        parsed.set_path(&format!("/{name}"));
        parsed.to_string()
    }

    async fn connect(url: &str) -> tokio_postgres::Client {
        let (client, connection) = tokio_postgres::connect(url, NoTls)
            .await
            .expect("PostgreSQL at TEST_DATABASE_URL answers");
        tokio::spawn(async move {
            let _ = connection.await;
        });
        client
    }

    /// The template's name changes whenever a migration changes, so a stale template is never used.
    fn template_name() -> String {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/postgres");
        let mut entries: Vec<_> = walk(&root);
        entries.sort();
        for path in entries {
            path.display().to_string().hash(&mut hasher);
            std::fs::read(&path).unwrap().hash(&mut hasher);
        }
        format!("cinema_tpl_{:016x}", hasher.finish())
    }

    fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                files.extend(walk(&path))
            } else {
                files.push(path)
            }
        }
        files
    }

    /// Creates an empty, migrated database for one test; returns (its URL, the admin URL, its name).
    pub async fn fresh_database() -> (String, String, String) {
        let admin_url = std::env::var("TEST_DATABASE_URL").expect("TEST_DATABASE_URL");
        let admin = connect(&admin_url).await;
        let template = template_name();
        admin
            .execute("SELECT pg_advisory_lock($1)", &[&TEMPLATE_LOCK])
            .await
            .unwrap();
        let exists = admin
            .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&template])
            .await
            .unwrap()
            .is_some();
        if !exists {
            admin
                .batch_execute(&format!("CREATE DATABASE {template}"))
                .await
                .unwrap();
            let db = Db::connect(
                &cinema::db::DatabaseUrl::parse(&with_database(&admin_url, &template)).unwrap(),
                &PoolOptions {
                    max_size: 1,
                    ..PoolOptions::default()
                },
            )
            .unwrap();
            cinema::db::migrate::run_pending(&db).await.expect("template migrates");
            db.close();
            drop(db);
        }
        let name = format!("cinema_test_{}", uuid::Uuid::new_v4().simple());
        let mut attempt = 0;
        loop {
            // The template's last connection may still be closing: retry briefly.
            match admin
                .batch_execute(&format!("CREATE DATABASE {name} TEMPLATE {template}"))
                .await
            {
                Ok(()) => break,
                Err(error) if attempt < 50 => {
                    attempt += 1;
                    let _ = error;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(error) => panic!("cannot copy the template database: {error}"),
            }
        }
        admin
            .execute("SELECT pg_advisory_unlock($1)", &[&TEMPLATE_LOCK])
            .await
            .unwrap();
        (with_database(&admin_url, &name), admin_url, name)
    }

    /// Creates an empty database, not migrated (a first deployment's); returns (its URL, the admin URL, its
    /// name).
    pub async fn empty_database() -> (String, String, String) {
        let admin_url = std::env::var("TEST_DATABASE_URL").expect("TEST_DATABASE_URL");
        let admin = connect(&admin_url).await;
        let name = format!("cinema_test_{}", uuid::Uuid::new_v4().simple());
        admin.batch_execute(&format!("CREATE DATABASE {name}")).await.unwrap();
        (with_database(&admin_url, &name), admin_url, name)
    }

    pub async fn drop_database(admin_url: &str, name: &str) {
        let admin = connect(admin_url).await;
        let _ = admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await;
    }
}

/// Emails as a person would read them: quoted-printable soft breaks joined and `=XX` escapes decoded.
pub fn decode_mail(raw: &str) -> String {
    let joined = raw.replace("=\r\n", "").replace("=\n", "");
    let mut out = Vec::with_capacity(joined.len());
    let bytes = joined.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'='
            && i + 2 < bytes.len()
            && let Some(byte) = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).to_string()
}

/// The token of the first `?token=` link in an email.
pub fn token_in(mail: &str) -> String {
    let text = decode_mail(mail);
    let start = text.find("token=").unwrap_or_else(|| panic!("no link in {text}")) + "token=".len();
    text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect()
}

pub const PASSWORD: &str = "Str0ng!pass";

/// Fields of a user to set in tests; `None` leaves a field as it is.
#[derive(Default, diesel::AsChangeset)]
#[diesel(table_name = cinema::db::schema::users)]
pub struct UserPatch {
    pub role: Option<cinema::db::Role>,
    pub email_verified: Option<bool>,
}

impl TestApp {
    /// POSTs JSON to a REST path, with an optional bearer token.
    pub async fn post_json(&self, path: &str, body: Value, token: Option<&str>) -> (u16, Value) {
        let mut request = self.client.post(self.url(path)).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("request sent");
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (
            status,
            if text.is_empty() {
                Value::Null
            } else {
                serde_json::from_str(&text).unwrap_or(Value::String(text))
            },
        )
    }

    /// The emails in the outbox folder sent to `to`, oldest first (as written by the worker).
    pub fn outbox(&self, to: &str) -> Vec<String> {
        let dir = self.settings().mail.outbox_dir.clone();
        let mut mails: Vec<(std::time::SystemTime, String)> = std::fs::read_dir(&dir)
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok())
                    .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
                    .filter_map(|e| {
                        let text = std::fs::read_to_string(e.path()).ok()?;
                        let modified = e.metadata().ok()?.modified().ok()?;
                        Some((modified, text))
                    })
                    .filter(|(_, text)| text.contains(&format!("To: {to}")))
                    .collect()
            })
            .unwrap_or_default();
        mails.sort_by_key(|(modified, _)| *modified);
        mails.into_iter().map(|(_, text)| text).collect()
    }

    /// Waits (up to 10 s) until `count` emails to `to` whose subject contains `subject` are in the outbox.
    pub async fn wait_for_mail(&self, to: &str, subject: &str, count: usize) -> Vec<String> {
        for _ in 0..200 {
            let mails: Vec<String> = self
                .outbox(to)
                .into_iter()
                .filter(|m| decode_mail(m).contains(subject))
                .collect();
            if mails.len() >= count {
                return mails;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no {count} email(s) {subject:?} to {to}; outbox: {:?}", self.outbox(to));
    }

    /// Registers and activates `email` through the API; returns its tokens after logging in.
    pub async fn signed_in_user(&self, email: &str) -> Value {
        let (status, body) = self
            .post_json(
                "/api/v1/auth/register",
                json!({ "email": email, "password": PASSWORD }),
                None,
            )
            .await;
        assert_eq!(status, 201, "{body}");
        let mail = self.wait_for_mail(email, "Activate", 1).await;
        let (status, body) = self
            .post_json("/api/v1/auth/activate", json!({ "token": token_in(&mail[0]) }), None)
            .await;
        assert_eq!(status, 204, "{body}");
        self.login(email, PASSWORD).await
    }

    /// Like `signed_in_user` for apps without a worker: the activation email is never sent, so the account is
    /// activated straight in the database.
    pub async fn signed_in_user_without_worker(&self, email: &str) -> Value {
        let (status, body) = self
            .post_json(
                "/api/v1/auth/register",
                json!({ "email": email, "password": PASSWORD }),
                None,
            )
            .await;
        assert_eq!(status, 201, "{body}");
        self.patch_user(
            email,
            UserPatch {
                email_verified: Some(true),
                ..UserPatch::default()
            },
        )
        .await;
        self.login(email, PASSWORD).await
    }

    /// Changes an account straight in the database (what admins do through the API is tested separately).
    pub async fn patch_user(&self, email: &str, patch: UserPatch) {
        use cinema::db::schema::users;
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        let mut conn = self.conn().await;
        let updated = cinema::per_backend!(&mut conn, |c| {
            diesel::update(users::table.filter(users::email.eq(email)))
                .set(&patch)
                .execute(c)
                .await
        });
        assert_eq!(updated, Ok(1));
    }

    pub async fn login(&self, email: &str, password: &str) -> Value {
        let (status, body) = self
            .post_json(
                "/api/v1/auth/login",
                json!({ "email": email, "password": password }),
                None,
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body
    }

    pub async fn set_role(&self, email: &str, role: cinema::db::Role) {
        self.patch_user(
            email,
            UserPatch {
                role: Some(role),
                ..UserPatch::default()
            },
        )
        .await;
    }

    /// POSTs a GraphQL request with a bearer token.
    pub async fn graphql_as(&self, token: &str, query: &str, variables: Value) -> (u16, Value) {
        let (status, _, body) = self.graphql_request(Some(token), query, variables).await;
        (status, body)
    }
}

/// The first `n` movies' names of a `movies` connection's nodes.
pub fn names(connection: &Value) -> Vec<String> {
    connection["nodes"]
        .as_array()
        .unwrap_or_else(|| panic!("no nodes in {connection:#}"))
        .iter()
        .map(|m| m["name"].as_str().unwrap().to_string())
        .collect()
}

/// The data of a GraphQL request as `token`'s user that must succeed.
pub async fn ok(app: &TestApp, token: &str, query: &str, variables: Value) -> Value {
    let (status, body) = app.graphql_as(token, query, variables).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("errors").is_none(), "{query}: {body}");
    body["data"].clone()
}

/// The first error of a request that must fail, with nothing in `data`.
pub async fn refused(app: &TestApp, token: Option<&str>, query: &str, variables: Value) -> Value {
    let body = match token {
        Some(token) => app.graphql_as(token, query, variables).await.1,
        None => app.graphql(query, variables).await.1,
    };
    assert!(body["errors"].is_array(), "{query} must fail: {body}");
    assert!(body["data"].is_null(), "{body}");
    body["errors"][0].clone()
}

/// Every field of the mutation root in the committed `schema.graphql`, each as its one-line definition (name,
/// arguments — which may span lines — type and directives), descriptions left out. Tests that hold a rule for
/// every mutation walk these.
pub fn mutation_definitions() -> Vec<String> {
    let sdl = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql")).unwrap();
    let root = &sdl[sdl.find("type MutationRoot {").expect("the mutation root")..];
    let root = &root[..root.find("\n}").unwrap()];
    let mut fields = Vec::new();
    let mut depth = 0;
    let mut current = String::new();
    let mut in_description = false;
    for line in root.lines().skip(1) {
        let trimmed = line.trim();
        if trimmed.starts_with("\"\"\"") {
            if !(trimmed.len() > 3 && trimmed.ends_with("\"\"\"")) {
                in_description = !in_description;
            }
            continue;
        }
        if in_description || trimmed.is_empty() {
            continue;
        }
        current.push_str(trimmed);
        current.push(' ');
        depth += trimmed.matches('(').count() as i32 - trimmed.matches(')').count() as i32;
        if depth == 0 {
            fields.push(std::mem::take(&mut current));
        }
    }
    fields
}
