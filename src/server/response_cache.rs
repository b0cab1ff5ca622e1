//! The cache of public reads: an anonymous query whose every field is public content is answered from memory
//! until public content changes (docs/architecture.md, "Response cache").
//!
//! Which answers are kept: those of a query (never a mutation) sent without `Authorization`, answered without
//! errors, whose selection async-graphql's cache-control analysis finds public and with a max age. The
//! catalog's root fields carry `cache_control(max_age = …)`; the viewer's fields (`isFavorite`, `viewerLiked`,
//! …) carry `cache_control(private)`, so a selection that names one is never kept, and the other root fields
//! (`me`, `cart`, …) carry no max age, so a selection that names one is not kept either.
//!
//! Until when: until a part of public content it showed changes (`db::notify::ContentVersion`, issue 22). While
//! it runs, the resolvers mark what they show (`db::notify::ReadSet`: the catalog, one movie's likes, all
//! movies' likes for a list sorted by them, …); the answer is kept with those parts and the sequence number
//! current when it started. Every write of public content moves the parts it changed when it commits, before its
//! caller is answered (another instance's write: when its notice arrives); a kept answer one of whose parts
//! moved since it started is a miss, and runs again. So one user toggling a like drops only the answers that
//! showed that movie's likes (or sorted by likes), not every catalog page. An answer that marked nothing is not
//! kept, and neither is one whose parts moved while it ran.
//!
//! Bounded: the entries' keys and bodies count against RESPONSE_CACHE_BYTES, least recently used out first;
//! an answer nobody read for five minutes (those of an older version, say) goes anyway.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::http::HeaderValue;
use bytes::Bytes;
use sha2::{Digest, Sha256};

use crate::db::notify::ContentVersion;

/// Bytes an entry costs beyond its key and body (the entry, its `Arc`s, moka's bookkeeping, the allocator's
/// rounding), roughly: measured, a full cache of catalog pages took about twice its weighed bytes with 256.
const ENTRY_OVERHEAD: usize = 1024;
/// How long an answer nobody reads stays (answers of an older version are never read again).
const DEAD_ANSWER_LIFETIME: std::time::Duration = std::time::Duration::from_secs(300);

/// The public answers kept in memory, with hit and miss counts for /metrics.
pub struct ResponseCache {
    /// None when RESPONSE_CACHE_BYTES is 0.
    answers: Option<moka::sync::Cache<AnswerKey, Arc<KeptAnswer>>>,
    hits: AtomicU64,
    misses: AtomicU64,
}

/// What identifies an answer: the request as the client sent it (operation name, variables and document,
/// each length-prefixed so that no two requests make the same key).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AnswerKey {
    request: Box<str>,
}

/// An answer with what it showed: the slots of the parts of public content it read, and the sequence number
/// current when it started.
#[derive(Debug)]
struct KeptAnswer {
    answer: Arc<PublicAnswer>,
    as_of: u64,
    slots: Box<[u16]>,
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
                .weigher(|key: &AnswerKey, kept: &Arc<KeptAnswer>| {
                    let bytes = key.request.len() + kept.answer.body.len() + kept.slots.len() * 2 + ENTRY_OVERHEAD;
                    u32::try_from(bytes).unwrap_or(u32::MAX)
                })
                // Least recently used out first: a stale answer is never read again, so it goes first. (TinyLFU,
                // moka's default, would keep a once-popular stale answer and turn away its successor.)
                .eviction_policy(moka::policy::EvictionPolicy::lru())
                // Stale answers free their memory within this time even when nothing presses for room.
                .time_to_idle(DEAD_ANSWER_LIFETIME)
                .build()
        });
        ResponseCache {
            answers,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// The key of an anonymous request; None when the cache is off.
    pub fn key(&self, request: &async_graphql::Request) -> Option<AnswerKey> {
        self.answers.as_ref()?;
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
            request: key.into_boxed_str(),
        })
    }

    /// The answer kept under `key` while nothing it showed has changed, counted as a hit or a miss. A stale one
    /// is dropped.
    pub fn get(&self, key: &AnswerKey, content: &ContentVersion) -> Option<Arc<PublicAnswer>> {
        let answers = self.answers.as_ref()?;
        let found = answers.get(key).and_then(|kept| {
            if content.unchanged_since(kept.as_of, &kept.slots) {
                Some(kept.answer.clone())
            } else {
                answers.invalidate(key);
                None
            }
        });
        let counter = if found.is_some() { &self.hits } else { &self.misses };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Keeps `answer` under `key`: it started at sequence number `as_of` and showed the parts in `slots`.
    /// Not kept when it showed nothing marked, or when one of its parts changed while it ran.
    pub fn keep(
        &self,
        key: AnswerKey,
        answer: Arc<PublicAnswer>,
        as_of: u64,
        slots: Vec<u16>,
        content: &ContentVersion,
    ) {
        let Some(answers) = &self.answers else {
            return;
        };
        if slots.is_empty() || !content.unchanged_since(as_of, &slots) {
            return;
        }
        answers.insert(
            key,
            Arc::new(KeptAnswer {
                answer,
                as_of,
                slots: slots.into_boxed_slice(),
            }),
        );
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
    use crate::db::notify::{Content, Part, ReadSet};

    fn request(query: &str, operation: Option<&str>, variables: serde_json::Value) -> async_graphql::Request {
        let mut request = async_graphql::Request::new(query).variables(async_graphql::Variables::from_json(variables));
        request.operation_name = operation.map(str::to_string);
        request
    }

    #[test]
    fn keys_tell_requests_apart() {
        let cache = ResponseCache::new(1024 * 1024);
        let plain = cache.key(&request("{ a }", None, serde_json::json!({})));
        assert_eq!(plain, cache.key(&request("{ a }", None, serde_json::json!({}))));
        assert_ne!(plain, cache.key(&request("{ a }", None, serde_json::json!({"x": 1}))));
        // The operation name cannot run into the document: parts are length-prefixed.
        assert_ne!(
            cache.key(&request("b{ a }", Some("a"), serde_json::json!({}))),
            cache.key(&request("{ a }", Some("ab"), serde_json::json!({})))
        );
        assert_eq!(
            ResponseCache::new(0).key(&request("{ a }", None, serde_json::json!({}))),
            None
        );
    }

    fn slots(parts: &[Part]) -> Vec<u16> {
        let read = ReadSet::default();
        for part in parts {
            read.mark(*part);
        }
        read.slots()
    }

    #[test]
    fn an_answer_lasts_until_a_part_it_showed_changes() {
        let content = ContentVersion::new(true);
        let cache = ResponseCache::new(1024 * 1024);
        let answer = Arc::new(PublicAnswer::new(Bytes::from_static(b"{}"), 10));
        let page = cache.key(&request("{ page }", None, serde_json::json!({}))).unwrap();
        let likes = cache.key(&request("{ likes }", None, serde_json::json!({}))).unwrap();
        let as_of = content.current().unwrap();
        cache.keep(
            page.clone(),
            answer.clone(),
            as_of,
            slots(&[Part::all(Content::Catalog)]),
            &content,
        );
        let liked = [Part::all(Content::Catalog), Part::of_movie(Content::Reactions, 7)];
        cache.keep(likes.clone(), answer.clone(), as_of, slots(&liked), &content);
        assert!(cache.get(&page, &content).is_some() && cache.get(&likes, &content).is_some());

        content.changed(&[Part::of_movie(Content::Reactions, 7)]);
        assert!(
            cache.get(&page, &content).is_some(),
            "a like leaves the page that shows no likes"
        );
        assert!(
            cache.get(&likes, &content).is_none(),
            "and drops the one that showed them"
        );

        // Kept only when it marked something, and nothing it showed changed while it ran.
        let unmarked = cache
            .key(&request("{ unmarked }", None, serde_json::json!({})))
            .unwrap();
        cache.keep(
            unmarked.clone(),
            answer.clone(),
            content.current().unwrap(),
            Vec::new(),
            &content,
        );
        assert!(cache.get(&unmarked, &content).is_none());
        let started = content.current().unwrap();
        content.changed(&[Part::all(Content::Catalog)]);
        cache.keep(
            page.clone(),
            answer,
            started,
            slots(&[Part::all(Content::Catalog)]),
            &content,
        );
        assert!(
            cache.get(&page, &content).is_none(),
            "computed while the catalog changed"
        );
        assert_eq!(cache.hits_and_misses(), (3, 3));
    }

    #[test]
    fn memory_stays_within_the_bound_whatever_is_asked() {
        let content = ContentVersion::new(true);
        let cache = ResponseCache::new(64 * 1024);
        let body = Bytes::from(vec![b' '; 4096]);
        for n in 0..200 {
            let key = cache
                .key(&request("{ a }", None, serde_json::json!({ "n": n })))
                .unwrap();
            let catalog = slots(&[Part::all(Content::Catalog)]);
            cache.keep(key, Arc::new(PublicAnswer::new(body.clone(), 10)), 0, catalog, &content);
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
