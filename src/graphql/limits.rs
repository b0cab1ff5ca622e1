//! Limits checked on the parsed document, before validation or execution (see docs/architecture.md, "GraphQL
//! limits"): how many aliases a request uses, how deep its selections nest, and how deep an introspection query
//! goes.
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
use std::sync::Arc;

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery};
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{Name, ServerError, ServerResult, Variables};

/// The standard introspection query (graphql-js `getIntrospectionQuery` with every option) nests 15 levels
/// below `__schema`; 20 leaves room for clients that ask a few more `ofType` levels.
pub const INTROSPECTION_MAX_DEPTH: usize = 20;
/// The standard query nests one such list (`types { fields … }`); graphql-js refuses three, and so do we.
pub const INTROSPECTION_MAX_LISTS: usize = 2;
/// Introspection fields whose answers are lists of a type's members.
const MEMBER_LISTS: [&str; 4] = ["fields", "inputFields", "interfaces", "possibleTypes"];

pub struct DocumentLimits {
    pub max_depth: usize,
    pub max_aliases: usize,
}

impl ExtensionFactory for DocumentLimits {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(DocumentLimitsExtension {
            max_depth: self.max_depth,
            max_aliases: self.max_aliases,
        })
    }
}

struct DocumentLimitsExtension {
    max_depth: usize,
    max_aliases: usize,
}

#[async_trait::async_trait]
impl Extension for DocumentLimitsExtension {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        let aliases = count_aliases(&document);
        if aliases > self.max_aliases {
            return Err(too_complex(format!(
                "Query uses {aliases} aliases; at most {} are allowed.",
                self.max_aliases
            )));
        }
        let shape = measure(&document);
        if shape.depth > self.max_depth {
            return Err(too_complex("Query is nested too deep.".to_string()));
        }
        if shape.introspection_depth > INTROSPECTION_MAX_DEPTH {
            return Err(too_complex(format!(
                "Introspection query is nested too deep (at most {INTROSPECTION_MAX_DEPTH} levels)."
            )));
        }
        if shape.introspection_lists > INTROSPECTION_MAX_LISTS {
            return Err(too_complex(format!(
                "Introspection query nests fields, inputFields, interfaces or possibleTypes more than \
                 {INTROSPECTION_MAX_LISTS} deep."
            )));
        }
        Ok(document)
    }
}

fn too_complex(message: String) -> ServerError {
    let mut error = ServerError::new(message, None);
    let mut extensions = async_graphql::ErrorExtensionValues::default();
    extensions.set("code", "QUERY_TOO_COMPLEX");
    error.extensions = Some(extensions);
    error
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
    fn fragment_cycles_and_unknown_fragments_terminate() {
        let s = shape("{ ...A } fragment A on Q { a { ...B } } fragment B on Q { b { ...A ...Missing } }");
        assert_eq!(s.depth, 2);
    }
}
