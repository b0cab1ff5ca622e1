//! Password rules (A9) and bcrypt hashing off the async threads.

use std::sync::OnceLock;

use tokio::sync::Semaphore;

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

/// bcrypt runs at most this many at a time in the whole process: one per core. A flood of sign-ins then
/// queues for the hashing slots instead of taking every core (and the blocking pool) from other requests.
fn hashing_slots() -> &'static Semaphore {
    static SLOTS: OnceLock<Semaphore> = OnceLock::new();
    SLOTS.get_or_init(|| Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get())))
}

/// Runs one bcrypt computation on the blocking pool once a hashing slot is free.
async fn with_slot<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> AppResult<T> {
    let _slot = hashing_slots().acquire().await.map_err(AppError::internal)?;
    tokio::task::spawn_blocking(work).await.map_err(AppError::internal)
}

/// Hashes with bcrypt: a hash takes tens of milliseconds at production cost.
pub async fn hash(password: &str, cost: u32) -> AppResult<String> {
    let password = password.to_string();
    with_slot(move || bcrypt::hash(password, cost))
        .await?
        .map_err(AppError::internal)
}

/// Verifies a password; a malformed stored hash counts as a mismatch (and is logged).
pub async fn verify(password: &str, stored_hash: &str) -> AppResult<bool> {
    let password = password.to_string();
    let stored_hash = stored_hash.to_string();
    let result = with_slot(move || bcrypt::verify(password, &stored_hash)).await?;
    Ok(result.unwrap_or_else(|error| {
        tracing::warn!(%error, "stored password hash is unreadable");
        false
    }))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// Sixteen hashes asked for at once run at most one per core at a time.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn bcrypt_runs_at_most_one_per_core() {
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let (running, most) = (running.clone(), most.clone());
                tokio::spawn(with_slot(move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    running.fetch_sub(1, Ordering::SeqCst);
                }))
            })
            .collect();
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        assert!(
            most.load(Ordering::SeqCst) <= cores,
            "{} at once on {cores} cores",
            most.load(Ordering::SeqCst)
        );
    }

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
