//! The refresh token in an HttpOnly cookie, for browsers (issue 24, A5–A7): a script on the page (an injected
//! one included) never reads it, and it goes only to the auth endpoints. A cookie is sent by the browser on its
//! own, so the endpoints that read it also require `X-Requested-With: XMLHttpRequest`: a cross-site form cannot
//! set that header, and a cross-site script may not without the CORS preflight this server refuses to origins
//! it does not list (and `SameSite=Strict` keeps the cookie off cross-site requests in the first place).

use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};

use crate::error::{AppError, AppResult};

/// The cookie's name.
pub const NAME: &str = "cinema_refresh";
/// Where the browser sends it: the auth endpoints, not every request.
const PATH: &str = "/api/v1/auth";
/// The header a same-origin script sets and a cross-site form cannot.
pub const REQUESTED_WITH: &str = "x-requested-with";

/// How the cookie is written: `Secure` everywhere but a developer's plain-HTTP machine.
#[derive(Debug, Clone, Copy)]
pub struct CookieRules {
    pub secure: bool,
    pub max_age: Duration,
}

impl CookieRules {
    /// `Set-Cookie` holding `token`.
    pub fn set(&self, token: &str) -> HeaderValue {
        self.header(token, self.max_age.as_secs())
    }

    /// `Set-Cookie` that makes the browser forget it.
    pub fn clear(&self) -> HeaderValue {
        self.header("", 0)
    }

    fn header(&self, value: &str, max_age: u64) -> HeaderValue {
        let secure = if self.secure { "; Secure" } else { "" };
        let cookie = format!("{NAME}={value}; Path={PATH}; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}");
        HeaderValue::from_str(&cookie).expect("a refresh token is hexadecimal")
    }
}

/// The refresh token in the request's cookies, if any.
pub fn read(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|cookies| cookies.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == NAME)
        .map(|(_, value)| value.trim().to_string())
        .filter(|value| !value.is_empty())
}

/// `CSRF_HEADER_REQUIRED` unless the request says it comes from a script (`X-Requested-With: XMLHttpRequest`).
pub fn require_script_request(headers: &HeaderMap) -> AppResult<()> {
    let from_script = headers
        .get(REQUESTED_WITH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.eq_ignore_ascii_case("XMLHttpRequest"));
    if from_script {
        return Ok(());
    }
    Err(AppError::rejected(
        StatusCode::FORBIDDEN,
        "CSRF_HEADER_REQUIRED",
        "a request that uses the refresh cookie must send X-Requested-With: XMLHttpRequest",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_cookie_among_others_and_writes_it_scoped() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("theme=dark; cinema_refresh=abc123 ; x=y"),
        );
        assert_eq!(read(&headers).as_deref(), Some("abc123"));
        headers.insert(header::COOKIE, HeaderValue::from_static("cinema_refresh="));
        assert_eq!(read(&headers), None, "an emptied cookie is none");
        let rules = CookieRules {
            secure: true,
            max_age: Duration::from_secs(60),
        };
        assert_eq!(
            rules.set("abc").to_str().unwrap(),
            "cinema_refresh=abc; Path=/api/v1/auth; Max-Age=60; HttpOnly; SameSite=Strict; Secure"
        );
        assert!(rules.clear().to_str().unwrap().contains("Max-Age=0"));
    }

    #[test]
    fn only_a_script_request_may_use_the_cookie() {
        let mut headers = HeaderMap::new();
        assert_eq!(
            require_script_request(&headers).unwrap_err().code(),
            "CSRF_HEADER_REQUIRED"
        );
        headers.insert(REQUESTED_WITH, HeaderValue::from_static("XMLHttpRequest"));
        require_script_request(&headers).unwrap();
    }
}
