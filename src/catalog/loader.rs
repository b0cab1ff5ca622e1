//! One DataLoader for every relation a movie list shows, with a key type per relation, so that a page costs a
//! fixed number of statements whatever its length: one per relation, batched over the page's movies.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};

use crate::catalog::Catalog;
use crate::catalog::models::{
    CertificationRow, GenreRow, MovieCursor, MovieFilter, MovieRow, MovieSort, PersonRow, ViewerState,
};
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
/// What a signed-in viewer has to do with a movie (favorite, reaction, rating, purchase, cart).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ViewerStateOf {
    pub user_id: i64,
    pub movie_id: i64,
}
/// The number of movies in a genre (key: the genre's id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MovieCountOf(pub i64);

/// The arguments of a movie list, shared by the keys of every genre listed with them. Keys compare by a
/// canonical text of the arguments, so that one request's genres batch whatever object they came from.
#[derive(Debug)]
pub struct MovieListArgs {
    identity: String,
    pub filter: MovieFilter,
    pub sort: MovieSort,
    pub after: Option<MovieCursor>,
    pub limit: i64,
}

impl MovieListArgs {
    /// `filter` without its genre list (the key names the genre), `sort`, and where the page starts and ends.
    pub fn new(mut filter: MovieFilter, sort: MovieSort, after: Option<MovieCursor>, limit: i64) -> Arc<MovieListArgs> {
        filter.genre_ids.clear();
        Arc::new(MovieListArgs {
            identity: format!("{filter:?}|{sort:?}|{after:?}|{limit}"),
            filter,
            sort,
            after,
            limit,
        })
    }
}

/// One page of a genre's movies (`Genre.movies`); the pages of every genre asked with the same arguments are
/// one statement.
#[derive(Debug, Clone)]
pub struct GenrePage {
    pub genre_id: i64,
    pub args: Arc<MovieListArgs>,
}

/// How many movies of a genre match a filter (`Genre.movies { totalCount }`); one statement per filter.
#[derive(Debug, Clone)]
pub struct CountInGenre {
    pub genre_id: i64,
    pub args: Arc<MovieListArgs>,
}

macro_rules! keyed_by_genre_and_args {
    ($key:ty) => {
        impl PartialEq for $key {
            fn eq(&self, other: &Self) -> bool {
                self.genre_id == other.genre_id && self.args.identity == other.args.identity
            }
        }
        impl Eq for $key {}
        impl Hash for $key {
            fn hash<H: Hasher>(&self, state: &mut H) {
                self.genre_id.hash(state);
                self.args.identity.hash(state);
            }
        }
    };
}
keyed_by_genre_and_args!(GenrePage);
keyed_by_genre_and_args!(CountInGenre);

/// Keys grouped by their arguments: one statement per group.
fn by_args<K>(keys: &[K], parts: impl Fn(&K) -> (i64, &Arc<MovieListArgs>)) -> Vec<(Arc<MovieListArgs>, Vec<i64>)> {
    let mut groups: HashMap<&str, (Arc<MovieListArgs>, Vec<i64>)> = HashMap::new();
    for key in keys {
        let (genre_id, args) = parts(key);
        groups
            .entry(args.identity.as_str())
            .or_insert_with(|| (args.clone(), Vec::new()))
            .1
            .push(genre_id);
    }
    groups.into_values().collect()
}

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

    /// From the catalog's copy of every certification (no statement while public content is unchanged).
    async fn load(&self, keys: &[CertificationId]) -> Loaded<CertificationId, Self::Value> {
        let all = self.catalog.certifications_by_id().await?;
        Ok(keys
            .iter()
            .filter_map(|key| all.get(&key.0).map(|row| (*key, row.clone())))
            .collect())
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

impl Loader<GenrePage> for CatalogLoader {
    type Value = Vec<MovieRow>;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[GenrePage]) -> Loaded<GenrePage, Self::Value> {
        let mut conn = self.catalog.conn().await?;
        let mut pages = HashMap::new();
        for (args, genre_ids) in by_args(keys, |key| (key.genre_id, &key.args)) {
            let rows = repo::movie_pages_of_genres(
                &mut conn,
                &genre_ids,
                &args.filter,
                args.sort,
                args.after.as_ref(),
                args.limit,
            )
            .await
            .map_err(AppError::from)?;
            for genre_id in &genre_ids {
                pages.insert(
                    GenrePage {
                        genre_id: *genre_id,
                        args: args.clone(),
                    },
                    Vec::new(),
                );
            }
            for (genre_id, movie) in rows {
                if let Some(page) = pages.get_mut(&GenrePage {
                    genre_id,
                    args: args.clone(),
                }) {
                    page.push(movie);
                }
            }
        }
        Ok(pages)
    }
}

impl Loader<CountInGenre> for CatalogLoader {
    type Value = i64;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[CountInGenre]) -> Loaded<CountInGenre, Self::Value> {
        let mut conn = self.catalog.conn().await?;
        let mut counts = HashMap::new();
        for (args, genre_ids) in by_args(keys, |key| (key.genre_id, &key.args)) {
            let found = repo::movie_counts_in_genres(&mut conn, &genre_ids, &args.filter)
                .await
                .map_err(AppError::from)?;
            for genre_id in genre_ids {
                let count = found.get(&genre_id).copied().unwrap_or(0);
                counts.insert(
                    CountInGenre {
                        genre_id,
                        args: args.clone(),
                    },
                    count,
                );
            }
        }
        Ok(counts)
    }
}

impl Loader<ViewerStateOf> for CatalogLoader {
    type Value = ViewerState;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[ViewerStateOf]) -> Loaded<ViewerStateOf, Self::Value> {
        // One viewer per request in practice; grouped anyway so that the key says what it means.
        let mut by_user: HashMap<i64, Vec<i64>> = HashMap::new();
        for key in keys {
            by_user.entry(key.user_id).or_default().push(key.movie_id);
        }
        let mut states = HashMap::new();
        for (user_id, movie_ids) in by_user {
            let found = self.catalog.viewer_states(user_id, &movie_ids).await?;
            for movie_id in movie_ids {
                let state = found.get(&movie_id).copied().unwrap_or_default();
                states.insert(ViewerStateOf { user_id, movie_id }, state);
            }
        }
        Ok(states)
    }
}
