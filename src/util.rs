//! Small helpers shared across domains.

use rand::RngCore;
use sha2::{Digest, Sha256};

/// A random token of `bytes` bytes from the OS generator, as lowercase hex.
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    hex::encode(buf)
}

/// SHA-256 of `text`, as lowercase hex: how tokens are stored.
pub fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// How full a bounded cache is, for /metrics: its entries, and the bytes its weigher counted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CacheUsage {
    pub entries: u64,
    pub bytes: u64,
}

impl CacheUsage {
    /// The usage of `cache` (None: a cache turned off, empty). moka counts entries and bytes as it applies its
    /// pending writes, so they are applied first: work bounded by the cache's size.
    pub fn of<K, V>(cache: Option<&moka::sync::Cache<K, V>>) -> CacheUsage
    where
        K: std::hash::Hash + Eq + Send + Sync + 'static,
        V: Clone + Send + Sync + 'static,
    {
        cache
            .map(|cache| {
                cache.run_pending_tasks();
                CacheUsage {
                    entries: cache.entry_count(),
                    bytes: cache.weighted_size(),
                }
            })
            .unwrap_or_default()
    }
}

/// Stands in for a secret in `Debug` output: structs that hold passwords, tokens or keys print this in their
/// place, so that a log line or a panic message never carries one (H7).
pub struct Redacted;

impl std::fmt::Debug for Redacted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Implements `Debug` for a struct, printing the fields named `shown` and `<redacted>` for the `secret` ones.
#[macro_export]
macro_rules! redacted_debug {
    ($name:ident { shown: [$($shown:ident),* $(,)?], secret: [$($secret:ident),* $(,)?] $(,)? }) => {
        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($name))
                    $(.field(stringify!($shown), &self.$shown))*
                    $(.field(stringify!($secret), &$crate::util::Redacted))*
                    .finish()
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_hex() {
        let a = random_token(32);
        assert_eq!(a.len(), 64);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, random_token(32));
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
