//! The catalog's part of the GraphQL schema: public reads of movies, genres and certifications.

use crate::catalog::connection::SearchedPage;
use crate::catalog::posters::{Poster, PosterSize, Posters};
use crate::graphql::budgets::{Budget, spends};
use std::collections::HashMap;
use std::hash::Hash;

use async_graphql::dataloader::Loader;
use async_graphql::{Context, Enum, ID, InputObject, Lookahead, Object, Result};
use chrono::{DateTime, Utc};

use crate::auth::Viewer;
use crate::catalog::loader::{
    CatalogLoader, CertificationId, CountInGenre, DirectorsOf, GenrePage, GenresOf, MovieCountOf, MovieListArgs,
    RequestLoader, StarsOf, ViewerStateOf,
};
use crate::catalog::models::{
    CertificationRow, GenreRow, MovieCursor, MovieFilter, MovieRow, MovieSort, MovieSortField, PersonRow, Reaction,
    SortKey, ViewerState,
};
use crate::catalog::{Catalog, service};
use crate::community::graphql::{Comment, CommentCount, movie_comments};
use crate::community::models::CommentOrder;
use crate::db::notify::{Content, Part};
use crate::error::AppError;
use crate::graphql::guards::{RoleGuard, authenticated, viewer};
use crate::graphql::pagination::{self, Counted, CursorSeal, Page, PageNode, Total};
use crate::graphql::scalars::{Long, Money};
use crate::graphql::shown::shows;

/// Every catalog read shows the catalog (movies' own fields, genres, people, certifications).
const CATALOG: Part = Part::all(Content::Catalog);

/// Box-office gross is reported in US dollars.
const GROSS_CURRENCY: &str = "USD";
/// The most people `people` answers at once.
const MAX_PEOPLE: i32 = 50;
const DEFAULT_PEOPLE: i32 = 20;

/// The catalog's public reads. Each root field may be kept by HTTP caches for 10 seconds and by the response
/// cache until public content changes; the viewer's fields of a movie are private, so an answer that names
/// one is never kept (server::response_cache).
#[derive(Default)]
pub struct CatalogQuery;

#[Object]
impl CatalogQuery {
    /// Browse the catalog (B2–B5): filters, search and sorting combine; pages are Relay cursor connections.
    #[graphql(
        complexity = "crate::graphql::limits::page_cost(first, child_complexity, search.is_some())",
        cache_control(max_age = 10)
    )]
    async fn movies(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size, 0 to 100 (default 20).")] first: Option<i32>,
        #[graphql(desc = "Cursor of the last movie of the previous page.")] after: Option<String>,
        filter: Option<MovieFilterInput>,
        #[graphql(
            desc = "Case-insensitive text found in the title, description, or a star's or director's name (at most 200 characters). Without a sort, the matches come by RELEVANCE: the exact title, titles starting with the text, titles containing it, people's names, descriptions; ties by popularity. When nothing matches, the page holds the matches of the closest title or name instead and `didYouMean` names it."
        )]
        search: Option<String>,
        #[graphql(
            desc = "Default: by RELEVANCE with a search, by name ascending otherwise. Ties are broken by id, so pages are stable."
        )]
        sort: Option<MovieSortInput>,
    ) -> Result<MovieConnection> {
        shows(ctx, CATALOG);
        let filter = filter.unwrap_or_default().into_filter(search)?;
        movie_page(ctx, filter, sort, first, after.as_deref()).await
    }

    /// One movie by id; a NOT_FOUND error when there is none.
    #[graphql(
        complexity = "crate::graphql::limits::QUERY_COST + child_complexity",
        cache_control(max_age = 10)
    )]
    async fn movie(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Movie>> {
        shows(ctx, CATALOG);
        Ok(Some(Movie(ctx.data::<Catalog>()?.movie(&id).await?)))
    }

    /// Every genre, by name, with the number of movies in each (B6).
    #[graphql(
        complexity = "crate::graphql::limits::QUERY_COST + crate::graphql::limits::GENRES_LIST_SIZE * child_complexity",
        cache_control(max_age = 10)
    )]
    async fn genres(&self, ctx: &Context<'_>) -> Result<Vec<Genre>> {
        shows(ctx, CATALOG);
        let rows = ctx.data::<Catalog>()?.genres_with_counts().await?;
        Ok(rows
            .into_iter()
            .map(|(row, count)| Genre {
                row,
                movie_count: Some(count),
            })
            .collect())
    }

    /// One genre by id; a NOT_FOUND error when there is none.
    #[graphql(
        complexity = "crate::graphql::limits::QUERY_COST + child_complexity",
        cache_control(max_age = 10)
    )]
    async fn genre(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Genre>> {
        shows(ctx, CATALOG);
        let row = ctx.data::<Catalog>()?.genre(parse_id("id", &id)?).await?;
        Ok(Some(Genre { row, movie_count: None }))
    }

    /// One person (director or star) by id; a NOT_FOUND error when there is none.
    #[graphql(
        complexity = "crate::graphql::limits::QUERY_COST + child_complexity",
        cache_control(max_age = 10)
    )]
    async fn person(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Person>> {
        shows(ctx, CATALOG);
        let row = ctx.data::<Catalog>()?.person(parse_id("id", &id)?).await?;
        Ok(Some(Person(row)))
    }

    /// Up to `first` (20 unless given, at most 50) people whose name contains `nameContains`, in any case, by name: how a
    /// catalog editor finds the directors and stars to name.
    #[graphql(
        complexity = "crate::graphql::limits::QUERY_COST + first.unwrap_or(DEFAULT_PEOPLE).clamp(0, MAX_PEOPLE) as usize * child_complexity",
        cache_control(max_age = 10)
    )]
    async fn people(&self, ctx: &Context<'_>, name_contains: String, first: Option<i32>) -> Result<Vec<Person>> {
        shows(ctx, CATALOG);
        let first = first.unwrap_or(DEFAULT_PEOPLE);
        if !(1..=MAX_PEOPLE).contains(&first) {
            return Err(AppError::bad_input("first", format!("first must be from 1 to {MAX_PEOPLE}")).into());
        }
        let rows = ctx
            .data::<Catalog>()?
            .people_named(&name_contains, first as usize)
            .await?;
        Ok(rows.into_iter().map(Person).collect())
    }

    /// Every certification (age rating), by name.
    #[graphql(
        complexity = "crate::graphql::limits::QUERY_COST + child_complexity",
        cache_control(max_age = 10)
    )]
    async fn certifications(&self, ctx: &Context<'_>) -> Result<Vec<Certification>> {
        shows(ctx, CATALOG);
        let rows = ctx.data::<Catalog>()?.certifications().await?;
        Ok(rows.into_iter().map(Certification).collect())
    }
}

/// A movie of the catalog.
#[derive(Clone)]
pub struct Movie(pub MovieRow);

/// A page of movies (`MovieConnection`): the catalog, a genre's movies, the viewer's lists.
pub type MovieConnection = SearchedPage<Movie, MovieCount>;

impl PageNode for Movie {
    const CONNECTION: &'static str = "MovieConnection";
    const EDGE: &'static str = "MovieEdge";
}

// The fields that wait on a loader or the database box what they wait on (`Box::pin(…).await`). async-graphql
// resolves each selected field of each movie as a future of the size of the largest field's, allocated and
// moved into place: unboxed, that was 2.6 KB for every `name` and `year` of a page, and a tenth of the
// server's time in allocating and copying (benches/RESULTS.md, issue 12, third part). (A plain comment: a doc
// comment here would become the type's description in the schema.)
#[Object]
impl Movie {
    /// Public id (a UUID).
    async fn id(&self) -> ID {
        ID(self.0.uuid.clone())
    }

    async fn name(&self) -> &str {
        &self.0.name
    }

    /// Release year.
    async fn year(&self) -> i32 {
        self.0.year
    }

    async fn duration_minutes(&self) -> i32 {
        self.0.duration_minutes
    }

    /// IMDb score, 0 to 10.
    async fn imdb_score(&self) -> f64 {
        self.0.imdb_score
    }

    /// Number of IMDb votes.
    async fn votes(&self) -> Long {
        Long(self.0.votes)
    }

    /// Metacritic score, 0 to 100, when known.
    async fn meta_score(&self) -> Option<i32> {
        self.0.meta_score
    }

    /// Box-office gross in US dollars, when known.
    async fn gross(&self) -> Option<Money> {
        self.0.gross_cents.map(|cents| Money::new(cents, GROSS_CURRENCY))
    }

    async fn description(&self) -> &str {
        &self.0.description
    }

    /// What buying the movie costs now.
    async fn price(&self) -> Money {
        Money::new(self.0.price_cents, &self.0.currency)
    }

    /// On sale: false once a moderator withdraws it (it stays listed and with its owners, but cannot be added
    /// to a cart or ordered).
    async fn available(&self) -> bool {
        self.0.available
    }

    /// The movie's poster at `size`: the picture a moderator uploaded, or one generated from the title and
    /// genres (`generated: true`) when there is none.
    async fn poster(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "PosterSize::Large")] size: PosterSize,
    ) -> Result<Poster> {
        Ok(ctx.data::<Posters>()?.of(&self.0, size))
    }

    /// The movie's certification (age rating).
    async fn certification(&self, ctx: &Context<'_>) -> Result<Certification> {
        let loader = ctx.data::<RequestLoader>()?;
        let row = Box::pin(loader.load_one(CertificationId(self.0.certification_id))).await?;
        Ok(Certification(row.ok_or_else(|| {
            AppError::internal(anyhow::anyhow!("movie without certification"))
        })?))
    }

    /// Genres, by name.
    async fn genres(&self, ctx: &Context<'_>) -> Result<Vec<Genre>> {
        let loader = ctx.data::<RequestLoader>()?;
        let rows = Box::pin(loader.load_one(GenresOf(self.0.id)))
            .await?
            .unwrap_or_default();
        Ok(rows.into_iter().map(|row| Genre { row, movie_count: None }).collect())
    }

    /// Directors, by name.
    async fn directors(&self, ctx: &Context<'_>) -> Result<Vec<Person>> {
        let loader = ctx.data::<RequestLoader>()?;
        Ok(Box::pin(loader.load_one(DirectorsOf(self.0.id)))
            .await?
            .unwrap_or_default()
            .into_iter()
            .map(Person)
            .collect())
    }

    /// Main stars, in billing order.
    async fn stars(&self, ctx: &Context<'_>) -> Result<Vec<Person>> {
        let loader = ctx.data::<RequestLoader>()?;
        Ok(Box::pin(loader.load_one(StarsOf(self.0.id)))
            .await?
            .unwrap_or_default()
            .into_iter()
            .map(Person)
            .collect())
    }

    /// The signed-in viewer's reaction; null when none, or for an anonymous viewer (B8).
    #[graphql(cache_control(private))]
    async fn viewer_reaction(&self, ctx: &Context<'_>) -> Result<Option<Reaction>> {
        Ok(Box::pin(viewer_state(ctx, self)).await?.reaction)
    }

    /// The signed-in viewer's rating, 1 to 10; null when none, or for an anonymous viewer (B9).
    #[graphql(cache_control(private))]
    async fn viewer_rating(&self, ctx: &Context<'_>) -> Result<Option<i32>> {
        Ok(Box::pin(viewer_state(ctx, self)).await?.rating)
    }

    /// Whether the signed-in viewer keeps it among their favorites; false for an anonymous viewer (B7).
    #[graphql(cache_control(private))]
    async fn is_favorite(&self, ctx: &Context<'_>) -> Result<bool> {
        Ok(Box::pin(viewer_state(ctx, self)).await?.favorite)
    }

    /// Whether the signed-in viewer bought it; false for an anonymous viewer (B14).
    #[graphql(cache_control(private))]
    async fn is_purchased(&self, ctx: &Context<'_>) -> Result<bool> {
        Ok(Box::pin(viewer_state(ctx, self)).await?.purchased)
    }

    /// Whether it is in the signed-in viewer's cart; false for an anonymous viewer (C1).
    #[graphql(cache_control(private))]
    async fn in_cart(&self, ctx: &Context<'_>) -> Result<bool> {
        Ok(Box::pin(viewer_state(ctx, self)).await?.in_cart)
    }

    /// Comments on the movie (B10), newest first by default; each has its replies.
    #[graphql(complexity = "crate::graphql::limits::page_cost(first, child_complexity, false)")]
    async fn comments(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        #[graphql(desc = "NEWEST (when null) or OLDEST first.")] order: Option<CommentOrder>,
    ) -> Result<Page<Comment, CommentCount>> {
        let order = order.unwrap_or(CommentOrder::Newest);
        shows(ctx, Part::of_movie(Content::Comments, self.0.id));
        Box::pin(movie_comments(ctx, &self.0.uuid, first, after.as_deref(), order)).await
    }

    /// Number of users who like the movie.
    async fn likes(&self, ctx: &Context<'_>) -> Long {
        shows(ctx, Part::of_movie(Content::Reactions, self.0.id));
        Long(self.0.likes_count)
    }

    /// Number of users who dislike the movie.
    async fn dislikes(&self, ctx: &Context<'_>) -> Long {
        shows(ctx, Part::of_movie(Content::Reactions, self.0.id));
        Long(self.0.dislikes_count)
    }

    /// Average user rating (1 to 10), or null when nobody rated it yet.
    async fn average_rating(&self, ctx: &Context<'_>) -> Option<f64> {
        shows(ctx, Part::of_movie(Content::Ratings, self.0.id));
        (self.0.ratings_count > 0).then(|| self.0.ratings_sum as f64 / self.0.ratings_count as f64)
    }

    /// Number of user ratings.
    async fn ratings_count(&self, ctx: &Context<'_>) -> Long {
        shows(ctx, Part::of_movie(Content::Ratings, self.0.id));
        Long(self.0.ratings_count)
    }

    /// When the movie joined the catalog (UTC).
    async fn added_at(&self) -> DateTime<Utc> {
        self.0.created_at.and_utc()
    }
}

/// What the signed-in viewer has to do with `movie`: through the loader (a page prefetches it in one
/// statement); nothing to load for an anonymous viewer.
async fn viewer_state(ctx: &Context<'_>, movie: &Movie) -> Result<ViewerState> {
    let Some(viewer) = ctx.data_opt::<Viewer>() else {
        return Ok(ViewerState::default());
    };
    let key = ViewerStateOf {
        user_id: viewer.user_id,
        movie_id: movie.0.id,
    };
    Ok(ctx.data::<RequestLoader>()?.load_one(key).await?.unwrap_or_default())
}

/// A genre, and the movies in it.
pub struct Genre {
    row: GenreRow,
    /// Already known when the genre came from a list that counted movies.
    movie_count: Option<i64>,
}

impl Genre {
    /// A genre whose movies are counted when asked.
    pub fn new(row: GenreRow) -> Genre {
        Genre { row, movie_count: None }
    }
}

#[Object]
impl Genre {
    async fn id(&self) -> ID {
        ID(self.row.id.to_string())
    }

    async fn name(&self) -> &str {
        &self.row.name
    }

    /// Number of movies in the genre.
    async fn movie_count(&self, ctx: &Context<'_>) -> Result<i64> {
        if let Some(count) = self.movie_count {
            return Ok(count);
        }
        let loader = ctx.data::<RequestLoader>()?;
        Ok(Box::pin(loader.load_one(MovieCountOf(self.row.id))).await?.unwrap_or(0))
    }

    /// The genre's movies, with the catalog's filters, search and sorting (B6); `filter.genreIds` is ignored.
    /// The pages of every genre of a request asked with the same arguments are read in one statement, and
    /// their totals in another.
    #[graphql(complexity = "crate::graphql::limits::page_cost(first, child_complexity, search.is_some())")]
    async fn movies(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<MovieFilterInput>,
        search: Option<String>,
        sort: Option<MovieSortInput>,
    ) -> Result<MovieConnection> {
        // Boxed, as `Movie`'s fields are: every `name` of every genre would otherwise be a future this size.
        Box::pin(async move {
            let filter = filter.unwrap_or_default().into_filter(search)?;
            let limit = pagination::page_size(first)?;
            let sort = sort.map(MovieSort::from).unwrap_or_default();
            let seal = ctx.data::<CursorSeal>()?;
            let after = read_cursor(seal, sort, after.as_deref())?;
            let after_cursor = after.is_some();
            // One row more than asked tells whether a next page exists.
            let args = MovieListArgs::new(filter, sort, after, limit + 1);
            let loader = ctx.data::<RequestLoader>()?;
            let genre_id = self.row.id;
            let rows = loader
                .load_one(GenrePage {
                    genre_id,
                    args: args.clone(),
                })
                .await?
                .unwrap_or_default();
            let page = Page::from_keyset_rows(
                rows,
                limit,
                after_cursor,
                MovieCount::InGenre(CountInGenre { genre_id, args }),
                |movie| seal_cursor(seal, sort, movie),
                Movie,
            );
            // Every genre of the list runs this at once: their loads share one batch per relation.
            prefetch_relations(ctx, page.nodes(), Batching::WithSiblings).await?;
            Ok::<_, async_graphql::Error>(MovieConnection::new(page))
        })
        .await
    }
}

/// A director or a star.
pub struct Person(pub PersonRow);

#[Object]
impl Person {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    async fn name(&self) -> &str {
        &self.0.name
    }
}

/// An age rating such as PG-13.
pub struct Certification(pub CertificationRow);

#[Object]
impl Certification {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    async fn name(&self) -> &str {
        &self.0.name
    }
}

/// Which movies to show. Ranges are inclusive; several ids in one list match any of them.
#[derive(Debug, Default, InputObject)]
#[graphql(name = "MovieFilter")]
pub struct MovieFilterInput {
    year_min: Option<i32>,
    year_max: Option<i32>,
    imdb_min: Option<f64>,
    imdb_max: Option<f64>,
    /// In minor units of the catalog currency.
    price_min: Option<Long>,
    /// In minor units of the catalog currency.
    price_max: Option<Long>,
    genre_ids: Option<Vec<ID>>,
    certification_ids: Option<Vec<ID>>,
    director_ids: Option<Vec<ID>>,
    star_ids: Option<Vec<ID>>,
}

/// Lists longer than this in a filter are refused (they would only make a slow query).
const MAX_FILTER_IDS: usize = 50;

impl MovieFilterInput {
    fn into_filter(self, search: Option<String>) -> Result<MovieFilter, AppError> {
        let filter = MovieFilter {
            year_min: self.year_min,
            year_max: self.year_max,
            imdb_min: self.imdb_min,
            imdb_max: self.imdb_max,
            price_min: self.price_min.map(|p| p.0),
            price_max: self.price_max.map(|p| p.0),
            genre_ids: parse_ids("filter.genreIds", self.genre_ids)?,
            certification_ids: parse_ids("filter.certificationIds", self.certification_ids)?,
            director_ids: parse_ids("filter.directorIds", self.director_ids)?,
            star_ids: parse_ids("filter.starIds", self.star_ids)?,
            search,
            favorite_of: None,
            purchased_by: None,
            search_plan: None,
        };
        service::check_filter(&filter)?;
        Ok(filter)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Default)]
pub enum SortDirection {
    #[default]
    Asc,
    Desc,
}

#[derive(Debug, InputObject)]
#[graphql(name = "MovieSort")]
pub struct MovieSortInput {
    field: MovieSortField,
    #[graphql(default)]
    direction: SortDirection,
}

impl From<MovieSortInput> for MovieSort {
    fn from(input: MovieSortInput) -> Self {
        MovieSort {
            field: input.field,
            // Relevance is best first either way: one cursor kind.
            descending: input.direction == SortDirection::Desc || input.field == MovieSortField::Relevance,
        }
    }
}

/// The sort a list asked for; without one, by relevance for a search (issue 25) and by name otherwise.
fn sort_or_default(sort: Option<MovieSortInput>, filter: &MovieFilter) -> MovieSort {
    match sort {
        Some(sort) => sort.into(),
        None if filter.search.as_deref().is_some_and(|text| !text.trim().is_empty()) => MovieSort {
            field: MovieSortField::Relevance,
            descending: true,
        },
        None => MovieSort::default(),
    }
}

/// The catalog's mutations for signed-in users: favorites, reactions and ratings (B7–B9). Each answers the
/// movie as it is now (its counters, and the viewer's own state).
#[derive(Default)]
pub struct CatalogMutation;

#[Object]
impl CatalogMutation {
    /// Adds a movie to the signed-in user's favorites (B7); adding it again changes nothing.
    #[graphql(guard = "RoleGuard::signed_in().spending(Budget::Writes)", directive = authenticated::apply(),
        directive = spends::apply(Budget::Writes))]
    async fn add_favorite(&self, ctx: &Context<'_>, movie_id: ID) -> Result<Movie> {
        let user_id = viewer(ctx)?.user_id;
        Ok(Movie(
            ctx.data::<Catalog>()?.set_favorite(user_id, &movie_id, true).await?,
        ))
    }

    /// Removes a movie from the signed-in user's favorites (B7); removing it again changes nothing.
    #[graphql(guard = "RoleGuard::signed_in().spending(Budget::Writes)", directive = authenticated::apply(),
        directive = spends::apply(Budget::Writes))]
    async fn remove_favorite(&self, ctx: &Context<'_>, movie_id: ID) -> Result<Movie> {
        let user_id = viewer(ctx)?.user_id;
        Ok(Movie(
            ctx.data::<Catalog>()?.set_favorite(user_id, &movie_id, false).await?,
        ))
    }

    /// Likes or dislikes a movie (B8); one reaction per user and movie, switching moves the count.
    #[graphql(guard = "RoleGuard::signed_in().spending(Budget::Writes)", directive = authenticated::apply(),
        directive = spends::apply(Budget::Writes))]
    async fn set_reaction(&self, ctx: &Context<'_>, movie_id: ID, reaction: Reaction) -> Result<Movie> {
        let user_id = viewer(ctx)?.user_id;
        Ok(Movie(
            ctx.data::<Catalog>()?.react(user_id, &movie_id, Some(reaction)).await?,
        ))
    }

    /// Takes back the signed-in user's like or dislike (B8).
    #[graphql(guard = "RoleGuard::signed_in().spending(Budget::Writes)", directive = authenticated::apply(),
        directive = spends::apply(Budget::Writes))]
    async fn clear_reaction(&self, ctx: &Context<'_>, movie_id: ID) -> Result<Movie> {
        let user_id = viewer(ctx)?.user_id;
        Ok(Movie(ctx.data::<Catalog>()?.react(user_id, &movie_id, None).await?))
    }

    /// Rates a movie from 1 to 10 (B9); rating again replaces the score.
    #[graphql(guard = "RoleGuard::signed_in().spending(Budget::Writes)", directive = authenticated::apply(),
        directive = spends::apply(Budget::Writes))]
    async fn rate_movie(&self, ctx: &Context<'_>, movie_id: ID, score: i32) -> Result<Movie> {
        let user_id = viewer(ctx)?.user_id;
        Ok(Movie(
            ctx.data::<Catalog>()?.rate(user_id, &movie_id, Some(score)).await?,
        ))
    }

    /// Takes back the signed-in user's rating (B9).
    #[graphql(guard = "RoleGuard::signed_in().spending(Budget::Writes)", directive = authenticated::apply(),
        directive = spends::apply(Budget::Writes))]
    async fn clear_rating(&self, ctx: &Context<'_>, movie_id: ID) -> Result<Movie> {
        let user_id = viewer(ctx)?.user_id;
        Ok(Movie(ctx.data::<Catalog>()?.rate(user_id, &movie_id, None).await?))
    }
}

/// Which of a user's own movie lists.
#[derive(Debug, Clone, Copy)]
pub enum OwnList {
    /// B7: the favorites.
    Favorites,
    /// B14: the movies the user bought.
    Purchased,
}

/// The arguments every movie list takes.
pub struct MovieListInput {
    pub first: Option<i32>,
    pub after: Option<String>,
    pub filter: Option<MovieFilterInput>,
    pub search: Option<String>,
    pub sort: Option<MovieSortInput>,
}

/// B7, B14: a page of one of the user's own lists, with the catalog's filters, search, sorting and keyset
/// pages.
pub async fn own_movies(
    ctx: &Context<'_>,
    user_id: i64,
    list: OwnList,
    input: MovieListInput,
) -> Result<MovieConnection> {
    let mut filter = input.filter.unwrap_or_default().into_filter(input.search)?;
    match list {
        OwnList::Favorites => filter.favorite_of = Some(user_id),
        OwnList::Purchased => filter.purchased_by = Some(user_id),
    }
    movie_page(ctx, filter, input.sort, input.first, input.after.as_deref()).await
}

/// A page of movies matching `filter`, with the relations the query asks for loaded in one batch each.
async fn movie_page(
    ctx: &Context<'_>,
    filter: MovieFilter,
    sort: Option<MovieSortInput>,
    first: Option<i32>,
    after: Option<&str>,
) -> Result<MovieConnection> {
    let limit = pagination::page_size(first)?;
    let sort = sort_or_default(sort, &filter);
    // The order of a list sorted by a counter depends on every movie's counter.
    match sort.field {
        MovieSortField::Popularity | MovieSortField::Relevance => {
            shows(ctx, Part::all(Content::Purchases));
            shows(ctx, Part::all(Content::Reactions));
        }
        MovieSortField::Rating => shows(ctx, Part::all(Content::Ratings)),
        _ => {}
    }
    let seal = ctx.data::<CursorSeal>()?;
    let after = read_cursor(seal, sort, after)?;
    // One row more than asked tells whether a next page exists without a second query.
    let found = ctx
        .data::<Catalog>()?
        .movies(filter, sort, after.as_ref(), limit + 1)
        .await?;
    let page = Page::from_keyset_rows(
        found.rows,
        limit,
        after.is_some(),
        MovieCount::Matching(Box::new(found.filter)),
        |movie| match found.ranks.get(&movie.id) {
            Some(&rank) if sort.field == MovieSortField::Relevance => {
                seal_position(seal, sort, MovieSort::ranked_cursor(rank, movie))
            }
            _ => seal_cursor(seal, sort, movie),
        },
        Movie,
    )
    .with_total(found.total);
    prefetch_relations(ctx, page.nodes(), Batching::Alone(&found.genre_ids)).await?;
    Ok(MovieConnection::new(page).instead_of_nothing(found.did_you_mean))
}

/// A movie list's cursor as sealed: the sort it belongs to, and the position (B4).
#[derive(serde::Serialize, serde::Deserialize)]
struct SealedMovieCursor {
    sort: String,
    key: SortKey,
    id: i64,
}

fn sort_tag(sort: MovieSort) -> String {
    format!("{:?}:{}", sort.field, if sort.descending { "desc" } else { "asc" })
}

fn seal_cursor(seal: &CursorSeal, sort: MovieSort, movie: &MovieRow) -> String {
    seal_position(seal, sort, sort.cursor_of(movie))
}

fn seal_position(seal: &CursorSeal, sort: MovieSort, MovieCursor { key, id }: MovieCursor) -> String {
    seal.seal(&SealedMovieCursor {
        sort: sort_tag(sort),
        key,
        id,
    })
}

/// The position `after` names, for a list in `sort` order: BAD_USER_INPUT for a cursor this API did not make,
/// or made for another sort.
fn read_cursor(seal: &CursorSeal, sort: MovieSort, after: Option<&str>) -> Result<Option<MovieCursor>, AppError> {
    let Some(after) = after else {
        return Ok(None);
    };
    let sealed: SealedMovieCursor = seal.open("after", after)?;
    if sealed.sort != sort_tag(sort) || !sort.accepts(&sealed.key) {
        return Err(AppError::bad_input(
            "after",
            "this cursor belongs to a list in another sort order; start again from the first page",
        ));
    }
    Ok(Some(MovieCursor {
        key: sealed.key,
        id: sealed.id,
    }))
}

/// What a movie page's `totalCount` counts.
pub enum MovieCount {
    /// The movies matching a filter (`movies`).
    Matching(Box<MovieFilter>),
    /// The movies of a genre matching a filter (`Genre.movies`), batched over the request's genres.
    InGenre(CountInGenre),
}

impl Counted for MovieCount {
    async fn count(&self, ctx: &Context<'_>) -> Result<Total> {
        match self {
            MovieCount::Matching(filter) => Ok(ctx.data::<Catalog>()?.count(filter).await?),
            MovieCount::InGenre(key) => Ok(Total::exact(
                ctx.data::<RequestLoader>()?.load_one(key.clone()).await?.unwrap_or(0),
            )),
        }
    }
}

/// Loads, in one batch each, the relations the query asks for on this page's movies. The loader caches the
/// results, so the movies' own resolvers find them there: a page costs the same number of statements for 1 or
/// 100 movies, instead of depending on how the resolvers' timing falls into the loader's batching window.
async fn prefetch_relations(ctx: &Context<'_>, movies: &[Movie], batching: Batching<'_>) -> Result<()> {
    let look = ctx.look_ahead();
    let rows: Vec<&MovieRow> = movies.iter().map(|movie| &movie.0).collect();
    let at = [look.field("nodes"), look.field("edges").field("node")];
    prefetch_movies_with(ctx, &rows, &at, batching).await
}

/// Whether other lists of the same request prefetch at the same moment (the pages of every genre of a list,
/// the lines of every order of a page) and should share their batches, or this list is alone (the root page).
#[derive(Debug, Clone, Copy)]
enum Batching<'a> {
    /// Through the DataLoader, which gathers the keys its callers ask for within 1 ms into one batch.
    WithSiblings,
    /// Straight through the batch function, without the DataLoader's wait (see `prime`); the page's statement
    /// read its movies' genre ids (`MovieList::genre_ids`), so their genres need no statement of their own.
    Alone(&'a HashMap<i64, Vec<i64>>),
}

/// Loads, in one batch each, the relations that the selections `at` (each one where a `Movie` is selected)
/// ask for on `movies`: what `prefetch_relations` does for a page, for any answer that shows movies (a cart's
/// lines, an order's lines).
pub async fn prefetch_movies(ctx: &Context<'_>, movies: &[&MovieRow], at: &[Lookahead<'_>]) -> Result<()> {
    prefetch_movies_with(ctx, movies, at, Batching::WithSiblings).await
}

async fn prefetch_movies_with(
    ctx: &Context<'_>,
    movies: &[&MovieRow],
    at: &[Lookahead<'_>],
    batching: Batching<'_>,
) -> Result<()> {
    if movies.is_empty() {
        return Ok(());
    }
    let loader = ctx.data::<RequestLoader>()?;
    let wants = |field: &str| at.iter().any(|selection| selection.field(field).exists());
    let wants_genre_counts = at
        .iter()
        .any(|selection| selection.field("genres").field("movieCount").exists());
    let movie_ids: Vec<i64> = movies.iter().map(|m| m.id).collect();
    let mut certification_ids: Vec<i64> = movies.iter().map(|m| m.certification_id).collect();
    certification_ids.sort_unstable();
    certification_ids.dedup();

    let genres = async {
        if !wants("genres") {
            return Ok::<(), async_graphql::Error>(());
        }
        let by_movie = match batching {
            Batching::Alone(genre_ids) => {
                let named = ctx.data::<Catalog>()?.genres_named(genre_ids).await?;
                let by_movie: HashMap<GenresOf, Vec<GenreRow>> =
                    named.into_iter().map(|(id, genres)| (GenresOf(id), genres)).collect();
                loader
                    .feed_many(by_movie.iter().map(|(key, genres)| (*key, genres.clone())))
                    .await;
                by_movie
            }
            Batching::WithSiblings => {
                prime(
                    loader,
                    batching,
                    movie_ids.iter().copied().map(GenresOf),
                    Some(Vec::new()),
                )
                .await?
            }
        };
        if wants_genre_counts {
            let mut genre_ids: Vec<i64> = by_movie.values().flatten().map(|g| g.id).collect();
            genre_ids.sort_unstable();
            genre_ids.dedup();
            prime(loader, batching, genre_ids.into_iter().map(MovieCountOf), Some(0)).await?;
        }
        Ok(())
    };
    let directors = async {
        if wants("directors") {
            prime(
                loader,
                batching,
                movie_ids.iter().copied().map(DirectorsOf),
                Some(Vec::new()),
            )
            .await?;
        }
        Ok::<(), async_graphql::Error>(())
    };
    let stars = async {
        if wants("stars") {
            prime(
                loader,
                batching,
                movie_ids.iter().copied().map(StarsOf),
                Some(Vec::new()),
            )
            .await?;
        }
        Ok::<(), async_graphql::Error>(())
    };
    let certifications = async {
        if wants("certification") {
            prime(
                loader,
                batching,
                certification_ids.iter().copied().map(CertificationId),
                None,
            )
            .await?;
        }
        Ok::<(), async_graphql::Error>(())
    };
    let viewer_states = async {
        let viewer = ctx.data_opt::<Viewer>();
        let wanted = ["viewerReaction", "viewerRating", "isFavorite", "isPurchased", "inCart"];
        if let Some(viewer) = viewer
            && wanted.iter().any(|field| wants(field))
        {
            let keys = movie_ids.iter().map(|&movie_id| ViewerStateOf {
                user_id: viewer.user_id,
                movie_id,
            });
            prime(loader, batching, keys, Some(ViewerState::default())).await?;
        }
        Ok::<(), async_graphql::Error>(())
    };
    futures_util::try_join!(genres, directors, stars, certifications, viewer_states)?;
    Ok(())
}

/// Loads `keys` into the request's cache, where the movies' resolvers find them. A list that is `Alone` loads
/// them in one batch straight through the loader's batch function: `DataLoader::load_many` would first wait
/// its batching delay, 1 ms, in a task of its own, and the root page already knows its whole batch. A key
/// without a value then gets `missing` (an empty list), so that no resolver asks again.
async fn prime<K, V>(
    loader: &RequestLoader,
    batching: Batching<'_>,
    keys: impl IntoIterator<Item = K>,
    missing: Option<V>,
) -> Result<HashMap<K, V>>
where
    CatalogLoader: Loader<K, Value = V, Error = async_graphql::Error>,
    K: Send + Sync + Hash + Eq + Clone + 'static,
    V: Clone,
{
    if matches!(batching, Batching::WithSiblings) {
        return loader.load_many(keys).await;
    }
    let keys: Vec<K> = keys.into_iter().collect();
    let mut found = loader.loader().load(&keys).await?;
    if let Some(missing) = missing {
        for key in keys {
            found.entry(key).or_insert_with(|| missing.clone());
        }
    }
    loader
        .feed_many(found.iter().map(|(key, value)| (key.clone(), value.clone())))
        .await;
    Ok(found)
}

/// Parses a numeric id, naming the argument when it is not one.
pub fn parse_id(field: &str, id: &ID) -> Result<i64, AppError> {
    id.parse::<i64>()
        .ok()
        .filter(|v| *v > 0)
        .ok_or_else(|| AppError::bad_input(field, format!("{field} is not a valid id")))
}

pub(crate) fn parse_ids(field: &str, ids: Option<Vec<ID>>) -> Result<Vec<i64>, AppError> {
    let ids = ids.unwrap_or_default();
    if ids.len() > MAX_FILTER_IDS {
        return Err(AppError::bad_input(
            field,
            format!("{field} lists more than {MAX_FILTER_IDS} ids"),
        ));
    }
    ids.iter().map(|id| parse_id(field, id)).collect()
}
