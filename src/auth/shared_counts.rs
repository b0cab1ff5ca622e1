//! Counts shared by every instance (issue 23): with `REDIS_URL` set, the fixed windows of the rate limits and
//! budgets, and the sign-in backoff, are kept in Redis, so that N instances allow each limit once, not N times.
//! Each count is one round trip running a small Lua script, atomic on the Redis side; the clock is Redis's
//! (`TIME`), so instances whose clocks drift still agree on windows and waits.
//!
//! Redis is a helper, never a dependency of serving: a call that fails or takes longer than `CALL_TIMEOUT`
//! makes the limiter count in this instance's memory instead (the single-instance default), so an outage of
//! Redis loosens the limits to per instance and refuses no request. After a failure the store is not asked
//! again for `PAUSE_AFTER_FAILURE`, so that an outage costs requests no waiting. Keys expire with their window,
//! so Redis holds only the keys counting now.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use redis::aio::ConnectionManager;
use tokio::sync::OnceCell;

/// How long one count may take before the limiter counts locally instead.
const CALL_TIMEOUT: Duration = Duration::from_millis(250);
/// A failing Redis is logged at most this often.
const WARN_EVERY_SECS: i64 = 60;
/// After a failed call, counts stay in this instance this long before Redis is asked again.
const PAUSE_AFTER_FAILURE: Duration = Duration::from_secs(5);

/// Counts ARGV[2] hits of a fixed window: `{count, milliseconds left in the window}`.
const HIT: &str = r"
local count = redis.call('INCRBY', KEYS[1], ARGV[2])
local left = redis.call('PTTL', KEYS[1])
if left < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  left = tonumber(ARGV[1])
end
return {count, left}
";

/// A window's count without counting: `{count, milliseconds left}` (`{0, 0}` for no window).
const PEEK: &str = r"
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
local left = redis.call('PTTL', KEYS[1])
if left < 0 then left = 0 end
return {count, left}
";

/// One failure more of a backoff key; ARGV: failures allowed before waiting, first wait, longest wait and
/// forgetting time, in milliseconds. The wait doubles with each failure past the allowed ones.
const FAILED: &str = r"
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local count = redis.call('HINCRBY', KEYS[1], 'count', 1)
local allowed = tonumber(ARGV[1])
if count >= allowed then
  local doublings = math.min(count - allowed, 20)
  local wait = math.min(tonumber(ARGV[2]) * (2 ^ doublings), tonumber(ARGV[3]))
  redis.call('HSET', KEYS[1], 'until', now_ms + wait)
end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return count
";

/// Milliseconds a backoff key must still wait (0: none).
const WAITING: &str = r"
local blocked = redis.call('HGET', KEYS[1], 'until')
if not blocked then return 0 end
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local left = tonumber(blocked) - now_ms
if left < 0 then return 0 end
return left
";

/// A window's count as the shared store tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowCount {
    pub count: u64,
    /// How long until the window ends.
    pub left: Duration,
}

/// The shared store of counts: one Redis connection (multiplexed, reconnecting) for the whole instance,
/// opened at the first count, so an instance starts even while Redis is down.
#[derive(Clone)]
pub struct SharedCounts {
    inner: Arc<Inner>,
}

struct Inner {
    client: redis::Client,
    connection: OnceCell<ConnectionManager>,
    prefix: String,
    hit: redis::Script,
    peek: redis::Script,
    failed: redis::Script,
    waiting: redis::Script,
    last_warning: AtomicI64,
    /// Until when (Unix milliseconds) the store is not asked, after a failure.
    paused_until: AtomicI64,
}

/// A count that did not reach the shared store (the reason went to the log).
#[derive(Debug)]
pub struct Unavailable;

impl SharedCounts {
    /// The store at `url` (`redis://host:port/db`), its keys starting with `prefix` (several deployments may
    /// share one Redis). Fails only on a malformed URL; nothing is connected yet.
    pub fn open(url: &str, prefix: &str) -> Result<SharedCounts, String> {
        let client = redis::Client::open(url).map_err(|error| format!("REDIS_URL is not a Redis URL: {error}"))?;
        Ok(SharedCounts {
            inner: Arc::new(Inner {
                client,
                connection: OnceCell::new(),
                prefix: prefix.to_string(),
                hit: redis::Script::new(HIT),
                peek: redis::Script::new(PEEK),
                failed: redis::Script::new(FAILED),
                waiting: redis::Script::new(WAITING),
                last_warning: AtomicI64::new(0),
                paused_until: AtomicI64::new(0),
            }),
        })
    }

    fn key(&self, kind: &str, key: &[u8; 16]) -> String {
        format!("{}{kind}:{}", self.inner.prefix, hex::encode(key))
    }

    async fn connection(&self) -> Result<ConnectionManager, Unavailable> {
        let inner = &self.inner;
        inner
            .connection
            .get_or_try_init(|| async {
                let config = redis::aio::ConnectionManagerConfig::new()
                    .set_number_of_retries(1)
                    .set_connection_timeout(Some(CALL_TIMEOUT))
                    .set_response_timeout(Some(CALL_TIMEOUT));
                ConnectionManager::new_with_config(inner.client.clone(), config).await
            })
            .await
            .cloned()
            .map_err(|error| self.unavailable(error.to_string()))
    }

    /// Unavailable at once while paused after a failure.
    fn paused(&self) -> Result<(), Unavailable> {
        if chrono::Utc::now().timestamp_millis() < self.inner.paused_until.load(Ordering::Relaxed) {
            metrics::counter!("cinema_shared_limits_unavailable_total").increment(1);
            return Err(Unavailable);
        }
        Ok(())
    }

    /// Runs `script` within `CALL_TIMEOUT`.
    async fn run<T: redis::FromRedisValue>(
        &self,
        script: &redis::Script,
        key: String,
        args: &[u64],
    ) -> Result<T, Unavailable> {
        self.paused()?;
        let call = async {
            let mut connection = self.connection().await?;
            let mut invocation = script.key(key);
            for arg in args {
                invocation.arg(*arg);
            }
            invocation
                .invoke_async(&mut connection)
                .await
                .map_err(|error| self.unavailable(error.to_string()))
        };
        match tokio::time::timeout(CALL_TIMEOUT * 2, call).await {
            Ok(outcome) => outcome,
            Err(_) => Err(self.unavailable("timed out".into())),
        }
    }

    /// Counts `hits` hits of the window `key` (`window` long, started by its first hit).
    pub async fn hit(&self, key: &[u8; 16], window: Duration, hits: u32) -> Result<WindowCount, Unavailable> {
        let (count, left): (u64, u64) = self
            .run(&self.inner.hit, self.key("w", key), &[millis(window), u64::from(hits)])
            .await?;
        Ok(WindowCount {
            count,
            left: Duration::from_millis(left),
        })
    }

    /// The window `key`'s count, counting nothing.
    pub async fn peek(&self, key: &[u8; 16]) -> Result<WindowCount, Unavailable> {
        let (count, left): (u64, u64) = self.run(&self.inner.peek, self.key("w", key), &[]).await?;
        Ok(WindowCount {
            count,
            left: Duration::from_millis(left),
        })
    }

    /// One failure more of the backoff `key`.
    pub async fn failed(&self, key: &[u8; 16], rules: BackoffRules) -> Result<(), Unavailable> {
        let args = [
            u64::from(rules.allowed),
            millis(rules.base),
            millis(rules.max),
            millis(rules.forget_after),
        ];
        let _: u64 = self.run(&self.inner.failed, self.key("b", key), &args).await?;
        Ok(())
    }

    /// How long the backoff `key` must still wait.
    pub async fn waiting(&self, key: &[u8; 16]) -> Result<Duration, Unavailable> {
        let left: u64 = self.run(&self.inner.waiting, self.key("b", key), &[]).await?;
        Ok(Duration::from_millis(left))
    }

    /// Forgets the backoff `key`'s failures.
    pub async fn clear(&self, key: &[u8; 16]) -> Result<(), Unavailable> {
        self.paused()?;
        let call = async {
            let mut connection = self.connection().await?;
            redis::cmd("DEL")
                .arg(self.key("b", key))
                .query_async::<u64>(&mut connection)
                .await
                .map_err(|error| self.unavailable(error.to_string()))
        };
        match tokio::time::timeout(CALL_TIMEOUT * 2, call).await {
            Ok(outcome) => outcome.map(|_| ()),
            Err(_) => Err(self.unavailable("timed out".into())),
        }
    }

    /// Records a failed call: a pause, a metric every time, a warning at most once a minute.
    fn unavailable(&self, reason: String) -> Unavailable {
        metrics::counter!("cinema_shared_limits_unavailable_total").increment(1);
        let pause = i64::try_from(PAUSE_AFTER_FAILURE.as_millis()).unwrap_or(i64::MAX);
        self.inner
            .paused_until
            .store(chrono::Utc::now().timestamp_millis() + pause, Ordering::Relaxed);
        let now = chrono::Utc::now().timestamp();
        let last = self.inner.last_warning.load(Ordering::Relaxed);
        if now - last >= WARN_EVERY_SECS
            && self
                .inner
                .last_warning
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            tracing::warn!(
                %reason,
                "shared limits: Redis unavailable; counting in this instance until it answers"
            );
        }
        Unavailable
    }
}

/// A backoff's rules, as the shared store applies them.
#[derive(Debug, Clone, Copy)]
pub struct BackoffRules {
    pub allowed: u32,
    pub base: Duration,
    pub max: Duration,
    pub forget_after: Duration,
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX).max(1)
}
