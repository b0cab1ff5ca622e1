//! Alias limit (G3): depth and complexity are async-graphql's own limits; aliases are counted here, while the
//! document is parsed, so a query that repeats one expensive field under many names is refused before it runs.

use std::sync::Arc;

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery};
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{ServerError, ServerResult, Variables};

pub struct AliasLimit {
    pub max_aliases: usize,
}

impl ExtensionFactory for AliasLimit {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(AliasLimitExtension {
            max_aliases: self.max_aliases,
        })
    }
}

struct AliasLimitExtension {
    max_aliases: usize,
}

#[async_trait::async_trait]
impl Extension for AliasLimitExtension {
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
            let mut error = ServerError::new(
                format!(
                    "Query uses {aliases} aliases; at most {} are allowed.",
                    self.max_aliases
                ),
                None,
            );
            error.extensions = Some({
                let mut ext = async_graphql::ErrorExtensionValues::default();
                ext.set("code", "QUERY_TOO_COMPLEX");
                ext
            });
            return Err(error);
        }
        Ok(document)
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
