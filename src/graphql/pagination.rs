//! Relay-style pages: the arguments (`first`, capped, and `after`, an opaque cursor) and one generic page type
//! that every list of the schema returns (`MovieConnection`, `UserConnection`, …).
//!
//! Two kinds of cursor: keyset cursors (the catalog's lists) carry the position of the last item — its sort
//! key and id — sealed with an HMAC so that an edited cursor is refused; offset cursors (the admin lists,
//! small and rarely paged deep) carry a position.

use std::borrow::Cow;

use async_graphql::connection::PageInfo;
use async_graphql::{Context, Object, OutputType, Result, TypeName};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use hmac::{Hmac, Mac};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

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
    fn count(&self, ctx: &Context<'_>) -> impl Future<Output = Result<Total>> + Send;
}

/// A list's size, or its cap when the list is longer (the catalog's lists count at most
/// `MOVIE_COUNT_CAP`, so that a count costs the same at a million movies as at ten thousand).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Total {
    pub count: i64,
    /// True when the list is longer than `count`.
    pub capped: bool,
}

impl Total {
    pub fn exact(count: i64) -> Total {
        Total { count, capped: false }
    }

    /// From a count taken with a limit of `cap + 1`.
    pub fn capped_at(cap: i64, counted: i64) -> Total {
        Total {
            count: counted.min(cap),
            capped: counted > cap,
        }
    }
}

/// One page of a list, its items' cursors, and the filter it was read with (for `totalCount`).
pub struct Page<N, F> {
    nodes: Vec<N>,
    cursors: Vec<String>,
    has_previous_page: bool,
    has_next_page: bool,
    filter: F,
    /// Counted once, whichever of `totalCount` and `totalCountCapped` asks first.
    total: tokio::sync::OnceCell<Total>,
}

impl<N: PageNode, F: Counted> Page<N, F> {
    /// `rows` read for `window` with one row more than asked: the extra row only says that a next page exists.
    pub fn from_rows<R>(mut rows: Vec<R>, window: PageWindow, filter: F, node: impl Fn(R) -> N) -> Self {
        let has_next_page = rows.len() as i64 > window.limit;
        rows.truncate(window.limit as usize);
        Page {
            cursors: (0..rows.len())
                .map(|i| encode_cursor(window.offset + i as i64))
                .collect(),
            nodes: rows.into_iter().map(node).collect(),
            has_previous_page: window.offset > 0,
            has_next_page,
            filter,
            total: tokio::sync::OnceCell::new(),
        }
    }

    /// `rows` read after a keyset cursor (`after_cursor`: whether there was one) with one row more than the
    /// `limit` asked; `cursor` gives each row's own cursor. Whether a previous page exists is answered as Relay
    /// allows when it is not cheap to know: true exactly when the page started after a cursor.
    pub fn from_keyset_rows<R>(
        mut rows: Vec<R>,
        limit: i64,
        after_cursor: bool,
        filter: F,
        cursor: impl Fn(&R) -> String,
        node: impl Fn(R) -> N,
    ) -> Self {
        let has_next_page = rows.len() as i64 > limit;
        rows.truncate(limit.max(0) as usize);
        Page {
            cursors: rows.iter().map(cursor).collect(),
            nodes: rows.into_iter().map(node).collect(),
            has_previous_page: after_cursor,
            has_next_page,
            filter,
            total: tokio::sync::OnceCell::new(),
        }
    }

    /// The list's size when it is already known (a search's probe counted it), so `totalCount` costs nothing.
    pub fn with_total(self, total: Option<Total>) -> Self {
        if let Some(total) = total {
            let _ = self.total.set(total);
        }
        self
    }

    pub fn nodes(&self) -> &[N] {
        &self.nodes
    }

    async fn total(&self, ctx: &Context<'_>) -> Result<Total> {
        self.total.get_or_try_init(|| self.filter.count(ctx)).await.copied()
    }
}

#[Object(name_type)]
impl<N: PageNode, F: Counted> Page<N, F> {
    pub async fn edges(&self) -> Vec<Edge<N>> {
        self.nodes
            .iter()
            .zip(&self.cursors)
            .map(|(node, cursor)| Edge {
                cursor: cursor.clone(),
                node: node.clone(),
            })
            .collect()
    }

    /// The page's items without cursors.
    #[graphql(name = "nodes")]
    pub async fn node_list(&self) -> Vec<&N> {
        self.nodes.iter().collect()
    }

    pub async fn page_info(&self) -> PageInfo {
        PageInfo {
            has_previous_page: self.has_previous_page,
            has_next_page: self.has_next_page,
            start_cursor: self.cursors.first().cloned(),
            end_cursor: self.cursors.last().cloned(),
        }
    }

    /// Number of items matching the filter, on every page (counted only when asked for). Movie lists count
    /// at most 10,000, searches 1,000: past that this is the cap and `totalCountCapped` is true ("10,000+").
    #[graphql(complexity = "crate::graphql::limits::COUNT_COST")]
    pub async fn total_count(&self, ctx: &Context<'_>) -> Result<i64> {
        Ok(self.total(ctx).await?.count)
    }

    /// True when the list is longer than `totalCount` (a movie list past 10,000 movies, a search past 1,000).
    #[graphql(complexity = "crate::graphql::limits::COUNT_COST")]
    pub async fn total_count_capped(&self, ctx: &Context<'_>) -> Result<bool> {
        Ok(self.total(ctx).await?.capped)
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

/// Checks `first`: the page size, DEFAULT_PAGE_SIZE when not given.
pub fn page_size(first: Option<i32>) -> AppResult<i64> {
    let first = first.unwrap_or(DEFAULT_PAGE_SIZE);
    if !(0..=MAX_PAGE_SIZE).contains(&first) {
        return Err(AppError::bad_input(
            "first",
            format!("first must be between 0 and {MAX_PAGE_SIZE}"),
        ));
    }
    Ok(i64::from(first))
}

/// Checks `first` and decodes an offset cursor `after`.
pub fn window(first: Option<i32>, after: Option<&str>) -> AppResult<PageWindow> {
    let first = page_size(first)?;
    let offset = match after {
        None => 0,
        Some(cursor) => decode_cursor(cursor)? + 1,
    };
    Ok(PageWindow { offset, limit: first })
}

/// Seals keyset cursors: a cursor is its payload (JSON) and an HMAC-SHA256 of it (truncated to 128 bits),
/// base64url, so that a cursor a client edited is refused rather than read as another position. The key is
/// derived from the JWT secret, so every instance of a deployment reads every other's cursors.
#[derive(Clone)]
pub struct CursorSeal {
    key: [u8; 32],
}

const MAC_BYTES: usize = 16;

impl CursorSeal {
    pub fn new(secret: &str) -> CursorSeal {
        let mut hasher = Sha256::new();
        hasher.update(b"cinema keyset cursors v1\0");
        hasher.update(secret.as_bytes());
        CursorSeal {
            key: hasher.finalize().into(),
        }
    }

    fn mac(&self, payload: &[u8]) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(payload);
        mac
    }

    pub fn seal<T: Serialize>(&self, payload: &T) -> String {
        let json = serde_json::to_vec(payload).expect("a cursor payload serialises");
        let tag = self.mac(&json).finalize().into_bytes();
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(&json),
            URL_SAFE_NO_PAD.encode(&tag[..MAC_BYTES])
        )
    }

    /// The payload of a cursor this deployment sealed; BAD_USER_INPUT on `field` for anything else.
    pub fn open<T: DeserializeOwned>(&self, field: &str, cursor: &str) -> AppResult<T> {
        let invalid = || {
            AppError::bad_input(
                field,
                format!("{field} is not a cursor returned by this API for this list"),
            )
        };
        let (payload, tag) = cursor.split_once('.').ok_or_else(invalid)?;
        let json = URL_SAFE_NO_PAD.decode(payload.as_bytes()).map_err(|_| invalid())?;
        let tag = URL_SAFE_NO_PAD.decode(tag.as_bytes()).map_err(|_| invalid())?;
        if tag.len() != MAC_BYTES {
            return Err(invalid());
        }
        self.mac(&json).verify_truncated_left(&tag).map_err(|_| invalid())?;
        serde_json::from_slice(&json).map_err(|_| invalid())
    }
}

/// A position in a list ordered by time: strictly after (`at`, `id`) in the list's order. Comments,
/// notifications and orders page by it; sealed with the name of its list (and order), so that a cursor of one
/// list is refused by another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct TimeCursor {
    pub at: chrono::NaiveDateTime,
    pub id: i64,
}

/// A time cursor as sealed: its list, and the position.
#[derive(Serialize, serde::Deserialize)]
struct SealedTimeCursor {
    list: String,
    at: chrono::NaiveDateTime,
    id: i64,
}

impl TimeCursor {
    /// The position an `after` argument names in `list`; BAD_USER_INPUT for a cursor of another list.
    pub fn read(seal: &CursorSeal, list: &str, after: Option<&str>) -> AppResult<Option<TimeCursor>> {
        let Some(after) = after else {
            return Ok(None);
        };
        let sealed: SealedTimeCursor = seal.open("after", after)?;
        if sealed.list != list {
            return Err(AppError::bad_input(
                "after",
                "this cursor belongs to another list or order; start again from the first page",
            ));
        }
        Ok(Some(TimeCursor {
            at: sealed.at,
            id: sealed.id,
        }))
    }

    /// The cursor of the item at (`at`, `id`) in `list`.
    pub fn sealed(seal: &CursorSeal, list: &str, at: chrono::NaiveDateTime, id: i64) -> String {
        seal.seal(&SealedTimeCursor {
            list: list.to_string(),
            at,
            id,
        })
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

/// A list filter's time window as stored times, `from` inclusive and `to` exclusive; BAD_USER_INPUT on
/// `filter.to` when it ends before it starts.
pub type TimeWindow = (Option<chrono::NaiveDateTime>, Option<chrono::NaiveDateTime>);

pub fn time_window(
    from: Option<chrono::DateTime<chrono::Utc>>,
    to: Option<chrono::DateTime<chrono::Utc>>,
) -> AppResult<TimeWindow> {
    if let (Some(from), Some(to)) = (from, to)
        && from > to
    {
        return Err(AppError::bad_input("filter.to", "to must not be before from"));
    }
    Ok((from.map(|at| at.naive_utc()), to.map(|at| at.naive_utc())))
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
    fn sealed_cursors_open_only_untouched() {
        let seal = CursorSeal::new("secret");
        let cursor = seal.seal(&("YEAR", 1994, 7));
        assert_eq!(
            seal.open::<(String, i32, i32)>("after", &cursor).unwrap(),
            ("YEAR".into(), 1994, 7)
        );
        let (payload, tag) = cursor.split_once('.').unwrap();
        let edited = URL_SAFE_NO_PAD.encode(br#"["YEAR",1994,8]"#);
        for bad in [
            format!("{edited}.{tag}"),
            payload.to_string(),
            format!("{payload}.{}", &tag[..4]),
            format!("{payload}."),
            "garbage".into(),
        ] {
            let refused = seal.open::<(String, i32, i32)>("after", &bad).unwrap_err();
            assert_eq!(refused.code(), "BAD_USER_INPUT", "{bad}");
        }
        assert!(
            CursorSeal::new("other")
                .open::<(String, i32, i32)>("after", &cursor)
                .is_err()
        );
    }

    #[test]
    fn refuses_bad_sizes_and_cursors() {
        assert!(window(Some(-1), None).is_err());
        assert!(window(Some(101), None).is_err());
        assert!(window(Some(1), Some("garbage!")).is_err());
        assert!(window(Some(1), Some(&URL_SAFE_NO_PAD.encode("p:-5"))).is_err());
    }
}
