//! Rate limits per key (A12): fixed windows per client address or account and endpoint family, and for sign-in
//! an exponential backoff of failures per (account, client) pair. In memory by default, so each instance counts
//! its own requests; with a shared store (`REDIS_URL`, `auth::shared_counts`) every instance counts in it, and
//! falls back to its memory while the store does not answer.
//!
//! Memory is bounded by construction (H1): a key is a 16-byte digest whatever the client sent, and a table
//! holds at most `capacity` keys in two generations — when the young one fills half the capacity, the old one
//! is dropped and the young one takes its place. A key survives at least one generation, so any key that is
//! still counting (seen within the last half-capacity distinct keys) keeps its count.
//!
//! Sign-in (H8): a per-account limit would let anyone lock an account's owner out by failing on purpose, so
//! failures are counted per (account, client): at `per_account` of them in a row the pair waits 1 s, then
//! 2 s, 4 s… up to `MAX_BACKOFF`, and a success clears it. Across all clients an account takes at most
//! `ACCOUNT_WIDE_FACTOR` × `per_account` failures per window — the ceiling on guessing from many addresses,
//! high enough that locking the owner out takes that many addresses.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::auth::shared_counts::{BackoffRules, SharedCounts};
use crate::error::{AppError, AppResult};

/// Keys the limiter holds at most (about 40 bytes each, so a few MB at this size).
pub const DEFAULT_CAPACITY: usize = 100_000;

/// Across all clients, an account takes this many times `per_account` failed sign-ins per window.
pub const ACCOUNT_WIDE_FACTOR: u32 = 10;
/// The longest a (account, client) pair waits after failed sign-ins.
pub const MAX_BACKOFF: Duration = Duration::from_secs(15 * 60);
/// A pair's failures are forgotten after this long without one.
const FORGET_FAILURES_AFTER: Duration = Duration::from_secs(60 * 60);

/// The limits of the sign-in family of endpoints: attempts per client address and per account in a window.
#[derive(Clone)]
pub struct RateLimits {
    limiter: Arc<RateLimiter>,
    login_backoff: Arc<Backoff>,
    per_client: u32,
    per_account: u32,
}

impl RateLimits {
    pub fn new(window: Duration, per_client: u32, per_account: u32, shared: Option<&SharedCounts>) -> RateLimits {
        RateLimits {
            limiter: Arc::new(RateLimiter::new(window, DEFAULT_CAPACITY).shared_through(shared)),
            login_backoff: Arc::new(
                Backoff::new(per_account, Duration::from_secs(1), MAX_BACKOFF, DEFAULT_CAPACITY).shared_through(shared),
            ),
            per_client,
            per_account,
        }
    }

    fn account_wide_failures(&self) -> u32 {
        self.per_account.saturating_mul(ACCOUNT_WIDE_FACTOR)
    }

    /// Whether a sign-in attempt may go ahead: counts it against the client's limit, and refuses while the
    /// (account, client) pair backs off or the account has taken its failures for the window.
    pub async fn login_allowed(&self, client: &str, account: Option<&str>) -> AppResult<()> {
        self.limiter.hit(&["login", "client", client], self.per_client).await?;
        if let Some(account) = account {
            self.login_backoff.check(&["login", account, client]).await?;
            self.limiter
                .check(&["login-failures", account], self.account_wide_failures())
                .await?;
        }
        Ok(())
    }

    /// A wrong password (or unknown account): the pair backs off, the account counts one failure.
    pub async fn login_failed(&self, client: &str, account: Option<&str>) {
        if let Some(account) = account {
            self.login_backoff.failed(&["login", account, client]).await;
            // Over the ceiling already means refused at the next attempt; nothing more to do here.
            let _ = self
                .limiter
                .hit(&["login-failures", account], self.account_wide_failures())
                .await;
        }
    }

    /// A successful sign-in clears the pair's failures.
    pub async fn login_succeeded(&self, client: &str, account: Option<&str>) {
        if let Some(account) = account {
            self.login_backoff.succeeded(&["login", account, client]).await;
        }
    }

    /// Counts one `action` attempt against the client's limit and, when the request names a valid account
    /// (`account`, already normalised by the caller), the account's. A client over its limit is refused
    /// before its attempt counts against the account.
    pub async fn hit(&self, action: &str, client: &str, account: Option<&str>) -> AppResult<()> {
        self.limiter.hit(&[action, "client", client], self.per_client).await?;
        if let Some(account) = account {
            self.limiter
                .hit(&[action, "account", account], self.per_account)
                .await?;
        }
        Ok(())
    }

    /// How many keys the limits hold now (for metrics and tests).
    pub fn tracked_keys(&self) -> usize {
        self.limiter.len() + self.login_backoff.len()
    }
}

type Key = [u8; 16];

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

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn retry_after(wait: Duration) -> AppError {
    AppError::RateLimited {
        retry_after_secs: wait.as_secs_f64().ceil().max(1.0) as u64,
    }
}

/// A map of at most `capacity` fixed-size keys, in two generations (see the module's comment).
struct Generations<V> {
    capacity: usize,
    young: HashMap<Key, V>,
    old: HashMap<Key, V>,
}

impl<V: Copy> Generations<V> {
    fn new(capacity: usize) -> Generations<V> {
        Generations {
            capacity: capacity.max(2),
            young: HashMap::new(),
            old: HashMap::new(),
        }
    }

    fn get(&self, key: &Key) -> Option<V> {
        self.young.get(key).or_else(|| self.old.get(key)).copied()
    }

    /// The value of `key` in the young generation (promoted from the old one, or `fresh`), for changing.
    fn entry(&mut self, key: Key, fresh: V) -> &mut V {
        let value = match self.old.remove(&key) {
            // Promote a key still in use, so it lives another generation.
            Some(value) => value,
            None => self.young.get(&key).copied().unwrap_or(fresh),
        };
        if self.young.len() >= self.capacity / 2 && !self.young.contains_key(&key) {
            self.old = std::mem::take(&mut self.young);
        }
        self.young.entry(key).or_insert(value)
    }

    fn remove(&mut self, key: &Key) {
        self.young.remove(key);
        self.old.remove(key);
    }

    fn len(&self) -> usize {
        self.young.len() + self.old.len()
    }
}

/// With a shared store, a key whose limit is large takes hits from it this many at a time (a lease of a
/// fiftieth of its limit, at most `MAX_LEASE`), spending them here without a round trip. Small limits (sign-in,
/// write budgets) lease one at a time and stay exact; a large one may refuse a client a little early — by at
/// most the unused part of one lease per instance — but never lets it past its limit.
const LEASE_FRACTION: u32 = 50;
const MAX_LEASE: u32 = 50;

fn lease_size(limit: u32) -> u32 {
    (limit / LEASE_FRACTION).clamp(1, MAX_LEASE)
}

/// Hits leased from the shared store and not spent yet, until the window they belong to ends.
#[derive(Clone, Copy)]
struct Lease {
    remaining: u32,
    until: Instant,
}

/// Fixed-window counters, in the shared store when there is one, else (or while it does not answer) here.
pub struct RateLimiter {
    window: Duration,
    table: Mutex<Generations<(Instant, u32)>>,
    shared: Option<SharedCounts>,
    leases: Mutex<Generations<Lease>>,
}

impl RateLimiter {
    pub fn new(window: Duration, capacity: usize) -> RateLimiter {
        RateLimiter {
            window,
            table: Mutex::new(Generations::new(capacity)),
            shared: None,
            leases: Mutex::new(Generations::new(capacity)),
        }
    }

    /// Counts in `shared` when given, so that every instance's hits count against one limit.
    pub fn shared_through(mut self, shared: Option<&SharedCounts>) -> RateLimiter {
        self.shared = shared.cloned();
        self
    }

    /// Counts one attempt for the key of `parts`; RATE_LIMITED with the seconds to wait once `limit` is passed.
    pub async fn hit(&self, parts: &[&str], limit: u32) -> AppResult<()> {
        let key = key(parts);
        if let Some(shared) = &self.shared {
            if self.spend_leased(key) {
                return Ok(());
            }
            let size = lease_size(limit);
            if let Ok(counted) = shared.hit(&key, self.window, size).await {
                let before = counted.count.saturating_sub(u64::from(size));
                if before >= u64::from(limit) {
                    return Err(retry_after(counted.left));
                }
                // This request takes one hit of the lease; the rest of it that fits the limit waits here.
                let within = (u64::from(limit) - before).min(u64::from(size)) as u32;
                if within > 1 {
                    let lease = Lease {
                        remaining: within - 1,
                        until: Instant::now() + counted.left,
                    };
                    *lock(&self.leases).entry(key, lease) = lease;
                }
                return Ok(());
            }
        }
        self.hit_here(key, limit)
    }

    /// Spends one leased hit of `key`, if one is left in its window.
    fn spend_leased(&self, key: Key) -> bool {
        let mut leases = lock(&self.leases);
        let Some(lease) = leases.get(&key) else {
            return false;
        };
        if lease.remaining == 0 || lease.until <= Instant::now() {
            return false;
        }
        leases.entry(key, lease).remaining -= 1;
        true
    }

    /// RATE_LIMITED when the key of `parts` has already passed `limit` in this window; counts nothing.
    pub async fn check(&self, parts: &[&str], limit: u32) -> AppResult<()> {
        let key = key(parts);
        if let Some(shared) = &self.shared
            && let Ok(counted) = shared.peek(&key).await
        {
            return match counted.count >= u64::from(limit) && !counted.left.is_zero() {
                true => Err(retry_after(counted.left)),
                false => Ok(()),
            };
        }
        self.check_here(key, limit)
    }

    fn hit_here(&self, key: Key, limit: u32) -> AppResult<()> {
        let now = Instant::now();
        let mut table = lock(&self.table);
        let (start, count) = table.entry(key, (now, 0));
        if now.duration_since(*start) >= self.window {
            *start = now;
            *count = 0;
        }
        *count += 1;
        if *count > limit {
            return Err(retry_after(self.window.saturating_sub(now.duration_since(*start))));
        }
        Ok(())
    }

    fn check_here(&self, key: Key, limit: u32) -> AppResult<()> {
        let now = Instant::now();
        match lock(&self.table).get(&key) {
            Some((start, count)) if count >= limit && now.duration_since(start) < self.window => {
                Err(retry_after(self.window.saturating_sub(now.duration_since(start))))
            }
            _ => Ok(()),
        }
    }

    /// How many keys the limiter holds now.
    pub fn len(&self) -> usize {
        lock(&self.table).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Failures of one key in a row, and until when the key must wait.
#[derive(Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
    blocked_until: Instant,
}

/// Exponential backoff after failures: the `allowed`-th failure in a row makes the key wait `base`, each one
/// after it twice as long as the one before, up to `max`.
pub struct Backoff {
    allowed: u32,
    base: Duration,
    max: Duration,
    table: Mutex<Generations<Failures>>,
    shared: Option<SharedCounts>,
}

impl Backoff {
    pub fn new(allowed: u32, base: Duration, max: Duration, capacity: usize) -> Backoff {
        Backoff {
            allowed: allowed.max(1),
            base,
            max,
            table: Mutex::new(Generations::new(capacity)),
            shared: None,
        }
    }

    /// Keeps the failures in `shared` when given, so that a pair waits on every instance.
    pub fn shared_through(mut self, shared: Option<&SharedCounts>) -> Backoff {
        self.shared = shared.cloned();
        self
    }

    fn rules(&self) -> BackoffRules {
        BackoffRules {
            allowed: self.allowed,
            base: self.base,
            max: self.max,
            forget_after: FORGET_FAILURES_AFTER,
        }
    }

    /// RATE_LIMITED with the seconds left while the key of `parts` must wait.
    pub async fn check(&self, parts: &[&str]) -> AppResult<()> {
        let key = key(parts);
        if let Some(shared) = &self.shared
            && let Ok(left) = shared.waiting(&key).await
        {
            return match left.is_zero() {
                true => Ok(()),
                false => Err(retry_after(left)),
            };
        }
        let now = Instant::now();
        match lock(&self.table).get(&key) {
            Some(failures) if failures.blocked_until > now => Err(retry_after(failures.blocked_until - now)),
            _ => Ok(()),
        }
    }

    pub async fn failed(&self, parts: &[&str]) {
        let key = key(parts);
        if let Some(shared) = &self.shared
            && shared.failed(&key, self.rules()).await.is_ok()
        {
            return;
        }
        let now = Instant::now();
        let mut table = lock(&self.table);
        let failures = table.entry(
            key,
            Failures {
                count: 0,
                last: now,
                blocked_until: now,
            },
        );
        if now.duration_since(failures.last) > FORGET_FAILURES_AFTER {
            failures.count = 0;
        }
        failures.count = failures.count.saturating_add(1);
        failures.last = now;
        if failures.count >= self.allowed {
            let doublings = (failures.count - self.allowed).min(20);
            let wait = self.base.saturating_mul(1 << doublings).min(self.max);
            failures.blocked_until = now + wait;
        }
    }

    pub async fn succeeded(&self, parts: &[&str]) {
        let key = key(parts);
        if let Some(shared) = &self.shared {
            // Cleared here too: failures counted while the store was away are forgotten with the rest.
            let _ = shared.clear(&key).await;
        }
        lock(&self.table).remove(&key);
    }

    pub fn len(&self) -> usize {
        lock(&self.table).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn refuses_past_the_limit_until_the_window_ends() {
        let limiter = RateLimiter::new(Duration::from_millis(200), 100);
        for _ in 0..3 {
            limiter.hit(&["k"], 3).await.unwrap();
        }
        let refused = limiter.hit(&["k"], 3).await.unwrap_err();
        assert_eq!(refused.code(), "RATE_LIMITED");
        limiter.hit(&["other"], 3).await.unwrap();
        tokio::time::sleep(Duration::from_millis(250)).await;
        limiter.hit(&["k"], 3).await.unwrap();
    }

    /// H1: a flood of distinct, large keys leaves the limiter at its capacity of fixed-size keys.
    #[tokio::test]
    async fn memory_stays_bounded_under_a_flood_of_distinct_keys() {
        let limiter = RateLimiter::new(Duration::from_secs(60), 1_000);
        let big = "x".repeat(4 * 1024);
        for i in 0..5_000 {
            limiter
                .hit(&["login", "account", &format!("{big}{i}")], 5)
                .await
                .unwrap();
            assert!(limiter.len() <= 1_000, "{} keys after {i}", limiter.len());
        }
        assert!(limiter.len() >= 500, "the young generation is kept");
    }

    /// A key that keeps counting survives generations, so a flood of other keys does not reset its count.
    #[tokio::test]
    async fn a_key_in_use_keeps_its_count_through_a_flood() {
        let limiter = RateLimiter::new(Duration::from_secs(60), 100);
        for round in 0..10 {
            for other in 0..40 {
                limiter.hit(&[&format!("flood-{round}-{other}")], 5).await.unwrap();
            }
            let counted = limiter.hit(&["victim"], 5).await;
            if round < 5 {
                counted.unwrap();
            } else {
                assert_eq!(counted.unwrap_err().code(), "RATE_LIMITED", "round {round}");
            }
        }
    }

    #[test]
    fn keys_do_not_run_into_each_other() {
        assert_ne!(key(&["ab", "c"]), key(&["a", "bc"]));
    }

    /// H8: failures back off exponentially per key, up to the maximum; a success clears them; other keys are
    /// untouched.
    #[tokio::test]
    async fn failures_back_off_exponentially_and_success_clears_them() {
        let backoff = Backoff::new(3, Duration::from_secs(1), Duration::from_secs(4), 100);
        backoff.failed(&["pair"]).await;
        backoff.failed(&["pair"]).await;
        backoff.check(&["pair"]).await.expect("two failures cost nothing");
        let mut waits = Vec::new();
        for _ in 0..4 {
            backoff.failed(&["pair"]).await;
            match backoff.check(&["pair"]).await.unwrap_err() {
                AppError::RateLimited { retry_after_secs } => waits.push(retry_after_secs),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(waits, [1, 2, 4, 4], "doubling, capped");
        backoff.check(&["other"]).await.unwrap();
        backoff.succeeded(&["pair"]).await;
        backoff.check(&["pair"]).await.unwrap();
        assert!(backoff.is_empty());
    }

    #[tokio::test]
    async fn check_counts_nothing() {
        let limiter = RateLimiter::new(Duration::from_secs(60), 100);
        for _ in 0..5 {
            limiter.check(&["k"], 1).await.unwrap();
        }
        limiter.hit(&["k"], 1).await.unwrap();
        assert_eq!(limiter.check(&["k"], 1).await.unwrap_err().code(), "RATE_LIMITED");
    }
}
