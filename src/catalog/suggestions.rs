//! `searchSuggestions` (issue 25): what a storefront's search box offers while a shopper types — a few movies
//! and people, each with its `name`, before the search itself is asked for.

use async_graphql::{Context, Object, Result, Union};

use crate::catalog::Catalog;
use crate::catalog::graphql::{Movie, Person};
use crate::db::notify::{Content, Part};
use crate::error::AppError;
use crate::graphql::shown::shows;

const DEFAULT_SUGGESTIONS: i32 = 8;
const MAX_SUGGESTIONS: i32 = 20;

/// A movie or a person a search box can offer; both have a `name`.
#[derive(Union)]
#[allow(clippy::large_enum_variant)] // At most twenty, answered at once: boxing would buy nothing.
pub enum SearchSuggestion {
    Movie(Movie),
    Person(Person),
}

#[derive(Default)]
pub struct SearchQuery;

#[Object]
impl SearchQuery {
    /// Up to `first` (8 unless given, at most 20) suggestions for a search box as `text` is typed: movies whose
    /// title contains the text (the exact title first, then titles starting with it, then the others; each by
    /// popularity; when more than a search counts contain it, the others are titles holding it from a word's
    /// start), then people whose name contains it, by name — about two movies to one person when both have
    /// enough. Case-insensitive; blank text suggests nothing. Costs what a search page of `first` costs.
    #[graphql(
        complexity = "crate::graphql::limits::page_cost(Some(first.unwrap_or(DEFAULT_SUGGESTIONS).clamp(0, MAX_SUGGESTIONS)), child_complexity, true)",
        cache_control(max_age = 10)
    )]
    async fn search_suggestions(
        &self,
        ctx: &Context<'_>,
        text: String,
        first: Option<i32>,
    ) -> Result<Vec<SearchSuggestion>> {
        shows(ctx, Part::all(Content::Catalog));
        let first = first.unwrap_or(DEFAULT_SUGGESTIONS);
        if !(1..=MAX_SUGGESTIONS).contains(&first) {
            return Err(AppError::bad_input("first", format!("first must be from 1 to {MAX_SUGGESTIONS}")).into());
        }
        let first = first as usize;
        // A third for people (at least one), the rest for movies; whichever has fewer leaves its places to
        // the other.
        let people = first.div_ceil(3).min(first);
        let (movies, names) = ctx.data::<Catalog>()?.suggestions(&text, first, first).await?;
        let people_shown = names.len().min(people.max(first.saturating_sub(movies.len())));
        let movies_shown = movies.len().min(first - people_shown);
        Ok(movies
            .into_iter()
            .take(movies_shown)
            .map(|row| SearchSuggestion::Movie(Movie(row)))
            .chain(
                names
                    .into_iter()
                    .take(first - movies_shown)
                    .map(|row| SearchSuggestion::Person(Person(row))),
            )
            .collect())
    }
}
