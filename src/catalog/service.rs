//! Catalog rules: what a browse request may ask for, and what a page returns (B2–B6).

use crate::catalog::models::{CertificationRow, GenreRow, MovieCursor, MovieFilter, MovieRow, MovieSort, PersonRow};
use crate::catalog::repo;
use crate::db::Db;
use crate::error::{AppError, AppResult};

const MAX_SEARCH_CHARS: usize = 200;

/// The catalog handle: cheap to clone; what the catalog's resolvers and loader call.
#[derive(Clone)]
pub struct Catalog {
    db: Db,
}

/// Refuses filters that cannot match anything sensible, naming the field at fault.
pub fn check_filter(filter: &MovieFilter) -> AppResult<()> {
    if let (Some(min), Some(max)) = (filter.year_min, filter.year_max)
        && min > max
    {
        return Err(AppError::bad_input("filter.yearMin", "yearMin is after yearMax"));
    }
    for (field, value) in [("filter.imdbMin", filter.imdb_min), ("filter.imdbMax", filter.imdb_max)] {
        if let Some(v) = value
            && !(0.0..=10.0).contains(&v)
        {
            return Err(AppError::bad_input(field, "IMDb scores run from 0 to 10"));
        }
    }
    if let (Some(min), Some(max)) = (filter.imdb_min, filter.imdb_max)
        && min > max
    {
        return Err(AppError::bad_input("filter.imdbMin", "imdbMin is above imdbMax"));
    }
    for (field, value) in [
        ("filter.priceMin", filter.price_min),
        ("filter.priceMax", filter.price_max),
    ] {
        if value.is_some_and(|v| v < 0) {
            return Err(AppError::bad_input(field, "prices are not negative"));
        }
    }
    if let (Some(min), Some(max)) = (filter.price_min, filter.price_max)
        && min > max
    {
        return Err(AppError::bad_input("filter.priceMin", "priceMin is above priceMax"));
    }
    if filter
        .search
        .as_deref()
        .is_some_and(|s| s.chars().count() > MAX_SEARCH_CHARS)
    {
        return Err(AppError::bad_input(
            "search",
            "search text is longer than 200 characters",
        ));
    }
    Ok(())
}

impl Catalog {
    pub fn new(db: Db) -> Catalog {
        Catalog { db }
    }

    /// Movies matching `filter` in `sort` order: the first `limit` after `after`, in one statement.
    pub async fn movies(
        &self,
        filter: &MovieFilter,
        sort: MovieSort,
        after: Option<&MovieCursor>,
        limit: i64,
    ) -> AppResult<Vec<MovieRow>> {
        check_filter(filter)?;
        let mut conn = self.db.conn().await?;
        Ok(repo::list_movies(&mut conn, filter, sort, after, limit).await?)
    }

    /// How many movies match `filter` (asked for separately: only clients that show a total pay for it).
    pub async fn count(&self, filter: &MovieFilter) -> AppResult<i64> {
        let mut conn = self.db.conn().await?;
        Ok(repo::count_movies(&mut conn, filter).await?)
    }

    /// A movie by its public id; NOT_FOUND when there is none.
    pub async fn movie(&self, uuid: &str) -> AppResult<MovieRow> {
        let mut conn = self.db.conn().await?;
        repo::movie_by_uuid(&mut conn, uuid)
            .await?
            .ok_or_else(|| AppError::not_found("no movie has this id"))
    }

    /// Every genre, by name, with the number of movies in each (B6), in one statement.
    pub async fn genres_with_counts(&self) -> AppResult<Vec<(GenreRow, i64)>> {
        let mut conn = self.db.conn().await?;
        Ok(repo::genres_with_counts(&mut conn).await?)
    }

    /// A genre by id; NOT_FOUND when there is none.
    pub async fn genre(&self, id: i64) -> AppResult<GenreRow> {
        let mut conn = self.db.conn().await?;
        repo::genre_by_id(&mut conn, id)
            .await?
            .ok_or_else(|| AppError::not_found("no genre has this id"))
    }

    /// A director or star by id; NOT_FOUND when there is none.
    pub async fn person(&self, id: i64) -> AppResult<PersonRow> {
        let mut conn = self.db.conn().await?;
        repo::person_by_id(&mut conn, id)
            .await?
            .ok_or_else(|| AppError::not_found("no person has this id"))
    }

    /// Every certification, by name.
    pub async fn certifications(&self) -> AppResult<Vec<CertificationRow>> {
        let mut conn = self.db.conn().await?;
        Ok(repo::all_certifications(&mut conn).await?)
    }

    /// The connection the catalog's loader batches its reads on.
    pub(crate) async fn conn(&self) -> AppResult<crate::db::DbConn> {
        self.db.conn().await
    }
}
