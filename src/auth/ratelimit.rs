//! Fixed-window rate limits per key (A12): a client address or an account, per endpoint family. In memory, so
//! each instance counts its own requests; behind several instances the effective limit is multiplied by their
//! number (a shared store would be needed to be exact).
//!
//! Memory is bounded by construction (H1): a key is a 16-byte digest whatever the client sent, and the table
//! holds at most `capacity` keys in two generations — when the young one fills half the capacity, the old one
//! is dropped and the young one takes its place. A key survives at least one generation, so any key that is
//! still counting (seen within the last half-capacity distinct keys) keeps its count.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::error::{AppError, AppResult};

/// Keys the limiter holds at most (about 40 bytes each, so a few MB at this size).
pub const DEFAULT_CAPACITY: usize = 100_000;

/// The limits of the sign-in family of endpoints: attempts per client address and per account in a window.
#[derive(Clone)]
pub struct RateLimits {
    limiter: Arc<RateLimiter>,
    per_client: u32,
    per_account: u32,
}

impl RateLimits {
    pub fn new(window: Duration, per_client: u32, per_account: u32) -> RateLimits {
        RateLimits {
            limiter: Arc::new(RateLimiter::new(window, DEFAULT_CAPACITY)),
            per_client,
            per_account,
        }
    }

    /// Counts one `action` attempt against the client's limit and, when the request names a valid account
    /// (`account`, already normalised by the caller), the account's. A client over its limit is refused
    /// before its attempt counts against the account.
    pub fn hit(&self, action: &str, client: &str, account: Option<&str>) -> AppResult<()> {
        self.limiter.hit(&[action, "client", client], self.per_client)?;
        if let Some(account) = account {
            self.limiter.hit(&[action, "account", account], self.per_account)?;
        }
        Ok(())
    }

    /// How many keys the limits hold now (for metrics and tests).
    pub fn tracked_keys(&self) -> usize {
        self.limiter.len()
    }
}

type Key = [u8; 16];

pub struct RateLimiter {
    window: Duration,
    capacity: usize,
    table: Mutex<Generations>,
}

#[derive(Default)]
struct Generations {
    young: HashMap<Key, (Instant, u32)>,
    old: HashMap<Key, (Instant, u32)>,
}

impl RateLimiter {
    pub fn new(window: Duration, capacity: usize) -> RateLimiter {
        RateLimiter {
            window,
            capacity: capacity.max(2),
            table: Mutex::new(Generations::default()),
        }
    }

    /// The fixed-size key of `parts` (joined unambiguously).
    fn key(parts: &[&str]) -> Key {
        let mut hasher = Sha256::new();
        for part in parts {
            hasher.update((part.len() as u64).to_le_bytes());
            hasher.update(part.as_bytes());
        }
        let digest = hasher.finalize();
        let mut key = [0u8; 16];
        key.copy_from_slice(&digest[..16]);
        key
    }

    /// Counts one attempt for the key of `parts`; RATE_LIMITED with the seconds to wait once `limit` is passed.
    pub fn hit(&self, parts: &[&str], limit: u32) -> AppResult<()> {
        let key = Self::key(parts);
        let now = Instant::now();
        let mut table = self.table.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let entry = match table.old.remove(&key) {
            // Promote a key still in use, so it lives another generation.
            Some(counted) => counted,
            None => table.young.get(&key).copied().unwrap_or((now, 0)),
        };
        if table.young.len() >= self.capacity / 2 && !table.young.contains_key(&key) {
            let young = std::mem::take(&mut table.young);
            table.old = young;
        }
        let (start, count) = table.young.entry(key).or_insert(entry);
        if now.duration_since(*start) >= self.window {
            *start = now;
            *count = 0;
        }
        *count += 1;
        if *count > limit {
            let wait = self.window.saturating_sub(now.duration_since(*start)).as_secs().max(1);
            return Err(AppError::RateLimited { retry_after_secs: wait });
        }
        Ok(())
    }

    /// How many keys the limiter holds now.
    pub fn len(&self) -> usize {
        let table = self.table.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        table.young.len() + table.old.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_past_the_limit_until_the_window_ends() {
        let limiter = RateLimiter::new(Duration::from_millis(200), 100);
        for _ in 0..3 {
            limiter.hit(&["k"], 3).unwrap();
        }
        let refused = limiter.hit(&["k"], 3).unwrap_err();
        assert_eq!(refused.code(), "RATE_LIMITED");
        limiter.hit(&["other"], 3).unwrap();
        std::thread::sleep(Duration::from_millis(250));
        limiter.hit(&["k"], 3).unwrap();
    }

    /// H1: a flood of distinct, large keys leaves the limiter at its capacity of fixed-size keys.
    #[test]
    fn memory_stays_bounded_under_a_flood_of_distinct_keys() {
        let limiter = RateLimiter::new(Duration::from_secs(60), 1_000);
        let big = "x".repeat(4 * 1024);
        for i in 0..5_000 {
            limiter.hit(&["login", "account", &format!("{big}{i}")], 5).unwrap();
            assert!(limiter.len() <= 1_000, "{} keys after {i}", limiter.len());
        }
        assert!(limiter.len() >= 500, "the young generation is kept");
    }

    /// A key that keeps counting survives generations, so a flood of other keys does not reset its count.
    #[test]
    fn a_key_in_use_keeps_its_count_through_a_flood() {
        let limiter = RateLimiter::new(Duration::from_secs(60), 100);
        for round in 0..10 {
            for other in 0..40 {
                limiter.hit(&[&format!("flood-{round}-{other}")], 5).unwrap();
            }
            let counted = limiter.hit(&["victim"], 5);
            if round < 5 {
                counted.unwrap();
            } else {
                assert_eq!(counted.unwrap_err().code(), "RATE_LIMITED", "round {round}");
            }
        }
    }

    #[test]
    fn keys_do_not_run_into_each_other() {
        assert_ne!(RateLimiter::key(&["ab", "c"]), RateLimiter::key(&["a", "bc"]));
    }
}
