//! The catalog's moderation mutations (B12, B13): thin — parse ids, call `moderation`, answer the result.
//! MODERATOR and above manage movies, genres and people; ADMIN manages certifications.

use crate::graphql::budgets::{Budget, spends};
use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object, Result, SimpleObject, Upload};

use crate::catalog::Catalog;
use crate::catalog::graphql::{Certification, Genre, Movie, Person, parse_id, parse_ids};
use crate::catalog::models::{CertificationRow, GenreRow, MovieChanges, Named, PersonRow};
use crate::catalog::moderation::{MovieDraft, MovieEdit};
use crate::catalog::posters::Posters;
use crate::db::Role;
use crate::error::AppError;
use crate::graphql::guards::{RoleGuard, requires_role};
use crate::graphql::scalars::Long;

/// A new movie (B12). Genres, directors and stars are given by id; an unknown id is refused, naming it.
#[derive(InputObject)]
pub struct MovieInput {
    name: String,
    year: i32,
    duration_minutes: i32,
    imdb_score: f64,
    #[graphql(default)]
    votes: Option<Long>,
    meta_score: Option<i32>,
    /// Box-office gross in US cents.
    gross: Option<Long>,
    #[graphql(default)]
    description: String,
    /// In minor units of the catalog currency (USD cents).
    price: Long,
    certification_id: ID,
    #[graphql(default)]
    genre_ids: Vec<ID>,
    #[graphql(default)]
    director_ids: Vec<ID>,
    /// In billing order.
    #[graphql(default)]
    star_ids: Vec<ID>,
}

/// Changes to a movie (B12): omitted fields stay; null clears `metaScore` or `gross`; a list given replaces the
/// movie's list.
#[derive(InputObject)]
pub struct MovieUpdateInput {
    name: Option<String>,
    year: Option<i32>,
    duration_minutes: Option<i32>,
    imdb_score: Option<f64>,
    votes: Option<Long>,
    meta_score: MaybeUndefined<i32>,
    /// Box-office gross in US cents.
    gross: MaybeUndefined<Long>,
    description: Option<String>,
    /// In minor units of the catalog currency (USD cents).
    price: Option<Long>,
    certification_id: Option<ID>,
    genre_ids: Option<Vec<ID>>,
    director_ids: Option<Vec<ID>>,
    /// In billing order.
    star_ids: Option<Vec<ID>>,
    /// False withdraws the movie from sale (it cannot be added to a cart or ordered, and cart lines holding it
    /// are flagged); true puts it back on sale. A movie anyone ordered cannot be deleted, only withdrawn.
    available: Option<bool>,
}

/// What deleting a movie did.
#[derive(SimpleObject)]
pub struct DeleteMoviePayload {
    /// The deleted movie's id.
    deleted_movie_id: ID,
    /// How many carts the movie was taken out of (with `confirmInCarts: true`).
    removed_from_carts: i32,
}

fn maybe<T, U>(value: MaybeUndefined<T>, map: impl Fn(T) -> U) -> Option<Option<U>> {
    match value {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(value) => Some(Some(map(value))),
    }
}

fn ids(field: &str, ids: Vec<ID>) -> Result<Vec<i64>> {
    Ok(parse_ids(field, Some(ids))?)
}

#[derive(Default)]
pub struct ModerationMutation;

#[Object]
impl ModerationMutation {
    /// Adds a movie to the catalog (B12). The (name, year, duration) of a film is unique: a second one is a
    /// CONFLICT naming the existing movie (`extensions.existingMovieId`).
    #[graphql(
        guard = "RoleGuard::role(Role::Moderator).spending(Budget::Staff)",
        directive = requires_role::apply(Role::Moderator),
        directive = spends::apply(Budget::Staff)
    )]
    async fn create_movie(&self, ctx: &Context<'_>, input: MovieInput) -> Result<Movie> {
        let draft = MovieDraft {
            name: input.name,
            year: input.year,
            duration_minutes: input.duration_minutes,
            imdb_score: input.imdb_score,
            votes: input.votes.map_or(0, |votes| votes.0),
            meta_score: input.meta_score,
            gross_cents: input.gross.map(|gross| gross.0),
            description: input.description,
            price_cents: input.price.0,
            certification_id: parse_id("input.certificationId", &input.certification_id)?,
            genre_ids: ids("input.genreIds", input.genre_ids)?,
            director_ids: ids("input.directorIds", input.director_ids)?,
            star_ids: ids("input.starIds", input.star_ids)?,
        };
        Ok(Movie(ctx.data::<Catalog>()?.create_movie(draft).await?))
    }

    /// Edits a movie (B12).
    #[graphql(
        guard = "RoleGuard::role(Role::Moderator).spending(Budget::Staff)",
        directive = requires_role::apply(Role::Moderator),
        directive = spends::apply(Budget::Staff)
    )]
    async fn update_movie(&self, ctx: &Context<'_>, id: ID, input: MovieUpdateInput) -> Result<Movie> {
        let certification_id = match &input.certification_id {
            Some(id) => Some(parse_id("input.certificationId", id)?),
            None => None,
        };
        let edit = MovieEdit {
            changes: MovieChanges {
                name: input.name,
                year: input.year,
                duration_minutes: input.duration_minutes,
                imdb_score: input.imdb_score,
                votes: input.votes.map(|votes| votes.0),
                meta_score: maybe(input.meta_score, |meta| meta),
                gross_cents: maybe(input.gross, |gross| gross.0),
                description: input.description,
                price_cents: input.price.map(|price| price.0),
                available: input.available,
                certification_id,
                updated_at: None,
            },
            genre_ids: input.genre_ids.map(|list| ids("input.genreIds", list)).transpose()?,
            director_ids: input
                .director_ids
                .map(|list| ids("input.directorIds", list))
                .transpose()?,
            star_ids: input.star_ids.map(|list| ids("input.starIds", list)).transpose()?,
        };
        Ok(Movie(ctx.data::<Catalog>()?.update_movie(&id, edit).await?))
    }

    /// Uploads a movie's poster (issue 24): a PNG, JPEG or WebP picture of at most 3 MiB and 4096 pixels a
    /// side, sent as a GraphQL multipart request; it is stored in every `PosterSize` (never scaled up), and
    /// the movie's previous poster is removed.
    #[graphql(
        guard = "RoleGuard::role(Role::Moderator).spending(Budget::Staff)",
        directive = requires_role::apply(Role::Moderator),
        directive = spends::apply(Budget::Staff)
    )]
    async fn upload_poster(&self, ctx: &Context<'_>, movie_id: ID, file: Upload) -> Result<Movie> {
        let upload = file
            .value(ctx)
            .map_err(|_| AppError::bad_input("file", "the file part is missing"))?;
        Ok(Movie(ctx.data::<Posters>()?.upload(&movie_id, upload.content).await?))
    }

    /// Removes a movie's poster: it shows the generated one again.
    #[graphql(
        guard = "RoleGuard::role(Role::Moderator).spending(Budget::Staff)",
        directive = requires_role::apply(Role::Moderator),
        directive = spends::apply(Budget::Staff)
    )]
    async fn remove_poster(&self, ctx: &Context<'_>, movie_id: ID) -> Result<Movie> {
        Ok(Movie(ctx.data::<Posters>()?.remove(&movie_id).await?))
    }

    /// Deletes a movie (B12). A movie someone bought or ordered is kept (CONFLICT with `extensions.owners` or
    /// `extensions.orders`); one in carts needs `confirmInCarts: true` (CONFLICT with `extensions.carts`
    /// otherwise), and then leaves those carts in the same transaction.
    #[graphql(
        guard = "RoleGuard::role(Role::Moderator).spending(Budget::Staff)",
        directive = requires_role::apply(Role::Moderator),
        directive = spends::apply(Budget::Staff)
    )]
    async fn delete_movie(
        &self,
        ctx: &Context<'_>,
        id: ID,
        #[graphql(desc = "True to take the movie out of the carts that hold it; false or null refuses then.")]
        confirm_in_carts: Option<bool>,
    ) -> Result<DeleteMoviePayload> {
        let confirmed = confirm_in_carts.unwrap_or(false);
        let deleted = ctx.data::<Catalog>()?.delete_movie(&id, confirmed).await?;
        Ok(DeleteMoviePayload {
            deleted_movie_id: ID(deleted.uuid),
            removed_from_carts: i32::try_from(deleted.removed_from_carts).unwrap_or(i32::MAX),
        })
    }

    /// Adds a genre (B12); names are unique.
    #[graphql(
        guard = "RoleGuard::role(Role::Moderator).spending(Budget::Staff)",
        directive = requires_role::apply(Role::Moderator),
        directive = spends::apply(Budget::Staff)
    )]
    async fn create_genre(&self, ctx: &Context<'_>, name: String) -> Result<Genre> {
        let (id, name) = ctx.data::<Catalog>()?.create_named(Named::Genre, &name).await?;
        Ok(Genre::new(GenreRow { id, name }))
    }

    /// Renames a genre (B12).
    #[graphql(
        guard = "RoleGuard::role(Role::Moderator).spending(Budget::Staff)",
        directive = requires_role::apply(Role::Moderator),
        directive = spends::apply(Budget::Staff)
    )]
    async fn update_genre(&self, ctx: &Context<'_>, id: ID, name: String) -> Result<Genre> {
        let id = parse_id("id", &id)?;
        let (id, name) = ctx.data::<Catalog>()?.rename_named(Named::Genre, id, &name).await?;
        Ok(Genre::new(GenreRow { id, name }))
    }

    /// Deletes a genre (B12); its movies stay, without it. Answers the deleted id.
    #[graphql(
        guard = "RoleGuard::role(Role::Moderator).spending(Budget::Staff)",
        directive = requires_role::apply(Role::Moderator),
        directive = spends::apply(Budget::Staff)
    )]
    async fn delete_genre(&self, ctx: &Context<'_>, id: ID) -> Result<ID> {
        let parsed = parse_id("id", &id)?;
        ctx.data::<Catalog>()?.delete_named(Named::Genre, parsed).await?;
        Ok(id)
    }

    /// Adds a person (director or star) (B12); names are unique.
    #[graphql(
        guard = "RoleGuard::role(Role::Moderator).spending(Budget::Staff)",
        directive = requires_role::apply(Role::Moderator),
        directive = spends::apply(Budget::Staff)
    )]
    async fn create_person(&self, ctx: &Context<'_>, name: String) -> Result<Person> {
        let (id, name) = ctx.data::<Catalog>()?.create_named(Named::Person, &name).await?;
        Ok(Person(PersonRow { id, name }))
    }

    /// Renames a person (B12).
    #[graphql(
        guard = "RoleGuard::role(Role::Moderator).spending(Budget::Staff)",
        directive = requires_role::apply(Role::Moderator),
        directive = spends::apply(Budget::Staff)
    )]
    async fn update_person(&self, ctx: &Context<'_>, id: ID, name: String) -> Result<Person> {
        let id = parse_id("id", &id)?;
        let (id, name) = ctx.data::<Catalog>()?.rename_named(Named::Person, id, &name).await?;
        Ok(Person(PersonRow { id, name }))
    }

    /// Deletes a person (B12); their movies stay, without them. Answers the deleted id.
    #[graphql(
        guard = "RoleGuard::role(Role::Moderator).spending(Budget::Staff)",
        directive = requires_role::apply(Role::Moderator),
        directive = spends::apply(Budget::Staff)
    )]
    async fn delete_person(&self, ctx: &Context<'_>, id: ID) -> Result<ID> {
        let parsed = parse_id("id", &id)?;
        ctx.data::<Catalog>()?.delete_named(Named::Person, parsed).await?;
        Ok(id)
    }

    /// Adds a certification (B13); names are unique.
    #[graphql(guard = "RoleGuard::role(Role::Admin).spending(Budget::Staff)", directive = requires_role::apply(Role::Admin),
        directive = spends::apply(Budget::Staff))]
    async fn create_certification(&self, ctx: &Context<'_>, name: String) -> Result<Certification> {
        let (id, name) = ctx.data::<Catalog>()?.create_named(Named::Certification, &name).await?;
        Ok(Certification(CertificationRow { id, name }))
    }

    /// Renames a certification (B13).
    #[graphql(guard = "RoleGuard::role(Role::Admin).spending(Budget::Staff)", directive = requires_role::apply(Role::Admin),
        directive = spends::apply(Budget::Staff))]
    async fn update_certification(&self, ctx: &Context<'_>, id: ID, name: String) -> Result<Certification> {
        let id = parse_id("id", &id)?;
        let (id, name) = ctx
            .data::<Catalog>()?
            .rename_named(Named::Certification, id, &name)
            .await?;
        Ok(Certification(CertificationRow { id, name }))
    }

    /// Deletes a certification no movie carries (B13; CONFLICT with `extensions.movies` otherwise). Answers the
    /// deleted id.
    #[graphql(guard = "RoleGuard::role(Role::Admin).spending(Budget::Staff)", directive = requires_role::apply(Role::Admin),
        directive = spends::apply(Budget::Staff))]
    async fn delete_certification(&self, ctx: &Context<'_>, id: ID) -> Result<ID> {
        let parsed = parse_id("id", &id)?;
        ctx.data::<Catalog>()?
            .delete_named(Named::Certification, parsed)
            .await?;
        Ok(id)
    }
}
