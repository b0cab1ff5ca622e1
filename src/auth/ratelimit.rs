//! Fixed-window rate limits per key (A12): a client address or an account, per endpoint family. In memory, so
//! each instance counts its own requests; behind several instances the effective limit is multiplied by their
//! number (a shared store would be needed to be exact).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::error::{AppError, AppResult};

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
            limiter: Arc::new(RateLimiter::new(window)),
            per_client,
            per_account,
        }
    }

    /// Counts one `action` attempt against the client's and (when given) the account's limits.
    pub fn hit(&self, action: &str, client: &str, account: Option<&str>) -> AppResult<()> {
        self.limiter
            .hit(&format!("{action}:client:{client}"), self.per_client)?;
        if let Some(account) = account {
            let account = account.trim().to_lowercase();
            self.limiter
                .hit(&format!("{action}:account:{account}"), self.per_account)?;
        }
        Ok(())
    }
}

pub struct RateLimiter {
    window: Duration,
    buckets: Mutex<HashMap<String, (Instant, u32)>>,
}

impl RateLimiter {
    pub fn new(window: Duration) -> RateLimiter {
        RateLimiter {
            window,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one attempt for `key`; RATE_LIMITED with the seconds to wait once `limit` is passed.
    pub fn hit(&self, key: &str, limit: u32) -> AppResult<()> {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if buckets.len() > 100_000 {
            // Bounded memory under a flood of distinct keys: forget finished windows.
            let window = self.window;
            buckets.retain(|_, (start, _)| now.duration_since(*start) < window);
        }
        let (start, count) = buckets.entry(key.to_string()).or_insert((now, 0));
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_past_the_limit_until_the_window_ends() {
        let limiter = RateLimiter::new(Duration::from_millis(200));
        for _ in 0..3 {
            limiter.hit("k", 3).unwrap();
        }
        let refused = limiter.hit("k", 3).unwrap_err();
        assert_eq!(refused.code(), "RATE_LIMITED");
        limiter.hit("other", 3).unwrap();
        std::thread::sleep(Duration::from_millis(250));
        limiter.hit("k", 3).unwrap();
    }
}
