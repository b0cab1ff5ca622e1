//! Catalog queries. Every function takes a connection so that it can run inside the caller's transaction;
//! each body is written once and expanded for both backends by `per_backend!`.

use std::collections::HashMap;

use chrono::NaiveDateTime;

use diesel::QueryResult;
use diesel::backend::Backend;
use diesel::dsl::count_star;
use diesel::expression::AsExpression;
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use diesel_async::RunQueryDsl;

use crate::catalog::models::{
    CertificationRow, FieldMatches, GenreRow, MovieChanges, MovieCursor, MovieFilter, MovieRow, MovieSort,
    MovieSortField, Named, NewMovie, NewMovieDirector, NewMovieGenre, NewMovieStar, PersonRow, Reaction, SearchPlan,
    SearchRank, SortKey, ViewerState,
};
use crate::catalog::words;
use crate::db::notify::{Content, Part, public_content_changed};
use crate::db::row_value::{RowsAfter, rows_after};
use crate::db::schema::{
    cart_items, carts, certifications, favorites, genres, movie_directors, movie_genres, movie_ratings,
    movie_reactions, movie_stars, movies, order_items, people, purchases,
};
use crate::db::{DbConn, FixedSql, fixed_sql, lower};
use crate::per_backend;

/// Orders a boxed query whose source includes `movies` by a `MovieSort`, after any order it already has. The
/// id breaks ties, so pages never overlap or skip (B4); it runs in the sort's direction so that one index
/// (column, id) serves both directions. A macro because the query types differ (movies alone, or joined) and
/// diesel's ordering traits do not abstract over them; it expands to one expression.
macro_rules! then_order_by_sort {
    ($query:expr, $sort:expr) => {{
        let query = $query;
        match ($sort.field, $sort.descending) {
            (MovieSortField::Name, false) => query.then_order_by(movies::name.asc()).then_order_by(movies::id.asc()),
            (MovieSortField::Name, true) => query
                .then_order_by(movies::name.desc())
                .then_order_by(movies::id.desc()),
            (MovieSortField::Year, false) => query.then_order_by(movies::year.asc()).then_order_by(movies::id.asc()),
            (MovieSortField::Year, true) => query
                .then_order_by(movies::year.desc())
                .then_order_by(movies::id.desc()),
            (MovieSortField::Imdb, false) => query
                .then_order_by(movies::imdb_score.asc())
                .then_order_by(movies::id.asc()),
            (MovieSortField::Imdb, true) => query
                .then_order_by(movies::imdb_score.desc())
                .then_order_by(movies::id.desc()),
            (MovieSortField::Price, false) => query
                .then_order_by(movies::price_cents.asc())
                .then_order_by(movies::id.asc()),
            (MovieSortField::Price, true) => query
                .then_order_by(movies::price_cents.desc())
                .then_order_by(movies::id.desc()),
            (MovieSortField::Popularity, false) => query
                .then_order_by(movies::purchases_count.asc())
                .then_order_by(movies::likes_count.asc())
                .then_order_by(movies::id.asc()),
            (MovieSortField::Popularity, true) => query
                .then_order_by(movies::purchases_count.desc())
                .then_order_by(movies::likes_count.desc())
                .then_order_by(movies::id.desc()),
            // Unrated movies last in both directions: each direction has its own generated key and index.
            (MovieSortField::Rating, false) => query
                .then_order_by(movies::rating_low_first.asc())
                .then_order_by(movies::id.asc()),
            (MovieSortField::Rating, true) => query
                .then_order_by(movies::rating_high_first.desc())
                .then_order_by(movies::id.desc()),
            (MovieSortField::Added, false) => query
                .then_order_by(movies::created_at.asc())
                .then_order_by(movies::id.asc()),
            (MovieSortField::Added, true) => query
                .then_order_by(movies::created_at.desc())
                .then_order_by(movies::id.desc()),
            // Best first in either direction; within a search rank (read one rank at a time, see
            // `list_movies_by_relevance`), and without a search, by popularity.
            (MovieSortField::Relevance, _) => query
                .then_order_by(movies::purchases_count.desc())
                .then_order_by(movies::likes_count.desc())
                .then_order_by(movies::id.desc()),
        }
    }};
}

/// The movies strictly after (`value`, `id`) in a sort on `column` (descending or not): the keyset condition as
/// a row value, which PostgreSQL seeks in the sort's (column, id) index at the cursor itself (`db::row_value`
/// says why not the equivalent ANDs and ORs, and what SQLite does with it).
fn after_in_sort<C, V>(column: C, value: V, id: i64, descending: bool) -> AfterInSort<C, V>
where
    C: Expression,
    C::SqlType: diesel::sql_types::SqlType + diesel::expression::TypedExpressionType,
    V: AsExpression<C::SqlType>,
{
    let values = (value.as_expression(), AsExpression::<BigInt>::as_expression(id));
    rows_after((column, movies::id), values, descending)
}

type AfterInSort<C, V> = RowsAfter<
    (C, movies::id),
    (
        <V as AsExpression<<C as Expression>::SqlType>>::Expression,
        <i64 as AsExpression<BigInt>>::Expression,
    ),
>;

/// The ids of the movies that a star or director whose lower-cased name is LIKE `$pattern` plays in or
/// directed: a subquery for `movies::id.eq_any(…)`. A macro because the union's type cannot be named; it
/// expands to one expression.
macro_rules! movies_of_people_named {
    ($pattern:expr) => {{
        let pattern: String = $pattern;
        let stars_named = people::table
            .filter(lower(people::name).like(pattern.clone()).escape('\\'))
            .select(people::id);
        let directors_named = people::table
            .filter(lower(people::name).like(pattern).escape('\\'))
            .select(people::id);
        movie_stars::table
            .filter(movie_stars::person_id.eq_any(stars_named))
            .select(movie_stars::movie_id)
            .union_all(
                movie_directors::table
                    .filter(movie_directors::person_id.eq_any(directors_named))
                    .select(movie_directors::movie_id),
            )
    }};
}

/// The catalog's search (B5), the one place it is decided: a case-insensitive substring of the title, the
/// description, or a star's or director's name, on both backends. What serves it differs: on PostgreSQL the
/// LIKE scan is served by trigram indexes (migration 000010); on SQLite the FTS5 trigram tables answer a text
/// of three characters or more as a phrase (the same substring rule), and shorter texts scan.
pub trait MovieSearch: Backend {
    fn movies_searched<'a>(query: movies::BoxedQuery<'a, Self>, text: &str) -> movies::BoxedQuery<'a, Self>;
    /// `query` without the movies whose title (`Field::Title`) or description (`Field::Description`) does not
    /// contain `text` (three characters or more), served by the index: part of a search's probe.
    fn field_containing<'a>(
        query: movies::BoxedQuery<'a, Self>,
        field: MovieText,
        text: &str,
    ) -> movies::BoxedQuery<'a, Self>;
    /// `query` without the movies none of whose stars and directors has `text` (three characters or more) in
    /// their name, served by the index: the second half of a search's probe.
    fn people_containing<'a>(query: movies::BoxedQuery<'a, Self>, text: &str) -> movies::BoxedQuery<'a, Self>;
    /// `query` without the movies whose lower-cased title does not start with `lowered`, served by the index on
    /// lower-cased titles (migration 000017).
    fn titles_starting_with<'a>(query: movies::BoxedQuery<'a, Self>, lowered: &str) -> movies::BoxedQuery<'a, Self>;
}

/// The two texts of a movie a search reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MovieText {
    Title,
    Description,
}

/// The FTS5 phrase of a search text on SQLite: quoted, its own quotes doubled, so nothing in it is query
/// syntax.
pub(super) fn fts_phrase(text: &str) -> String {
    format!("\"{}\"", text.trim().to_lowercase().replace('"', "\"\""))
}

impl MovieSearch for diesel::pg::Pg {
    fn titles_starting_with<'a>(query: movies::BoxedQuery<'a, Self>, lowered: &str) -> movies::BoxedQuery<'a, Self> {
        // The text_pattern_ops index serves a LIKE prefix.
        query.filter(
            lower(movies::name)
                .like(crate::db::prefix_pattern(lowered))
                .escape('\\'),
        )
    }

    fn movies_searched<'a>(query: movies::BoxedQuery<'a, Self>, text: &str) -> movies::BoxedQuery<'a, Self> {
        match crate::db::contains_pattern(text) {
            Some(pattern) => Self::movies_containing(query, pattern),
            None => query,
        }
    }

    fn field_containing<'a>(
        query: movies::BoxedQuery<'a, Self>,
        field: MovieText,
        text: &str,
    ) -> movies::BoxedQuery<'a, Self> {
        match (crate::db::contains_pattern(text), field) {
            // Each column's trigram index.
            (Some(pattern), MovieText::Title) => query.filter(lower(movies::name).like(pattern).escape('\\')),
            (Some(pattern), MovieText::Description) => {
                query.filter(lower(movies::description).like(pattern).escape('\\'))
            }
            (None, _) => query,
        }
    }

    fn people_containing<'a>(query: movies::BoxedQuery<'a, Self>, text: &str) -> movies::BoxedQuery<'a, Self> {
        match crate::db::contains_pattern(text) {
            Some(pattern) => query.filter(movies::id.eq_any(movies_of_people_named!(pattern))),
            None => query,
        }
    }
}

impl MovieSearch for diesel::sqlite::Sqlite {
    fn titles_starting_with<'a>(query: movies::BoxedQuery<'a, Self>, lowered: &str) -> movies::BoxedQuery<'a, Self> {
        // SQLite's LIKE cannot use an index on an expression; the range (in byte order, SQLite's own) can, and
        // the LIKE keeps the answer exact.
        query
            .filter(lower(movies::name).ge(lowered.to_string()))
            .filter(lower(movies::name).lt(format!("{lowered}{}", char::MAX)))
            .filter(
                lower(movies::name)
                    .like(crate::db::prefix_pattern(lowered))
                    .escape('\\'),
            )
    }

    fn movies_searched<'a>(query: movies::BoxedQuery<'a, Self>, text: &str) -> movies::BoxedQuery<'a, Self> {
        use diesel::sql_types::{Bool, Text};
        let text = text.trim().to_lowercase();
        if text.chars().count() < 3 {
            // A trigram index cannot hold a shorter text.
            return match crate::db::contains_pattern(&text) {
                Some(pattern) => Self::movies_containing(query, pattern),
                None => query,
            };
        }
        let phrase = fts_phrase(&text);
        query.filter(
            diesel::dsl::sql::<Bool>("(movies.id IN (SELECT rowid FROM movies_fts WHERE movies_fts MATCH ")
                .bind::<Text, _>(phrase.clone())
                .sql(") OR movies.id IN (SELECT movie_id FROM movie_stars WHERE person_id IN (SELECT rowid FROM people_fts WHERE people_fts MATCH ")
                .bind::<Text, _>(phrase.clone())
                .sql(")) OR movies.id IN (SELECT movie_id FROM movie_directors WHERE person_id IN (SELECT rowid FROM people_fts WHERE people_fts MATCH ")
                .bind::<Text, _>(phrase)
                .sql(")))"),
        )
    }

    fn field_containing<'a>(
        query: movies::BoxedQuery<'a, Self>,
        field: MovieText,
        text: &str,
    ) -> movies::BoxedQuery<'a, Self> {
        use diesel::sql_types::{Bool, Text};
        let column = match field {
            MovieText::Title => "name",
            MovieText::Description => "description",
        };
        query.filter(
            diesel::dsl::sql::<Bool>("movies.id IN (SELECT rowid FROM movies_fts WHERE movies_fts MATCH ")
                .bind::<Text, _>(format!("{column} : {}", fts_phrase(text)))
                .sql(")"),
        )
    }

    fn people_containing<'a>(query: movies::BoxedQuery<'a, Self>, text: &str) -> movies::BoxedQuery<'a, Self> {
        use diesel::sql_types::{Bool, Text};
        let phrase = fts_phrase(text);
        query.filter(
            diesel::dsl::sql::<Bool>("(movies.id IN (SELECT movie_id FROM movie_stars WHERE person_id IN (SELECT rowid FROM people_fts WHERE people_fts MATCH ")
                .bind::<Text, _>(phrase.clone())
                .sql(")) OR movies.id IN (SELECT movie_id FROM movie_directors WHERE person_id IN (SELECT rowid FROM people_fts WHERE people_fts MATCH ")
                .bind::<Text, _>(phrase)
                .sql(")))"),
        )
    }
}

/// Query fragments on movies, for both backends.
pub trait MovieQueries: MovieSearch {
    /// The movies a `MovieFilter` selects.
    fn movies_matching<'a>(filter: &MovieFilter) -> movies::BoxedQuery<'a, Self>;
    /// `query` without the movies that do not contain `pattern` (a `contains_pattern`) in their title,
    /// description, or a star's or director's name: a scan with LIKE over lower-cased text.
    fn movies_containing<'a>(query: movies::BoxedQuery<'a, Self>, pattern: String) -> movies::BoxedQuery<'a, Self>;
    /// The same movies as `movies_containing`, tested one by one (LIKE on each movie's title and description,
    /// and its people among those named so): for a page read by walking the sort's index (`SearchPlan::Scan`).
    fn movies_scanned<'a>(query: movies::BoxedQuery<'a, Self>, pattern: String) -> movies::BoxedQuery<'a, Self>;
    /// `query` without the movies whose rank for the search `text` is not `rank`: the relevance sort's tiers
    /// (issue 25). Each rank's condition implies that the movie matches the search.
    fn movies_in_rank<'a>(
        query: movies::BoxedQuery<'a, Self>,
        rank: SearchRank,
        text: &str,
    ) -> movies::BoxedQuery<'a, Self>;
    /// `query` in `sort` order (see `then_order_by_sort!`).
    fn movies_sorted<'a>(query: movies::BoxedQuery<'a, Self>, sort: MovieSort) -> movies::BoxedQuery<'a, Self>;
    /// `query` without the movies up to and including `after` in `sort` order (B4: keyset pages). The cursor's
    /// key is of the sort's kind (checked when the cursor was read).
    fn movies_after<'a>(
        query: movies::BoxedQuery<'a, Self>,
        sort: MovieSort,
        after: &MovieCursor,
    ) -> movies::BoxedQuery<'a, Self>;
}

crate::for_both_backends! {
    impl MovieQueries {
        fn movies_matching<'a>(filter: &MovieFilter) -> movies::BoxedQuery<'a, Self> {
            let mut query = movies::table.into_boxed();
            if let Some(v) = filter.year_min {
                query = query.filter(movies::year.ge(v));
            }
            if let Some(v) = filter.year_max {
                query = query.filter(movies::year.le(v));
            }
            if let Some(v) = filter.imdb_min {
                query = query.filter(movies::imdb_score.ge(v));
            }
            if let Some(v) = filter.imdb_max {
                query = query.filter(movies::imdb_score.le(v));
            }
            if let Some(v) = filter.price_min {
                query = query.filter(movies::price_cents.ge(v));
            }
            if let Some(v) = filter.price_max {
                query = query.filter(movies::price_cents.le(v));
            }
            if !filter.certification_ids.is_empty() {
                query = query.filter(movies::certification_id.eq_any(filter.certification_ids.clone()));
            }
            if !filter.genre_ids.is_empty() {
                query = query.filter(
                    movies::id.eq_any(
                        movie_genres::table
                            .filter(movie_genres::genre_id.eq_any(filter.genre_ids.clone()))
                            .select(movie_genres::movie_id),
                    ),
                );
            }
            if !filter.director_ids.is_empty() {
                query = query.filter(
                    movies::id.eq_any(
                        movie_directors::table
                            .filter(movie_directors::person_id.eq_any(filter.director_ids.clone()))
                            .select(movie_directors::movie_id),
                    ),
                );
            }
            if !filter.star_ids.is_empty() {
                query = query.filter(
                    movies::id.eq_any(
                        movie_stars::table
                            .filter(movie_stars::person_id.eq_any(filter.star_ids.clone()))
                            .select(movie_stars::movie_id),
                    ),
                );
            }
            if let Some(user_id) = filter.favorite_of {
                query = query.filter(
                    movies::id.eq_any(
                        favorites::table
                            .filter(favorites::user_id.eq(user_id))
                            .select(favorites::movie_id),
                    ),
                );
            }
            if let Some(user_id) = filter.purchased_by {
                query = query.filter(
                    movies::id.eq_any(
                        purchases::table
                            .filter(purchases::user_id.eq(user_id))
                            .select(purchases::movie_id),
                    ),
                );
            }
            if let Some(text) = filter.search.as_deref() {
                query = match &filter.search_plan {
                    None => <Self as MovieSearch>::movies_searched(query, text),
                    Some(SearchPlan::Ids(ids, _)) => query.filter(movies::id.eq_any(ids.clone())),
                    Some(SearchPlan::Scan(_)) => match crate::db::contains_pattern(text) {
                        Some(pattern) => Self::movies_scanned(query, pattern),
                        None => query,
                    },
                };
            }
            query
        }

        fn movies_scanned<'a>(query: movies::BoxedQuery<'a, Self>, pattern: String) -> movies::BoxedQuery<'a, Self> {
            // Every field's test, even one the probe listed as empty: PostgreSQL can serve none of this OR from
            // an index, so it walks the sort's index as the plan means to. A test of the title alone let it
            // gather every match of a common text from the trigram index and sort them, and a test of people
            // alone every movie of theirs, which at a large catalog cost far more than the walk (tried and
            // reverted, benches/RESULTS.md, issue 25).
            query.filter(
                lower(movies::name)
                    .like(pattern.clone())
                    .escape('\\')
                    .or(lower(movies::description).like(pattern.clone()).escape('\\'))
                    .or(movies::id.eq_any(movies_of_people_named!(pattern))),
            )
        }

        fn movies_containing<'a>(query: movies::BoxedQuery<'a, Self>, pattern: String) -> movies::BoxedQuery<'a, Self> {
            // Title or description, or a star's or director's name: a movie with no people is still found by its
            // title (B5). One IN over a UNION ALL rather than ORs: each branch can use its own index (trigram
            // on PostgreSQL), where an OR with subqueries makes the planner filter every row (59 ms against
            // 6 ms at 50,000 movies).
            // Boxed: diesel reads a plain subquery on `movies` inside a query on `movies` as a correlated one.
            let by_name = movies::table
                .filter(lower(movies::name).like(pattern.clone()).escape('\\'))
                .select(movies::id)
                .into_boxed();
            let by_description = movies::table
                .filter(lower(movies::description).like(pattern.clone()).escape('\\'))
                .select(movies::id)
                .into_boxed();
            query.filter(
                movies::id.eq_any(
                    by_name
                        .union_all(by_description)
                        .union_all(movies_of_people_named!(pattern)),
                ),
            )
        }

        fn movies_in_rank<'a>(query: movies::BoxedQuery<'a, Self>, rank: SearchRank, text: &str) -> movies::BoxedQuery<'a, Self> {
            use diesel::dsl::not;
            let lowered = text.trim().to_lowercase();
            let Some(contains) = crate::db::contains_pattern(&lowered) else {
                return query;
            };
            let starts = crate::db::prefix_pattern(&lowered);
            match rank {
                SearchRank::ExactTitle => query.filter(lower(movies::name).eq(lowered)),
                SearchRank::TitleStart => <Self as MovieSearch>::titles_starting_with(query, &lowered)
                    .filter(lower(movies::name).ne(lowered)),
                SearchRank::InTitle => query
                    .filter(lower(movies::name).like(contains).escape('\\'))
                    .filter(not(lower(movies::name).like(starts).escape('\\'))),
                SearchRank::Person => query
                    .filter(not(lower(movies::name).like(contains.clone()).escape('\\')))
                    .filter(movies::id.eq_any(movies_of_people_named!(contains))),
                SearchRank::Description => query
                    .filter(lower(movies::description).like(contains.clone()).escape('\\'))
                    .filter(not(lower(movies::name).like(contains.clone()).escape('\\')))
                    .filter(not(movies::id.eq_any(movies_of_people_named!(contains)))),
            }
        }

        fn movies_sorted<'a>(query: movies::BoxedQuery<'a, Self>, sort: MovieSort) -> movies::BoxedQuery<'a, Self> {
            then_order_by_sort!(query, sort)
        }

        fn movies_after<'a>(
            query: movies::BoxedQuery<'a, Self>,
            sort: MovieSort,
            after: &MovieCursor,
        ) -> movies::BoxedQuery<'a, Self> {
            let (desc, id) = (sort.descending, after.id);
            match (sort.field, &after.key) {
                (MovieSortField::Name, SortKey::Text(v)) => query.filter(after_in_sort(movies::name, v.clone(), id, desc)),
                (MovieSortField::Year, SortKey::Int(v)) => {
                    query.filter(after_in_sort(movies::year, i32::try_from(*v).unwrap_or(i32::MAX), id, desc))
                }
                (MovieSortField::Imdb, SortKey::Float(v)) => query.filter(after_in_sort(movies::imdb_score, *v, id, desc)),
                (MovieSortField::Price, SortKey::Int(v)) => query.filter(after_in_sort(movies::price_cents, *v, id, desc)),
                (MovieSortField::Rating, SortKey::Float(v)) if desc => {
                    query.filter(after_in_sort(movies::rating_high_first, *v, id, desc))
                }
                (MovieSortField::Rating, SortKey::Float(v)) => query.filter(after_in_sort(movies::rating_low_first, *v, id, desc)),
                (MovieSortField::Added, SortKey::Time(v)) => query.filter(after_in_sort(movies::created_at, *v, id, desc)),
                (MovieSortField::Popularity, SortKey::Pair(purchases, likes))
                | (MovieSortField::Relevance, SortKey::Ranked(_, purchases, likes)) => {
                    let columns = (movies::purchases_count, movies::likes_count, movies::id);
                    let values = (
                        AsExpression::<BigInt>::as_expression(*purchases),
                        AsExpression::<BigInt>::as_expression(*likes),
                        AsExpression::<BigInt>::as_expression(id),
                    );
                    // Relevance is best first whichever direction is asked (`then_order_by_sort!`).
                    let descending = desc || sort.field == MovieSortField::Relevance;
                    query.filter(rows_after(columns, values, descending))
                }
                // A key of another sort cannot get here (`MovieSort::accepts`); it would select nothing.
                _ => query.filter(movies::id.lt(0)),
            }
        }
    }
}

fn movies_matching<'a, DB: MovieQueries>(filter: &MovieFilter) -> movies::BoxedQuery<'a, DB> {
    DB::movies_matching(filter)
}

/// The page's movies: matching `filter`, after `after` (when given), in `sort` order.
fn page_query<'a, DB: MovieQueries>(
    filter: &MovieFilter,
    sort: MovieSort,
    after: Option<&MovieCursor>,
) -> movies::BoxedQuery<'a, DB> {
    let mut query = DB::movies_matching(filter);
    if let Some(after) = after {
        query = DB::movies_after(query, sort, after);
    }
    DB::movies_sorted(query, sort)
}

/// A movie of a page, with the ids of its genres.
pub struct ListedMovie {
    pub row: MovieRow,
    pub genre_ids: Vec<i64>,
}

/// The ids of a page row's genres, comma-separated, aggregated in the page's own statement (one probe of
/// `movie_genres`' primary key per row): the names come from the catalog's copy of every genre, so a page that
/// shows them costs one statement, not two (benches/RESULTS.md, issue 12: cheaper for the database on both, and
/// +19% pages/s in the server on SQLite). Fixed SQL, so that the page's statement stays prepared: written with
/// `diesel::dsl::sql` it was planned on every page, which cost PostgreSQL what the second statement had saved.
/// Computed for every page, asked-for genres or not: one index probe per row. `string_agg` is PostgreSQL's and
/// SQLite's (3.44+) alike.
const GENRE_IDS_COLUMN: FixedSql<diesel::sql_types::Nullable<diesel::sql_types::Text>> = fixed_sql(
    "(SELECT string_agg(CAST(movie_genres.genre_id AS TEXT), ',') FROM movie_genres \
     WHERE movie_genres.movie_id = movies.id)",
);

/// One page of movies with their genre ids: the first `limit` matching `filter` after `after` (from the start
/// without one), in `sort` order. A keyset page: its cost does not grow with its depth.
pub async fn list_movies(
    conn: &mut DbConn,
    filter: &MovieFilter,
    sort: MovieSort,
    after: Option<&MovieCursor>,
    limit: i64,
) -> QueryResult<Vec<ListedMovie>> {
    let rows: Vec<(MovieRow, Option<String>)> = per_backend!(conn, |c| {
        page_query(filter, sort, after)
            .select((MovieRow::as_select(), GENRE_IDS_COLUMN))
            .limit(limit)
            .load(c)
            .await
    })?;
    Ok(rows.into_iter().map(listed).collect())
}

/// A page of a search in relevance order (issue 25): the first `limit` movies matching `filter` (its search
/// included) after `after`, each with its rank. One statement per rank, best rank first, each reading its
/// movies in popularity order and stopping when the page is full: a common word's page walks the popularity
/// index a little way instead of ranking every match. At most five statements, fewer when a rank fills the page.
pub async fn list_movies_by_relevance(
    conn: &mut DbConn,
    filter: &MovieFilter,
    text: &str,
    after: Option<&MovieCursor>,
    limit: i64,
) -> QueryResult<Vec<(ListedMovie, SearchRank)>> {
    list_movies_ranked_up_to(conn, filter, text, after, limit, SearchRank::Description).await
}

/// `list_movies_by_relevance` without the ranks after `last` (the suggestions read titles only).
pub async fn list_movies_ranked_up_to(
    conn: &mut DbConn,
    filter: &MovieFilter,
    text: &str,
    after: Option<&MovieCursor>,
    limit: i64,
    last: SearchRank,
) -> QueryResult<Vec<(ListedMovie, SearchRank)>> {
    let sort = MovieSort {
        field: MovieSortField::Relevance,
        descending: true,
    };
    let start = match after.map(|cursor| &cursor.key) {
        Some(SortKey::Ranked(rank, ..)) => SearchRank::from_key(*rank).unwrap_or(SearchRank::Description),
        _ => SearchRank::ExactTitle,
    };
    let fields = match &filter.search_plan {
        Some(SearchPlan::Ids(_, fields) | SearchPlan::Scan(fields)) => fields.clone(),
        None => FieldMatches::default(),
    };
    // Each rank's own condition says that a movie matches; walking, the search's test of every movie would be
    // said twice (and made the planner scan the table for a person's name at a million movies).
    let listed_by_probe = matches!(filter.search_plan, Some(SearchPlan::Ids(..)));
    let filter = &match filter.search_plan {
        Some(SearchPlan::Ids(..)) => filter.clone(),
        _ => MovieFilter {
            search: None,
            search_plan: None,
            ..filter.clone()
        },
    };
    let mut found = Vec::new();
    for rank in SearchRank::ALL.into_iter().filter(|rank| (start..=last).contains(rank)) {
        let remaining = limit - found.len() as i64;
        if remaining <= 0 {
            break;
        }
        // A rank's movies are among those its field matches: read by id when the probe listed them (none to
        // read when it listed none), by walking the popularity index when they are too many to list.
        let field_ids = match rank {
            SearchRank::ExactTitle | SearchRank::TitleStart | SearchRank::InTitle => &fields.titles,
            SearchRank::Person => &fields.people,
            SearchRank::Description => &fields.descriptions,
        };
        // Nor where the listed titles hold the text neither whole nor at the start (issue 25: a statement less).
        let starts = fields.title_starts;
        let none_there = match rank {
            SearchRank::ExactTitle => !starts.equal,
            SearchRank::TitleStart => !starts.start,
            _ => false,
        };
        if field_ids.as_ref().is_some_and(|ids| ids.is_empty()) || none_there {
            continue;
        }
        let after = after.filter(|_| rank == start);
        let rows: Vec<(MovieRow, Option<String>)> = per_backend!(conn, |c| {
            let mut query = ranked_page_query(filter, sort, after, rank, text);
            // Read by id when walking; a page the probe listed is already read by id.
            if let (Some(ids), false) = (field_ids, listed_by_probe) {
                query = query.filter(movies::id.eq_any(ids.clone()));
            }
            query
                .select((MovieRow::as_select(), GENRE_IDS_COLUMN))
                .limit(remaining)
                .load(c)
                .await
        })?;
        found.extend(rows.into_iter().map(|row| (listed(row), rank)));
    }
    Ok(found)
}

fn ranked_page_query<'a, DB: MovieQueries>(
    filter: &MovieFilter,
    sort: MovieSort,
    after: Option<&MovieCursor>,
    rank: SearchRank,
    text: &str,
) -> movies::BoxedQuery<'a, DB> {
    DB::movies_in_rank(page_query(filter, sort, after), rank, text)
}

/// A page row as read with `GENRE_IDS_COLUMN`.
fn listed((row, genre_ids): (MovieRow, Option<String>)) -> ListedMovie {
    ListedMovie {
        row,
        genre_ids: genre_ids
            .as_deref()
            .unwrap_or_default()
            .split(',')
            .filter_map(|id| id.parse().ok())
            .collect(),
    }
}

/// One page of each genre's movies in one statement: for each of `genre_ids`, the first `limit` movies of that
/// genre that match `filter` (its own genre list ignored) after `after`, in `sort` order.
/// Returns (genre id, movie) rows by genre, each genre's in page order. Each genre's page is a subquery of the
/// same shape as `list_movies`, so it uses the same indexes; a request showing 30 genres' pages costs one
/// statement, not 30 (H2).
pub async fn movie_pages_of_genres(
    conn: &mut DbConn,
    genre_ids: &[i64],
    filter: &MovieFilter,
    sort: MovieSort,
    after: Option<&MovieCursor>,
    limit: i64,
) -> QueryResult<Vec<(i64, MovieRow)>> {
    if genre_ids.is_empty() {
        return Ok(Vec::new());
    }
    per_backend!(conn, |c| {
        let mut query = movie_genres::table
            .inner_join(movies::table)
            .select((movie_genres::genre_id, MovieRow::as_select()))
            .into_boxed();
        for &genre_id in genre_ids {
            let in_genre = MovieFilter {
                genre_ids: vec![genre_id],
                ..filter.clone()
            };
            let page = page_query(&in_genre, sort, after).select(movies::id).limit(limit);
            query = query.or_filter(
                movie_genres::genre_id
                    .eq(genre_id)
                    .and(movie_genres::movie_id.eq_any(page)),
            );
        }
        then_order_by_sort!(query.order_by(movie_genres::genre_id.asc()), sort)
            .load(c)
            .await
    })
}

/// How many movies match `filter` in each of `genre_ids` (its own genre list ignored), in one statement.
pub async fn movie_counts_in_genres(
    conn: &mut DbConn,
    genre_ids: &[i64],
    filter: &MovieFilter,
) -> QueryResult<HashMap<i64, i64>> {
    let unrestricted = MovieFilter {
        genre_ids: Vec::new(),
        ..filter.clone()
    };
    let rows: Vec<(i64, i64)> = per_backend!(conn, |c| {
        movie_genres::table
            .filter(movie_genres::genre_id.eq_any(genre_ids))
            .filter(movie_genres::movie_id.eq_any(movies_matching(&unrestricted).select(movies::id)))
            .group_by(movie_genres::genre_id)
            .select((movie_genres::genre_id, count_star()))
            .load(c)
            .await
    })?;
    Ok(rows.into_iter().collect())
}

/// How many movies match `filter`, counting no further than `limit`: the database stops at the limit instead
/// of visiting every matching row. The matching rows are read as a constant each and counted here: diesel has
/// no `SELECT COUNT(*) FROM (… LIMIT n)`, and `COUNT(*) … WHERE id IN (… LIMIT n)` joined every id back to
/// the table (30 ms against 5 ms at 1,000,000 movies on PostgreSQL, EXPLAIN ANALYZE).
pub async fn count_movies_up_to(conn: &mut DbConn, filter: &MovieFilter, limit: i64) -> QueryResult<i64> {
    use diesel::sql_types::Integer;
    let rows: Vec<i32> = per_backend!(conn, |c| {
        movies_matching(filter)
            .select(fixed_sql::<Integer>("1"))
            .limit(limit)
            .load(c)
            .await
    })?;
    Ok(rows.len() as i64)
}

pub async fn movie_by_uuid(conn: &mut DbConn, uuid: &str) -> QueryResult<Option<MovieRow>> {
    per_backend!(conn, |c| {
        movies::table
            .filter(movies::uuid.eq(uuid))
            .select(MovieRow::as_select())
            .first(c)
            .await
            .optional()
    })
}

/// Genres of each movie, by movie id, sorted by name.
pub async fn genres_of_movies(conn: &mut DbConn, movie_ids: &[i64]) -> QueryResult<HashMap<i64, Vec<GenreRow>>> {
    let rows: Vec<(i64, GenreRow)> = per_backend!(conn, |c| {
        movie_genres::table
            .inner_join(genres::table)
            .filter(movie_genres::movie_id.eq_any(movie_ids))
            .select((movie_genres::movie_id, GenreRow::as_select()))
            .order_by((genres::name.asc(), genres::id.asc()))
            .load(c)
            .await
    })?;
    Ok(group(rows))
}

/// Directors of each movie, by movie id, sorted by name.
pub async fn directors_of_movies(conn: &mut DbConn, movie_ids: &[i64]) -> QueryResult<HashMap<i64, Vec<PersonRow>>> {
    let rows: Vec<(i64, PersonRow)> = per_backend!(conn, |c| {
        movie_directors::table
            .inner_join(people::table)
            .filter(movie_directors::movie_id.eq_any(movie_ids))
            .select((movie_directors::movie_id, PersonRow::as_select()))
            .order_by((people::name.asc(), people::id.asc()))
            .load(c)
            .await
    })?;
    Ok(group(rows))
}

/// Stars of each movie, by movie id, in billing order.
pub async fn stars_of_movies(conn: &mut DbConn, movie_ids: &[i64]) -> QueryResult<HashMap<i64, Vec<PersonRow>>> {
    let rows: Vec<(i64, PersonRow)> = per_backend!(conn, |c| {
        movie_stars::table
            .inner_join(people::table)
            .filter(movie_stars::movie_id.eq_any(movie_ids))
            .select((movie_stars::movie_id, PersonRow::as_select()))
            .order_by((movie_stars::billing_order.asc(), people::id.asc()))
            .load(c)
            .await
    })?;
    Ok(group(rows))
}

/// Every genre (for the catalog's copy, see `Catalog::genres_by_id`).
pub async fn all_genres(conn: &mut DbConn) -> QueryResult<Vec<GenreRow>> {
    per_backend!(conn, |c| genres::table.select(GenreRow::as_select()).load(c).await)
}

pub async fn all_certifications(conn: &mut DbConn) -> QueryResult<Vec<CertificationRow>> {
    per_backend!(conn, |c| {
        certifications::table
            .select(CertificationRow::as_select())
            .order_by(certifications::name.asc())
            .load(c)
            .await
    })
}

/// Every genre with the number of movies in it, by name (B6), in one statement.
pub async fn genres_with_counts(conn: &mut DbConn) -> QueryResult<Vec<(GenreRow, i64)>> {
    per_backend!(conn, |c| {
        genres::table
            .left_join(movie_genres::table)
            .group_by((genres::id, genres::name))
            .select((
                GenreRow::as_select(),
                diesel::dsl::count(movie_genres::movie_id.nullable()),
            ))
            .order_by(genres::name.asc())
            .load(c)
            .await
    })
}

pub async fn genre_by_id(conn: &mut DbConn, id: i64) -> QueryResult<Option<GenreRow>> {
    per_backend!(conn, |c| {
        genres::table
            .find(id)
            .select(GenreRow::as_select())
            .first(c)
            .await
            .optional()
    })
}

/// Number of movies in each of `genre_ids`.
pub async fn movie_counts_of_genres(conn: &mut DbConn, genre_ids: &[i64]) -> QueryResult<HashMap<i64, i64>> {
    let rows: Vec<(i64, i64)> = per_backend!(conn, |c| {
        movie_genres::table
            .filter(movie_genres::genre_id.eq_any(genre_ids))
            .group_by(movie_genres::genre_id)
            .select((movie_genres::genre_id, count_star()))
            .load(c)
            .await
    })?;
    Ok(rows.into_iter().collect())
}

pub async fn person_by_id(conn: &mut DbConn, id: i64) -> QueryResult<Option<PersonRow>> {
    per_backend!(conn, |c| {
        people::table
            .find(id)
            .select(PersonRow::as_select())
            .first(c)
            .await
            .optional()
    })
}

/// People whose lower-cased name is LIKE `pattern` (see `db::contains_pattern`), by name, at most `limit`.
pub async fn people_named(conn: &mut DbConn, pattern: &str, limit: i64) -> QueryResult<Vec<PersonRow>> {
    per_backend!(conn, |c| {
        people::table
            .filter(lower(people::name).like(pattern.to_string()).escape('\\'))
            .order_by((people::name.asc(), people::id.asc()))
            .limit(limit)
            .select(PersonRow::as_select())
            .load(c)
            .await
    })
}

/// A title or a name, as the typo fallback's candidates are read.
#[derive(diesel::QueryableByName)]
struct NameRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    name: String,
}

/// Up to `limit` titles and up to `limit` people's names that share trigrams with `word` (lower-cased letters
/// and digits), through the search indexes: the typo fallback's candidates (issue 25, `catalog::typos`). On
/// PostgreSQL those pg_trgm calls similar (`<%`, word similarity at its threshold); on SQLite those holding
/// the most of its trigrams (FTS5's bm25 over the trigrams joined by OR).
pub async fn names_sharing_trigrams(conn: &mut DbConn, word: &str, limit: i64) -> QueryResult<Vec<String>> {
    use diesel::sql_types::{BigInt, Text};
    let rows: Vec<NameRow> = match conn {
        DbConn::Postgres(c) => {
            diesel::sql_query(
                "(SELECT name FROM movies WHERE $1 <% lower(name) LIMIT $2) \
                 UNION ALL (SELECT name FROM people WHERE $1 <% lower(name) LIMIT $2)",
            )
            .bind::<Text, _>(word)
            .bind::<BigInt, _>(limit)
            .load(c)
            .await?
        }
        DbConn::Sqlite(c) => {
            let chars: Vec<char> = word.chars().collect();
            let any_trigram = chars
                .windows(3)
                .map(|w| format!("\"{}\"", w.iter().collect::<String>().replace('"', "\"\"")))
                .collect::<Vec<_>>()
                .join(" OR ");
            if any_trigram.is_empty() {
                return Ok(Vec::new());
            }
            diesel::sql_query(
                "SELECT name FROM movies WHERE id IN \
                 (SELECT rowid FROM movies_fts WHERE movies_fts MATCH ?1 ORDER BY rank LIMIT ?3) \
                 UNION ALL SELECT name FROM people WHERE id IN \
                 (SELECT rowid FROM people_fts WHERE people_fts MATCH ?2 ORDER BY rank LIMIT ?3)",
            )
            .bind::<Text, _>(format!("name : ({any_trigram})"))
            .bind::<Text, _>(any_trigram)
            .bind::<BigInt, _>(limit)
            .load(c)
            .await?
        }
    };
    Ok(rows.into_iter().map(|row| row.name).collect())
}

fn group<T>(rows: Vec<(i64, T)>) -> HashMap<i64, Vec<T>> {
    let mut grouped: HashMap<i64, Vec<T>> = HashMap::new();
    for (key, value) in rows {
        grouped.entry(key).or_default().push(value);
    }
    grouped
}

/// A movie's internal id by its public one.
pub async fn movie_id_by_uuid(conn: &mut DbConn, uuid: &str) -> QueryResult<Option<i64>> {
    per_backend!(conn, |c| {
        movies::table
            .filter(movies::uuid.eq(uuid))
            .select(movies::id)
            .first(c)
            .await
            .optional()
    })
}

/// What `user_id` has to do with each of `movie_ids` (B7–B9, B14, C1), in one statement: a correlated
/// subquery per relation, each an index lookup on (user, movie).
pub async fn viewer_states(
    conn: &mut DbConn,
    user_id: i64,
    movie_ids: &[i64],
) -> QueryResult<HashMap<i64, ViewerState>> {
    use diesel::dsl::exists;
    type Row = (i64, Option<Reaction>, Option<i32>, bool, bool, bool);
    let rows: Vec<Row> = per_backend!(conn, |c| {
        movies::table
            .filter(movies::id.eq_any(movie_ids))
            .select((
                movies::id,
                movie_reactions::table
                    .filter(movie_reactions::user_id.eq(user_id))
                    .filter(movie_reactions::movie_id.eq(movies::id))
                    .select(movie_reactions::kind)
                    .single_value(),
                movie_ratings::table
                    .filter(movie_ratings::user_id.eq(user_id))
                    .filter(movie_ratings::movie_id.eq(movies::id))
                    .select(movie_ratings::score)
                    .single_value(),
                exists(
                    favorites::table
                        .filter(favorites::user_id.eq(user_id))
                        .filter(favorites::movie_id.eq(movies::id)),
                ),
                exists(
                    purchases::table
                        .filter(purchases::user_id.eq(user_id))
                        .filter(purchases::movie_id.eq(movies::id)),
                ),
                exists(
                    cart_items::table
                        .inner_join(carts::table)
                        .filter(carts::user_id.eq(user_id))
                        .filter(cart_items::movie_id.eq(movies::id)),
                ),
            ))
            .load(c)
            .await
    })?;
    Ok(rows
        .into_iter()
        .map(|(movie_id, reaction, rating, favorite, purchased, in_cart)| {
            let state = ViewerState {
                reaction,
                rating,
                favorite,
                purchased,
                in_cart,
            };
            (movie_id, state)
        })
        .collect())
}

/// B7: marks a favorite; false when it already was one.
pub async fn add_favorite(conn: &mut DbConn, user_id: i64, movie_id: i64, at: NaiveDateTime) -> QueryResult<bool> {
    let added = per_backend!(conn, |c| {
        diesel::insert_into(favorites::table)
            .values((
                favorites::user_id.eq(user_id),
                favorites::movie_id.eq(movie_id),
                favorites::created_at.eq(at),
            ))
            .on_conflict_do_nothing()
            .execute(c)
            .await
    })?;
    Ok(added == 1)
}

/// B7: removes a favorite; false when it was none.
pub async fn remove_favorite(conn: &mut DbConn, user_id: i64, movie_id: i64) -> QueryResult<bool> {
    let removed = per_backend!(conn, |c| {
        diesel::delete(favorites::table.find((user_id, movie_id)))
            .execute(c)
            .await
    })?;
    Ok(removed == 1)
}

/// Adds `likes` and `dislikes` (either may be negative) to a movie's counters.
async fn count_reactions(conn: &mut DbConn, movie_id: i64, likes: i64, dislikes: i64) -> QueryResult<()> {
    per_backend!(conn, |c| {
        diesel::update(movies::table.find(movie_id))
            .set((
                movies::likes_count.eq(movies::likes_count + likes),
                movies::dislikes_count.eq(movies::dislikes_count + dislikes),
            ))
            .execute(c)
            .await
    })?;
    public_content_changed(conn, &[Part::of_movie(Content::Reactions, movie_id)]).await
}

fn reaction_delta(reaction: Reaction, sign: i64) -> (i64, i64) {
    match reaction {
        Reaction::Like => (sign, 0),
        Reaction::Dislike => (0, sign),
    }
}

/// B8: sets the user's reaction and keeps the movie's counters equal to the rows. Each step changes the
/// counters by what its statement actually changed (a row inserted, or a row whose kind really switched), so
/// concurrent requests — the same user's included — cannot count twice: on PostgreSQL the second update waits
/// for the first's row lock and then finds nothing left to switch.
pub async fn set_reaction(
    conn: &mut DbConn,
    user_id: i64,
    movie_id: i64,
    reaction: Reaction,
    at: NaiveDateTime,
) -> QueryResult<()> {
    let inserted = per_backend!(conn, |c| {
        diesel::insert_into(movie_reactions::table)
            .values((
                movie_reactions::user_id.eq(user_id),
                movie_reactions::movie_id.eq(movie_id),
                movie_reactions::kind.eq(reaction),
                movie_reactions::created_at.eq(at),
                movie_reactions::updated_at.eq(at),
            ))
            .on_conflict_do_nothing()
            .execute(c)
            .await
    })?;
    if inserted == 1 {
        let (likes, dislikes) = reaction_delta(reaction, 1);
        return count_reactions(conn, movie_id, likes, dislikes).await;
    }
    let switched = per_backend!(conn, |c| {
        diesel::update(
            movie_reactions::table
                .find((user_id, movie_id))
                .filter(movie_reactions::kind.ne(reaction)),
        )
        .set((movie_reactions::kind.eq(reaction), movie_reactions::updated_at.eq(at)))
        .execute(c)
        .await
    })?;
    if switched == 1 {
        let (likes, dislikes) = reaction_delta(reaction, 1);
        let (unlikes, undislikes) = reaction_delta(other_reaction(reaction), -1);
        count_reactions(conn, movie_id, likes + unlikes, dislikes + undislikes).await?;
    }
    Ok(())
}

fn other_reaction(reaction: Reaction) -> Reaction {
    match reaction {
        Reaction::Like => Reaction::Dislike,
        Reaction::Dislike => Reaction::Like,
    }
}

/// B8: removes the user's reaction, if any, and its count.
pub async fn clear_reaction(conn: &mut DbConn, user_id: i64, movie_id: i64) -> QueryResult<()> {
    let removed: Option<Reaction> = per_backend!(conn, |c| {
        diesel::delete(movie_reactions::table.find((user_id, movie_id)))
            .returning(movie_reactions::kind)
            .get_result(c)
            .await
            .optional()
    })?;
    if let Some(reaction) = removed {
        let (likes, dislikes) = reaction_delta(reaction, -1);
        count_reactions(conn, movie_id, likes, dislikes).await?;
    }
    Ok(())
}

/// Adds to a movie's rating counters.
async fn count_ratings(conn: &mut DbConn, movie_id: i64, ratings: i64, sum: i64) -> QueryResult<()> {
    per_backend!(conn, |c| {
        diesel::update(movies::table.find(movie_id))
            .set((
                movies::ratings_count.eq(movies::ratings_count + ratings),
                movies::ratings_sum.eq(movies::ratings_sum + sum),
            ))
            .execute(c)
            .await
    })?;
    public_content_changed(conn, &[Part::of_movie(Content::Ratings, movie_id)]).await
}

/// B9: sets the user's rating (1–10, checked by the caller) and keeps the movie's count and sum equal to the
/// rows: a new row counts once; a changed one moves the sum by the difference, read under a row lock on
/// PostgreSQL (SQLite's write transaction already serialises).
pub async fn set_rating(
    conn: &mut DbConn,
    user_id: i64,
    movie_id: i64,
    score: i32,
    at: NaiveDateTime,
) -> QueryResult<()> {
    let inserted = per_backend!(conn, |c| {
        diesel::insert_into(movie_ratings::table)
            .values((
                movie_ratings::user_id.eq(user_id),
                movie_ratings::movie_id.eq(movie_id),
                movie_ratings::score.eq(score),
                movie_ratings::created_at.eq(at),
                movie_ratings::updated_at.eq(at),
            ))
            .on_conflict_do_nothing()
            .execute(c)
            .await
    })?;
    if inserted == 1 {
        return count_ratings(conn, movie_id, 1, i64::from(score)).await;
    }
    let current = movie_ratings::table
        .find((user_id, movie_id))
        .select(movie_ratings::score);
    let previous: Option<i32> = match conn {
        DbConn::Postgres(c) => current.for_update().first(&mut **c).await.optional()?,
        DbConn::Sqlite(c) => current.first(&mut **c).await.optional()?,
    };
    // Gone meanwhile (cleared by a concurrent request): nothing to change.
    let Some(previous) = previous.filter(|previous| *previous != score) else {
        return Ok(());
    };
    per_backend!(conn, |c| {
        diesel::update(movie_ratings::table.find((user_id, movie_id)))
            .set((movie_ratings::score.eq(score), movie_ratings::updated_at.eq(at)))
            .execute(c)
            .await
    })?;
    count_ratings(conn, movie_id, 0, i64::from(score - previous)).await
}

/// B9: removes the user's rating, if any, from the movie's count and sum.
pub async fn clear_rating(conn: &mut DbConn, user_id: i64, movie_id: i64) -> QueryResult<()> {
    let removed: Option<i32> = per_backend!(conn, |c| {
        diesel::delete(movie_ratings::table.find((user_id, movie_id)))
            .returning(movie_ratings::score)
            .get_result(c)
            .await
            .optional()
    })?;
    if let Some(score) = removed {
        count_ratings(conn, movie_id, -1, -i64::from(score)).await?;
    }
    Ok(())
}

/// Announces, in the caller's transaction, that the catalog changed (movies' own fields, genres, people,
/// certifications or which movie has which): every catalog answer kept is dropped.
async fn catalog_changed(conn: &mut DbConn) -> QueryResult<()> {
    public_content_changed(conn, &[Part::all(Content::Catalog)]).await
}

/// B12: a new movie, with its title's word starts (`words`).
pub async fn insert_movie(conn: &mut DbConn, movie: &NewMovie) -> QueryResult<MovieRow> {
    catalog_changed(conn).await?;
    let row: MovieRow = per_backend!(conn, |c| diesel::insert_into(movies::table)
        .values(movie)
        .returning(MovieRow::as_returning())
        .get_result(c)
        .await)?;
    words::index_title(conn, row.id, &row.name).await?;
    Ok(row)
}

/// B12: changes a movie's own columns (and its title's word starts with its title).
pub async fn update_movie(conn: &mut DbConn, movie_id: i64, changes: &MovieChanges) -> QueryResult<MovieRow> {
    catalog_changed(conn).await?;
    let row: MovieRow = per_backend!(conn, |c| diesel::update(movies::table.find(movie_id))
        .set(changes)
        .returning(MovieRow::as_returning())
        .get_result(c)
        .await)?;
    if changes.name.is_some() {
        words::index_title(conn, row.id, &row.name).await?;
    }
    Ok(row)
}

/// Points a movie at its stored poster (`key` the stored files' prefix, with the uploaded size), or at none;
/// answers the movie and the prefix it pointed at before. The caller holds the movie's lock.
pub async fn set_poster(
    conn: &mut DbConn,
    movie_id: i64,
    poster: Option<(&str, i32, i32)>,
    at: chrono::NaiveDateTime,
) -> QueryResult<MovieRow> {
    catalog_changed(conn).await?;
    let (key, width, height) = match poster {
        Some((key, width, height)) => (Some(key), Some(width), Some(height)),
        None => (None, None, None),
    };
    per_backend!(conn, |c| diesel::update(movies::table.find(movie_id))
        .set((
            movies::poster_key.eq(key),
            movies::poster_width.eq(width),
            movies::poster_height.eq(height),
            movies::updated_at.eq(at),
        ))
        .returning(MovieRow::as_returning())
        .get_result(c)
        .await)
}

/// The movie of (name, year, duration), the catalog's identity of a film (B12).
pub async fn movie_by_identity(
    conn: &mut DbConn,
    name: &str,
    year: i32,
    duration: i32,
) -> QueryResult<Option<MovieRow>> {
    per_backend!(conn, |c| movies::table
        .filter(movies::name.eq(name))
        .filter(movies::year.eq(year))
        .filter(movies::duration_minutes.eq(duration))
        .select(MovieRow::as_select())
        .first(c)
        .await
        .optional())
}

/// Replaces a movie's genres.
pub async fn set_movie_genres(conn: &mut DbConn, movie_id: i64, genre_ids: &[i64]) -> QueryResult<()> {
    catalog_changed(conn).await?;
    let rows: Vec<_> = genre_ids
        .iter()
        .map(|&genre_id| NewMovieGenre { movie_id, genre_id })
        .collect();
    per_backend!(conn, |c| {
        diesel::delete(movie_genres::table.filter(movie_genres::movie_id.eq(movie_id)))
            .execute(c)
            .await?;
        // One row at a time: SQLite's async wrapper has no multi-row insert, and a movie has few links.
        for row in &rows {
            diesel::insert_into(movie_genres::table).values(row).execute(c).await?;
        }
        QueryResult::Ok(())
    })?;
    Ok(())
}

/// Replaces a movie's directors.
pub async fn set_movie_directors(conn: &mut DbConn, movie_id: i64, person_ids: &[i64]) -> QueryResult<()> {
    catalog_changed(conn).await?;
    let rows: Vec<_> = person_ids
        .iter()
        .map(|&person_id| NewMovieDirector { movie_id, person_id })
        .collect();
    per_backend!(conn, |c| {
        diesel::delete(movie_directors::table.filter(movie_directors::movie_id.eq(movie_id)))
            .execute(c)
            .await?;
        // One row at a time: SQLite's async wrapper has no multi-row insert, and a movie has few links.
        for row in &rows {
            diesel::insert_into(movie_directors::table)
                .values(row)
                .execute(c)
                .await?;
        }
        QueryResult::Ok(())
    })?;
    Ok(())
}

/// Replaces a movie's stars; their order is the billing order.
pub async fn set_movie_stars(conn: &mut DbConn, movie_id: i64, person_ids: &[i64]) -> QueryResult<()> {
    catalog_changed(conn).await?;
    let rows: Vec<_> = person_ids
        .iter()
        .enumerate()
        .map(|(order, &person_id)| NewMovieStar {
            movie_id,
            person_id,
            billing_order: i32::try_from(order).unwrap_or(i32::MAX),
        })
        .collect();
    per_backend!(conn, |c| {
        diesel::delete(movie_stars::table.filter(movie_stars::movie_id.eq(movie_id)))
            .execute(c)
            .await?;
        // One row at a time: SQLite's async wrapper has no multi-row insert, and a movie has few links.
        for row in &rows {
            diesel::insert_into(movie_stars::table).values(row).execute(c).await?;
        }
        QueryResult::Ok(())
    })?;
    Ok(())
}

/// Which of `ids` exist as `kind`.
pub async fn existing_ids(conn: &mut DbConn, kind: Named, ids: &[i64]) -> QueryResult<Vec<i64>> {
    match kind {
        Named::Genre => per_backend!(conn, |c| genres::table
            .filter(genres::id.eq_any(ids))
            .select(genres::id)
            .load(c)
            .await),
        Named::Person => per_backend!(conn, |c| people::table
            .filter(people::id.eq_any(ids))
            .select(people::id)
            .load(c)
            .await),
        Named::Certification => per_backend!(conn, |c| certifications::table
            .filter(certifications::id.eq_any(ids))
            .select(certifications::id)
            .load(c)
            .await),
    }
}

/// The movie's row, locked until the caller's transaction ends on PostgreSQL (SQLite's write transaction
/// already serialises), so that what is counted before a delete stays true until it.
pub async fn movie_locked(conn: &mut DbConn, uuid: &str) -> QueryResult<Option<MovieRow>> {
    let movie = movies::table.filter(movies::uuid.eq(uuid));
    match conn {
        DbConn::Postgres(c) => movie
            .select(MovieRow::as_select())
            .for_update()
            .first(&mut **c)
            .await
            .optional(),
        DbConn::Sqlite(c) => movie.select(MovieRow::as_select()).first(&mut **c).await.optional(),
    }
}

/// How many users bought the movie.
pub async fn owners_of(conn: &mut DbConn, movie_id: i64) -> QueryResult<i64> {
    per_backend!(conn, |c| purchases::table
        .filter(purchases::movie_id.eq(movie_id))
        .count()
        .get_result(c)
        .await)
}

/// How many order lines name the movie (orders are financial records, kept as they were).
pub async fn orders_with(conn: &mut DbConn, movie_id: i64) -> QueryResult<i64> {
    per_backend!(conn, |c| order_items::table
        .filter(order_items::movie_id.eq(movie_id))
        .count()
        .get_result(c)
        .await)
}

/// How many carts hold the movie.
pub async fn carts_with(conn: &mut DbConn, movie_id: i64) -> QueryResult<i64> {
    per_backend!(conn, |c| cart_items::table
        .filter(cart_items::movie_id.eq(movie_id))
        .count()
        .get_result(c)
        .await)
}

/// Takes the movie out of every cart; returns how many.
pub async fn remove_from_carts(conn: &mut DbConn, movie_id: i64) -> QueryResult<usize> {
    per_backend!(conn, |c| diesel::delete(
        cart_items::table.filter(cart_items::movie_id.eq(movie_id))
    )
    .execute(c)
    .await)
}

/// Deletes a movie (its genres, people links, favorites, reactions, ratings and comments go with it).
pub async fn delete_movie(conn: &mut DbConn, movie_id: i64) -> QueryResult<usize> {
    catalog_changed(conn).await?;
    per_backend!(conn, |c| diesel::delete(movies::table.find(movie_id)).execute(c).await)
}

/// How many movies carry the certification.
pub async fn movies_with_certification(conn: &mut DbConn, certification_id: i64) -> QueryResult<i64> {
    per_backend!(conn, |c| movies::table
        .filter(movies::certification_id.eq(certification_id))
        .count()
        .get_result(c)
        .await)
}

/// B12, B13: a new genre, person or certification; returns (id, name).
pub async fn insert_named(conn: &mut DbConn, kind: Named, name: &str) -> QueryResult<(i64, String)> {
    catalog_changed(conn).await?;
    match kind {
        Named::Genre => per_backend!(conn, |c| diesel::insert_into(genres::table)
            .values(genres::name.eq(name))
            .returning((genres::id, genres::name))
            .get_result(c)
            .await),
        Named::Person => per_backend!(conn, |c| diesel::insert_into(people::table)
            .values(people::name.eq(name))
            .returning((people::id, people::name))
            .get_result(c)
            .await),
        Named::Certification => per_backend!(conn, |c| diesel::insert_into(certifications::table)
            .values(certifications::name.eq(name))
            .returning((certifications::id, certifications::name))
            .get_result(c)
            .await),
    }
}

/// B12, B13: renames a genre, person or certification; None when there is no such id.
pub async fn rename_named(conn: &mut DbConn, kind: Named, id: i64, name: &str) -> QueryResult<Option<(i64, String)>> {
    catalog_changed(conn).await?;
    match kind {
        Named::Genre => per_backend!(conn, |c| diesel::update(genres::table.find(id))
            .set(genres::name.eq(name))
            .returning((genres::id, genres::name))
            .get_result(c)
            .await
            .optional()),
        Named::Person => per_backend!(conn, |c| diesel::update(people::table.find(id))
            .set(people::name.eq(name))
            .returning((people::id, people::name))
            .get_result(c)
            .await
            .optional()),
        Named::Certification => per_backend!(conn, |c| diesel::update(certifications::table.find(id))
            .set(certifications::name.eq(name))
            .returning((certifications::id, certifications::name))
            .get_result(c)
            .await
            .optional()),
    }
}

/// B12, B13: deletes a genre, person or certification; false when there is no such id. A genre or person
/// leaves the movies that named it; a certification in use is refused by the caller first (and by the
/// foreign key).
pub async fn delete_named(conn: &mut DbConn, kind: Named, id: i64) -> QueryResult<bool> {
    catalog_changed(conn).await?;
    let deleted = match kind {
        Named::Genre => per_backend!(conn, |c| diesel::delete(genres::table.find(id)).execute(c).await),
        Named::Person => per_backend!(conn, |c| diesel::delete(people::table.find(id)).execute(c).await),
        Named::Certification => {
            per_backend!(conn, |c| diesel::delete(certifications::table.find(id))
                .execute(c)
                .await)
        }
    }?;
    Ok(deleted == 1)
}
