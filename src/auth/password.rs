//! Password rules (A9) and bcrypt hashing off the async threads.

use crate::error::{AppError, AppResult};

/// bcrypt hashes at most 72 bytes; a longer password would be silently truncated, so it is refused.
pub const MAX_PASSWORD_BYTES: usize = 72;
pub const MIN_PASSWORD_CHARS: usize = 8;

/// Checks A9: at least 8 characters with upper case, lower case, digit and special character, at most 72 bytes.
/// The message lists every rule that failed, so a form can show them all at once.
pub fn check_complexity(field: &str, password: &str) -> AppResult<()> {
    let mut missing = Vec::new();
    if password.chars().count() < MIN_PASSWORD_CHARS {
        missing.push("at least 8 characters");
    }
    if password.len() > MAX_PASSWORD_BYTES {
        missing.push("at most 72 bytes");
    }
    if !password.chars().any(|c| c.is_uppercase()) {
        missing.push("an upper-case letter");
    }
    if !password.chars().any(|c| c.is_lowercase()) {
        missing.push("a lower-case letter");
    }
    if !password.chars().any(|c| c.is_ascii_digit()) {
        missing.push("a digit");
    }
    if !password.chars().any(|c| !c.is_alphanumeric() && !c.is_whitespace()) {
        missing.push("a special character");
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(AppError::bad_input(
            field,
            format!("{field} needs {}", missing.join(", ")),
        ))
    }
}

/// Hashes with bcrypt on the blocking pool: a hash takes tens of milliseconds at production cost.
pub async fn hash(password: &str, cost: u32) -> AppResult<String> {
    let password = password.to_string();
    tokio::task::spawn_blocking(move || bcrypt::hash(password, cost))
        .await
        .map_err(AppError::internal)?
        .map_err(AppError::internal)
}

/// Verifies on the blocking pool; a malformed stored hash counts as a mismatch (and is logged).
pub async fn verify(password: &str, stored_hash: &str) -> AppResult<bool> {
    let password = password.to_string();
    let stored_hash = stored_hash.to_string();
    let result = tokio::task::spawn_blocking(move || bcrypt::verify(password, &stored_hash))
        .await
        .map_err(AppError::internal)?;
    Ok(result.unwrap_or_else(|error| {
        tracing::warn!(%error, "stored password hash is unreadable");
        false
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_a_strong_password() {
        assert!(check_complexity("password", "Str0ng!pass").is_ok());
        assert!(
            check_complexity("password", "Пароль-9x").is_ok(),
            "non-ASCII letters count as letters"
        );
    }

    #[test]
    fn names_each_missing_rule() {
        for (password, rule) in [
            ("Sh0rt!", "at least 8 characters"),
            ("alllower1!", "upper-case"),
            ("ALLUPPER1!", "lower-case"),
            ("NoDigits!!", "digit"),
            ("NoSpecial12", "special"),
        ] {
            let message = check_complexity("password", password).unwrap_err().public_message();
            assert!(message.contains(rule), "{password}: {message}");
        }
        let long = format!("Aa1!{}", "x".repeat(70));
        assert!(
            check_complexity("password", &long)
                .unwrap_err()
                .public_message()
                .contains("72 bytes")
        );
    }

    #[tokio::test]
    async fn hashes_and_verifies() {
        let hashed = hash("Str0ng!pass", 4).await.unwrap();
        assert!(verify("Str0ng!pass", &hashed).await.unwrap());
        assert!(!verify("Wr0ng!pass", &hashed).await.unwrap());
        assert!(!verify("Str0ng!pass", "not-a-hash").await.unwrap());
    }
}
