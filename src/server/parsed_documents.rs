//! GraphQL documents parsed before, by their text: a single-page app sends the same few documents over and
//! over, and parsing one (async-graphql's pest parser) was about a tenth of the server's time on an uncached
//! catalog page, 19 µs against 0.7 µs to copy the parsed document (benches/RESULTS.md, issue 12, third part).
//!
//! Only documents that parsed and passed the document limits are kept, so a kept document needs neither again
//! (the limits are structural: they do not depend on variables). Validation against the schema still runs on
//! every request, inside async-graphql, because it depends on the variables.
//!
//! Bounded by DOCUMENT_CACHE_BYTES, with moka's frequency admission: a flood of one-off documents does not push
//! out the ones in use (docs/security.md).

use std::sync::Arc;

use async_graphql::parser::types::ExecutableDocument;

/// What a kept document costs beyond its text, per byte of text: its syntax tree, measured at about 19 bytes per
/// byte of text for the catalog page, plus a fixed share for the entry.
const TREE_BYTES_PER_TEXT_BYTE: usize = 20;
const ENTRY_OVERHEAD: usize = 256;

pub struct ParsedDocuments {
    /// None when DOCUMENT_CACHE_BYTES is 0.
    documents: Option<moka::sync::Cache<Arc<str>, Arc<ExecutableDocument>>>,
}

impl ParsedDocuments {
    pub fn new(max_bytes: u64) -> ParsedDocuments {
        let documents = (max_bytes > 0).then(|| {
            moka::sync::Cache::builder()
                .max_capacity(max_bytes)
                .weigher(|text: &Arc<str>, _: &Arc<ExecutableDocument>| {
                    let bytes = text.len() * (1 + TREE_BYTES_PER_TEXT_BYTE) + ENTRY_OVERHEAD;
                    u32::try_from(bytes).unwrap_or(u32::MAX)
                })
                .build()
        });
        ParsedDocuments { documents }
    }

    /// A copy of the document `text` parsed to, when it is kept. (The executor takes the document apart, so
    /// each request gets its own copy.)
    pub fn get(&self, text: &str) -> Option<ExecutableDocument> {
        let documents = self.documents.as_ref()?;
        documents.get(text).map(|document| ExecutableDocument::clone(&document))
    }

    /// Keeps `document`, parsed from `text`, once it has passed the document limits.
    pub fn keep(&self, text: &str, document: &ExecutableDocument) {
        if let Some(documents) = &self.documents {
            documents.insert(Arc::from(text), Arc::new(document.clone()));
        }
    }

    /// Entries and weighed bytes, for /metrics.
    pub fn usage(&self) -> crate::util::CacheUsage {
        crate::util::CacheUsage::of(self.documents.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = "{ movies(first: 20) { nodes { id name genres { name } } } }";

    #[test]
    fn a_kept_document_is_handed_out_as_parsed() {
        let documents = ParsedDocuments::new(1024 * 1024);
        assert!(documents.get(PAGE).is_none());
        let parsed = async_graphql::parser::parse_query(PAGE).unwrap();
        documents.keep(PAGE, &parsed);
        let kept = documents.get(PAGE).expect("kept");
        assert_eq!(format!("{kept:?}"), format!("{parsed:?}"));
        assert!(documents.get("{ movies { nodes { id } } }").is_none(), "another text");
    }

    #[test]
    fn nothing_is_kept_when_turned_off_and_the_budget_holds() {
        let off = ParsedDocuments::new(0);
        let parsed = async_graphql::parser::parse_query(PAGE).unwrap();
        off.keep(PAGE, &parsed);
        assert!(off.get(PAGE).is_none());
        assert_eq!(off.usage(), crate::util::CacheUsage::default());

        let budget = 16 * 1024;
        let small = ParsedDocuments::new(budget);
        for n in 0..200 {
            let text = format!("{{ movies(first: {n}) {{ nodes {{ id name }} }} }}");
            small.keep(&text, &async_graphql::parser::parse_query(&text).unwrap());
        }
        let usage = small.usage();
        assert!(usage.bytes <= budget, "{usage:?}");
        assert!(usage.entries > 0 && usage.entries < 200, "{usage:?}");
    }
}
