//! Catalog moderation (B12, B13): moderators create, edit and delete movies, genres and people; admins manage
//! certifications. Every change is one transaction; every refusal names the field or the facts at fault.

use crate::catalog::Catalog;
use crate::catalog::models::{MovieChanges, MovieRow, Named, NewMovie};
use crate::catalog::repo;
use crate::catalog::service::no_such_movie;
use crate::db::{DbConn, now};
use crate::error::{AppError, AppResult};

/// Links of one kind a movie may list at most.
const MAX_LINKS: usize = 50;
/// The currency of every price in the catalog.
pub const CATALOG_CURRENCY: &str = "USD";

/// A new movie, as a moderator describes it. Ids are internal ids; `star_ids` is in billing order.
#[derive(Debug, Clone)]
pub struct MovieDraft {
    pub name: String,
    pub year: i32,
    pub duration_minutes: i32,
    pub imdb_score: f64,
    pub votes: i64,
    pub meta_score: Option<i32>,
    pub gross_cents: Option<i64>,
    pub description: String,
    pub price_cents: i64,
    pub certification_id: i64,
    pub genre_ids: Vec<i64>,
    pub director_ids: Vec<i64>,
    pub star_ids: Vec<i64>,
}

/// A moderator's edit: None keeps a value; a list given replaces the movie's list.
#[derive(Debug, Clone, Default)]
pub struct MovieEdit {
    pub changes: MovieChanges,
    pub genre_ids: Option<Vec<i64>>,
    pub director_ids: Option<Vec<i64>>,
    pub star_ids: Option<Vec<i64>>,
}

/// What a movie's deletion did.
#[derive(Debug, Clone)]
pub struct DeletedMovie {
    pub uuid: String,
    /// Carts the movie was taken out of (only with `confirm_in_carts`).
    pub removed_from_carts: usize,
}

fn field(name: &str) -> String {
    format!("input.{name}")
}

/// Checks the movie's own columns, each refusal naming its field.
fn check_columns(changes: &MovieChanges) -> AppResult<()> {
    let refuse = |name: &str, message: &str| Err(AppError::bad_input(field(name), message));
    if let Some(name) = &changes.name
        && (name.is_empty() || name.chars().count() > 250)
    {
        return refuse("name", "name must be 1 to 250 characters");
    }
    if changes.year.is_some_and(|year| !(1870..=2100).contains(&year)) {
        return refuse("year", "year must be between 1870 and 2100");
    }
    if changes
        .duration_minutes
        .is_some_and(|minutes| !(1..=1440).contains(&minutes))
    {
        return refuse("durationMinutes", "durationMinutes must be between 1 and 1440");
    }
    if changes.imdb_score.is_some_and(|score| !(0.0..=10.0).contains(&score)) {
        return refuse("imdbScore", "imdbScore must be between 0 and 10");
    }
    if changes.votes.is_some_and(|votes| votes < 0) {
        return refuse("votes", "votes cannot be negative");
    }
    if let Some(Some(meta)) = changes.meta_score
        && !(0..=100).contains(&meta)
    {
        return refuse("metaScore", "metaScore must be between 0 and 100");
    }
    if let Some(Some(gross)) = changes.gross_cents
        && gross < 0
    {
        return refuse("gross", "gross cannot be negative");
    }
    if let Some(description) = &changes.description
        && description.chars().count() > 5000
    {
        return refuse("description", "description is longer than 5000 characters");
    }
    if changes
        .price_cents
        .is_some_and(|price| !(0..=100_000_000).contains(&price))
    {
        return refuse("price", "price must be between 0 and 1,000,000.00");
    }
    Ok(())
}

/// Refuses a list of links with an id that names nothing, naming every such id (B12: never dropped silently).
async fn check_links(conn: &mut DbConn, kind: Named, name: &str, ids: &[i64]) -> AppResult<Vec<i64>> {
    let mut unique = Vec::with_capacity(ids.len());
    for id in ids {
        if !unique.contains(id) {
            unique.push(*id);
        }
    }
    if unique.len() > MAX_LINKS {
        return Err(AppError::bad_input(
            field(name),
            format!("{name} lists more than {MAX_LINKS} ids"),
        ));
    }
    let existing = repo::existing_ids(conn, kind, &unique).await?;
    let missing: Vec<String> = unique
        .iter()
        .filter(|id| !existing.contains(id))
        .map(i64::to_string)
        .collect();
    if !missing.is_empty() {
        let what = match kind {
            Named::Genre => "genre",
            Named::Person => "person",
            Named::Certification => "certification",
        };
        return Err(AppError::bad_input(
            field(name),
            format!("no {what} has id {}", missing.join(", ")),
        ));
    }
    Ok(unique)
}

/// CONFLICT naming the movie that already has this (name, year, duration).
async fn check_identity(conn: &mut DbConn, name: &str, year: i32, duration: i32, except: Option<i64>) -> AppResult<()> {
    match repo::movie_by_identity(conn, name, year, duration).await? {
        Some(existing) if Some(existing.id) != except => Err(AppError::ConflictWith {
            message: format!(
                "the catalog already has \"{}\" ({}, {} minutes)",
                existing.name, existing.year, existing.duration_minutes
            ),
            details: vec![("existingMovieId", existing.uuid.into())],
        }),
        _ => Ok(()),
    }
}

fn named_kind(kind: Named) -> (&'static str, usize) {
    match kind {
        Named::Genre => ("genre", 64),
        Named::Person => ("person", 200),
        Named::Certification => ("certification", 32),
    }
}

/// A name as stored: trimmed, 1 to the kind's limit of characters.
fn clean_name(kind: Named, name: &str) -> AppResult<String> {
    let (what, max) = named_kind(kind);
    let name = name.trim();
    if name.is_empty() || name.chars().count() > max {
        return Err(AppError::bad_input(
            "name",
            format!("a {what} name is 1 to {max} characters"),
        ));
    }
    Ok(name.to_string())
}

fn name_taken(kind: Named, name: &str) -> AppError {
    AppError::Conflict(format!("a {} named \"{name}\" exists", named_kind(kind).0))
}

fn no_such_named(kind: Named) -> AppError {
    AppError::not_found(format!("no {} has this id", named_kind(kind).0))
}

impl Catalog {
    /// B12: a new movie with its genres, directors and stars, in one transaction.
    pub async fn create_movie(&self, draft: MovieDraft) -> AppResult<MovieRow> {
        let name = draft.name.trim().to_string();
        let description = draft.description.trim().to_string();
        let at = now();
        check_columns(&MovieChanges {
            name: Some(name.clone()),
            year: Some(draft.year),
            duration_minutes: Some(draft.duration_minutes),
            imdb_score: Some(draft.imdb_score),
            votes: Some(draft.votes),
            meta_score: Some(draft.meta_score),
            gross_cents: Some(draft.gross_cents),
            description: Some(description.clone()),
            price_cents: Some(draft.price_cents),
            certification_id: Some(draft.certification_id),
            available: None,
            updated_at: Some(at),
        })?;
        let movie = NewMovie {
            uuid: uuid::Uuid::new_v4().to_string(),
            name,
            year: draft.year,
            duration_minutes: draft.duration_minutes,
            imdb_score: draft.imdb_score,
            votes: draft.votes,
            meta_score: draft.meta_score,
            gross_cents: draft.gross_cents,
            description,
            price_cents: draft.price_cents,
            currency: CATALOG_CURRENCY.to_string(),
            certification_id: draft.certification_id,
            created_at: at,
            updated_at: at,
        };
        self.db()
            .transaction(async |conn| {
                check_links(conn, Named::Certification, "certificationId", &[movie.certification_id]).await?;
                let genres = check_links(conn, Named::Genre, "genreIds", &draft.genre_ids).await?;
                let directors = check_links(conn, Named::Person, "directorIds", &draft.director_ids).await?;
                let stars = check_links(conn, Named::Person, "starIds", &draft.star_ids).await?;
                check_identity(conn, &movie.name, movie.year, movie.duration_minutes, None).await?;
                let row = repo::insert_movie(conn, &movie).await?;
                repo::set_movie_genres(conn, row.id, &genres).await?;
                repo::set_movie_directors(conn, row.id, &directors).await?;
                repo::set_movie_stars(conn, row.id, &stars).await?;
                Ok(row)
            })
            .await
    }

    /// B12: edits a movie; lists given replace the movie's, in one transaction.
    pub async fn update_movie(&self, uuid: &str, mut edit: MovieEdit) -> AppResult<MovieRow> {
        edit.changes.name = edit.changes.name.map(|name| name.trim().to_string());
        edit.changes.description = edit.changes.description.map(|text| text.trim().to_string());
        edit.changes.updated_at = Some(now());
        check_columns(&edit.changes)?;
        self.db()
            .transaction(async |conn| {
                let movie = repo::movie_locked(conn, uuid).await?.ok_or_else(no_such_movie)?;
                if let Some(certification_id) = edit.changes.certification_id {
                    check_links(conn, Named::Certification, "certificationId", &[certification_id]).await?;
                }
                let name = edit.changes.name.as_deref().unwrap_or(&movie.name);
                let year = edit.changes.year.unwrap_or(movie.year);
                let duration = edit.changes.duration_minutes.unwrap_or(movie.duration_minutes);
                check_identity(conn, name, year, duration, Some(movie.id)).await?;
                if let Some(ids) = &edit.genre_ids {
                    let genres = check_links(conn, Named::Genre, "genreIds", ids).await?;
                    repo::set_movie_genres(conn, movie.id, &genres).await?;
                }
                if let Some(ids) = &edit.director_ids {
                    let directors = check_links(conn, Named::Person, "directorIds", ids).await?;
                    repo::set_movie_directors(conn, movie.id, &directors).await?;
                }
                if let Some(ids) = &edit.star_ids {
                    let stars = check_links(conn, Named::Person, "starIds", ids).await?;
                    repo::set_movie_stars(conn, movie.id, &stars).await?;
                }
                Ok(repo::update_movie(conn, movie.id, &edit.changes).await?)
            })
            .await
    }

    /// B12: deletes a movie. Refused (CONFLICT, with the numbers) when anyone bought or ordered it, and when it
    /// is in carts unless `confirm_in_carts`, in which case it leaves those carts in the same transaction.
    pub async fn delete_movie(&self, uuid: &str, confirm_in_carts: bool) -> AppResult<DeletedMovie> {
        self.db()
            .transaction(async |conn| {
                let movie = repo::movie_locked(conn, uuid).await?.ok_or_else(no_such_movie)?;
                let owners = repo::owners_of(conn, movie.id).await?;
                if owners > 0 {
                    return Err(AppError::ConflictWith {
                        message: format!("{owners} user(s) bought this movie; it cannot be deleted"),
                        details: vec![("owners", owners.into())],
                    });
                }
                let orders = repo::orders_with(conn, movie.id).await?;
                if orders > 0 {
                    return Err(AppError::ConflictWith {
                        message: format!("{orders} order(s) name this movie; orders are kept as they were"),
                        details: vec![("orders", orders.into())],
                    });
                }
                let carts = repo::carts_with(conn, movie.id).await?;
                if carts > 0 && !confirm_in_carts {
                    return Err(AppError::ConflictWith {
                        message: format!(
                            "{carts} cart(s) hold this movie; delete again with confirmInCarts: true to take it out of them"
                        ),
                        details: vec![("carts", carts.into())],
                    });
                }
                let removed_from_carts = repo::remove_from_carts(conn, movie.id).await?;
                repo::delete_movie(conn, movie.id).await?;
                Ok(DeletedMovie {
                    uuid: movie.uuid,
                    removed_from_carts,
                })
            })
            .await
    }

    /// B12, B13: a new genre, person or certification; CONFLICT when the name is taken.
    pub async fn create_named(&self, kind: Named, name: &str) -> AppResult<(i64, String)> {
        let name = clean_name(kind, name)?;
        self.db()
            .transaction(async |conn| {
                let created =
                    repo::insert_named(conn, kind, &name)
                        .await
                        .map_err(|error| match AppError::from(error) {
                            AppError::Conflict(_) => name_taken(kind, &name),
                            other => other,
                        })?;
                Ok(created)
            })
            .await
    }

    /// B12, B13: renames a genre, person or certification; CONFLICT when the name is taken.
    pub async fn rename_named(&self, kind: Named, id: i64, name: &str) -> AppResult<(i64, String)> {
        let name = clean_name(kind, name)?;
        self.db()
            .transaction(async |conn| {
                let renamed = repo::rename_named(conn, kind, id, &name)
                    .await
                    .map_err(|error| match AppError::from(error) {
                        AppError::Conflict(_) => name_taken(kind, &name),
                        other => other,
                    })?
                    .ok_or_else(|| no_such_named(kind))?;
                Ok(renamed)
            })
            .await
    }

    /// B12, B13: deletes a genre or person (it leaves the movies that named it) or a certification no movie
    /// carries (CONFLICT with the number of movies otherwise).
    pub async fn delete_named(&self, kind: Named, id: i64) -> AppResult<()> {
        self.db()
            .transaction(async |conn| {
                if kind == Named::Certification {
                    let movies = repo::movies_with_certification(conn, id).await?;
                    if movies > 0 {
                        return Err(AppError::ConflictWith {
                            message: format!("{movies} movie(s) carry this certification; give them another first"),
                            details: vec![("movies", movies.into())],
                        });
                    }
                }
                if repo::delete_named(conn, kind, id).await? {
                    Ok(())
                } else {
                    Err(no_such_named(kind))
                }
            })
            .await
    }
}
