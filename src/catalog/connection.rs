//! A page of a searchable list: the generic page (`graphql::pagination::Page`) and what a search page adds —
//! the text whose matches it shows when the typo fallback answered (issue 25). Named as its page type is
//! (`MovieConnection`), so a list's type is the same whether it was searched or not.

use std::borrow::Cow;

use async_graphql::connection::PageInfo;
use async_graphql::{Context, Object, Result, TypeName};

use crate::graphql::pagination::{Counted, Edge, Page, PageNode};

pub struct SearchedPage<N, F> {
    page: Page<N, F>,
    did_you_mean: Option<String>,
}

impl<N, F> SearchedPage<N, F> {
    pub fn new(page: Page<N, F>) -> SearchedPage<N, F> {
        SearchedPage {
            page,
            did_you_mean: None,
        }
    }

    /// The page of a search that found nothing as typed, showing the matches of `text` instead.
    pub fn instead_of_nothing(mut self, text: Option<String>) -> SearchedPage<N, F> {
        self.did_you_mean = text;
        self
    }
}

#[Object(name_type)]
impl<N: PageNode, F: Counted> SearchedPage<N, F> {
    async fn edges(&self, ctx: &Context<'_>) -> Result<Vec<Edge<N>>> {
        self.page.edges(ctx).await
    }

    /// The page's items without cursors.
    async fn nodes(&self, ctx: &Context<'_>) -> Result<Vec<&N>> {
        self.page.node_list(ctx).await
    }

    async fn page_info(&self, ctx: &Context<'_>) -> Result<PageInfo> {
        self.page.page_info(ctx).await
    }

    /// Number of items matching the filter, on every page (counted only when asked for). Movie lists count
    /// at most 10,000, searches 1,000: past that this is the cap and `totalCountCapped` is true ("10,000+").
    #[graphql(complexity = "crate::graphql::limits::COUNT_COST")]
    async fn total_count(&self, ctx: &Context<'_>) -> Result<i64> {
        self.page.total_count(ctx).await
    }

    /// True when the list is longer than `totalCount` (a movie list past 10,000 movies, a search past 1,000).
    #[graphql(complexity = "crate::graphql::limits::COUNT_COST")]
    async fn total_count_capped(&self, ctx: &Context<'_>) -> Result<bool> {
        self.page.total_count_capped(ctx).await
    }

    /// Set when the search found nothing as typed: the corrected text (each unknown word replaced by the
    /// closest word of a title or a person's name, e.g. "godfather" for "godfater") whose matches this page
    /// shows instead. Pages after it are asked for with the same search text as this one.
    async fn did_you_mean(&self) -> Option<&str> {
        self.did_you_mean.as_deref()
    }
}

impl<N: PageNode, F: Send + Sync> TypeName for SearchedPage<N, F> {
    fn type_name() -> Cow<'static, str> {
        N::CONNECTION.into()
    }
}
