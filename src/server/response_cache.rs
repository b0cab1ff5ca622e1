//! The cache of public reads: an anonymous query whose every field is public content is answered from memory
//! until public content changes (docs/architecture.md, "Response cache").
//!
//! Which answers are kept: those of a query (never a mutation) sent without `Authorization`, answered without
//! errors, whose selection async-graphql's cache-control analysis finds public and with a max age. The
//! catalog's root fields carry `cache_control(max_age = …)`; the viewer's fields (`isFavorite`, `viewerLiked`,
//! …) carry `cache_control(private)`, so a selection that names one is never kept, and the other root fields
//! (`me`, `cart`, …) carry no max age, so a selection that names one is not kept either.
//!
//! Until when: an answer is kept under the public content version its execution started under
//! (`db::notify::ContentVersion`). Every write of public content moves that version when it commits, before
//! its caller is answered (another instance's write: when its notice arrives), so the next read misses and
//! runs again. A read that started before a change and finished after it is kept under the old version, where
//! nobody looks any more.
//!
//! Bounded: the entries' keys and bodies count against RESPONSE_CACHE_BYTES, least recently used out first;
//! an answer nobody read for five minutes (those of an older version, say) goes anyway.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::http::HeaderValue;
use bytes::Bytes;
use sha2::{Digest, Sha256};

/// Bytes an entry costs beyond its key and body (the entry, its `Arc`s, moka's bookkeeping, the allocator's
/// rounding), roughly: measured, a full cache of catalog pages took about twice its weighed bytes with 256.
const ENTRY_OVERHEAD: usize = 1024;
/// How long an answer nobody reads stays (answers of an older version are never read again).
const DEAD_ANSWER_LIFETIME: std::time::Duration = std::time::Duration::from_secs(300);

/// The public answers kept in memory, with hit and miss counts for /metrics.
pub struct ResponseCache {
    /// None when RESPONSE_CACHE_BYTES is 0.
    answers: Option<moka::sync::Cache<AnswerKey, Arc<PublicAnswer>>>,
    /// The newest version an answer was kept under: an answer of an older one is not kept.
    newest_version: AtomicU64,
    hits: AtomicU64,
    misses: AtomicU64,
}

/// What identifies an answer: the public content version and the request as the client sent it (operation
/// name, variables and document, each length-prefixed so that no two requests make the same key).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AnswerKey {
    version: u64,
    request: Box<str>,
}

/// A public answer: its JSON body, its entity tag, and how long HTTP caches may keep it.
#[derive(Debug)]
pub struct PublicAnswer {
    pub body: Bytes,
    pub etag: HeaderValue,
    pub max_age: u32,
}

impl PublicAnswer {
    pub fn new(body: Bytes, max_age: u32) -> PublicAnswer {
        let digest = Sha256::digest(&body);
        let etag = format!("\"{}\"", hex::encode(&digest[..16]));
        PublicAnswer {
            body,
            etag: HeaderValue::from_str(&etag).expect("hex digits in quotes are a valid header value"),
            max_age,
        }
    }
}

/// How long HTTP caches may keep `response`, when it is a public answer: no errors, and a selection that is
/// public with a max age (see the module's comment). The caller checks it is an anonymous query.
pub fn public_max_age(response: &async_graphql::Response) -> Option<u32> {
    let control = response.cache_control;
    (response.errors.is_empty() && control.public && control.max_age > 0).then_some(control.max_age as u32)
}

impl ResponseCache {
    pub fn new(max_bytes: u64) -> ResponseCache {
        let answers = (max_bytes > 0).then(|| {
            moka::sync::Cache::builder()
                .max_capacity(max_bytes)
                .weigher(|key: &AnswerKey, answer: &Arc<PublicAnswer>| {
                    let bytes = key.request.len() + answer.body.len() + ENTRY_OVERHEAD;
                    u32::try_from(bytes).unwrap_or(u32::MAX)
                })
                // Least recently used out first: answers of an older version are never read again, so they
                // go first. (TinyLFU, moka's default, would keep a once-popular dead answer and turn away the
                // new version's.)
                .eviction_policy(moka::policy::EvictionPolicy::lru())
                // Dead answers free their memory within this time even when nothing presses for room.
                .time_to_idle(DEAD_ANSWER_LIFETIME)
                .build()
        });
        ResponseCache {
            answers,
            newest_version: AtomicU64::new(0),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// The key of an anonymous request read at public content `version`; None when the cache is off or the
    /// version is unknown (changes made elsewhere might go unheard).
    pub fn key(&self, version: Option<u64>, request: &async_graphql::Request) -> Option<AnswerKey> {
        self.answers.as_ref()?;
        let version = version?;
        let operation = request.operation_name.as_deref().unwrap_or_default();
        let variables = serde_json::to_string(&request.variables).unwrap_or_default();
        let query = &request.query;
        let mut key = String::with_capacity(operation.len() + variables.len() + query.len() + 24);
        for part in [operation, variables.as_str(), query.as_str()] {
            key.push_str(&part.len().to_string());
            key.push(':');
            key.push_str(part);
        }
        Some(AnswerKey {
            version,
            request: key.into_boxed_str(),
        })
    }

    /// The answer kept under `key`, counted as a hit or a miss.
    pub fn get(&self, key: &AnswerKey) -> Option<Arc<PublicAnswer>> {
        let found = self.answers.as_ref()?.get(key);
        let counter = if found.is_some() { &self.hits } else { &self.misses };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Keeps `answer` under `key`, unless a newer version has been seen (then nobody would read it).
    pub fn keep(&self, key: AnswerKey, answer: Arc<PublicAnswer>) {
        let Some(answers) = &self.answers else {
            return;
        };
        let newest = self.newest_version.fetch_max(key.version, Ordering::Relaxed);
        if key.version >= newest {
            answers.insert(key, answer);
        }
    }

    /// Reads answered from the cache, and reads that ran, for /metrics.
    pub fn hits_and_misses(&self) -> (u64, u64) {
        (self.hits.load(Ordering::Relaxed), self.misses.load(Ordering::Relaxed))
    }

    /// Answers kept and their weighed bytes, for /metrics.
    pub fn usage(&self) -> crate::util::CacheUsage {
        crate::util::CacheUsage::of(self.answers.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(query: &str, operation: Option<&str>, variables: serde_json::Value) -> async_graphql::Request {
        let mut request = async_graphql::Request::new(query).variables(async_graphql::Variables::from_json(variables));
        request.operation_name = operation.map(str::to_string);
        request
    }

    #[test]
    fn keys_tell_requests_apart() {
        let cache = ResponseCache::new(1024 * 1024);
        let plain = cache.key(Some(1), &request("{ a }", None, serde_json::json!({})));
        assert_eq!(
            plain,
            cache.key(Some(1), &request("{ a }", None, serde_json::json!({})))
        );
        assert_ne!(
            plain,
            cache.key(Some(2), &request("{ a }", None, serde_json::json!({})))
        );
        assert_ne!(
            plain,
            cache.key(Some(1), &request("{ a }", None, serde_json::json!({"x": 1})))
        );
        // The operation name cannot run into the document: parts are length-prefixed.
        assert_ne!(
            cache.key(Some(1), &request("b{ a }", Some("a"), serde_json::json!({}))),
            cache.key(Some(1), &request("{ a }", Some("ab"), serde_json::json!({})))
        );
        assert_eq!(cache.key(None, &request("{ a }", None, serde_json::json!({}))), None);
        assert_eq!(
            ResponseCache::new(0).key(Some(1), &request("{ a }", None, serde_json::json!({}))),
            None
        );
    }

    #[test]
    fn answers_of_an_older_version_are_not_kept_once_a_newer_one_is() {
        let cache = ResponseCache::new(1024 * 1024);
        let answer = Arc::new(PublicAnswer::new(Bytes::from_static(b"{}"), 10));
        let old = cache
            .key(Some(1), &request("{ a }", None, serde_json::json!({})))
            .unwrap();
        cache.keep(old.clone(), answer.clone());
        assert!(cache.get(&old).is_some(), "kept and found at once");
        let new = cache
            .key(Some(2), &request("{ a }", None, serde_json::json!({})))
            .unwrap();
        assert!(cache.get(&new).is_none(), "another version is another answer");
        cache.keep(new.clone(), answer.clone());
        assert!(cache.get(&new).is_some());
        let late = cache
            .key(Some(1), &request("{ b }", None, serde_json::json!({})))
            .unwrap();
        cache.keep(late.clone(), answer);
        assert!(cache.get(&late).is_none(), "computed under a version already replaced");
        assert_eq!(cache.hits_and_misses(), (2, 2));
    }

    #[test]
    fn memory_stays_within_the_bound_whatever_is_asked() {
        let cache = ResponseCache::new(64 * 1024);
        let body = Bytes::from(vec![b' '; 4096]);
        for n in 0..200 {
            let key = cache
                .key(Some(1), &request("{ a }", None, serde_json::json!({ "n": n })))
                .unwrap();
            cache.keep(key, Arc::new(PublicAnswer::new(body.clone(), 10)));
        }
        let crate::util::CacheUsage { entries, bytes } = cache.usage();
        assert!(bytes <= 64 * 1024, "{bytes} bytes kept");
        assert!(
            (10..=16).contains(&entries),
            "{entries} answers of about 4 KiB kept in 64 KiB"
        );
    }

    #[test]
    fn entity_tags_follow_the_body() {
        let a = PublicAnswer::new(Bytes::from_static(b"{\"a\":1}"), 10);
        let b = PublicAnswer::new(Bytes::from_static(b"{\"a\":2}"), 10);
        assert_ne!(a.etag, b.etag);
        assert_eq!(a.etag, PublicAnswer::new(Bytes::from_static(b"{\"a\":1}"), 10).etag);
        assert_eq!(a.etag.len(), 34);
    }
}
