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
}

impl MovieFilter {
    /// The search text as a case-insensitive LIKE pattern (see `db::contains_pattern`).
    pub fn search_pattern(&self) -> Option<String> {
        self.search.as_deref().and_then(crate::db::contains_pattern)
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
}

#[derive(Debug, Clone, Copy, Default)]
pub struct MovieSort {
    pub field: MovieSortField,
    pub descending: bool,
}
