//! Access tokens: short-lived JWTs (HS256) naming the user, their role at sign-in and their session.

use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use serde::{Deserialize, Serialize};

use crate::db::Role;
use crate::error::{AppError, AppResult};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// The user's public id.
    pub sub: String,
    pub role: String,
    /// The session the token belongs to: revoking the session kills the token.
    pub sid: String,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
}

#[derive(Clone)]
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    /// The key before a rotation, still accepted (never used to sign).
    previous: Option<DecodingKey>,
    validation: Validation,
    pub ttl: Duration,
}

impl JwtKeys {
    pub fn new(secret: &str, ttl: Duration) -> JwtKeys {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp", "sub", "iat"]);
        JwtKeys {
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
            previous: None,
            validation,
            ttl,
        }
    }

    /// Also accepts tokens signed with `previous` (JWT_PREVIOUS_SECRET) until they expire.
    pub fn accepting_previous(mut self, previous: Option<&str>) -> JwtKeys {
        self.previous = previous.map(|secret| DecodingKey::from_secret(secret.as_bytes()));
        self
    }

    pub fn issue(&self, user_uuid: &str, role: Role, session_id: &str) -> AppResult<String> {
        self.issue_at(user_uuid, role, session_id, chrono::Utc::now().timestamp())
    }

    /// A token as if issued at `issued` (seconds since the epoch): tests make expired tokens with it.
    pub fn issue_at(&self, user_uuid: &str, role: Role, session_id: &str, issued: i64) -> AppResult<String> {
        let claims = Claims {
            sub: user_uuid.to_string(),
            role: role.as_str().to_string(),
            sid: session_id.to_string(),
            iat: issued,
            exp: issued + self.ttl.as_secs() as i64,
            jti: uuid::Uuid::new_v4().to_string(),
        };
        encode(&Header::new(Algorithm::HS256), &claims, &self.encoding).map_err(AppError::internal)
    }

    /// The claims of a valid, unexpired token signed with our key. An expired one (with a good signature)
    /// answers `TOKEN_EXPIRED`, so a client knows to refresh rather than to sign in again; anything else
    /// `INVALID_TOKEN`.
    pub fn verify(&self, token: &str) -> AppResult<Claims> {
        let mut decoded = decode::<Claims>(token, &self.decoding, &self.validation);
        if let (Err(error), Some(previous)) = (&decoded, &self.previous)
            && matches!(error.kind(), jsonwebtoken::errors::ErrorKind::InvalidSignature)
        {
            decoded = decode::<Claims>(token, previous, &self.validation);
        }
        decoded.map(|data| data.claims).map_err(|error| {
            tracing::debug!(%error, "access token refused");
            if matches!(error.kind(), jsonwebtoken::errors::ErrorKind::ExpiredSignature) {
                return token_expired();
            }
            AppError::rejected(
                axum::http::StatusCode::UNAUTHORIZED,
                "INVALID_TOKEN",
                "the access token is invalid",
            )
        })
    }
}

/// What an access token past its expiry answers (the signature was good): refresh and ask again.
pub fn token_expired() -> AppError {
    AppError::rejected(
        axum::http::StatusCode::UNAUTHORIZED,
        "TOKEN_EXPIRED",
        "the access token has expired; refresh it and ask again",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issues_and_verifies() {
        let keys = JwtKeys::new("a-test-secret-that-is-long-enough-0123", Duration::from_secs(60));
        let token = keys.issue("user-1", Role::Moderator, "session-1").unwrap();
        let claims = keys.verify(&token).unwrap();
        assert_eq!(
            (claims.sub.as_str(), claims.role.as_str(), claims.sid.as_str()),
            ("user-1", "MODERATOR", "session-1")
        );
        let other = JwtKeys::new("another-secret-that-is-long-enough-0123", Duration::from_secs(60));
        assert_eq!(other.verify(&token).unwrap_err().code(), "INVALID_TOKEN");
        assert_eq!(keys.verify("not.a.token").unwrap_err().code(), "INVALID_TOKEN");
        let expired = JwtKeys::new("a-test-secret-that-is-long-enough-0123", Duration::from_secs(0));
        let mut claims = keys.verify(&token).unwrap();
        claims.exp = chrono::Utc::now().timestamp() - 60;
        let stale = encode(&Header::new(Algorithm::HS256), &claims, &expired.encoding).unwrap();
        assert_eq!(keys.verify(&stale).unwrap_err().code(), "TOKEN_EXPIRED");
        let forged_and_stale = encode(&Header::new(Algorithm::HS256), &claims, &other.encoding).unwrap();
        assert_eq!(
            keys.verify(&forged_and_stale).unwrap_err().code(),
            "INVALID_TOKEN",
            "an expired token with a bad signature is not told apart"
        );
    }

    /// Rotating JWT_SECRET signs nobody out: with the old secret as JWT_PREVIOUS_SECRET, tokens it signed are
    /// accepted until they expire; new tokens are signed with the new one only; a third secret is refused.
    #[test]
    fn a_rotated_secret_still_accepts_the_previous_ones_tokens() {
        let old = JwtKeys::new("the-secret-before-the-rotation-0123456", Duration::from_secs(60));
        let issued_before = old.issue("user-1", Role::User, "session-1").unwrap();
        let rotated = JwtKeys::new("the-secret-after-the-rotation-01234567", Duration::from_secs(60))
            .accepting_previous(Some("the-secret-before-the-rotation-0123456"));
        assert_eq!(rotated.verify(&issued_before).unwrap().sub, "user-1");
        let issued_after = rotated.issue("user-1", Role::User, "session-2").unwrap();
        assert_eq!(
            old.verify(&issued_after).unwrap_err().code(),
            "INVALID_TOKEN",
            "signed with the new one"
        );
        let stranger = JwtKeys::new("a-secret-neither-of-them-knows-012345", Duration::from_secs(60));
        let forged = stranger.issue("user-1", Role::Admin, "session-3").unwrap();
        assert_eq!(rotated.verify(&forged).unwrap_err().code(), "INVALID_TOKEN");
        let without = JwtKeys::new("the-secret-after-the-rotation-01234567", Duration::from_secs(60));
        assert_eq!(without.verify(&issued_before).unwrap_err().code(), "INVALID_TOKEN");
    }
}
