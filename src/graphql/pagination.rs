//! Relay-style pages: the arguments (`first`, capped, and `after`, an opaque cursor) and one generic page type
//! that every list of the schema returns (`MovieConnection`, `UserConnection`, …).

use std::borrow::Cow;

use async_graphql::connection::PageInfo;
use async_graphql::{Context, Object, OutputType, Result, TypeName};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::{AppError, AppResult};

/// A type that lists page through; it names its page and edge types in the schema.
pub trait PageNode: OutputType + Clone {
    /// The page type's name, e.g. `MovieConnection`.
    const CONNECTION: &'static str;
    /// The edge type's name, e.g. `MovieEdge`.
    const EDGE: &'static str;
}

/// What a page's `totalCount` counts: the filter the page was read with. Counted only when a client asks.
pub trait Counted: Send + Sync {
    fn count(&self, ctx: &Context<'_>) -> impl Future<Output = Result<i64>> + Send;
}

/// One page of a list, and the filter it was read with (for `totalCount`).
pub struct Page<N, F> {
    nodes: Vec<N>,
    offset: i64,
    has_next_page: bool,
    filter: F,
}

impl<N: PageNode, F: Counted> Page<N, F> {
    /// `rows` read for `window` with one row more than asked: the extra row only says that a next page exists.
    pub fn from_rows<R>(mut rows: Vec<R>, window: PageWindow, filter: F, node: impl Fn(R) -> N) -> Self {
        let has_next_page = rows.len() as i64 > window.limit;
        rows.truncate(window.limit as usize);
        Page {
            nodes: rows.into_iter().map(node).collect(),
            offset: window.offset,
            has_next_page,
            filter,
        }
    }

    pub fn nodes(&self) -> &[N] {
        &self.nodes
    }
}

#[Object(name_type)]
impl<N: PageNode, F: Counted> Page<N, F> {
    async fn edges(&self) -> Vec<Edge<N>> {
        self.nodes
            .iter()
            .enumerate()
            .map(|(i, node)| Edge {
                cursor: encode_cursor(self.offset + i as i64),
                node: node.clone(),
            })
            .collect()
    }

    /// The page's items without cursors.
    #[graphql(name = "nodes")]
    async fn node_list(&self) -> Vec<&N> {
        self.nodes.iter().collect()
    }

    async fn page_info(&self) -> PageInfo {
        page_info(self.offset, self.nodes.len(), self.has_next_page)
    }

    /// Number of items matching the filter, on every page (counted only when asked for).
    #[graphql(complexity = "crate::graphql::limits::COUNT_COST")]
    async fn total_count(&self, ctx: &Context<'_>) -> Result<i64> {
        self.filter.count(ctx).await
    }
}

impl<N: PageNode, F: Send + Sync> TypeName for Page<N, F> {
    fn type_name() -> Cow<'static, str> {
        N::CONNECTION.into()
    }
}

/// An item of a page with its cursor.
pub struct Edge<N> {
    cursor: String,
    node: N,
}

#[Object(name_type)]
impl<N: PageNode> Edge<N> {
    async fn cursor(&self) -> &str {
        &self.cursor
    }

    async fn node(&self) -> &N {
        &self.node
    }
}

impl<N: PageNode> TypeName for Edge<N> {
    fn type_name() -> Cow<'static, str> {
        N::EDGE.into()
    }
}

pub const DEFAULT_PAGE_SIZE: i32 = 20;
pub const MAX_PAGE_SIZE: i32 = 100;

/// Where a page starts and how long it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageWindow {
    pub offset: i64,
    pub limit: i64,
}

/// Checks `first` and decodes `after`. Cursors are opaque to clients; today they carry a position.
pub fn window(first: Option<i32>, after: Option<&str>) -> AppResult<PageWindow> {
    let first = first.unwrap_or(DEFAULT_PAGE_SIZE);
    if !(0..=MAX_PAGE_SIZE).contains(&first) {
        return Err(AppError::bad_input(
            "first",
            format!("first must be between 0 and {MAX_PAGE_SIZE}"),
        ));
    }
    let offset = match after {
        None => 0,
        Some(cursor) => decode_cursor(cursor)? + 1,
    };
    Ok(PageWindow {
        offset,
        limit: first as i64,
    })
}

/// Relay's page info for `count` items starting at `offset`.
pub fn page_info(offset: i64, count: usize, has_next_page: bool) -> async_graphql::connection::PageInfo {
    let cursor_at = |i: usize| encode_cursor(offset + i as i64);
    async_graphql::connection::PageInfo {
        has_previous_page: offset > 0,
        has_next_page,
        start_cursor: (count > 0).then(|| cursor_at(0)),
        end_cursor: count.checked_sub(1).map(cursor_at),
    }
}

pub fn encode_cursor(position: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("p:{position}"))
}

fn decode_cursor(cursor: &str) -> AppResult<i64> {
    let invalid = || AppError::bad_input("after", "after is not a cursor returned by this API");
    let bytes = URL_SAFE_NO_PAD.decode(cursor.as_bytes()).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    text.strip_prefix("p:")
        .and_then(|n| n.parse::<i64>().ok())
        .filter(|n| (0..=i64::from(i32::MAX)).contains(n))
        .ok_or_else(invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip() {
        let w = window(Some(10), Some(&encode_cursor(19))).unwrap();
        assert_eq!(w, PageWindow { offset: 20, limit: 10 });
        assert_eq!(window(None, None).unwrap(), PageWindow { offset: 0, limit: 20 });
    }

    #[test]
    fn refuses_bad_sizes_and_cursors() {
        assert!(window(Some(-1), None).is_err());
        assert!(window(Some(101), None).is_err());
        assert!(window(Some(1), Some("garbage!")).is_err());
        assert!(window(Some(1), Some(&URL_SAFE_NO_PAD.encode("p:-5"))).is_err());
    }
}
