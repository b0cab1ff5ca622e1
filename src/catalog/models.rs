//! Rows of the catalog tables, and the query the catalog page asks for.

use chrono::NaiveDateTime;
use diesel::prelude::{Insertable, Queryable, Selectable};

use crate::db::schema::{certifications, genres, movies, people};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = movies, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct MovieRow {
    pub id: i64,
    pub uuid: String,
    pub name: String,
    pub year: i32,
    pub duration_minutes: i32,
    pub imdb_score: f64,
    pub votes: i64,
    pub meta_score: Option<i32>,
    pub gross_cents: Option<i64>,
    pub description: String,
    pub price_cents: i64,
    pub currency: String,
    pub certification_id: i64,
    pub poster_key: Option<String>,
    pub likes_count: i64,
    pub dislikes_count: i64,
    pub ratings_count: i64,
    pub ratings_sum: i64,
    pub purchases_count: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// On sale: it can be added to a cart and ordered (a withdrawn movie stays in the catalog and with its
    /// owners).
    pub available: bool,
    /// The uploaded poster's size (with `poster_key`; none: the generated poster).
    pub poster_width: Option<i32>,
    pub poster_height: Option<i32>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = movies)]
pub struct NewMovie {
    pub uuid: String,
    pub name: String,
    pub year: i32,
    pub duration_minutes: i32,
    pub imdb_score: f64,
    pub votes: i64,
    pub meta_score: Option<i32>,
    pub gross_cents: Option<i64>,
    pub description: String,
    pub price_cents: i64,
    pub currency: String,
    pub certification_id: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = genres, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct GenreRow {
    pub id: i64,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = people, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct PersonRow {
    pub id: i64,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = certifications, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct CertificationRow {
    pub id: i64,
    pub name: String,
}

/// Which movies a catalog page shows (B3, B5). Empty lists mean "no restriction"; several ids in one list
/// match any of them.
#[derive(Debug, Clone, Default)]
pub struct MovieFilter {
    pub year_min: Option<i32>,
    pub year_max: Option<i32>,
    pub imdb_min: Option<f64>,
    pub imdb_max: Option<f64>,
    pub price_min: Option<i64>,
    pub price_max: Option<i64>,
    pub genre_ids: Vec<i64>,
    pub certification_ids: Vec<i64>,
    pub director_ids: Vec<i64>,
    pub star_ids: Vec<i64>,
    /// Case-insensitive text matched against title, description, star and director names.
    pub search: Option<String>,
    /// Only this user's favorites (B7: `me.favorites`); set by the server, never by a client.
    pub favorite_of: Option<i64>,
    /// Only the movies this user bought (B14: `me.purchasedMovies`); set by the server, never by a client.
    pub purchased_by: Option<i64>,
    /// How `search` is served, once `Catalog::movies` has probed it; None serves it from the indexes alone.
    pub search_plan: Option<SearchPlan>,
}

impl MovieFilter {
    /// Whether the filter keeps every movie but for its search: nothing else to apply (issue 25: the search's
    /// probe reads the search's own indexes alone then).
    pub fn keeps_every_movie(&self) -> bool {
        let MovieFilter {
            year_min,
            year_max,
            imdb_min,
            imdb_max,
            price_min,
            price_max,
            genre_ids,
            certification_ids,
            director_ids,
            star_ids,
            search: _,
            favorite_of,
            purchased_by,
            search_plan: _,
        } = self;
        year_min.is_none()
            && year_max.is_none()
            && imdb_min.is_none()
            && imdb_max.is_none()
            && price_min.is_none()
            && price_max.is_none()
            && genre_ids.is_empty()
            && certification_ids.is_empty()
            && director_ids.is_empty()
            && star_ids.is_empty()
            && favorite_of.is_none()
            && purchased_by.is_none()
    }
}

/// How a search page is read (B5), decided per request by a cheap probe of the search indexes: a term few
/// movies match is listed from the indexes and its page read by id; a term many match (more than a search
/// counts) is served by walking the sort's index and testing each movie, which stops after a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchPlan {
    /// Every movie that matches (the filter included), found by the probe, and the same field by field.
    Ids(Vec<i64>, FieldMatches),
    /// Too many to list: test each movie in sort order. What the probe could list field by field tells the
    /// relevance sort which of its ranks to read by id and which to walk (see `repo::list_movies_by_relevance`).
    Scan(FieldMatches),
}

/// The movies (the filter included) whose title, description or people match a search, field by field, as far
/// as the probe lists them: None where a field matches more movies than the probe lists (a dense match, found
/// soon by walking an index), else every one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldMatches {
    pub titles: Option<Vec<i64>>,
    pub descriptions: Option<Vec<i64>>,
    pub people: Option<Vec<i64>>,
    /// Of the listed titles, whether one may be the text or start with it (so the relevance sort reads those
    /// ranks only when it may find something there); both true when the titles are not listed.
    pub title_starts: TitleStarts,
}

/// Whether a search's listed titles may hold the text as the whole title or at its start: relevance's first
/// two ranks (`SearchRank::ExactTitle`, `SearchRank::TitleStart`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TitleStarts {
    pub equal: bool,
    pub start: bool,
}

impl Default for TitleStarts {
    /// Unknown: either may.
    fn default() -> TitleStarts {
        TitleStarts {
            equal: true,
            start: true,
        }
    }
}

impl TitleStarts {
    /// What `titles` (the listed titles as stored) may hold of `text`. Compared as the database compares
    /// (lower-cased); a title with letters outside ASCII counts as may, since the database's lower-casing of
    /// those need not be Rust's.
    pub fn of<'t>(text: &str, titles: impl IntoIterator<Item = &'t str>) -> TitleStarts {
        let lowered = text.trim().to_lowercase();
        let mut found = TitleStarts {
            equal: false,
            start: false,
        };
        for title in titles {
            let unsure = !title.is_ascii();
            let title = title.to_lowercase();
            found.equal |= unsure || title == lowered;
            found.start |= unsure || (title.starts_with(&lowered) && title != lowered);
        }
        found
    }
}

/// How well a movie answers a search (B5, issue 25): the relevance sort's tiers, best first. Each tier is
/// read in popularity order, so a page of a common word walks one index instead of ranking every match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SearchRank {
    /// The title is the text.
    ExactTitle = 0,
    /// The title starts with the text.
    TitleStart = 1,
    /// The title contains the text.
    InTitle = 2,
    /// A star's or director's name contains the text.
    Person = 3,
    /// Only the description contains the text.
    Description = 4,
}

impl SearchRank {
    pub const ALL: [SearchRank; 5] = [
        SearchRank::ExactTitle,
        SearchRank::TitleStart,
        SearchRank::InTitle,
        SearchRank::Person,
        SearchRank::Description,
    ];

    /// The rank a cursor carries; None for a number no rank has.
    pub fn from_key(key: i64) -> Option<SearchRank> {
        SearchRank::ALL.get(usize::try_from(key).ok()?).copied()
    }
}

/// What a catalog page is sorted by (B4); the id breaks ties.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, async_graphql::Enum)]
pub enum MovieSortField {
    #[default]
    Name,
    /// Release year.
    Year,
    Imdb,
    Price,
    /// Purchases, then likes.
    Popularity,
    /// Average user rating; unrated movies come last in both directions.
    Rating,
    /// When the movie joined the catalog.
    Added,
    /// How well a movie answers the search (B5, issue 25), best first whatever the direction: the exact title,
    /// then titles starting with the text, titles containing it, a star's or director's name containing it,
    /// and last the descriptions; ties by popularity (purchases, then likes). Without a search text, by
    /// popularity. The default when a search text is given and no sort is.
    Relevance,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct MovieSort {
    pub field: MovieSortField,
    pub descending: bool,
}

/// A movie's position under one sort: the values a keyset cursor carries (B4). The next page starts strictly
/// after (key, id) in the sort's order, so it costs the same at item 20 and at item 500,000, and rows added or
/// removed meanwhile neither repeat nor skip a movie.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum SortKey {
    Text(String),
    Int(i64),
    Float(f64),
    /// Purchases, then likes.
    Pair(i64, i64),
    Time(NaiveDateTime),
    /// Relevance: the movie's rank for the search (0 is best, see `SearchRank`), then purchases and likes.
    Ranked(i64, i64, i64),
}

/// Where a page starts: after the movie with this key and id.
#[derive(Debug, Clone, PartialEq)]
pub struct MovieCursor {
    pub key: SortKey,
    pub id: i64,
}

impl MovieSort {
    /// The rating sort's key (as the database computes it in migration 000008): the average, unrated last.
    fn rating_key(&self, movie: &MovieRow) -> f64 {
        match (movie.ratings_count, self.descending) {
            (0, true) => -1.0,
            (0, false) => 11.0,
            (count, _) => movie.ratings_sum as f64 / count as f64,
        }
    }

    /// Where `movie` stands under this sort.
    pub fn cursor_of(&self, movie: &MovieRow) -> MovieCursor {
        let key = match self.field {
            MovieSortField::Name => SortKey::Text(movie.name.clone()),
            MovieSortField::Year => SortKey::Int(i64::from(movie.year)),
            MovieSortField::Imdb => SortKey::Float(movie.imdb_score),
            MovieSortField::Price => SortKey::Int(movie.price_cents),
            MovieSortField::Popularity => SortKey::Pair(movie.purchases_count, movie.likes_count),
            MovieSortField::Rating => SortKey::Float(self.rating_key(movie)),
            MovieSortField::Added => SortKey::Time(movie.created_at),
            MovieSortField::Relevance => SortKey::Ranked(0, movie.purchases_count, movie.likes_count),
        };
        MovieCursor { key, id: movie.id }
    }

    /// Where `movie`, of rank `rank` for the page's search, stands under the relevance sort.
    pub fn ranked_cursor(rank: SearchRank, movie: &MovieRow) -> MovieCursor {
        MovieCursor {
            key: SortKey::Ranked(rank as i64, movie.purchases_count, movie.likes_count),
            id: movie.id,
        }
    }

    /// Whether `key` is of the kind this sort's cursors carry (a cursor of another sort is not).
    pub fn accepts(&self, key: &SortKey) -> bool {
        matches!(
            (self.field, key),
            (MovieSortField::Name, SortKey::Text(_))
                | (MovieSortField::Year | MovieSortField::Price, SortKey::Int(_))
                | (MovieSortField::Imdb | MovieSortField::Rating, SortKey::Float(_))
                | (MovieSortField::Popularity, SortKey::Pair(..))
                | (MovieSortField::Added, SortKey::Time(_))
        ) || matches!((self.field, key), (MovieSortField::Relevance, SortKey::Ranked(rank, ..)) if SearchRank::from_key(*rank).is_some())
    }
}

crate::text_enum! {
    /// A viewer's verdict on a movie (B8): one per user and movie, switchable and removable.
    #[derive(async_graphql::Enum)]
    pub enum Reaction {
        Like => "LIKE",
        Dislike => "DISLIKE",
    }
}

/// What the signed-in viewer has to do with one movie (B7–B9, B14, C1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ViewerState {
    pub reaction: Option<Reaction>,
    pub rating: Option<i32>,
    pub favorite: bool,
    pub purchased: bool,
    pub in_cart: bool,
}

/// A moderator's edit of a movie's own columns (B12): None keeps a value; for the nullable ones, `Some(None)`
/// clears it.
#[derive(Debug, Clone, Default, diesel::AsChangeset)]
#[diesel(table_name = movies)]
pub struct MovieChanges {
    pub name: Option<String>,
    pub year: Option<i32>,
    pub duration_minutes: Option<i32>,
    pub imdb_score: Option<f64>,
    pub votes: Option<i64>,
    pub meta_score: Option<Option<i32>>,
    pub gross_cents: Option<Option<i64>>,
    pub description: Option<String>,
    pub price_cents: Option<i64>,
    pub certification_id: Option<i64>,
    pub available: Option<bool>,
    pub updated_at: Option<NaiveDateTime>,
}

/// Which kind of named catalog entry (B12, B13).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Named {
    Genre,
    Person,
    Certification,
}

/// A movie's genre, as stored.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = crate::db::schema::movie_genres)]
pub struct NewMovieGenre {
    pub movie_id: i64,
    pub genre_id: i64,
}

/// A movie's director, as stored.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = crate::db::schema::movie_directors)]
pub struct NewMovieDirector {
    pub movie_id: i64,
    pub person_id: i64,
}

/// A movie's star and their place in the billing, as stored.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = crate::db::schema::movie_stars)]
pub struct NewMovieStar {
    pub movie_id: i64,
    pub person_id: i64,
    pub billing_order: i32,
}
