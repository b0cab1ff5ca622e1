//! DataLoaders for every relation a movie list shows, so a page costs a fixed number of statements
//! whatever its length: one per relation, batched over the page's movies.

use std::collections::HashMap;

use async_graphql::dataloader::Loader;

use crate::catalog::models::{CertificationRow, GenreRow, PersonRow};
use crate::catalog::repo;
use crate::db::Db;

/// Keys: movie ids. Values: that movie's genres.
pub struct GenresOfMovie(pub Db);
/// Keys: movie ids. Values: that movie's directors.
pub struct DirectorsOfMovie(pub Db);
/// Keys: movie ids. Values: that movie's stars, in billing order.
pub struct StarsOfMovie(pub Db);
/// Keys: certification ids.
pub struct CertificationById(pub Db);
/// Keys: genre ids. Values: number of movies in the genre.
pub struct MovieCountOfGenre(pub Db);

type LoadResult<V> = Result<HashMap<i64, V>, async_graphql::Error>;

impl Loader<i64> for GenresOfMovie {
    type Value = Vec<GenreRow>;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[i64]) -> LoadResult<Self::Value> {
        Ok(repo::genres_of_movies(&self.0, keys).await?)
    }
}

impl Loader<i64> for DirectorsOfMovie {
    type Value = Vec<PersonRow>;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[i64]) -> LoadResult<Self::Value> {
        Ok(repo::directors_of_movies(&self.0, keys).await?)
    }
}

impl Loader<i64> for StarsOfMovie {
    type Value = Vec<PersonRow>;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[i64]) -> LoadResult<Self::Value> {
        Ok(repo::stars_of_movies(&self.0, keys).await?)
    }
}

impl Loader<i64> for CertificationById {
    type Value = CertificationRow;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[i64]) -> LoadResult<Self::Value> {
        Ok(repo::certifications_by_ids(&self.0, keys)
            .await?
            .into_iter()
            .map(|c| (c.id, c))
            .collect())
    }
}

impl Loader<i64> for MovieCountOfGenre {
    type Value = i64;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[i64]) -> LoadResult<Self::Value> {
        Ok(repo::movie_counts_of_genres(&self.0, keys).await?)
    }
}

/// The catalog's loaders for one request (a DataLoader caches for the request's lifetime only).
pub struct CatalogLoaders {
    pub genres: async_graphql::dataloader::DataLoader<GenresOfMovie, async_graphql::dataloader::HashMapCache>,
    pub directors: async_graphql::dataloader::DataLoader<DirectorsOfMovie, async_graphql::dataloader::HashMapCache>,
    pub stars: async_graphql::dataloader::DataLoader<StarsOfMovie, async_graphql::dataloader::HashMapCache>,
    pub certifications:
        async_graphql::dataloader::DataLoader<CertificationById, async_graphql::dataloader::HashMapCache>,
    pub genre_movie_counts:
        async_graphql::dataloader::DataLoader<MovieCountOfGenre, async_graphql::dataloader::HashMapCache>,
}

impl CatalogLoaders {
    pub fn new(db: &Db) -> Self {
        use async_graphql::dataloader::{DataLoader, HashMapCache};
        // A per-request cache: what `prefetch_relations` loaded for a page is what the movies' resolvers read.
        CatalogLoaders {
            genres: DataLoader::with_cache(GenresOfMovie(db.clone()), tokio::spawn, HashMapCache::default()),
            directors: DataLoader::with_cache(DirectorsOfMovie(db.clone()), tokio::spawn, HashMapCache::default()),
            stars: DataLoader::with_cache(StarsOfMovie(db.clone()), tokio::spawn, HashMapCache::default()),
            certifications: DataLoader::with_cache(
                CertificationById(db.clone()),
                tokio::spawn,
                HashMapCache::default(),
            ),
            genre_movie_counts: DataLoader::with_cache(
                MovieCountOfGenre(db.clone()),
                tokio::spawn,
                HashMapCache::default(),
            ),
        }
    }
}
