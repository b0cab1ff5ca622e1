//! Catalog rules: what a browse request may ask for, and what a page returns.

use crate::catalog::models::{MovieFilter, MovieRow, MovieSort};
use crate::catalog::repo;
use crate::db::Db;
use crate::error::{AppError, AppResult};

/// A page of the catalog.
pub struct MoviePage {
    pub movies: Vec<MovieRow>,
    pub has_next_page: bool,
}

const MAX_SEARCH_CHARS: usize = 200;

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

/// One page of movies matching `filter`, in `sort` order, in one statement.
pub async fn browse(db: &Db, filter: &MovieFilter, sort: MovieSort, offset: i64, limit: i64) -> AppResult<MoviePage> {
    check_filter(filter)?;
    // One row more than asked tells whether a next page exists without a second query.
    let mut movies = repo::list_movies(db, filter, sort, offset, limit + 1).await?;
    let has_next_page = movies.len() as i64 > limit;
    movies.truncate(limit as usize);
    Ok(MoviePage { movies, has_next_page })
}

/// How many movies match `filter` (asked for separately: only clients that show a total pay for it).
pub async fn count(db: &Db, filter: &MovieFilter) -> AppResult<i64> {
    repo::count_movies(db, filter).await
}

/// A movie by its public id; NOT_FOUND when there is none.
pub async fn movie(db: &Db, uuid: &str) -> AppResult<MovieRow> {
    repo::movie_by_uuid(db, uuid)
        .await?
        .ok_or_else(|| AppError::not_found("no movie has this id"))
}
