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

/// Whether `text` shows anything on screen: a character that is not white space, a control character, or one
/// of the characters drawn as nothing (zero-width spaces and joiners, direction marks, variation selectors,
/// tags, fillers, the blank braille pattern). A comment or name made only of those looks empty to everyone.
pub fn has_visible_text(text: &str) -> bool {
    text.chars()
        .any(|c| !c.is_whitespace() && !c.is_control() && !is_drawn_as_nothing(c))
}

fn is_drawn_as_nothing(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
        | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}' | '\u{2800}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}'
        | '\u{FFA0}' | '\u{FFF0}'..='\u{FFF8}' | '\u{1D173}'..='\u{1D17A}' | '\u{E0000}'..='\u{E007F}'
        | '\u{E0100}'..='\u{E01EF}')
}

#[cfg(test)]
mod visible_text_tests {
    use super::has_visible_text;

    #[test]
    fn only_invisible_characters_are_no_text() {
        for empty in [
            "",
            "   ",
            "\u{200B}\u{200C}\u{200D}",
            "\u{FEFF}\u{2060}",
            "\u{3164}\u{2800}",
            "\t\n\u{E0041}",
        ] {
            assert!(!has_visible_text(empty), "{empty:?}");
        }
        for shown in ["a", " \u{200B}ok", "👍", "\u{1F44D}\u{FE0F}", "日本"] {
            assert!(has_visible_text(shown), "{shown:?}");
        }
    }
}
