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

/// What a kept document is weighed at, beyond its text: an upper estimate of its syntax tree, so that no text
/// can make the cache hold more than its budget. Measured (release build, copies of parsed documents): 19 bytes
/// of tree per byte of text for the catalog page, 36 for a long list of small values (`[1,1,1,…]`), and 185
/// bytes per field for a document of one-letter fields (`{ a a a … }`, 92 bytes per byte of text, which the
/// per-byte figure alone would undercount 4.5 times).
const TREE_BYTES_PER_TEXT_BYTE: usize = 40;
const TREE_BYTES_PER_FIELD: usize = 192;
const ENTRY_OVERHEAD: usize = 256;

/// A kept document and the bytes it is weighed at.
struct Kept {
    document: ExecutableDocument,
    weight: u32,
}

pub struct ParsedDocuments {
    /// None when DOCUMENT_CACHE_BYTES is 0.
    documents: Option<moka::sync::Cache<Arc<str>, Arc<Kept>>>,
}

impl ParsedDocuments {
    pub fn new(max_bytes: u64) -> ParsedDocuments {
        let documents = (max_bytes > 0).then(|| {
            moka::sync::Cache::builder()
                .max_capacity(max_bytes)
                .weigher(|_: &Arc<str>, kept: &Arc<Kept>| kept.weight)
                .build()
        });
        ParsedDocuments { documents }
    }

    /// A copy of the document `text` parsed to, when it is kept. (The executor takes the document apart, so
    /// each request gets its own copy.)
    pub fn get(&self, text: &str) -> Option<ExecutableDocument> {
        let documents = self.documents.as_ref()?;
        documents.get(text).map(|kept| kept.document.clone())
    }

    /// Keeps `document`, parsed from `text`, once it has passed the document limits.
    pub fn keep(&self, text: &str, document: &ExecutableDocument) {
        if let Some(documents) = &self.documents {
            let fields = crate::graphql::limits::count_fields(document);
            let bytes = text.len() * (1 + TREE_BYTES_PER_TEXT_BYTE) + fields * TREE_BYTES_PER_FIELD + ENTRY_OVERHEAD;
            let kept = Kept {
                document: document.clone(),
                weight: u32::try_from(bytes).unwrap_or(u32::MAX),
            };
            documents.insert(Arc::from(text), Arc::new(kept));
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

    /// A short text of many fields parses to a large tree (185 bytes a field, 92 per byte of text): it is
    /// weighed by its fields, so such documents cannot hold more memory than the budget says.
    #[test]
    fn a_document_of_many_small_fields_is_weighed_by_its_fields() {
        let documents = ParsedDocuments::new(1024 * 1024);
        let text = format!("{{ {} }}", vec!["a"; 500].join(" "));
        documents.keep(&text, &async_graphql::parser::parse_query(&text).unwrap());
        let usage = documents.usage();
        assert!(
            usage.bytes >= 500 * 185,
            "{} bytes of text weighed at {usage:?}",
            text.len()
        );
    }
}
