//! One error type for the whole service, shown to GraphQL clients as an error with `extensions.code` and to
//! REST clients as an RFC 9457 problem document with a stable `code`. Internal details go to the log only.

use async_graphql::ErrorExtensions;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

pub type AppResult<T> = Result<T, AppError>;

/// Deliberately not `Display`: async-graphql turns any `Display` error into a message-only error, which would
/// drop `extensions.code`. Without it, `?` in a resolver goes through `From<AppError>` below and keeps the code.
#[derive(Debug)]
pub enum AppError {
    Unauthenticated,
    Forbidden(String),
    NotFound(String),
    /// Input that breaks a rule; `field` names the argument or body field when there is one.
    BadInput {
        message: String,
        field: Option<String>,
    },
    Conflict(String),
    /// A conflict with the facts a client needs to resolve it, as extensions (e.g. `owners: 3`).
    ConflictWith {
        message: String,
        details: Vec<(&'static str, serde_json::Value)>,
    },
    RateLimited {
        retry_after_secs: u64,
    },
    PaymentFailed(String),
    /// A dependency (the database, a payment provider) is not answering; safe to retry later.
    Unavailable(String),
    /// A refusal with its own stable code, e.g. `INVALID_CREDENTIALS` or `ACCOUNT_INACTIVE`.
    Rejected {
        status: StatusCode,
        code: &'static str,
        message: String,
        /// Facts a client needs to act on the refusal, as extensions (e.g. `chargedTotal`).
        details: Vec<(&'static str, serde_json::Value)>,
    },
    Internal(anyhow::Error),
}

impl AppError {
    pub fn bad_input(field: impl Into<String>, message: impl Into<String>) -> Self {
        AppError::BadInput {
            message: message.into(),
            field: Some(field.into()),
        }
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        AppError::NotFound(what.into())
    }

    pub fn internal(error: impl Into<anyhow::Error>) -> Self {
        AppError::Internal(error.into())
    }

    pub fn rejected(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        AppError::Rejected {
            status,
            code,
            message: message.into(),
            details: Vec::new(),
        }
    }

    /// This refusal with one more fact for the client (an extension; REST problems leave it out).
    pub fn with_detail(mut self, key: &'static str, value: serde_json::Value) -> Self {
        if let AppError::Rejected { details, .. } | AppError::ConflictWith { details, .. } = &mut self {
            details.push((key, value));
        }
        self
    }

    /// The stable machine-readable code clients switch on.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::Unauthenticated => "UNAUTHENTICATED",
            AppError::Forbidden(_) => "FORBIDDEN",
            AppError::NotFound(_) => "NOT_FOUND",
            AppError::BadInput { .. } => "BAD_USER_INPUT",
            AppError::Conflict(_) | AppError::ConflictWith { .. } => "CONFLICT",
            AppError::RateLimited { .. } => "RATE_LIMITED",
            AppError::PaymentFailed(_) => "PAYMENT_FAILED",
            AppError::Unavailable(_) => "SERVICE_UNAVAILABLE",
            AppError::Rejected { code, .. } => code,
            AppError::Internal(_) => "INTERNAL_SERVER_ERROR",
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            AppError::Unauthenticated => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::BadInput { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::Conflict(_) | AppError::ConflictWith { .. } => StatusCode::CONFLICT,
            AppError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::PaymentFailed(_) => StatusCode::PAYMENT_REQUIRED,
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Rejected { status, .. } => *status,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The message a client may see: never the inside of an internal error.
    pub fn public_message(&self) -> String {
        match self {
            AppError::Unauthenticated => "authentication required".into(),
            AppError::Forbidden(message)
            | AppError::NotFound(message)
            | AppError::BadInput { message, .. }
            | AppError::Conflict(message)
            | AppError::ConflictWith { message, .. }
            | AppError::PaymentFailed(message)
            | AppError::Unavailable(message)
            | AppError::Rejected { message, .. } => message.clone(),
            AppError::RateLimited { retry_after_secs } => {
                format!("too many requests; retry after {retry_after_secs} seconds")
            }
            AppError::Internal(_) => {
                "internal error; the request id in the response headers identifies it in the logs".into()
            }
        }
    }

    fn log(&self) {
        match self {
            AppError::Internal(error) => tracing::error!(error = format!("{error:#}"), "internal error"),
            AppError::Unavailable(reason) => tracing::warn!(%reason, "dependency unavailable"),
            _ => {}
        }
    }

    pub fn into_graphql(self) -> async_graphql::Error {
        self.log();
        let mut error = async_graphql::Error::new(self.public_message());
        let code = self.code();
        error = error.extend_with(|_, ext| {
            ext.set("code", code);
        });
        match self {
            AppError::BadInput { field: Some(field), .. } => error.extend_with(|_, ext| ext.set("field", field)),
            AppError::RateLimited { retry_after_secs } => {
                error.extend_with(|_, ext| ext.set("retryAfterSeconds", retry_after_secs))
            }
            AppError::ConflictWith { details, .. } | AppError::Rejected { details, .. } => {
                error.extend_with(|_, ext| {
                    for (key, value) in details {
                        if let Ok(value) = async_graphql::Value::from_json(value) {
                            ext.set(key, value);
                        }
                    }
                })
            }
            _ => error,
        }
    }
}

impl From<AppError> for async_graphql::Error {
    fn from(error: AppError) -> Self {
        error.into_graphql()
    }
}

impl From<diesel::result::Error> for AppError {
    fn from(error: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match error {
            Error::NotFound => AppError::NotFound("not found".into()),
            Error::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
                tracing::debug!(detail = info.message(), "unique violation");
                AppError::Conflict("already exists".into())
            }
            Error::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, info) => {
                tracing::debug!(detail = info.message(), "foreign key violation");
                AppError::Conflict("still referenced by other records".into())
            }
            Error::DatabaseError(DatabaseErrorKind::CheckViolation, info) => {
                // The constraint's name and text describe the schema: they go to the log, not to the client.
                tracing::debug!(detail = info.message(), "check violation");
                AppError::BadInput {
                    message: "a value is out of its allowed range".into(),
                    field: None,
                }
            }
            other => AppError::Internal(other.into()),
        }
    }
}

impl From<diesel_async::pooled_connection::deadpool::PoolError> for AppError {
    fn from(error: diesel_async::pooled_connection::deadpool::PoolError) -> Self {
        // The pool's own words (host names, timeouts) are for the log.
        tracing::warn!(%error, "database connection unavailable");
        AppError::Unavailable("the database is unavailable; try again later".into())
    }
}

/// RFC 9457 problem details, extended with our stable `code`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    /// A URI reference naming the problem type (`about:blank` for the plain HTTP meaning).
    #[serde(rename = "type")]
    pub kind: String,
    /// Short summary of the problem type.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong in this case.
    pub detail: String,
    /// Stable machine-readable code, e.g. `BAD_USER_INPUT`, `UNAUTHENTICATED`, `RATE_LIMITED`.
    #[schema(example = "BAD_USER_INPUT")]
    pub code: String,
    /// The request field at fault, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl Problem {
    pub fn new(status: StatusCode, code: &str, detail: impl Into<String>) -> Self {
        Problem {
            kind: "about:blank".into(),
            title: status.canonical_reason().unwrap_or("Error").into(),
            status: status.as_u16(),
            detail: detail.into(),
            code: code.into(),
            field: None,
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, axum::Json(self)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        response
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        self.log();
        let mut problem = Problem::new(self.status(), self.code(), self.public_message());
        let retry_after = match &self {
            AppError::RateLimited { retry_after_secs } => Some(*retry_after_secs),
            _ => None,
        };
        if let AppError::BadInput { field, .. } = self {
            problem.field = field;
        }
        let mut response = problem.into_response();
        if let Some(secs) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// For the command line, where an error ends the program with its message.
impl From<AppError> for anyhow::Error {
    fn from(error: AppError) -> Self {
        match error {
            AppError::Internal(inner) => inner,
            other => anyhow::anyhow!("{}: {}", other.code(), other.public_message()),
        }
    }
}

#[cfg(test)]
mod tests {
    use diesel::result::{DatabaseErrorInformation, DatabaseErrorKind};

    use super::*;

    #[test]
    fn every_variant_has_its_code_and_status() {
        let cases = [
            (AppError::Unauthenticated, "UNAUTHENTICATED", 401),
            (AppError::Forbidden("no".into()), "FORBIDDEN", 403),
            (AppError::not_found("gone"), "NOT_FOUND", 404),
            (AppError::bad_input("email", "bad"), "BAD_USER_INPUT", 422),
            (AppError::Conflict("taken".into()), "CONFLICT", 409),
            (AppError::RateLimited { retry_after_secs: 7 }, "RATE_LIMITED", 429),
            (AppError::PaymentFailed("declined".into()), "PAYMENT_FAILED", 402),
            (AppError::Unavailable("down".into()), "SERVICE_UNAVAILABLE", 503),
            (
                AppError::rejected(StatusCode::FORBIDDEN, "ACCOUNT_INACTIVE", "inactive"),
                "ACCOUNT_INACTIVE",
                403,
            ),
            (
                AppError::internal(anyhow::anyhow!("secret detail")),
                "INTERNAL_SERVER_ERROR",
                500,
            ),
        ];
        for (error, code, status) in cases {
            assert_eq!((error.code(), error.status().as_u16()), (code, status), "{error:?}");
        }
    }

    #[test]
    fn internal_details_never_reach_the_client() {
        let error = AppError::internal(anyhow::anyhow!("password=hunter2 at /srv/db"));
        assert!(!error.public_message().contains("hunter2"));
        let graphql = AppError::internal(anyhow::anyhow!("password=hunter2")).into_graphql();
        assert!(!graphql.message.contains("hunter2"), "{}", graphql.message);
    }

    #[tokio::test]
    async fn problems_carry_the_code_field_and_retry_after() {
        let response = AppError::bad_input("email", "not an address").into_response();
        assert_eq!(response.status(), 422);
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/problem+json");
        let body = axum::body::to_bytes(response.into_body(), 10_000).await.unwrap();
        let problem: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            (problem["code"].as_str(), problem["field"].as_str()),
            (Some("BAD_USER_INPUT"), Some("email"))
        );

        let response = AppError::RateLimited { retry_after_secs: 9 }.into_response();
        assert_eq!(response.headers()[header::RETRY_AFTER], "9");
    }

    #[test]
    fn graphql_errors_keep_the_code_and_its_details() {
        let error = AppError::RateLimited { retry_after_secs: 3 }.into_graphql();
        let extensions = error.extensions.expect("extensions");
        assert_eq!(
            extensions.get("code"),
            Some(&async_graphql::Value::from("RATE_LIMITED"))
        );
        assert_eq!(
            extensions.get("retryAfterSeconds"),
            Some(&async_graphql::Value::from(3u64))
        );
    }

    struct Info(&'static str);

    impl DatabaseErrorInformation for Info {
        fn message(&self) -> &str {
            self.0
        }
        fn details(&self) -> Option<&str> {
            None
        }
        fn hint(&self) -> Option<&str> {
            None
        }
        fn table_name(&self) -> Option<&str> {
            None
        }
        fn column_name(&self) -> Option<&str> {
            None
        }
        fn constraint_name(&self) -> Option<&str> {
            None
        }
        fn statement_position(&self) -> Option<i32> {
            None
        }
    }

    #[test]
    fn database_errors_map_to_client_codes() {
        let database = |kind| diesel::result::Error::DatabaseError(kind, Box::new(Info("detail")));
        assert_eq!(AppError::from(diesel::result::Error::NotFound).code(), "NOT_FOUND");
        assert_eq!(
            AppError::from(database(DatabaseErrorKind::UniqueViolation)).code(),
            "CONFLICT"
        );
        assert_eq!(
            AppError::from(database(DatabaseErrorKind::ForeignKeyViolation)).code(),
            "CONFLICT"
        );
        let check = AppError::from(database(DatabaseErrorKind::CheckViolation));
        assert_eq!(check.code(), "BAD_USER_INPUT");
        assert!(!check.public_message().contains("detail"), "{}", check.public_message());
        let other = AppError::from(database(DatabaseErrorKind::SerializationFailure));
        assert_eq!(other.code(), "INTERNAL_SERVER_ERROR");
        assert!(!other.public_message().contains("detail"));
    }

    #[test]
    fn command_line_errors_read_as_code_and_message() {
        let error: anyhow::Error = AppError::Conflict("taken".into()).into();
        assert_eq!(error.to_string(), "CONFLICT: taken");
    }
}
