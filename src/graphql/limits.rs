//! Limits checked on the parsed document, before validation or execution (see docs/architecture.md, "GraphQL
//! limits"): how many aliases and fields a request uses, how deep its selections nest, and how deep an
//! introspection query goes; and the cost constants the resolvers' complexity uses.
//!
//! Depth is counted apart for the two kinds of selection. Data selections (`movies { nodes { genres … } } }`)
//! are held to `max_depth`, the limit that protects the database. Introspection selections (under `__schema`
//! and `__type`) are not counted there: the standard introspection query that GraphiQL, code generators and
//! editor plugins send nests its `ofType` chain about fifteen levels deep, yet it reads only the schema held
//! in memory. Introspection has bounds of its own instead: a depth of `INTROSPECTION_MAX_DEPTH`, and at most
//! `INTROSPECTION_MAX_LISTS` nested lists of types' members (`fields`, `inputFields`, `interfaces`,
//! `possibleTypes`), the nesting that could multiply the answer's size (`fields { type { fields { type { … }`).
//! Fragments are followed wherever they are spread, so a fragment cannot hide depth.

use std::collections::{HashMap, HashSet};

use async_graphql::Name;
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};

/// The standard introspection query (graphql-js `getIntrospectionQuery` with every option) nests 15 levels
/// below `__schema`; 20 leaves room for clients that ask a few more `ofType` levels.
pub const INTROSPECTION_MAX_DEPTH: usize = 20;
/// The standard query nests one such list (`types { fields … }`); graphql-js refuses three, and so do we.
pub const INTROSPECTION_MAX_LISTS: usize = 2;
/// Introspection fields whose answers are lists of a type's members.
const MEMBER_LISTS: [&str; 4] = ["fields", "inputFields", "interfaces", "possibleTypes"];

/// What a list that reads the database costs before its items (a query runs even for `first: 0`).
pub const QUERY_COST: usize = 10;
/// What a count (`totalCount`) or a search costs: a statement of its own.
pub const COUNT_COST: usize = 10;
/// How many genres the complexity counts the `genres` list as (it is not paged).
pub const GENRES_LIST_SIZE: usize = 30;

/// The complexity of a page of a list: a query that runs even for `first: 0`, a search when there is one,
/// and the page's items (the default page size when `first` is not given). Stated in docs/security.md.
pub fn page_cost(first: Option<i32>, child_complexity: usize, search: bool) -> usize {
    let items = first.unwrap_or(20).clamp(0, 100) as usize;
    QUERY_COST + if search { COUNT_COST } else { 0 } + items.saturating_mul(child_complexity)
}

pub struct DocumentLimits {
    pub max_depth: usize,
    pub max_aliases: usize,
    /// Field selections in the whole document, each fragment counted wherever it is spread.
    pub max_fields: usize,
}

impl DocumentLimits {
    /// Refuses a document past a limit, with the reason. In time linear in the document's text whatever its
    /// fragments. The HTTP handler calls it on the document it parsed, before the schema sees the document:
    /// async-graphql's own recursion check expands fragment spreads without memory and takes exponential time
    /// on fragments spread into each other (a few hundred bytes kept a core busy for good), so these limits
    /// cannot wait for an extension's hook, which runs after that check.
    pub fn check(&self, document: &ExecutableDocument) -> Result<(), String> {
        let aliases = count_aliases(document);
        if aliases > self.max_aliases {
            return Err(format!(
                "Query uses {aliases} aliases; at most {} are allowed.",
                self.max_aliases
            ));
        }
        let fields = count_fields(document);
        if fields > self.max_fields {
            return Err(format!(
                "Query selects {fields} fields (fragments counted where they are spread); at most {} are allowed.",
                self.max_fields
            ));
        }
        let shape = measure(document);
        if shape.depth > self.max_depth {
            return Err("Query is nested too deep.".to_string());
        }
        if shape.introspection_depth > INTROSPECTION_MAX_DEPTH {
            return Err(format!(
                "Introspection query is nested too deep (at most {INTROSPECTION_MAX_DEPTH} levels)."
            ));
        }
        if shape.introspection_lists > INTROSPECTION_MAX_LISTS {
            return Err(format!(
                "Introspection query nests fields, inputFields, interfaces or possibleTypes more than \
                 {INTROSPECTION_MAX_LISTS} deep."
            ));
        }
        Ok(())
    }
}

fn count_aliases(document: &ExecutableDocument) -> usize {
    let in_operations: usize = document
        .operations
        .iter()
        .map(|(_, op)| count_in_set(&op.node.selection_set.node))
        .sum();
    let in_fragments: usize = document
        .fragments
        .values()
        .map(|fragment| count_in_set(&fragment.node.selection_set.node))
        .sum();
    in_operations + in_fragments
}

fn count_in_set(set: &SelectionSet) -> usize {
    set.items
        .iter()
        .map(|item| match &item.node {
            Selection::Field(field) => {
                usize::from(field.node.alias.is_some()) + count_in_set(&field.node.selection_set.node)
            }
            Selection::InlineFragment(fragment) => count_in_set(&fragment.node.selection_set.node),
            Selection::FragmentSpread(_) => 0,
        })
        .sum()
}

/// Field selections in every operation, a fragment counted each time it is spread (saturating: a document
/// that spreads fragments into each other can describe more fields than fit in a number).
pub fn count_fields(document: &ExecutableDocument) -> usize {
    fn in_set<'d>(
        document: &'d ExecutableDocument,
        set: &'d SelectionSet,
        memo: &mut HashMap<&'d Name, usize>,
        visiting: &mut HashSet<&'d Name>,
    ) -> usize {
        set.items.iter().fold(0usize, |total, item| {
            let here = match &item.node {
                Selection::Field(field) => {
                    1usize.saturating_add(in_set(document, &field.node.selection_set.node, memo, visiting))
                }
                Selection::InlineFragment(fragment) => {
                    in_set(document, &fragment.node.selection_set.node, memo, visiting)
                }
                Selection::FragmentSpread(spread) => {
                    let name = &spread.node.fragment_name.node;
                    if let Some(count) = memo.get(name) {
                        *count
                    } else if let Some(fragment) = document.fragments.get(name)
                        && visiting.insert(name)
                    {
                        let count = in_set(document, &fragment.node.selection_set.node, memo, visiting);
                        visiting.remove(name);
                        memo.insert(name, count);
                        count
                    } else {
                        0
                    }
                }
            };
            total.saturating_add(here)
        })
    }
    let mut memo = HashMap::new();
    let mut visiting = HashSet::new();
    document
        .operations
        .iter()
        .map(|(_, op)| in_set(document, &op.node.selection_set.node, &mut memo, &mut visiting))
        .fold(0usize, usize::saturating_add)
}

/// How deep a document nests, split as the module comment explains.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    /// Deepest chain of data fields, counting each field as one level.
    pub depth: usize,
    /// Deepest chain of fields from `__schema` or `__type` down.
    pub introspection_depth: usize,
    /// Most member lists nested along one introspection chain.
    pub introspection_lists: usize,
}

impl Shape {
    fn max(self, other: Shape) -> Shape {
        Shape {
            depth: self.depth.max(other.depth),
            introspection_depth: self.introspection_depth.max(other.introspection_depth),
            introspection_lists: self.introspection_lists.max(other.introspection_lists),
        }
    }
}

/// Measures every operation of `document`, following fragment spreads.
pub fn measure(document: &ExecutableDocument) -> Shape {
    let mut walker = Walker {
        document,
        memo: HashMap::new(),
        visiting: HashSet::new(),
    };
    document
        .operations
        .iter()
        .map(|(_, op)| walker.set(&op.node.selection_set.node, false))
        .fold(Shape::default(), Shape::max)
}

struct Walker<'d> {
    document: &'d ExecutableDocument,
    /// A fragment's shape, per context (inside introspection or not): each fragment is measured once, so a
    /// document that spreads fragments into each other many times costs linear time to measure.
    memo: HashMap<(&'d Name, bool), Shape>,
    /// Fragments being measured: a cycle (which validation refuses later) is not followed around.
    visiting: HashSet<&'d Name>,
}

impl<'d> Walker<'d> {
    fn set(&mut self, set: &'d SelectionSet, introspection: bool) -> Shape {
        let mut shape = Shape::default();
        for item in &set.items {
            let child = match &item.node {
                Selection::Field(field) => {
                    let name = field.node.name.node.as_str();
                    let children = &field.node.selection_set.node;
                    if introspection {
                        let inner = self.set(children, true);
                        Shape {
                            depth: 0,
                            introspection_depth: inner.introspection_depth + 1,
                            introspection_lists: inner.introspection_lists + usize::from(MEMBER_LISTS.contains(&name)),
                        }
                    } else if name == "__schema" || name == "__type" {
                        let inner = self.set(children, true);
                        Shape {
                            depth: 0,
                            introspection_depth: inner.introspection_depth + 1,
                            introspection_lists: inner.introspection_lists,
                        }
                    } else {
                        let inner = self.set(children, false);
                        Shape {
                            depth: inner.depth + 1,
                            ..inner
                        }
                    }
                }
                Selection::InlineFragment(fragment) => self.set(&fragment.node.selection_set.node, introspection),
                Selection::FragmentSpread(spread) => self.fragment(&spread.node.fragment_name.node, introspection),
            };
            shape = shape.max(child);
        }
        shape
    }

    fn fragment(&mut self, name: &'d Name, introspection: bool) -> Shape {
        if let Some(shape) = self.memo.get(&(name, introspection)) {
            return *shape;
        }
        let Some(fragment) = self.document.fragments.get(name) else {
            return Shape::default(); // an unknown fragment: validation names it
        };
        if !self.visiting.insert(name) {
            return Shape::default();
        }
        let shape = self.set(&fragment.node.selection_set.node, introspection);
        self.visiting.remove(name);
        self.memo.insert((name, introspection), shape);
        shape
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(query: &str) -> Shape {
        measure(&async_graphql::parser::parse_query(query).expect("a valid document"))
    }

    #[test]
    fn data_depth_counts_fields_through_fragments() {
        assert_eq!(shape("{ a { b { c } } }").depth, 3);
        assert_eq!(
            shape("{ a { ...F } } fragment F on T { b { ... on T { c { d } } } }").depth,
            4
        );
        assert_eq!(shape("{ a __typename }").depth, 1);
    }

    #[test]
    fn introspection_is_measured_apart() {
        let s = shape("{ movies { name } __schema { types { fields { type { ofType { ofType { name } } } } } } }");
        assert_eq!(s.depth, 2);
        assert_eq!(s.introspection_depth, 7);
        assert_eq!(s.introspection_lists, 1);
        let s = shape("{ __type(name: \"Movie\") { fields { type { fields { type { fields { name } } } } } } }");
        assert_eq!(s.introspection_lists, 3);
        // A fragment spread both inside and outside introspection is measured in each context.
        let s = shape("{ ...F __schema { types { ...F } } } fragment F on Q { fields { name } }");
        assert_eq!(s.introspection_lists, 1);
        assert_eq!(s.depth, 2);
    }

    #[test]
    fn aliases_count_in_operations_fragments_and_inline_fragments() {
        let document =
            async_graphql::parser::parse_query("{ a: x ... on T { b: y } ...F } fragment F on T { c: z d: w }")
                .unwrap();
        assert_eq!(count_aliases(&document), 4);
    }

    #[test]
    fn fields_count_fragments_where_they_are_spread() {
        let count = |q: &str| count_fields(&async_graphql::parser::parse_query(q).unwrap());
        assert_eq!(count("{ a b { c } }"), 3);
        assert_eq!(count("{ a { ...F } b { ...F } } fragment F on T { x y }"), 6);
        // Fragments spread into each other: counted, not walked exponentially, and saturating.
        let mut bomb = String::from("{ ...F0 }");
        for i in 0..80 {
            bomb.push_str(&format!(" fragment F{i} on T {{ a: x ...F{} ...F{} }}", i + 1, i + 1));
        }
        bomb.push_str(" fragment F80 on T { x }");
        assert_eq!(count(&bomb), usize::MAX);
    }

    #[test]
    fn fragment_cycles_and_unknown_fragments_terminate() {
        let s = shape("{ ...A } fragment A on Q { a { ...B } } fragment B on Q { b { ...A ...Missing } }");
        assert_eq!(s.depth, 2);
    }
}

/// How many subscriptions one WebSocket may hold at once: each holds a listener and reads the database on
/// every change it hears, so one socket must not multiply them without bound.
pub const MAX_SUBSCRIPTIONS_PER_SOCKET: usize = 10;

/// A socket's subscription slots (connection data of a WebSocket); a subscription holds one while it runs.
#[derive(Clone)]
pub struct SubscriptionSlots(std::sync::Arc<tokio::sync::Semaphore>);

impl Default for SubscriptionSlots {
    fn default() -> Self {
        SubscriptionSlots(std::sync::Arc::new(tokio::sync::Semaphore::new(
            MAX_SUBSCRIPTIONS_PER_SOCKET,
        )))
    }
}

impl SubscriptionSlots {
    /// A slot, held until the subscription's stream is dropped; TOO_MANY_SUBSCRIPTIONS when none is free.
    pub fn take(&self) -> Result<tokio::sync::OwnedSemaphorePermit, crate::error::AppError> {
        self.0.clone().try_acquire_owned().map_err(|_| {
            crate::error::AppError::rejected(
                axum::http::StatusCode::TOO_MANY_REQUESTS,
                "TOO_MANY_SUBSCRIPTIONS",
                format!("at most {MAX_SUBSCRIPTIONS_PER_SOCKET} subscriptions per connection; stop one first"),
            )
        })
    }
}
