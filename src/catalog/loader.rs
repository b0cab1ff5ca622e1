//! One DataLoader for every relation a movie list shows, with a key type per relation, so that a page costs a
//! fixed number of statements whatever its length: one per relation, batched over the page's movies.

use std::collections::HashMap;
use std::hash::Hash;

use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};

use crate::catalog::Catalog;
use crate::catalog::models::{CertificationRow, GenreRow, PersonRow};
use crate::catalog::repo;
use crate::error::AppError;

/// A movie's genres, by name (key: the movie's id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GenresOf(pub i64);
/// A movie's directors, by name (key: the movie's id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DirectorsOf(pub i64);
/// A movie's stars, in billing order (key: the movie's id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StarsOf(pub i64);
/// A certification by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CertificationId(pub i64);
/// The number of movies in a genre (key: the genre's id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MovieCountOf(pub i64);

/// Loads every catalog relation; each key type is one batch query.
pub struct CatalogLoader {
    catalog: Catalog,
}

/// The loader of one request: its cache lives as long as the request (what `prefetch` loaded for a page is
/// what the movies' resolvers read).
pub type RequestLoader = DataLoader<CatalogLoader, HashMapCache>;

pub fn for_request(catalog: &Catalog) -> RequestLoader {
    DataLoader::with_cache(
        CatalogLoader {
            catalog: catalog.clone(),
        },
        tokio::spawn,
        HashMapCache::default(),
    )
}

type Loaded<K, V> = Result<HashMap<K, V>, async_graphql::Error>;

/// Re-keys a map by movie (or genre) id into the loader's key type. (Database errors become `AppError`s
/// before they become GraphQL errors, so that their text stays in the log.)
fn keyed<K: Eq + Hash, V>(by_id: HashMap<i64, V>, key: impl Fn(i64) -> K) -> HashMap<K, V> {
    by_id.into_iter().map(|(id, value)| (key(id), value)).collect()
}

impl Loader<GenresOf> for CatalogLoader {
    type Value = Vec<GenreRow>;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[GenresOf]) -> Loaded<GenresOf, Self::Value> {
        let ids: Vec<i64> = keys.iter().map(|k| k.0).collect();
        let mut conn = self.catalog.conn().await?;
        Ok(keyed(
            repo::genres_of_movies(&mut conn, &ids).await.map_err(AppError::from)?,
            GenresOf,
        ))
    }
}

impl Loader<DirectorsOf> for CatalogLoader {
    type Value = Vec<PersonRow>;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[DirectorsOf]) -> Loaded<DirectorsOf, Self::Value> {
        let ids: Vec<i64> = keys.iter().map(|k| k.0).collect();
        let mut conn = self.catalog.conn().await?;
        Ok(keyed(
            repo::directors_of_movies(&mut conn, &ids)
                .await
                .map_err(AppError::from)?,
            DirectorsOf,
        ))
    }
}

impl Loader<StarsOf> for CatalogLoader {
    type Value = Vec<PersonRow>;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[StarsOf]) -> Loaded<StarsOf, Self::Value> {
        let ids: Vec<i64> = keys.iter().map(|k| k.0).collect();
        let mut conn = self.catalog.conn().await?;
        Ok(keyed(
            repo::stars_of_movies(&mut conn, &ids).await.map_err(AppError::from)?,
            StarsOf,
        ))
    }
}

impl Loader<CertificationId> for CatalogLoader {
    type Value = CertificationRow;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[CertificationId]) -> Loaded<CertificationId, Self::Value> {
        let ids: Vec<i64> = keys.iter().map(|k| k.0).collect();
        let mut conn = self.catalog.conn().await?;
        let rows = repo::certifications_by_ids(&mut conn, &ids)
            .await
            .map_err(AppError::from)?;
        Ok(rows.into_iter().map(|c| (CertificationId(c.id), c)).collect())
    }
}

impl Loader<MovieCountOf> for CatalogLoader {
    type Value = i64;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[MovieCountOf]) -> Loaded<MovieCountOf, Self::Value> {
        let ids: Vec<i64> = keys.iter().map(|k| k.0).collect();
        let mut conn = self.catalog.conn().await?;
        Ok(keyed(
            repo::movie_counts_of_genres(&mut conn, &ids)
                .await
                .map_err(AppError::from)?,
            MovieCountOf,
        ))
    }
}
