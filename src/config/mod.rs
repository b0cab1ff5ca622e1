//! Settings from environment variables (and an optional `.env`), with safe defaults for the embedded mode and
//! refusals for unsafe production settings. Every variable is listed in README.md and `.env.example`.
//!
//! Each section of the settings is read by a function of its own (`DatabaseSettings::read`, …) through one typed
//! helper, `vars.get::<T>("NAME", default)` (see `vars.rs`), so a refusal always names the variable at fault.

mod vars;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::db::DatabaseUrl;
use vars::{BytesOrOff, Days, Millis, Secs, Vars, var_enum};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppEnv {
    Development,
    Production,
}

var_enum!(AppEnv {
    Development => ["development", "dev"],
    Production => ["production", "prod"],
});

/// Who may read the REST documentation (`/api/docs`, `/api/openapi.json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocsAccess {
    Public,
    Authenticated,
    Admin,
    Off,
}

var_enum!(DocsAccess {
    Public => ["public"],
    Authenticated => ["authenticated"],
    Admin => ["admin"],
    Off => ["off"],
});

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

var_enum!(LogFormat {
    Text => ["text"],
    Json => ["json"],
});

#[derive(Debug, Clone)]
pub struct Settings {
    pub app_env: AppEnv,
    /// Where the embedded mode keeps its files (database, outbox, uploads, development secret).
    pub var_dir: PathBuf,
    pub database: DatabaseSettings,
    pub http: HttpSettings,
    pub docs: DocsSettings,
    pub graphql: GraphqlLimits,
    pub auth: AuthSettings,
    pub mail: MailSettings,
    pub storage: StorageSettings,
    /// Largest avatar accepted, in bytes.
    pub avatar_max_bytes: usize,
    /// Comments and replies one user may post per minute (B10; spam and table growth, H2).
    pub comments_per_minute: u32,
    /// Orders one user may have waiting for payment at once (MAX_PENDING_ORDERS, 5; issue 22).
    pub max_pending_orders: u32,
    pub jobs: JobSettings,
    pub payments: PaymentSettings,
    /// Seed the demo catalog into an empty database at start-up.
    pub seed_demo: bool,
    /// Where every instance keeps the counts of rate limits and budgets (REDIS_URL); None: each instance
    /// counts alone, right for one instance.
    pub shared_limits: Option<SharedLimitsSettings>,
    pub log_format: LogFormat,
    /// Serve Prometheus metrics at /metrics.
    pub metrics: bool,
    /// When set, /metrics answers only requests with `Authorization: Bearer <this token>` (a scraper's).
    pub metrics_token: Option<String>,
}

#[derive(Clone)]
pub struct SharedLimitsSettings {
    /// `redis://[:password@]host:port[/db]` (REDIS_URL).
    pub redis_url: String,
    /// What the keys start with (REDIS_KEY_PREFIX, `cinema:`): deployments sharing one Redis each take their
    /// own.
    pub key_prefix: String,
}

impl std::fmt::Debug for SharedLimitsSettings {
    /// The URL may hold a password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedLimitsSettings")
            .field("redis_url", &crate::util::Redacted)
            .field("key_prefix", &self.key_prefix)
            .finish()
    }
}

impl SharedLimitsSettings {
    fn read(vars: &Vars) -> Result<Option<SharedLimitsSettings>, ConfigError> {
        let Some(redis_url) = vars.text("REDIS_URL") else {
            return Ok(None);
        };
        if !url::Url::parse(&redis_url).is_ok_and(|url| matches!(url.scheme(), "redis" | "rediss" | "redis+unix")) {
            return Err(ConfigError(
                "REDIS_URL is not a Redis URL (redis://host:6379, rediss:// for TLS)".into(),
            ));
        }
        Ok(Some(SharedLimitsSettings {
            redis_url,
            key_prefix: vars.text("REDIS_KEY_PREFIX").unwrap_or_else(|| "cinema:".into()),
        }))
    }
}

#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    pub url: DatabaseUrl,
    pub pool_size: usize,
}

#[derive(Debug, Clone)]
pub struct HttpSettings {
    pub bind_addr: SocketAddr,
    /// This server's own address, as clients reach it (links to uploaded files).
    pub public_url: String,
    /// The single-page app's address (links in emails, the checkout's return): by default this server, which
    /// serves the storefront.
    pub frontend_url: String,
    /// Serve the storefront at `/` (`STOREFRONT`, on by default; off when another front end is deployed).
    pub storefront: bool,
    pub cors_origins: Vec<String>,
    pub request_body_limit: usize,
    pub request_timeout: Duration,
    /// A connection that has not sent a whole request header within this is closed (H3).
    pub header_read_timeout: Duration,
    /// Connections open at once; past it, new ones wait in the listen backlog (H3).
    pub max_connections: usize,
    /// How many proxies of the deployment's own stand in front of the server and append to X-Forwarded-For;
    /// the client address is the entry the outermost of them appended (0: the socket peer, X-Forwarded-For
    /// ignored).
    pub trusted_proxy_hops: usize,
}

#[derive(Debug, Clone)]
pub struct DocsSettings {
    pub access: DocsAccess,
    pub graphiql: bool,
    /// GraphiQL sits behind the same gate as the REST docs (`GRAPHIQL=docs`).
    pub graphiql_gated: bool,
}

/// Limits on GraphQL documents (G3).
#[derive(Debug, Clone)]
pub struct GraphqlLimits {
    pub max_depth: usize,
    pub max_complexity: usize,
    pub max_aliases: usize,
    /// Field selections per document, fragments counted where spread.
    pub max_fields: usize,
    /// Bytes of query text.
    pub max_query_bytes: usize,
    /// Bytes of a JSON request body (query text, variables, extensions); uploads have REQUEST_BODY_LIMIT (H1).
    pub max_body_bytes: usize,
    /// Requests per client address per minute on /graphql (429 past it).
    pub requests_per_minute: u32,
    pub introspection: bool,
    /// Bytes the response cache of public reads may hold (answers and their keys); 0 turns it off.
    pub response_cache_bytes: u64,
    /// Bytes of query text kept for automatic persisted queries; 0 turns them off.
    pub persisted_query_bytes: u64,
    /// Bytes of parsed documents kept (texts and syntax trees, estimated); 0 turns the keeping off.
    pub document_cache_bytes: u64,
    /// What one user may write per minute, by budget (every mutation spends one).
    pub write_budgets: WriteBudgetLimits,
}

/// Mutations one user may make per minute, by the budget each spends (`graphql::budgets`, issue 22).
#[derive(Debug, Clone, Copy)]
pub struct WriteBudgetLimits {
    /// Favorites, reactions, ratings, comments, likes, cart and profile changes (WRITES_PER_MINUTE, 60).
    pub writes_per_minute: u32,
    /// Placing and canceling orders, asking for refunds (ORDER_WRITES_PER_MINUTE, 10).
    pub order_writes_per_minute: u32,
    /// Opening checkouts (CHECKOUTS_PER_MINUTE, 6).
    pub checkouts_per_minute: u32,
    /// Moderators' and admins' changes (STAFF_WRITES_PER_MINUTE, 300).
    pub staff_writes_per_minute: u32,
}

#[derive(Clone)]
pub struct AuthSettings {
    pub jwt_secret: String,
    /// The secret before the last rotation (JWT_PREVIOUS_SECRET): tokens it signed are still accepted, none
    /// is signed with it, so that rotating JWT_SECRET signs nobody out (docs/operations.md).
    pub jwt_previous_secret: Option<String>,
    /// bcrypt work factor for password hashes (tests lower it).
    pub bcrypt_cost: u32,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    /// How long an instance trusts its cached view of a session. A logout elsewhere reaches it at once with its
    /// notice on `cinema_sessions`; this bounds the delay only while the instance's listener is down.
    pub session_cache_ttl: Duration,
    /// No session lives longer than this from its sign-in, however often it is refreshed (H6).
    pub session_max_age: Duration,
    /// A refresh token presented again this soon after its rotation is a client racing itself (two tabs of
    /// one app): it gets a fresh pair in the same session instead of the session's revocation (H6).
    pub refresh_reuse_window: Duration,
    /// Attempts per client address and per account within `rate_limit_window`.
    pub rate_limit_per_client: u32,
    pub rate_limit_per_account: u32,
    pub rate_limit_window: Duration,
    /// Account emails anyone can trigger (activation and reset links, "you already have an account") that one
    /// address receives per hour at most (H8).
    pub account_emails_per_hour: u32,
}

crate::redacted_debug!(AuthSettings {
    shown: [
        bcrypt_cost,
        access_token_ttl,
        refresh_token_ttl,
        session_cache_ttl,
        session_max_age,
        refresh_reuse_window,
        rate_limit_per_client,
        rate_limit_per_account,
        rate_limit_window,
        account_emails_per_hour,
    ],
    secret: [jwt_secret, jwt_previous_secret],
});

/// Where uploaded files go (G8).
#[derive(Clone)]
pub enum StorageSettings {
    Local {
        dir: PathBuf,
    },
    S3 {
        bucket: String,
        endpoint: Option<String>,
        region: String,
        access_key_id: Option<String>,
        secret_access_key: Option<String>,
    },
}

impl std::fmt::Debug for StorageSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StorageSettings::Local { dir } => f.debug_struct("Local").field("dir", dir).finish(),
            StorageSettings::S3 {
                bucket,
                endpoint,
                region,
                access_key_id,
                secret_access_key,
            } => f
                .debug_struct("S3")
                .field("bucket", bucket)
                .field("endpoint", endpoint)
                .field("region", region)
                .field("access_key_id", access_key_id)
                .field(
                    "secret_access_key",
                    &secret_access_key.as_ref().map(|_| crate::util::Redacted),
                )
                .finish(),
        }
    }
}

#[derive(Clone)]
pub struct MailSettings {
    /// `smtp://host:port` (or `smtps://`, with credentials as `smtp://user:pass@host`); none writes .eml files.
    pub smtp_url: Option<String>,
    pub outbox_dir: PathBuf,
    pub from: String,
}

impl std::fmt::Debug for MailSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // An SMTP URL may carry a user and password: show where it points, not who signs in.
        let smtp = self.smtp_url.as_deref().map(|url| match url::Url::parse(url) {
            Ok(parsed) => format!(
                "{}://{}:{}",
                parsed.scheme(),
                parsed.host_str().unwrap_or_default(),
                parsed.port().unwrap_or_default()
            ),
            Err(_) => "<unreadable>".to_string(),
        });
        f.debug_struct("MailSettings")
            .field("smtp", &smtp)
            .field("outbox_dir", &self.outbox_dir)
            .field("from", &self.from)
            .finish()
    }
}

#[derive(Debug, Clone)]
pub struct JobSettings {
    /// Run the background worker (emails, periodic cleanup) inside `cinema serve`.
    pub run_worker: bool,
    /// How often an idle worker looks for due jobs.
    pub poll: Duration,
    /// First retry delay of a failed job; each further retry doubles it (capped at one hour).
    pub backoff_base: Duration,
    /// Pending orders older than this are canceled by the hourly job (F3; ABANDONED_ORDER_HOURS).
    pub abandoned_order_after: chrono::Duration,
}

#[derive(Clone)]
pub struct PaymentSettings {
    /// None runs payments in mock mode.
    pub stripe_secret_key: Option<String>,
    /// The webhook endpoint's signing secret (STRIPE_WEBHOOK_SECRET): required with a Stripe key; in mock mode
    /// a development secret kept under `VAR_DIR`, with which the mock signs the events it delivers (E7).
    pub stripe_webhook_secret: String,
    /// Where the Stripe client sends its calls (STRIPE_API_BASE): Stripe's API unless set; tests point it at
    /// their fake Stripe on loopback.
    pub stripe_api_base: Option<String>,
    /// One attempt of a call to Stripe gives up after this (STRIPE_TIMEOUT_MS, default 8000; E8).
    pub stripe_timeout: Duration,
    /// Attempts per call to Stripe, the first included (STRIPE_MAX_ATTEMPTS, default 3, 1 to 5; E8). Every
    /// attempt carries the same idempotency key, so a retry never charges or refunds twice.
    pub stripe_max_attempts: u32,
    /// How long a checkout stays open (CHECKOUT_LIFETIME_MINUTES, default 60; Stripe accepts 30 to 1440).
    pub checkout_lifetime: chrono::Duration,
    /// Checkouts one order may open in all (MAX_CHECKOUT_ATTEMPTS, 10): each costs calls to the provider.
    pub max_checkout_attempts: u32,
    /// How long after a declined refund its payer may ask again (REFUND_RETRY_AFTER_HOURS, 24).
    pub refund_retry_after: chrono::Duration,
    /// Mock mode: where the mock delivers its signed events (MOCK_WEBHOOK_URL, an API instance's base URL).
    /// Unset, an API instance delivers to itself; `cinema worker`, which serves no webhook, needs it to
    /// confirm the refunds it makes.
    pub mock_webhook_url: Option<String>,
}

impl PaymentSettings {
    fn read(vars: &Vars, var_dir: &Path) -> Result<PaymentSettings, ConfigError> {
        let stripe_secret_key = vars.text("STRIPE_SECRET_KEY");
        let stripe_webhook_secret = match (vars.text("STRIPE_WEBHOOK_SECRET"), &stripe_secret_key) {
            (Some(secret), _) => secret,
            (None, Some(_)) => {
                return Err(ConfigError(
                    "STRIPE_WEBHOOK_SECRET must be set with STRIPE_SECRET_KEY (the endpoint's whsec_… signing secret)"
                        .into(),
                ));
            }
            (None, None) => dev_secret(&var_dir.join("stripe_webhook_secret")).map_err(|e| {
                ConfigError(format!(
                    "could not keep a development webhook secret under {}: {e}",
                    var_dir.display()
                ))
            })?,
        };
        let stripe_api_base = vars.text("STRIPE_API_BASE");
        if let Some(base) = &stripe_api_base
            && url::Url::parse(base).is_err()
        {
            return Err(ConfigError(format!("STRIPE_API_BASE is not a URL: {base}")));
        }
        let mock_webhook_url = vars.text("MOCK_WEBHOOK_URL");
        if let Some(base) = &mock_webhook_url
            && !url::Url::parse(base).is_ok_and(|url| matches!(url.scheme(), "http" | "https") && url.has_host())
        {
            return Err(ConfigError(format!(
                "MOCK_WEBHOOK_URL is not an http(s) URL: {base} (an API instance, e.g. http://api:8080)"
            )));
        }
        let stripe_max_attempts: u32 = vars.get("STRIPE_MAX_ATTEMPTS", 3u32)?;
        if !(1..=5).contains(&stripe_max_attempts) {
            return Err(ConfigError("STRIPE_MAX_ATTEMPTS must be between 1 and 5".into()));
        }
        let minutes: u32 = vars.get("CHECKOUT_LIFETIME_MINUTES", 60u32)?;
        if !(30..=1440).contains(&minutes) {
            return Err(ConfigError(
                "CHECKOUT_LIFETIME_MINUTES must be between 30 and 1440 (what Stripe accepts)".into(),
            ));
        }
        Ok(PaymentSettings {
            stripe_secret_key,
            stripe_webhook_secret,
            stripe_api_base,
            stripe_timeout: vars.get("STRIPE_TIMEOUT_MS", Millis(Duration::from_millis(8_000)))?.0,
            stripe_max_attempts,
            checkout_lifetime: chrono::Duration::minutes(i64::from(minutes)),
            max_checkout_attempts: vars.get("MAX_CHECKOUT_ATTEMPTS", 10u32)?.max(1),
            refund_retry_after: chrono::Duration::hours(i64::from(vars.get("REFUND_RETRY_AFTER_HOURS", 24u32)?)),
            mock_webhook_url,
        })
    }
}

impl std::fmt::Debug for PaymentSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let key = self.stripe_secret_key.as_ref().map(|_| crate::util::Redacted);
        f.debug_struct("PaymentSettings")
            .field("stripe_secret_key", &key)
            .field("stripe_webhook_secret", &crate::util::Redacted)
            .field("stripe_api_base", &self.stripe_api_base)
            .field("stripe_timeout", &self.stripe_timeout)
            .field("stripe_max_attempts", &self.stripe_max_attempts)
            .field("checkout_lifetime", &self.checkout_lifetime)
            .finish()
    }
}

/// Secrets that appear in examples and must never guard a production server.
const KNOWN_DEFAULT_SECRETS: &[&str] = &[
    "change-me",
    "changeme",
    "secret",
    "dev-secret",
    "please-change-me",
    // The fallback in compose.yaml's history: public, so never a production secret.
    "compose-local-only-secret-0123456789abcdef",
];
/// The lowest bcrypt cost production accepts (OWASP's floor; each step doubles an attacker's work).
const MIN_PRODUCTION_BCRYPT_COST: u32 = 10;
const MIN_SECRET_LEN: usize = 32;

/// A reason the server refuses its configuration, naming the variable to change.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

impl Settings {
    /// Reads `.env` (if present) and the process environment.
    pub fn from_env() -> Result<Settings, ConfigError> {
        let _ = dotenvy::dotenv();
        Settings::from_vars(std::env::vars())
    }

    /// Builds settings from name/value pairs; the single place where variables are interpreted.
    pub fn from_vars(vars: impl IntoIterator<Item = (String, String)>) -> Result<Settings, ConfigError> {
        let vars = Vars::new(vars);
        let app_env = vars.get("APP_ENV", AppEnv::Development)?;
        let production = app_env == AppEnv::Production;
        let var_dir = PathBuf::from(vars.text("VAR_DIR").unwrap_or_else(|| "var".into()));
        let settings = Settings {
            database: DatabaseSettings::read(&vars, &var_dir)?,
            http: HttpSettings::read(&vars)?,
            docs: DocsSettings::read(&vars, production)?,
            graphql: GraphqlLimits::read(&vars, production)?,
            auth: AuthSettings::read(&vars, production, &var_dir)?,
            mail: MailSettings::read(&vars, &var_dir)?,
            storage: StorageSettings::read(&vars, &var_dir)?,
            avatar_max_bytes: vars.get("AVATAR_MAX_BYTES", 2 * 1024 * 1024)?,
            comments_per_minute: vars.get("COMMENTS_PER_MINUTE", 10u32)?,
            max_pending_orders: vars.get("MAX_PENDING_ORDERS", 5u32)?.max(1),
            jobs: JobSettings {
                run_worker: vars.get("RUN_WORKER", true)?,
                poll: vars.get("WORKER_POLL_MS", Millis(Duration::from_secs(1)))?.0,
                backoff_base: vars.get("JOB_BACKOFF_BASE_MS", Millis(Duration::from_secs(5)))?.0,
                abandoned_order_after: abandoned_order_after(&vars)?,
            },
            payments: PaymentSettings::read(&vars, &var_dir)?,
            seed_demo: vars.get("SEED_DEMO", !production)?,
            shared_limits: SharedLimitsSettings::read(&vars)?,
            log_format: vars.get("LOG_FORMAT", if production { LogFormat::Json } else { LogFormat::Text })?,
            metrics: vars.get("METRICS", !production)?,
            metrics_token: vars.text("METRICS_TOKEN"),
            app_env,
            var_dir,
        };
        // A payOrder that waits on every attempt of a slow Stripe must still answer before the request times
        // out, or the client sees a timeout for a checkout that may have opened.
        let worst = settings.payments.stripe_timeout * settings.payments.stripe_max_attempts;
        if worst >= settings.http.request_timeout {
            return Err(ConfigError(format!(
                "STRIPE_TIMEOUT_MS × STRIPE_MAX_ATTEMPTS ({} ms) must stay under REQUEST_TIMEOUT_SECS ({} s)",
                worst.as_millis(),
                settings.http.request_timeout.as_secs()
            )));
        }
        if production {
            settings.refuse_unsafe_production(&vars)?;
        }
        Ok(settings)
    }

    /// Production refuses what is only safe on a developer's machine, naming the setting to change.
    fn refuse_unsafe_production(&self, vars: &Vars) -> Result<(), ConfigError> {
        let secret = self.auth.jwt_secret.as_str();
        if secret.len() < MIN_SECRET_LEN || KNOWN_DEFAULT_SECRETS.iter().any(|d| secret.eq_ignore_ascii_case(d)) {
            return Err(ConfigError(format!(
                "JWT_SECRET is a default or shorter than {MIN_SECRET_LEN} characters; set a long random value \
                 (e.g. `openssl rand -hex 32`)"
            )));
        }
        if self.payments.stripe_secret_key.is_none() && !vars.allows("ALLOW_MOCK_PAYMENTS_IN_PRODUCTION") {
            return Err(ConfigError(
                "no STRIPE_SECRET_KEY: production would take mock payments; set STRIPE_SECRET_KEY \
                 (or ALLOW_MOCK_PAYMENTS_IN_PRODUCTION=true for a staging server)"
                    .into(),
            ));
        }
        let docs = &self.docs;
        let graphiql_exposed = docs.graphiql && (!docs.graphiql_gated || docs.access == DocsAccess::Public);
        if graphiql_exposed && !vars.allows("ALLOW_GRAPHIQL_IN_PRODUCTION") {
            return Err(ConfigError(
                "GRAPHIQL=on in production; set GRAPHIQL=off, or GRAPHIQL=docs with DOCS_ACCESS=authenticated|admin \
                 (or ALLOW_GRAPHIQL_IN_PRODUCTION=true)"
                    .into(),
            ));
        }
        if docs.access == DocsAccess::Public && !vars.allows("ALLOW_PUBLIC_DOCS_IN_PRODUCTION") {
            return Err(ConfigError(
                "DOCS_ACCESS=public in production; use authenticated, admin or off \
                 (or ALLOW_PUBLIC_DOCS_IN_PRODUCTION=true)"
                    .into(),
            ));
        }
        if self.http.cors_origins.iter().any(|o| o == "*") {
            return Err(ConfigError(
                "CORS_ORIGINS=* in production; list the front-end origins".into(),
            ));
        }
        if self.auth.bcrypt_cost < MIN_PRODUCTION_BCRYPT_COST {
            return Err(ConfigError(format!(
                "BCRYPT_COST={} in production; use at least {MIN_PRODUCTION_BCRYPT_COST}",
                self.auth.bcrypt_cost
            )));
        }
        if self.mail.smtp_url.is_none() && !vars.allows("ALLOW_OUTBOX_IN_PRODUCTION") {
            return Err(ConfigError(
                "no SMTP_URL in production: emails (with their reset links) would be written to disk; set SMTP_URL \
                 (or ALLOW_OUTBOX_IN_PRODUCTION=true)"
                    .into(),
            ));
        }
        for (name, value) in [
            ("PUBLIC_URL", &self.http.public_url),
            ("FRONTEND_URL", &self.http.frontend_url),
        ] {
            if plain_http_off_this_machine(value) && !vars.allows("ALLOW_HTTP_IN_PRODUCTION") {
                return Err(ConfigError(format!(
                    "{name} is plain http in production: tokens and links would travel unencrypted; use https \
                     (or ALLOW_HTTP_IN_PRODUCTION=true behind a TLS-terminating proxy that rewrites it)"
                )));
            }
        }
        if self.graphql.introspection && !vars.allows("ALLOW_INTROSPECTION_IN_PRODUCTION") {
            return Err(ConfigError(
                "GRAPHQL_INTROSPECTION=on in production; turn it off (or ALLOW_INTROSPECTION_IN_PRODUCTION=true)"
                    .into(),
            ));
        }
        if self.metrics && self.metrics_token.is_none() {
            return Err(ConfigError(
                "METRICS=on in production without METRICS_TOKEN: /metrics would be public; set METRICS_TOKEN \
                 (the bearer token your scraper sends)"
                    .into(),
            ));
        }
        Ok(())
    }
}

/// An `http://` URL whose host is not this machine.
/// ABANDONED_ORDER_HOURS (default 24, at least 1): how long a pending order waits for payment before the
/// hourly job cancels it (F3).
fn abandoned_order_after(vars: &Vars) -> Result<chrono::Duration, ConfigError> {
    let hours: u32 = vars.get("ABANDONED_ORDER_HOURS", 24u32)?;
    if hours == 0 {
        return Err(ConfigError("ABANDONED_ORDER_HOURS must be at least 1".into()));
    }
    Ok(chrono::Duration::hours(i64::from(hours)))
}

fn plain_http_off_this_machine(url: &str) -> bool {
    let Ok(parsed) = url::Url::parse(url) else {
        return false;
    };
    let loopback = match parsed.host() {
        Some(url::Host::Domain(name)) => name == "localhost" || name.ends_with(".localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    parsed.scheme() == "http" && !loopback
}

impl DatabaseSettings {
    fn read(vars: &Vars, var_dir: &Path) -> Result<DatabaseSettings, ConfigError> {
        let url = vars
            .text("DATABASE_URL")
            .unwrap_or_else(|| format!("sqlite://{}/cinema.db", var_dir.display()));
        let url = DatabaseUrl::parse(&url).map_err(ConfigError)?;
        // SQLite runs each statement on a blocking thread with its own page cache per connection: past 8
        // connections it gains nothing on two cores and costs memory (benches/RESULTS.md, 2026-12-01).
        let default_pool = match url.backend() {
            crate::db::Backend::Sqlite => 8,
            crate::db::Backend::Postgres => 16,
        };
        Ok(DatabaseSettings {
            url,
            pool_size: vars.get("DB_POOL_SIZE", default_pool)?,
        })
    }
}

impl HttpSettings {
    fn read(vars: &Vars) -> Result<HttpSettings, ConfigError> {
        let bind_addr = vars
            .text("BIND_ADDR")
            .unwrap_or_else(|| "127.0.0.1:8080".into())
            .parse::<SocketAddr>()
            .map_err(|e| ConfigError(format!("BIND_ADDR must be host:port, e.g. 127.0.0.1:8080 ({e})")))?;
        let public_url = vars.text("PUBLIC_URL").unwrap_or_else(|| format!("http://{bind_addr}"));
        let frontend_url = vars.text("FRONTEND_URL").unwrap_or_else(|| public_url.clone());
        for (name, value) in [("PUBLIC_URL", &public_url), ("FRONTEND_URL", &frontend_url)] {
            let parsed =
                url::Url::parse(value).map_err(|e| ConfigError(format!("{name} must be an absolute URL ({e})")))?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(ConfigError(format!("{name} must be an http or https URL")));
            }
        }
        let cors_origins: Vec<String> = vars
            .text("CORS_ORIGINS")
            .map(|v| {
                v.split(',')
                    .map(|o| o.trim().trim_end_matches('/').to_string())
                    .filter(|o| !o.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        for origin in &cors_origins {
            if origin != "*" && url::Url::parse(origin).is_err() {
                return Err(ConfigError(format!(
                    "CORS_ORIGINS entry {origin:?} is not an origin like https://app.example.com"
                )));
            }
        }
        Ok(HttpSettings {
            bind_addr,
            public_url: public_url.trim_end_matches('/').to_string(),
            frontend_url: frontend_url.trim_end_matches('/').to_string(),
            storefront: vars.get("STOREFRONT", true)?,
            cors_origins,
            // Room for an avatar upload (AVATAR_MAX_BYTES) in a multipart GraphQL request.
            request_body_limit: vars.get("REQUEST_BODY_LIMIT", 3 * 1024 * 1024)?,
            request_timeout: vars.get("REQUEST_TIMEOUT_SECS", Secs(Duration::from_secs(30)))?.0,
            header_read_timeout: vars.get("HEADER_READ_TIMEOUT_SECS", Secs(Duration::from_secs(10)))?.0,
            max_connections: vars.get("MAX_CONNECTIONS", 1024)?,
            trusted_proxy_hops: match vars.text("TRUSTED_PROXY_HOPS") {
                Some(text) => text.parse::<usize>().ok().filter(|hops| *hops <= 10).ok_or_else(|| {
                    ConfigError(format!(
                        "TRUSTED_PROXY_HOPS must be a whole number from 0 to 10 (got {text:?})"
                    ))
                })?,
                // The older switch: one proxy.
                None => usize::from(vars.get("TRUST_FORWARDED_FOR", false)?),
            },
        })
    }
}

impl DocsSettings {
    fn read(vars: &Vars, production: bool) -> Result<DocsSettings, ConfigError> {
        let access = vars.get(
            "DOCS_ACCESS",
            if production {
                DocsAccess::Off
            } else {
                DocsAccess::Public
            },
        )?;
        // GRAPHIQL=docs serves GraphiQL behind the DOCS_ACCESS gate; on and off as usual.
        let graphiql_gated = vars.text("GRAPHIQL").as_deref() == Some("docs");
        let graphiql = graphiql_gated || vars.get("GRAPHIQL", !production)?;
        Ok(DocsSettings {
            access,
            graphiql,
            graphiql_gated,
        })
    }
}

impl GraphqlLimits {
    fn read(vars: &Vars, production: bool) -> Result<GraphqlLimits, ConfigError> {
        let max_query_bytes = vars.get("GRAPHQL_MAX_QUERY_BYTES", 32 * 1024)?;
        Ok(GraphqlLimits {
            max_depth: vars.get("GRAPHQL_MAX_DEPTH", 12)?,
            max_complexity: vars.get("GRAPHQL_MAX_COMPLEXITY", 5000)?,
            max_aliases: vars.get("GRAPHQL_MAX_ALIASES", 30)?,
            max_fields: vars.get("GRAPHQL_MAX_FIELDS", 500)?,
            max_query_bytes,
            max_body_bytes: vars.get("GRAPHQL_MAX_BODY_BYTES", 64 * 1024usize)?.max(max_query_bytes),
            // Fifty a second from one address: a person searching as they type, or many behind one NAT, stay
            // well inside it; benchmarks raise it.
            requests_per_minute: vars.get("GRAPHQL_REQUESTS_PER_MINUTE", 3_000u32)?,
            // Tools want it while the API is built; a public production API need not describe itself.
            introspection: vars.get("GRAPHQL_INTROSPECTION", !production)?,
            response_cache_bytes: vars.get("RESPONSE_CACHE_BYTES", BytesOrOff(8 * 1024 * 1024))?.0,
            persisted_query_bytes: vars.get("PERSISTED_QUERY_BYTES", BytesOrOff(4 * 1024 * 1024))?.0,
            document_cache_bytes: vars.get("DOCUMENT_CACHE_BYTES", BytesOrOff(4 * 1024 * 1024))?.0,
            write_budgets: WriteBudgetLimits {
                writes_per_minute: vars.get("WRITES_PER_MINUTE", 60u32)?,
                order_writes_per_minute: vars.get("ORDER_WRITES_PER_MINUTE", 10u32)?,
                checkouts_per_minute: vars.get("CHECKOUTS_PER_MINUTE", 6u32)?,
                staff_writes_per_minute: vars.get("STAFF_WRITES_PER_MINUTE", 300u32)?,
            },
        })
    }
}

impl AuthSettings {
    fn read(vars: &Vars, production: bool, var_dir: &Path) -> Result<AuthSettings, ConfigError> {
        let jwt_secret = match vars.text("JWT_SECRET") {
            Some(secret) => secret,
            None if production => {
                return Err(ConfigError(
                    "JWT_SECRET must be set in production (at least 32 random characters)".into(),
                ));
            }
            None => dev_secret(&var_dir.join("jwt_secret")).map_err(|e| {
                ConfigError(format!(
                    "could not keep a development JWT secret under {}: {e}",
                    var_dir.display()
                ))
            })?,
        };
        let jwt_previous_secret = vars.text("JWT_PREVIOUS_SECRET");
        if jwt_previous_secret
            .as_ref()
            .is_some_and(|previous| previous.len() < MIN_SECRET_LEN)
        {
            return Err(ConfigError(format!(
                "JWT_PREVIOUS_SECRET is shorter than {MIN_SECRET_LEN} characters: it must be the JWT_SECRET that was"
            )));
        }
        Ok(AuthSettings {
            jwt_secret,
            jwt_previous_secret,
            bcrypt_cost: vars.get("BCRYPT_COST", 12u32)?.clamp(4, 31),
            access_token_ttl: vars.get("ACCESS_TOKEN_TTL_SECS", Secs(Duration::from_secs(900)))?.0,
            refresh_token_ttl: vars
                .get("REFRESH_TOKEN_TTL_DAYS", Days(Duration::from_secs(14 * 86_400)))?
                .0,
            session_cache_ttl: vars.get("SESSION_CACHE_SECS", Secs(Duration::from_secs(5)))?.0,
            session_max_age: vars
                .get("SESSION_MAX_AGE_DAYS", Days(Duration::from_secs(30 * 86_400)))?
                .0,
            refresh_reuse_window: vars.get("REFRESH_REUSE_WINDOW_SECS", Secs(Duration::from_secs(10)))?.0,
            rate_limit_per_client: vars.get("RATE_LIMIT_PER_CLIENT", 20u32)?,
            rate_limit_per_account: vars.get("RATE_LIMIT_PER_ACCOUNT", 5u32)?,
            rate_limit_window: vars.get("RATE_LIMIT_WINDOW_SECS", Secs(Duration::from_secs(60)))?.0,
            account_emails_per_hour: vars.get("ACCOUNT_EMAILS_PER_HOUR", 5u32)?,
        })
    }
}

impl MailSettings {
    fn read(vars: &Vars, var_dir: &Path) -> Result<MailSettings, ConfigError> {
        let smtp_url = vars.text("SMTP_URL");
        if let Some(url) = &smtp_url
            && !(url.starts_with("smtp://") || url.starts_with("smtps://"))
        {
            return Err(ConfigError("SMTP_URL must start with smtp:// or smtps://".into()));
        }
        let from = vars
            .text("MAIL_FROM")
            .unwrap_or_else(|| "Cinema <no-reply@cinema.localhost>".into());
        if from.parse::<lettre::message::Mailbox>().is_err() {
            return Err(ConfigError(format!(
                "MAIL_FROM is not a mailbox like \"Cinema <no-reply@example.com>\" ({from:?})"
            )));
        }
        Ok(MailSettings {
            smtp_url,
            outbox_dir: vars
                .text("MAIL_OUTBOX_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| var_dir.join("outbox")),
            from,
        })
    }
}

impl StorageSettings {
    fn read(vars: &Vars, var_dir: &Path) -> Result<StorageSettings, ConfigError> {
        let storage = match vars.text("STORAGE_URL") {
            None => StorageSettings::Local {
                dir: var_dir.join("uploads"),
            },
            Some(url) if url.starts_with("file://") => StorageSettings::Local {
                dir: PathBuf::from(&url[7..]),
            },
            Some(url) if url.starts_with("s3://") => StorageSettings::S3 {
                bucket: url[5..].trim_end_matches('/').to_string(),
                endpoint: vars.text("S3_ENDPOINT"),
                region: vars.text("S3_REGION").unwrap_or_else(|| "us-east-1".into()),
                access_key_id: vars.text("S3_ACCESS_KEY_ID").or_else(|| vars.text("AWS_ACCESS_KEY_ID")),
                secret_access_key: vars
                    .text("S3_SECRET_ACCESS_KEY")
                    .or_else(|| vars.text("AWS_SECRET_ACCESS_KEY")),
            },
            Some(other) => {
                return Err(ConfigError(format!(
                    "STORAGE_URL must be file://<folder> or s3://<bucket> (got {other:?})"
                )));
            }
        };
        if let StorageSettings::S3 { bucket, .. } = &storage
            && bucket.is_empty()
        {
            return Err(ConfigError(
                "STORAGE_URL s3:// needs a bucket name, e.g. s3://cinema-media".into(),
            ));
        }
        Ok(storage)
    }
}

/// The development JWT secret: generated once and kept in `path`, so tokens survive restarts.
fn dev_secret(path: &Path) -> std::io::Result<String> {
    if let Ok(existing) = std::fs::read_to_string(path) {
        let existing = existing.trim().to_string();
        if existing.len() >= MIN_SECRET_LEN {
            return Ok(existing);
        }
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let secret = crate::util::random_token(32);
    write_private(path, &secret)?;
    Ok(secret)
}

#[cfg(unix)]
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(contents.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    std::fs::write(path, contents)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn production(extra: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let mut all = vec![
            ("APP_ENV", "production"),
            ("DATABASE_URL", "postgres://cinema@db/cinema"),
            ("JWT_SECRET", "0123456789abcdef0123456789abcdef-long-enough"),
            ("STRIPE_SECRET_KEY", "sk_live_example"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_live_example_789"),
            ("SMTP_URL", "smtps://mail.example"),
            ("PUBLIC_URL", "https://api.example"),
        ];
        all.extend_from_slice(extra);
        // Later pairs override earlier ones, as in a real environment.
        Settings::from_vars(vars(&all))
    }

    /// Issue 23: the settings of several instances — a shared store for the limits, where a lone worker's mock
    /// delivers, the secret before a rotation — are read when right and refused by name when not, and the
    /// Redis URL (which may hold a password) never prints.
    #[test]
    fn deployment_settings_are_checked() {
        let settings = production(&[
            ("REDIS_URL", "redis://:hunter2@cache:6379/0"),
            ("MOCK_WEBHOOK_URL", "http://api:8080/"),
            ("JWT_PREVIOUS_SECRET", "the-secret-before-the-rotation-0123456"),
        ])
        .unwrap();
        let shared = settings.shared_limits.as_ref().expect("a shared store");
        assert_eq!(shared.key_prefix, "cinema:");
        assert!(!format!("{shared:?}").contains("hunter2"), "{shared:?}");
        assert_eq!(settings.payments.mock_webhook_url.as_deref(), Some("http://api:8080/"));
        assert!(settings.auth.jwt_previous_secret.is_some());
        assert!(
            production(&[]).unwrap().shared_limits.is_none(),
            "each instance alone by default"
        );
        for (name, value) in [
            ("REDIS_URL", "http://cache:6379"),
            ("REDIS_URL", "not a url"),
            ("MOCK_WEBHOOK_URL", "api:8080"),
            ("MOCK_WEBHOOK_URL", "ftp://api"),
            ("JWT_PREVIOUS_SECRET", "short"),
        ] {
            let refused = production(&[(name, value)]).unwrap_err();
            assert!(refused.0.contains(name), "{name}={value}: {refused}");
        }
    }

    #[test]
    fn development_defaults_are_embedded() {
        let dir = tempfile::tempdir().unwrap();
        let s = Settings::from_vars(vars(&[("VAR_DIR", dir.path().to_str().unwrap())])).unwrap();
        assert_eq!(s.app_env, AppEnv::Development);
        assert_eq!(s.database.url, DatabaseUrl::Sqlite(dir.path().join("cinema.db")));
        assert_eq!(s.http.bind_addr.to_string(), "127.0.0.1:8080");
        assert_eq!(s.docs.access, DocsAccess::Public);
        assert!(s.docs.graphiql && s.seed_demo);
        // The generated secret is kept, so a restart reads the same one.
        let again = Settings::from_vars(vars(&[("VAR_DIR", dir.path().to_str().unwrap())])).unwrap();
        assert_eq!(s.auth.jwt_secret, again.auth.jwt_secret);
        assert!(s.auth.jwt_secret.len() >= MIN_SECRET_LEN);
        // The mock's webhook secret too, and it is another secret.
        assert_eq!(s.payments.stripe_webhook_secret, again.payments.stripe_webhook_secret);
        assert_ne!(s.payments.stripe_webhook_secret, s.auth.jwt_secret);
    }

    #[test]
    fn production_with_safe_settings_starts() {
        let s = production(&[]).unwrap();
        assert_eq!(s.docs.access, DocsAccess::Off);
        assert!(!s.docs.graphiql && !s.seed_demo);
        assert_eq!(s.log_format, LogFormat::Json);
    }

    #[test]
    fn production_refuses_missing_or_default_secret() {
        let missing = Settings::from_vars(vars(&[("APP_ENV", "production"), ("STRIPE_SECRET_KEY", "sk")]));
        assert!(missing.unwrap_err().0.contains("JWT_SECRET"));
        let default = production(&[("JWT_SECRET", "change-me")]).unwrap_err();
        assert!(default.0.contains("JWT_SECRET"), "{default}");
        let short = production(&[("JWT_SECRET", "short")]).unwrap_err();
        assert!(short.0.contains("JWT_SECRET"));
    }

    #[test]
    fn production_refuses_mock_payments_unless_allowed() {
        let all = vars(&[
            ("APP_ENV", "production"),
            ("JWT_SECRET", "0123456789abcdef0123456789abcdef-long-enough"),
            ("SMTP_URL", "smtps://mail.example"),
            ("PUBLIC_URL", "https://api.example"),
        ]);
        let err = Settings::from_vars(all.clone()).unwrap_err();
        assert!(err.0.contains("STRIPE_SECRET_KEY"), "{err}");
        let mut allowed = all;
        allowed.push(("ALLOW_MOCK_PAYMENTS_IN_PRODUCTION".into(), "true".into()));
        assert!(Settings::from_vars(allowed).is_ok());
    }

    #[test]
    fn production_refuses_graphiql_and_public_docs_unless_allowed() {
        assert!(production(&[("GRAPHIQL", "on")]).unwrap_err().0.contains("GRAPHIQL"));
        assert!(production(&[("GRAPHIQL", "on"), ("ALLOW_GRAPHIQL_IN_PRODUCTION", "true")]).is_ok());
        assert!(
            production(&[("GRAPHIQL", "docs"), ("DOCS_ACCESS", "admin")]).is_ok(),
            "gated GraphiQL is safe"
        );
        assert!(production(&[("GRAPHIQL", "docs"), ("DOCS_ACCESS", "public")]).is_err());
        assert!(
            production(&[("DOCS_ACCESS", "public")])
                .unwrap_err()
                .0
                .contains("DOCS_ACCESS")
        );
        assert!(production(&[("DOCS_ACCESS", "admin")]).is_ok());
        assert!(
            production(&[("CORS_ORIGINS", "*")])
                .unwrap_err()
                .0
                .contains("CORS_ORIGINS")
        );
    }

    #[test]
    fn bad_values_are_refused_with_the_variable_named() {
        for (name, value) in [
            ("DATABASE_URL", "mysql://x"),
            ("BIND_ADDR", "nowhere"),
            ("DOCS_ACCESS", "everyone"),
            ("GRAPHIQL", "maybe"),
            ("LOG_FORMAT", "xml"),
            ("APP_ENV", "staging"),
            ("DB_POOL_SIZE", "0"),
            ("PUBLIC_URL", "ftp://x"),
            ("FRONTEND_URL", "not a url"),
            ("CORS_ORIGINS", "not an origin"),
            ("SMTP_URL", "http://mail.example"),
            ("MAIL_FROM", "not a mailbox"),
            ("STORAGE_URL", "ftp://bucket"),
            ("STORAGE_URL", "s3://"),
            ("REFRESH_TOKEN_TTL_DAYS", "0"),
            ("WORKER_POLL_MS", "soon"),
            ("REQUEST_TIMEOUT_SECS", "-1"),
            ("TRUSTED_PROXY_HOPS", "11"),
            ("TRUST_FORWARDED_FOR", "sometimes"),
        ] {
            let err = Settings::from_vars(vars(&[(name, value), ("JWT_SECRET", "x".repeat(40).as_str())])).unwrap_err();
            assert!(err.0.contains(name), "{name}: {err}");
        }
    }

    /// Each unsafe production setting is refused with its name, and each has its explicit way out.
    #[test]
    fn production_refuses_each_unsafe_setting_by_name() {
        for (pairs, name) in [
            (vec![("BCRYPT_COST", "8")], "BCRYPT_COST"),
            (vec![("PUBLIC_URL", "http://api.example")], "PUBLIC_URL"),
            (vec![("FRONTEND_URL", "http://app.example")], "FRONTEND_URL"),
            (vec![("GRAPHQL_INTROSPECTION", "on")], "GRAPHQL_INTROSPECTION"),
            (vec![("METRICS", "on")], "METRICS_TOKEN"),
            (
                vec![("JWT_SECRET", "compose-local-only-secret-0123456789abcdef")],
                "JWT_SECRET",
            ),
        ] {
            let refused = production(&pairs).unwrap_err();
            assert!(refused.0.contains(name), "{pairs:?}: {refused}");
        }
        for pairs in [
            vec![
                ("PUBLIC_URL", "http://api.example"),
                ("ALLOW_HTTP_IN_PRODUCTION", "true"),
            ],
            vec![
                ("PUBLIC_URL", "http://localhost:8080"),
                ("FRONTEND_URL", "http://127.0.0.1:5173"),
            ],
            vec![
                ("GRAPHQL_INTROSPECTION", "on"),
                ("ALLOW_INTROSPECTION_IN_PRODUCTION", "true"),
            ],
            vec![("METRICS", "on"), ("METRICS_TOKEN", "scraper-token")],
            vec![("BCRYPT_COST", "10")],
        ] {
            assert!(production(&pairs).is_ok(), "{pairs:?}");
        }
        let defaults = production(&[]).unwrap();
        // No SMTP server: the outbox would keep reset links on disk.
        let no_smtp = |extra: &[(&str, &str)]| {
            let mut all = vec![
                ("APP_ENV", "production"),
                ("JWT_SECRET", "0123456789abcdef0123456789abcdef-long-enough"),
                ("STRIPE_SECRET_KEY", "sk_live_example"),
                ("STRIPE_WEBHOOK_SECRET", "whsec_live_example_789"),
                ("PUBLIC_URL", "https://api.example"),
            ];
            all.extend_from_slice(extra);
            Settings::from_vars(vars(&all))
        };
        assert!(no_smtp(&[]).unwrap_err().0.contains("SMTP_URL"));
        assert!(no_smtp(&[("ALLOW_OUTBOX_IN_PRODUCTION", "true")]).is_ok());
        assert!(
            !defaults.graphql.introspection && !defaults.metrics,
            "off by default in production"
        );
    }

    /// E2: a Stripe key without the webhook's signing secret could never verify an event.
    #[test]
    fn a_stripe_key_needs_its_webhook_secret() {
        let dir = tempfile::tempdir().unwrap();
        let mut all: Vec<(&str, &str)> = vec![
            ("VAR_DIR", dir.path().to_str().unwrap()),
            ("STRIPE_SECRET_KEY", "sk_test_example"),
        ];
        let error = Settings::from_vars(vars(&all)).unwrap_err();
        assert!(error.0.contains("STRIPE_WEBHOOK_SECRET"), "{error}");
        all.push(("STRIPE_WEBHOOK_SECRET", "whsec_test_example"));
        let settings = Settings::from_vars(vars(&all)).unwrap();
        assert_eq!(settings.payments.stripe_webhook_secret, "whsec_test_example");
    }

    /// E8: the Stripe client's limits are bounded, and all its attempts fit inside one request's time.
    #[test]
    fn stripe_call_limits_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let base = [("VAR_DIR", dir.path().to_str().unwrap())];
        let with = |extra: &[(&'static str, &'static str)]| {
            let mut all = base.to_vec();
            all.extend_from_slice(extra);
            Settings::from_vars(vars(&all))
        };
        let defaults = with(&[]).unwrap().payments;
        assert_eq!(defaults.stripe_timeout, Duration::from_millis(8_000));
        assert_eq!(defaults.stripe_max_attempts, 3);
        assert_eq!(defaults.checkout_lifetime, chrono::Duration::minutes(60));
        assert_eq!(defaults.stripe_api_base, None);
        for (name, value, says) in [
            ("STRIPE_MAX_ATTEMPTS", "0", "positive whole number"),
            ("STRIPE_MAX_ATTEMPTS", "6", "between 1 and 5"),
            ("CHECKOUT_LIFETIME_MINUTES", "29", "between 30 and 1440"),
            ("CHECKOUT_LIFETIME_MINUTES", "1441", "between 30 and 1440"),
            ("STRIPE_API_BASE", "not a url", "not a URL"),
            ("STRIPE_TIMEOUT_MS", "15000", "under REQUEST_TIMEOUT_SECS"),
        ] {
            let error = with(&[(name, value)]).unwrap_err();
            assert!(error.0.contains(says), "{name}={value}: {error}");
        }
        let fake = with(&[("STRIPE_API_BASE", "http://127.0.0.1:9"), ("STRIPE_TIMEOUT_MS", "250")]).unwrap();
        assert_eq!(fake.payments.stripe_api_base.as_deref(), Some("http://127.0.0.1:9"));
        assert_eq!(fake.payments.stripe_timeout, Duration::from_millis(250));
    }

    #[test]
    fn debug_output_carries_no_secret() {
        let s = production(&[
            ("SMTP_URL", "smtp://mailer:smtp-pass-123@mail.example:587"),
            ("STORAGE_URL", "s3://media"),
            ("S3_SECRET_ACCESS_KEY", "s3-secret-456"),
        ])
        .unwrap();
        let printed = format!("{s:?}");
        for secret in [
            "whsec_live_example_789",
            "0123456789abcdef0123456789abcdef",
            "smtp-pass-123",
            "s3-secret-456",
            "sk_live_example",
        ] {
            assert!(!printed.contains(secret), "{secret} in {printed}");
        }
        assert!(printed.contains("mail.example"), "{printed}");
    }

    #[test]
    fn sections_read_their_variables() {
        let dir = tempfile::tempdir().unwrap();
        let s = Settings::from_vars(vars(&[
            ("VAR_DIR", dir.path().to_str().unwrap()),
            ("STORAGE_URL", "file:///srv/uploads"),
            ("REFRESH_TOKEN_TTL_DAYS", "2"),
            ("WORKER_POLL_MS", "250"),
            ("SMTP_URL", "smtps://user:pass@mail.example"),
            ("DATABASE_URL", "postgres://cinema@db/cinema"),
            ("BCRYPT_COST", "99"),
        ]))
        .unwrap();
        assert!(matches!(&s.storage, StorageSettings::Local { dir } if dir == Path::new("/srv/uploads")));
        assert_eq!(s.auth.refresh_token_ttl, Duration::from_secs(2 * 86_400));
        assert_eq!(s.jobs.poll, Duration::from_millis(250));
        assert_eq!(s.mail.smtp_url.as_deref(), Some("smtps://user:pass@mail.example"));
        assert_eq!(s.database.url.backend(), crate::db::Backend::Postgres);
        assert_eq!(s.auth.bcrypt_cost, 31, "bcrypt's largest cost");
        let s3 = Settings::from_vars(vars(&[
            ("VAR_DIR", dir.path().to_str().unwrap()),
            ("STORAGE_URL", "s3://media/"),
            ("AWS_ACCESS_KEY_ID", "id"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
        ]))
        .unwrap();
        assert!(
            matches!(&s3.storage, StorageSettings::S3 { bucket, access_key_id: Some(id), region, .. }
            if bucket == "media" && id == "id" && region == "us-east-1")
        );
    }
}
