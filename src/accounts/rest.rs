//! REST endpoints under /api/v1/auth (A1–A9, A12), documented in OpenAPI. Thin: parse, rate-limit, call the
//! accounts or sessions handle, shape the answer.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::accounts::Accounts;
use crate::accounts::refresh_cookie::{self, CookieRules};
use crate::accounts::service::{LoginOutcome, invalid_credentials, normalize_email};
use crate::auth::sessions::RevokeReason;
use crate::auth::{Auth, RateLimits, TokenPair};
use crate::error::{AppError, AppResult, Problem};
use crate::http::extract::{ApiJson, ClientAddress, SignedIn};

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Credentials {
    #[schema(example = "ann@example.com", format = Email, max_length = 254)]
    pub email: String,
    /// 8 to 72 bytes, with upper and lower case letters, a digit and a special character.
    #[schema(example = "Str0ng!pass", min_length = 8, max_length = 72)]
    pub password: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegisteredUser {
    /// The new account's id. The answer is the same for an address that already has an account (whose owner is
    /// emailed instead), so this id then names nothing.
    pub id: String,
    pub email: String,
    /// Always false: an account becomes active from the emailed link.
    pub is_active: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EmailRequest {
    #[schema(example = "ann@example.com", format = Email, max_length = 254)]
    pub email: String,
}

/// Where the answer to a sign-in or refresh puts the refresh token.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RefreshTokenIn {
    /// In the JSON answer (`refreshToken`), for any client that keeps it safe itself.
    #[default]
    Body,
    /// In an HttpOnly cookie scoped to `/api/v1/auth`, out of reach of the page's scripts: for browsers.
    /// Requests that use it must send `X-Requested-With: XMLHttpRequest`.
    Cookie,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoginRequest {
    #[schema(example = "ann@example.com", format = Email, max_length = 254)]
    pub email: String,
    #[schema(example = "Str0ng!pass", max_length = 72)]
    pub password: String,
    /// `body` (the default) or `cookie`.
    #[serde(default)]
    pub refresh_token_in: RefreshTokenIn,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RefreshRequest {
    /// The refresh token of the last sign-in or refresh: 64 hexadecimal digits. Left out, the refresh cookie
    /// is used (and the new token goes into it).
    #[schema(pattern = "^[0-9a-f]{64}$", min_length = 64, max_length = 64)]
    pub refresh_token: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PasswordChange {
    pub old_password: String,
    /// 8 to 72 bytes, with upper and lower case letters, a digit and a special character.
    #[schema(min_length = 8, max_length = 72)]
    pub new_password: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PasswordReset {
    /// The token from the emailed link: 64 hexadecimal digits.
    #[schema(pattern = "^[0-9a-f]{64}$", min_length = 64, max_length = 64)]
    pub token: String,
    /// 8 to 72 bytes, with upper and lower case letters, a digit and a special character.
    #[schema(min_length = 8, max_length = 72)]
    pub new_password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Accepted {
    /// What happens next, the same whatever the email.
    pub message: String,
}

crate::redacted_debug!(Credentials {
    shown: [email],
    secret: [password]
});

crate::redacted_debug!(LoginRequest {
    shown: [email, refresh_token_in],
    secret: [password]
});
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActivationRequest {
    /// The token from the emailed link: 64 hexadecimal digits. A well-formed token that was never issued, or
    /// was used, answers `INVALID_TOKEN`.
    #[schema(pattern = "^[0-9a-f]{64}$", min_length = 64, max_length = 64)]
    pub token: String,
    /// The account's password from now on. Needed for a link sent on request (`choosePassword=true` in the
    /// link); optional for the link of a registration, which otherwise activates the password chosen then.
    #[schema(min_length = 8, max_length = 72)]
    pub password: Option<String>,
}

crate::redacted_debug!(ActivationRequest {
    shown: [],
    secret: [token, password]
});
crate::redacted_debug!(RefreshRequest {
    shown: [],
    secret: [refresh_token]
});
crate::redacted_debug!(PasswordChange {
    shown: [],
    secret: [old_password, new_password]
});
crate::redacted_debug!(PasswordReset {
    shown: [],
    secret: [token, new_password]
});

/// The account a request names, as the rate limits count it: the normalised address, or none for text that
/// is not an address (the client's own limit still counts it).
fn account_key(email: &str) -> Option<String> {
    normalize_email(email).ok()
}

/// Register
///
/// Creates an inactive USER account and emails a single-use activation link valid 24 hours (A1). The email is
/// case-insensitively unique, but the answer does not say whether it was taken: the owner of a taken address
/// is emailed instead, and a second registration of an address not yet verified gets a link of its own (the
/// link followed decides the password). Public; rate limited per client and per email.
#[utoipa::path(
    post, path = "/api/v1/auth/register", tag = "auth", request_body = Credentials,
    responses(
        (status = 201, description = "Registered; an email is on its way to the address.", body = RegisteredUser),
        (status = 422, description = "`BAD_USER_INPUT`: invalid email, or a password that breaks a rule.", body = Problem),
        (status = 429, description = "`RATE_LIMITED`, with Retry-After.", body = Problem)
    )
)]
pub async fn register(
    State(accounts): State<Accounts>,
    State(limits): State<RateLimits>,
    ClientAddress(client): ClientAddress,
    ApiJson(body): ApiJson<Credentials>,
) -> AppResult<Response> {
    limits
        .hit("register", &client, account_key(&body.email).as_deref())
        .await?;
    let registered = accounts.register(&body.email, &body.password).await?;
    let user = RegisteredUser {
        id: registered.id,
        email: registered.email,
        is_active: false,
    };
    Ok((StatusCode::CREATED, Json(user)).into_response())
}

/// Activate
///
/// Activates the account of an activation token (A2) with the password given, or the one its registration
/// chose. Every other activation link of the account stops working. Unknown or already used tokens answer
/// `INVALID_TOKEN`, expired ones `TOKEN_EXPIRED`. Public.
#[utoipa::path(
    post, path = "/api/v1/auth/activate", tag = "auth", request_body = ActivationRequest,
    responses(
        (status = 204, description = "The account is active."),
        (status = 400, description = "`INVALID_TOKEN` or `TOKEN_EXPIRED`.", body = Problem),
        (status = 403, description = "`ACCOUNT_DISABLED`: an admin disabled the account.", body = Problem),
        (status = 422, description = "`BAD_USER_INPUT`: a password that breaks a rule, or none for a link that needs one.", body = Problem)
    )
)]
pub async fn activate(
    State(accounts): State<Accounts>,
    ApiJson(body): ApiJson<ActivationRequest>,
) -> AppResult<StatusCode> {
    accounts.activate(&body.token, body.password.as_deref()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Resend activation
///
/// Emails a fresh activation link (the previous such link stops working) when the email belongs to an account
/// not yet verified (A3); whoever follows it chooses the password. The answer is the same for every email, and
/// an address gets at most ACCOUNT_EMAILS_PER_HOUR such emails. Public; rate limited.
#[utoipa::path(
    post, path = "/api/v1/auth/activation/resend", tag = "auth", request_body = EmailRequest,
    responses(
        (status = 202, description = "If the account exists and is inactive, an email is on its way.", body = Accepted),
        (status = 429, description = "`RATE_LIMITED`.", body = Problem)
    )
)]
pub async fn resend_activation(
    State(accounts): State<Accounts>,
    State(limits): State<RateLimits>,
    ClientAddress(client): ClientAddress,
    ApiJson(body): ApiJson<EmailRequest>,
) -> AppResult<Response> {
    limits
        .hit("resend", &client, account_key(&body.email).as_deref())
        .await?;
    accounts.resend_activation(&body.email).await?;
    let message = "if this email has an account waiting for activation, a new activation link is on its way".into();
    Ok((StatusCode::ACCEPTED, Json(Accepted { message })).into_response())
}

/// Log in
///
/// Trades email and password for an access token (JWT, short-lived) and a refresh token (A5). A wrong email and
/// a wrong password answer alike (`INVALID_CREDENTIALS`); an inactive account answers `ACCOUNT_INACTIVE`.
/// With `refreshTokenIn: "cookie"` the refresh token is set as an HttpOnly cookie instead of answered (the
/// request must then send `X-Requested-With: XMLHttpRequest`). Public; rate limited per client, and failures
/// for one account from one client back off exponentially (so nobody can lock an account's owner out from
/// elsewhere).
#[utoipa::path(
    post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in; in cookie mode without `refreshToken`, which is in `Set-Cookie`.", body = TokenPair),
        (status = 401, description = "`INVALID_CREDENTIALS`.", body = Problem),
        (status = 403, description = "`ACCOUNT_INACTIVE` (the email is not verified yet), `ACCOUNT_DISABLED` (an admin disabled the account), or `CSRF_HEADER_REQUIRED` (cookie mode without `X-Requested-With`).", body = Problem),
        (status = 429, description = "`RATE_LIMITED`, with Retry-After.", body = Problem)
    )
)]
pub async fn login(
    State(accounts): State<Accounts>,
    State(limits): State<RateLimits>,
    ClientAddress(client): ClientAddress,
    headers: HeaderMap,
    ApiJson(body): ApiJson<LoginRequest>,
) -> AppResult<Response> {
    if body.refresh_token_in == RefreshTokenIn::Cookie {
        refresh_cookie::require_script_request(&headers)?;
    }
    let account = account_key(&body.email);
    limits.login_allowed(&client, account.as_deref()).await?;
    match accounts.login(&body.email, &body.password).await? {
        LoginOutcome::SignedIn(pair) => {
            limits.login_succeeded(&client, account.as_deref()).await;
            Ok(answer(pair, body.refresh_token_in, &accounts.refresh_cookie()))
        }
        LoginOutcome::WrongCredentials => {
            limits.login_failed(&client, account.as_deref()).await;
            Err(invalid_credentials())
        }
    }
}

/// Tokens answered as the client asked: all in the body, or the refresh token in the cookie.
fn answer(mut pair: TokenPair, into: RefreshTokenIn, cookie: &CookieRules) -> Response {
    match into {
        RefreshTokenIn::Body => Json(pair).into_response(),
        RefreshTokenIn::Cookie => {
            let token = pair.refresh_token.take().unwrap_or_default();
            ([(header::SET_COOKIE, cookie.set(&token))], Json(pair)).into_response()
        }
    }
}

/// Refresh
///
/// Trades a refresh token for a new access token and a new refresh token; the old refresh token stops working
/// (A6). Presenting an already used refresh token revokes its whole session (`REFRESH_TOKEN_REUSED`); within a
/// few seconds of its rotation it is one client racing itself (two tabs) and gets tokens of the same session.
/// Without `refreshToken` in the body the refresh cookie is used, the request must send
/// `X-Requested-With: XMLHttpRequest`, and the new refresh token replaces the cookie. Public.
#[utoipa::path(
    post, path = "/api/v1/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses(
        (status = 200, description = "New tokens (from the cookie: the refresh token in `Set-Cookie`).", body = TokenPair),
        (status = 401, description = "`INVALID_REFRESH_TOKEN` or `REFRESH_TOKEN_REUSED`.", body = Problem),
        (status = 403, description = "`ACCOUNT_DISABLED` (an admin disabled the account) or `CSRF_HEADER_REQUIRED` (the cookie without `X-Requested-With`).", body = Problem)
    )
)]
pub async fn refresh(
    State(auth): State<Auth>,
    State(accounts): State<Accounts>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<RefreshRequest>,
) -> AppResult<Response> {
    if let Some(token) = &body.refresh_token {
        return Ok(Json(auth.refresh(token).await?).into_response());
    }
    refresh_cookie::require_script_request(&headers)?;
    let cookie = accounts.refresh_cookie();
    let Some(token) = refresh_cookie::read(&headers) else {
        return Err(crate::auth::service::invalid_refresh());
    };
    match auth.refresh(&token).await {
        Ok(pair) => Ok(answer(pair, RefreshTokenIn::Cookie, &cookie)),
        // A cookie that can no longer refresh is dropped, so the browser stops sending it.
        Err(refused) => Ok(([(header::SET_COOKIE, cookie.clear())], refused).into_response()),
    }
}

/// Log out
///
/// Ends the session of the access token — or, without one, of the refresh cookie (with
/// `X-Requested-With: XMLHttpRequest`): its refresh token and its access tokens stop working at once, on every
/// instance (A7), and the refresh cookie is cleared. Needs a signed-in user (any role) or the cookie.
#[utoipa::path(
    post, path = "/api/v1/auth/logout", tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Signed out; the refresh cookie cleared."),
        (status = 401, description = "`UNAUTHENTICATED`, `INVALID_TOKEN` or `SESSION_REVOKED`.", body = Problem),
        (status = 403, description = "`CSRF_HEADER_REQUIRED`: the cookie without `X-Requested-With`.", body = Problem)
    )
)]
pub async fn logout(
    State(auth): State<Auth>,
    State(accounts): State<Accounts>,
    headers: HeaderMap,
) -> AppResult<Response> {
    match auth.viewer(&headers).await? {
        Some(viewer) => auth.end_session(&viewer.session_id, RevokeReason::Logout).await?,
        None => {
            let Some(token) = refresh_cookie::read(&headers) else {
                return Err(AppError::Unauthenticated);
            };
            refresh_cookie::require_script_request(&headers)?;
            auth.end_session_of_refresh(&token).await?;
        }
    }
    let cleared = accounts.refresh_cookie().clear();
    Ok(([(header::SET_COOKIE, cleared)], StatusCode::NO_CONTENT).into_response())
}

/// Change password
///
/// Sets a new password given the current one (A8, A9). The user's other sessions end; this one stays. A notice
/// is emailed. Needs a signed-in user (any role); rate limited per user and per client.
#[utoipa::path(
    post, path = "/api/v1/auth/password/change", tag = "auth", request_body = PasswordChange,
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Password changed."),
        (status = 400, description = "`WRONG_PASSWORD`: the current password is wrong.", body = Problem),
        (status = 401, description = "Not signed in.", body = Problem),
        (status = 422, description = "`BAD_USER_INPUT`: the new password breaks a rule.", body = Problem),
        (status = 429, description = "`RATE_LIMITED`, with Retry-After.", body = Problem)
    )
)]
pub async fn change_password(
    State(accounts): State<Accounts>,
    State(limits): State<RateLimits>,
    ClientAddress(client): ClientAddress,
    SignedIn(viewer): SignedIn,
    ApiJson(body): ApiJson<PasswordChange>,
) -> AppResult<StatusCode> {
    // Each attempt costs a bcrypt verify, and a stolen access token must not buy unlimited guesses.
    limits.hit("password-change", &client, Some(&viewer.user_uuid)).await?;
    accounts
        .change_password(
            viewer.user_id,
            &viewer.session_id,
            &body.old_password,
            &body.new_password,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Request a password reset
///
/// Emails a single-use reset link (valid one hour) when the email belongs to an account that is not disabled
/// (A8); completing it also verifies an address not yet verified. The answer is the same for every email, and
/// an address gets at most ACCOUNT_EMAILS_PER_HOUR such emails. Public; rate limited.
#[utoipa::path(
    post, path = "/api/v1/auth/password/reset/request", tag = "auth", request_body = EmailRequest,
    responses(
        (status = 202, description = "If the account exists and is active, an email is on its way.", body = Accepted),
        (status = 429, description = "`RATE_LIMITED`.", body = Problem)
    )
)]
pub async fn request_password_reset(
    State(accounts): State<Accounts>,
    State(limits): State<RateLimits>,
    ClientAddress(client): ClientAddress,
    ApiJson(body): ApiJson<EmailRequest>,
) -> AppResult<Response> {
    limits
        .hit("reset", &client, account_key(&body.email).as_deref())
        .await?;
    accounts.request_password_reset(&body.email).await?;
    let message = "if this email has an account, a reset link is on its way".into();
    Ok((StatusCode::ACCEPTED, Json(Accepted { message })).into_response())
}

/// Complete a password reset
///
/// Sets a new password from a reset token, without the old one (A8, A9). Every session of the account ends; a
/// notice is emailed. Public; rate limited per client.
#[utoipa::path(
    post, path = "/api/v1/auth/password/reset/complete", tag = "auth", request_body = PasswordReset,
    responses(
        (status = 204, description = "Password changed; sign in again."),
        (status = 400, description = "`INVALID_TOKEN` or `TOKEN_EXPIRED`.", body = Problem),
        (status = 403, description = "`ACCOUNT_DISABLED`: an admin disabled the account.", body = Problem),
        (status = 422, description = "`BAD_USER_INPUT`: the new password breaks a rule.", body = Problem),
        (status = 429, description = "`RATE_LIMITED`.", body = Problem)
    )
)]
pub async fn complete_password_reset(
    State(accounts): State<Accounts>,
    State(limits): State<RateLimits>,
    ClientAddress(client): ClientAddress,
    ApiJson(body): ApiJson<PasswordReset>,
) -> AppResult<StatusCode> {
    limits.hit("reset-complete", &client, None).await?;
    accounts
        .complete_password_reset(&body.token, &body.new_password)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
