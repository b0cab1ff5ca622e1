//! Settings from environment variables (and an optional `.env`), with safe defaults for the embedded mode and
//! refusals for unsafe production settings. Every variable is listed in README.md and `.env.example`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::db::DatabaseUrl;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppEnv {
    Development,
    Production,
}

/// Who may read the REST documentation (`/api/docs`, `/api/openapi.json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocsAccess {
    Public,
    Authenticated,
    Admin,
    Off,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// Limits on GraphQL documents (G3).
#[derive(Debug, Clone)]
pub struct GraphqlLimits {
    pub max_depth: usize,
    pub max_complexity: usize,
    pub max_aliases: usize,
    pub introspection: bool,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub app_env: AppEnv,
    pub database_url: DatabaseUrl,
    pub db_pool_size: usize,
    pub bind_addr: SocketAddr,
    pub var_dir: PathBuf,
    pub jwt_secret: String,
    /// bcrypt work factor for password hashes (tests lower it).
    pub bcrypt_cost: u32,
    pub public_url: String,
    pub frontend_url: String,
    pub docs_access: DocsAccess,
    pub graphiql: bool,
    /// GraphiQL sits behind the same gate as the REST docs (`GRAPHIQL=docs`).
    pub graphiql_gated: bool,
    pub log_format: LogFormat,
    pub cors_origins: Vec<String>,
    pub metrics: bool,
    pub request_body_limit: usize,
    pub request_timeout: Duration,
    pub graphql: GraphqlLimits,
    /// Seed the demo catalog into an empty database at start-up.
    pub seed_demo: bool,
    pub stripe_secret_key: Option<String>,
    pub auth: AuthSettings,
    pub mail: MailSettings,
    /// Run the background worker (emails, periodic cleanup) inside `cinema serve`.
    pub run_worker: bool,
    /// How often an idle worker looks for due jobs.
    pub worker_poll: Duration,
    /// First retry delay of a failed job; each further retry doubles it (capped at one hour).
    pub job_backoff_base: Duration,
    /// Use the first X-Forwarded-For address as the client address (only behind a trusted proxy).
    pub trust_forwarded_for: bool,
    pub storage: StorageSettings,
    /// Largest avatar accepted, in bytes.
    pub avatar_max_bytes: usize,
}

#[derive(Debug, Clone)]
pub struct AuthSettings {
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    /// How long an instance trusts its cached view of a session; a logout on another instance takes at most
    /// this long to reach this one (on the instance that handled it, it is immediate).
    pub session_cache_ttl: Duration,
    /// Attempts per client address and per account within `rate_limit_window`.
    pub rate_limit_per_client: u32,
    pub rate_limit_per_account: u32,
    pub rate_limit_window: Duration,
}

/// Where uploaded files go (G8).
#[derive(Debug, Clone)]
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

#[derive(Debug, Clone)]
pub struct MailSettings {
    /// `smtp://host:port` (or `smtps://`, with credentials as `smtp://user:pass@host`); none writes .eml files.
    pub smtp_url: Option<String>,
    pub outbox_dir: PathBuf,
    pub from: String,
}

/// Secrets that appear in examples and must never guard a production server.
const KNOWN_DEFAULT_SECRETS: &[&str] = &["change-me", "changeme", "secret", "dev-secret", "please-change-me"];
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
        let vars: HashMap<String, String> = vars.into_iter().filter(|(_, v)| !v.trim().is_empty()).collect();
        let get = |name: &str| vars.get(name).map(|v| v.trim().to_string());

        let app_env = match get("APP_ENV").as_deref() {
            None | Some("development") | Some("dev") => AppEnv::Development,
            Some("production") | Some("prod") => AppEnv::Production,
            Some(other) => {
                return Err(ConfigError(format!(
                    "APP_ENV must be development or production (got {other:?})"
                )));
            }
        };
        let production = app_env == AppEnv::Production;
        let var_dir = PathBuf::from(get("VAR_DIR").unwrap_or_else(|| "var".into()));

        let database_url_text =
            get("DATABASE_URL").unwrap_or_else(|| format!("sqlite://{}/cinema.db", var_dir.display()));
        let database_url = DatabaseUrl::parse(&database_url_text).map_err(ConfigError)?;

        let bind_addr = get("BIND_ADDR")
            .unwrap_or_else(|| "127.0.0.1:8080".into())
            .parse::<SocketAddr>()
            .map_err(|e| ConfigError(format!("BIND_ADDR must be host:port, e.g. 127.0.0.1:8080 ({e})")))?;

        let public_url = get("PUBLIC_URL").unwrap_or_else(|| format!("http://{bind_addr}"));
        let frontend_url = get("FRONTEND_URL").unwrap_or_else(|| public_url.clone());
        for (name, value) in [("PUBLIC_URL", &public_url), ("FRONTEND_URL", &frontend_url)] {
            let parsed =
                url::Url::parse(value).map_err(|e| ConfigError(format!("{name} must be an absolute URL ({e})")))?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(ConfigError(format!("{name} must be an http or https URL")));
            }
        }

        let docs_access = match get("DOCS_ACCESS").as_deref() {
            None => {
                if production {
                    DocsAccess::Off
                } else {
                    DocsAccess::Public
                }
            }
            Some("public") => DocsAccess::Public,
            Some("authenticated") => DocsAccess::Authenticated,
            Some("admin") => DocsAccess::Admin,
            Some("off") => DocsAccess::Off,
            Some(other) => {
                return Err(ConfigError(format!(
                    "DOCS_ACCESS must be public, authenticated, admin or off (got {other:?})"
                )));
            }
        };
        // GRAPHIQL=docs serves GraphiQL behind the DOCS_ACCESS gate; on and off as usual.
        let graphiql_gated = get("GRAPHIQL").as_deref() == Some("docs");
        let graphiql = graphiql_gated || parse_switch(&get, "GRAPHIQL", !production)?;
        let log_format = match get("LOG_FORMAT").as_deref() {
            None => {
                if production {
                    LogFormat::Json
                } else {
                    LogFormat::Text
                }
            }
            Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => return Err(ConfigError(format!("LOG_FORMAT must be text or json (got {other:?})"))),
        };
        let cors_origins: Vec<String> = get("CORS_ORIGINS")
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

        let jwt_secret = match get("JWT_SECRET") {
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

        let storage = match get("STORAGE_URL") {
            None => StorageSettings::Local {
                dir: var_dir.join("uploads"),
            },
            Some(url) if url.starts_with("file://") => StorageSettings::Local {
                dir: PathBuf::from(&url[7..]),
            },
            Some(url) if url.starts_with("s3://") => StorageSettings::S3 {
                bucket: url[5..].trim_end_matches('/').to_string(),
                endpoint: get("S3_ENDPOINT"),
                region: get("S3_REGION").unwrap_or_else(|| "us-east-1".into()),
                access_key_id: get("S3_ACCESS_KEY_ID").or_else(|| get("AWS_ACCESS_KEY_ID")),
                secret_access_key: get("S3_SECRET_ACCESS_KEY").or_else(|| get("AWS_SECRET_ACCESS_KEY")),
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
        let stripe_secret_key = get("STRIPE_SECRET_KEY");
        let smtp_url = get("SMTP_URL");
        if let Some(url) = &smtp_url
            && !(url.starts_with("smtp://") || url.starts_with("smtps://"))
        {
            return Err(ConfigError("SMTP_URL must start with smtp:// or smtps://".into()));
        }
        let mail_from = get("MAIL_FROM").unwrap_or_else(|| "Cinema <no-reply@cinema.localhost>".into());
        if mail_from.parse::<lettre::message::Mailbox>().is_err() {
            return Err(ConfigError(format!(
                "MAIL_FROM is not a mailbox like \"Cinema <no-reply@example.com>\" ({mail_from:?})"
            )));
        }
        let settings = Settings {
            app_env,
            db_pool_size: parse_number(&get, "DB_POOL_SIZE", 16)?,
            database_url,
            bind_addr,
            jwt_secret,
            bcrypt_cost: parse_number(&get, "BCRYPT_COST", 12)?.clamp(4, 31) as u32,
            public_url: public_url.trim_end_matches('/').to_string(),
            frontend_url: frontend_url.trim_end_matches('/').to_string(),
            docs_access,
            graphiql,
            graphiql_gated,
            log_format,
            cors_origins,
            metrics: parse_switch(&get, "METRICS", true)?,
            // Room for an avatar upload (AVATAR_MAX_BYTES) in a multipart GraphQL request.
            request_body_limit: parse_number(&get, "REQUEST_BODY_LIMIT", 3 * 1024 * 1024)?,
            request_timeout: Duration::from_secs(parse_number(&get, "REQUEST_TIMEOUT_SECS", 30)? as u64),
            graphql: GraphqlLimits {
                max_depth: parse_number(&get, "GRAPHQL_MAX_DEPTH", 12)?,
                max_complexity: parse_number(&get, "GRAPHQL_MAX_COMPLEXITY", 5000)?,
                max_aliases: parse_number(&get, "GRAPHQL_MAX_ALIASES", 30)?,
                introspection: parse_switch(&get, "GRAPHQL_INTROSPECTION", true)?,
            },
            seed_demo: parse_switch(&get, "SEED_DEMO", !production)?,
            auth: AuthSettings {
                access_token_ttl: Duration::from_secs(parse_number(&get, "ACCESS_TOKEN_TTL_SECS", 900)? as u64),
                refresh_token_ttl: Duration::from_secs(
                    parse_number(&get, "REFRESH_TOKEN_TTL_DAYS", 14)? as u64 * 86_400,
                ),
                session_cache_ttl: Duration::from_secs(parse_number(&get, "SESSION_CACHE_SECS", 5)? as u64),
                rate_limit_per_client: parse_number(&get, "RATE_LIMIT_PER_CLIENT", 20)? as u32,
                rate_limit_per_account: parse_number(&get, "RATE_LIMIT_PER_ACCOUNT", 5)? as u32,
                rate_limit_window: Duration::from_secs(parse_number(&get, "RATE_LIMIT_WINDOW_SECS", 60)? as u64),
            },
            mail: MailSettings {
                smtp_url,
                outbox_dir: get("MAIL_OUTBOX_DIR")
                    .map(PathBuf::from)
                    .unwrap_or_else(|| var_dir.join("outbox")),
                from: mail_from,
            },
            run_worker: parse_switch(&get, "RUN_WORKER", true)?,
            worker_poll: Duration::from_millis(parse_number(&get, "WORKER_POLL_MS", 1000)? as u64),
            job_backoff_base: Duration::from_millis(parse_number(&get, "JOB_BACKOFF_BASE_MS", 5000)? as u64),
            trust_forwarded_for: parse_switch(&get, "TRUST_FORWARDED_FOR", false)?,
            storage,
            avatar_max_bytes: parse_number(&get, "AVATAR_MAX_BYTES", 2 * 1024 * 1024)?,
            var_dir,
            stripe_secret_key,
        };
        if production {
            settings.refuse_unsafe_production(&get)?;
        }
        Ok(settings)
    }

    /// Production refuses what is only safe on a developer's machine, naming the setting to change.
    fn refuse_unsafe_production(&self, get: &dyn Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        let allowed = |name: &str| matches!(get(name).as_deref(), Some("true") | Some("1") | Some("yes"));
        let secret = self.jwt_secret.as_str();
        if secret.len() < MIN_SECRET_LEN || KNOWN_DEFAULT_SECRETS.iter().any(|d| secret.eq_ignore_ascii_case(d)) {
            return Err(ConfigError(format!(
                "JWT_SECRET is a default or shorter than {MIN_SECRET_LEN} characters; set a long random value \
                 (e.g. `openssl rand -hex 32`)"
            )));
        }
        if self.stripe_secret_key.is_none() && !allowed("ALLOW_MOCK_PAYMENTS_IN_PRODUCTION") {
            return Err(ConfigError(
                "no STRIPE_SECRET_KEY: production would take mock payments; set STRIPE_SECRET_KEY \
                 (or ALLOW_MOCK_PAYMENTS_IN_PRODUCTION=true for a staging server)"
                    .into(),
            ));
        }
        let graphiql_exposed = self.graphiql && (!self.graphiql_gated || self.docs_access == DocsAccess::Public);
        if graphiql_exposed && !allowed("ALLOW_GRAPHIQL_IN_PRODUCTION") {
            return Err(ConfigError(
                "GRAPHIQL=on in production; set GRAPHIQL=off, or GRAPHIQL=docs with DOCS_ACCESS=authenticated|admin \
                 (or ALLOW_GRAPHIQL_IN_PRODUCTION=true)"
                    .into(),
            ));
        }
        if self.docs_access == DocsAccess::Public && !allowed("ALLOW_PUBLIC_DOCS_IN_PRODUCTION") {
            return Err(ConfigError(
                "DOCS_ACCESS=public in production; use authenticated, admin or off \
                 (or ALLOW_PUBLIC_DOCS_IN_PRODUCTION=true)"
                    .into(),
            ));
        }
        if self.cors_origins.iter().any(|o| o == "*") {
            return Err(ConfigError(
                "CORS_ORIGINS=* in production; list the front-end origins".into(),
            ));
        }
        Ok(())
    }
}

fn parse_switch(get: &dyn Fn(&str) -> Option<String>, name: &str, default: bool) -> Result<bool, ConfigError> {
    match get(name).as_deref() {
        None => Ok(default),
        Some("on") | Some("true") | Some("1") | Some("yes") => Ok(true),
        Some("off") | Some("false") | Some("0") | Some("no") => Ok(false),
        Some(other) => Err(ConfigError(format!("{name} must be on or off (got {other:?})"))),
    }
}

fn parse_number(get: &dyn Fn(&str) -> Option<String>, name: &str, default: usize) -> Result<usize, ConfigError> {
    match get(name) {
        None => Ok(default),
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| ConfigError(format!("{name} must be a positive whole number (got {text:?})"))),
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
        ];
        all.extend_from_slice(extra);
        // Later pairs override earlier ones, as in a real environment.
        Settings::from_vars(vars(&all))
    }

    #[test]
    fn development_defaults_are_embedded() {
        let dir = tempfile::tempdir().unwrap();
        let s = Settings::from_vars(vars(&[("VAR_DIR", dir.path().to_str().unwrap())])).unwrap();
        assert_eq!(s.app_env, AppEnv::Development);
        assert_eq!(s.database_url, DatabaseUrl::Sqlite(dir.path().join("cinema.db")));
        assert_eq!(s.bind_addr.to_string(), "127.0.0.1:8080");
        assert_eq!(s.docs_access, DocsAccess::Public);
        assert!(s.graphiql && s.seed_demo);
        // The generated secret is kept, so a restart reads the same one.
        let again = Settings::from_vars(vars(&[("VAR_DIR", dir.path().to_str().unwrap())])).unwrap();
        assert_eq!(s.jwt_secret, again.jwt_secret);
        assert!(s.jwt_secret.len() >= MIN_SECRET_LEN);
    }

    #[test]
    fn production_with_safe_settings_starts() {
        let s = production(&[]).unwrap();
        assert_eq!(s.docs_access, DocsAccess::Off);
        assert!(!s.graphiql && !s.seed_demo);
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
            ("CORS_ORIGINS", "not an origin"),
        ] {
            let err = Settings::from_vars(vars(&[(name, value), ("JWT_SECRET", "x".repeat(40).as_str())])).unwrap_err();
            assert!(err.0.contains(name), "{name}: {err}");
        }
    }
}
