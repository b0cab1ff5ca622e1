//! Automatic persisted queries, as Apollo's clients speak them: a request may carry
//! `extensions.persistedQuery = {version: 1, sha256Hash}` instead of its query text. The first time, the
//! server answers `PERSISTED_QUERY_NOT_FOUND`; the client sends the text with the hash, the server checks the
//! hash and keeps the text (once the document has parsed and passed the limits); from then on the hash alone
//! stands for it, and a GET with the hash is short enough for a CDN or the browser to cache
//! (docs/architecture.md, "Response cache").
//!
//! Bounded: the kept texts count against PERSISTED_QUERY_BYTES, least used first out; a client whose text was
//! dropped is told PERSISTED_QUERY_NOT_FOUND again and sends it again.

use std::sync::Arc;

use sha2::{Digest, Sha256};

/// Bytes a kept query costs beyond its text, roughly.
const ENTRY_OVERHEAD: usize = 128;

pub struct PersistedQueries {
    /// None when PERSISTED_QUERY_BYTES is 0.
    texts: Option<moka::sync::Cache<[u8; 32], Arc<str>>>,
}

/// A text to keep under its hash once its document is known to be sound.
#[derive(Debug)]
pub struct ToRegister([u8; 32]);

/// Why a persisted query cannot run; `code` and `message` are what Apollo's clients look for.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The hash is not known (yet): the client should send the text with it.
    NotFound,
    /// Persisted queries are turned off: the client should stop sending hashes alone.
    NotSupported,
    /// The text does not hash to the hash sent with it.
    HashMismatch,
    /// `extensions.persistedQuery` is not `{version: 1, sha256Hash: <64 hex digits>}`.
    Malformed(&'static str),
}

impl Refusal {
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::NotFound => "PERSISTED_QUERY_NOT_FOUND",
            Refusal::NotSupported => "PERSISTED_QUERY_NOT_SUPPORTED",
            Refusal::HashMismatch => "PERSISTED_QUERY_HASH_MISMATCH",
            Refusal::Malformed(_) => "BAD_REQUEST",
        }
    }

    pub fn message(&self) -> &'static str {
        match self {
            Refusal::NotFound => "PersistedQueryNotFound",
            Refusal::NotSupported => "PersistedQueryNotSupported",
            Refusal::HashMismatch => "provided sha does not match query",
            Refusal::Malformed(why) => why,
        }
    }
}

impl PersistedQueries {
    pub fn new(max_bytes: u64) -> PersistedQueries {
        let texts = (max_bytes > 0).then(|| {
            moka::sync::Cache::builder()
                .max_capacity(max_bytes)
                .weigher(|_: &[u8; 32], text: &Arc<str>| u32::try_from(text.len() + ENTRY_OVERHEAD).unwrap_or(u32::MAX))
                .build()
        });
        PersistedQueries { texts }
    }

    /// Fills in the query of a request that sent a known hash alone. Ok(Some) when the request sent a text
    /// with its hash: keep it with `register` once its document proved sound. Ok(None) for a request that is
    /// not a persisted query, or whose text was found.
    pub fn resolve(&self, request: &mut async_graphql::Request) -> Result<Option<ToRegister>, Refusal> {
        let Some(persisted) = request.extensions.get("persistedQuery") else {
            return Ok(None);
        };
        let Some(texts) = &self.texts else {
            return Err(Refusal::NotSupported);
        };
        let hash = hash_of(persisted)?;
        if request.query.is_empty() {
            let text = texts.get(&hash).ok_or(Refusal::NotFound)?;
            request.query = text.to_string();
            return Ok(None);
        }
        if Sha256::digest(request.query.as_bytes()).as_slice() != hash {
            return Err(Refusal::HashMismatch);
        }
        Ok(Some(ToRegister(hash)))
    }

    /// Keeps `query` under the hash it was sent with (checked by `resolve`).
    pub fn register(&self, hash: ToRegister, query: &str) {
        if let Some(texts) = &self.texts {
            texts.insert(hash.0, Arc::from(query));
        }
    }

    /// Texts kept and their weighed bytes, for /metrics.
    pub fn usage(&self) -> crate::util::CacheUsage {
        crate::util::CacheUsage::of(self.texts.as_ref())
    }
}

/// The hash of `{version: 1, sha256Hash: "<64 hex digits>"}`.
fn hash_of(persisted: &async_graphql::Value) -> Result<[u8; 32], Refusal> {
    use async_graphql::Value;
    let Value::Object(fields) = persisted else {
        return Err(Refusal::Malformed("extensions.persistedQuery must be an object"));
    };
    match fields.get("version") {
        Some(Value::Number(version)) if version.as_u64() == Some(1) => {}
        _ => return Err(Refusal::Malformed("extensions.persistedQuery.version must be 1")),
    }
    let bad_hash = Refusal::Malformed("extensions.persistedQuery.sha256Hash must be 64 hexadecimal digits");
    let Some(Value::String(hex_digits)) = fields.get("sha256Hash") else {
        return Err(bad_hash);
    };
    let mut hash = [0u8; 32];
    hex::decode_to_slice(hex_digits, &mut hash).map_err(|_| bad_hash)?;
    Ok(hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn persisted(query: &str, hash: &str) -> async_graphql::Request {
        let mut request = async_graphql::Request::new(query);
        let extension = serde_json::json!({ "version": 1, "sha256Hash": hash });
        request.extensions.insert(
            "persistedQuery".into(),
            async_graphql::Value::from_json(extension).unwrap(),
        );
        request
    }

    fn sha(text: &str) -> String {
        hex::encode(Sha256::digest(text.as_bytes()))
    }

    #[test]
    fn a_hash_is_registered_with_its_text_then_stands_for_it() {
        let queries = PersistedQueries::new(1024 * 1024);
        let text = "{ genres { name } }";
        let mut alone = persisted("", &sha(text));
        assert_eq!(queries.resolve(&mut alone).unwrap_err(), Refusal::NotFound);
        let mut with_text = persisted(text, &sha(text));
        let register = queries.resolve(&mut with_text).unwrap().expect("a text to keep");
        queries.register(register, text);
        let mut alone = persisted("", &sha(text).to_uppercase());
        assert!(queries.resolve(&mut alone).unwrap().is_none());
        assert_eq!(alone.query, text);
    }

    #[test]
    fn memory_stays_within_the_bound_whatever_is_registered() {
        let queries = PersistedQueries::new(64 * 1024);
        for n in 0..200 {
            let text = format!("{{ genres {{ name }} }} # {n} {}", " ".repeat(4096));
            let mut request = persisted(&text, &sha(&text));
            let register = queries.resolve(&mut request).unwrap().unwrap();
            queries.register(register, &text);
        }
        let texts = queries.texts.as_ref().unwrap();
        texts.run_pending_tasks();
        assert!(
            texts.weighted_size() <= 64 * 1024,
            "{} bytes kept",
            texts.weighted_size()
        );
        assert!(texts.entry_count() >= 10);
    }

    #[test]
    fn refuses_a_wrong_hash_a_bad_extension_and_when_turned_off() {
        let queries = PersistedQueries::new(1024 * 1024);
        let mut wrong = persisted("{ genres { name } }", &sha("{ movies { totalCount } }"));
        assert_eq!(queries.resolve(&mut wrong).unwrap_err(), Refusal::HashMismatch);
        let mut short = persisted("", "abc");
        assert_eq!(queries.resolve(&mut short).unwrap_err().code(), "BAD_REQUEST");
        let mut version_two = persisted("", &sha("x"));
        version_two.extensions.insert(
            "persistedQuery".into(),
            async_graphql::Value::from_json(serde_json::json!({ "version": 2, "sha256Hash": sha("x") })).unwrap(),
        );
        assert!(
            queries
                .resolve(&mut version_two)
                .unwrap_err()
                .message()
                .contains("version")
        );
        let off = PersistedQueries::new(0);
        assert_eq!(
            off.resolve(&mut persisted("", &sha("x"))).unwrap_err(),
            Refusal::NotSupported
        );
        let mut plain = async_graphql::Request::new("{ genres { name } }");
        assert!(off.resolve(&mut plain).unwrap().is_none());
    }
}
