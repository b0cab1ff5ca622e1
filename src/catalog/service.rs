//! Catalog rules: what a browse request may ask for, and what a page returns (B2–B6).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::catalog::models::{
    CertificationRow, FieldMatches, GenreRow, MovieCursor, MovieFilter, MovieRow, MovieSort, MovieSortField, PersonRow,
    Reaction, SearchPlan, SearchRank, ViewerState,
};
use crate::catalog::{probe, repo, typos, words};
use crate::db::notify::Content;
use crate::db::{Db, DbConn, now};
use crate::error::{AppError, AppResult};
use crate::graphql::pagination::Total;

const MAX_SEARCH_CHARS: usize = 200;

/// Movie lists count at most this many (see `Catalog::count`).
pub const MOVIE_COUNT_CAP: i64 = 10_000;

/// Searches count at most this many ("1,000+"): a search's probe lists the matching movies up to here, which
/// is what lets a rare word's page be read by id and a common word's page by walking the sort's index (B5).
pub const SEARCH_COUNT_CAP: i64 = 1_000;

/// Search texts shorter than this cannot use a trigram index: they are served by walking the sort's index.
const INDEXED_SEARCH_CHARS: usize = 3;

/// A page of movies, the ids of each one's genres (by movie id; see `Catalog::genres_named`), the filter it was
/// read with (its search planned), and the list's size when the search's probe already counted it.
pub struct MovieList {
    pub rows: Vec<MovieRow>,
    /// Each movie's rank for the search, by movie id, on a page in relevance order (see `SearchRank`).
    pub ranks: HashMap<i64, SearchRank>,
    pub genre_ids: HashMap<i64, Vec<i64>>,
    pub filter: MovieFilter,
    pub total: Option<Total>,
    /// The corrected search text whose matches the page shows, when the text as typed matched nothing.
    pub did_you_mean: Option<String>,
}

/// The catalog handle: cheap to clone; what the catalog's resolvers and loader call.
#[derive(Clone)]
pub struct Catalog {
    db: Db,
    certifications: Arc<KeptTable<CertificationRow>>,
    genres: Arc<KeptTable<GenreRow>>,
}

/// Every certification, by id.
pub type Certifications = Arc<HashMap<i64, CertificationRow>>;

/// Every genre, by id.
pub type Genres = Arc<HashMap<i64, GenreRow>>;

/// A small table that every catalog page names (certifications, genres), kept whole in memory with the public
/// content version it was read under, and read from memory until public content changes. It is read under the
/// version current *before* the read, so a change committed meanwhile makes the copy stale at once; while the
/// version is unknown (PostgreSQL's listener down) nothing is kept.
struct KeptTable<T> {
    copy: Mutex<Option<VersionedCopy<T>>>,
}

/// A table's rows by id, with the public content version they were read under.
type VersionedCopy<T> = (u64, Arc<HashMap<i64, T>>);

impl<T> Default for KeptTable<T> {
    fn default() -> Self {
        KeptTable { copy: Mutex::new(None) }
    }
}

impl<T> KeptTable<T> {
    /// The copy, when it was read under `version`.
    fn get(&self, version: Option<u64>) -> Option<Arc<HashMap<i64, T>>> {
        match (&*self.copy.lock().unwrap_or_else(|p| p.into_inner()), version) {
            (Some((read_under, all)), Some(now)) if *read_under == now => Some(all.clone()),
            _ => None,
        }
    }

    /// Keeps `all`, read under `version`.
    fn keep(&self, version: Option<u64>, all: Arc<HashMap<i64, T>>) {
        if let Some(version) = version {
            *self.copy.lock().unwrap_or_else(|p| p.into_inner()) = Some((version, all));
        }
    }
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
        Catalog {
            db,
            certifications: Arc::default(),
            genres: Arc::default(),
        }
    }

    /// Every certification by id: from memory while public content has not changed since it was read (it is
    /// read under the version current before the read, so a change committed meanwhile makes it stale at
    /// once); from the database otherwise, and whenever the version is unknown.
    pub async fn certifications_by_id(&self) -> AppResult<Certifications> {
        let version = self.db.content_version().version_of(Content::Catalog);
        if let Some(all) = self.certifications.get(version) {
            return Ok(all);
        }
        let mut conn = self.db.conn().await?;
        let rows = repo::all_certifications(&mut conn).await?;
        let all = Arc::new(rows.into_iter().map(|row| (row.id, row)).collect::<HashMap<_, _>>());
        self.certifications.keep(version, all.clone());
        Ok(all)
    }

    /// Every genre by id, kept like the certifications (see `certifications_by_id`); `fresh` reads them again
    /// whatever the version.
    async fn genres_by_id(&self, fresh: bool) -> AppResult<Genres> {
        let version = self.db.content_version().version_of(Content::Catalog);
        if !fresh && let Some(all) = self.genres.get(version) {
            return Ok(all);
        }
        let mut conn = self.db.conn().await?;
        let rows = repo::all_genres(&mut conn).await?;
        let all = Arc::new(rows.into_iter().map(|row| (row.id, row)).collect::<HashMap<_, _>>());
        self.genres.keep(version, all.clone());
        Ok(all)
    }

    /// The genres of a page's movies, from their ids (`MovieList::genre_ids`), each movie's sorted by name: from
    /// memory while public content is unchanged. An id the copy does not know (another instance created the
    /// genre and its notice is on its way) reads the genres again.
    pub async fn genres_named(&self, genre_ids: &HashMap<i64, Vec<i64>>) -> AppResult<HashMap<i64, Vec<GenreRow>>> {
        let mut all = self.genres_by_id(false).await?;
        if genre_ids.values().flatten().any(|id| !all.contains_key(id)) {
            all = self.genres_by_id(true).await?;
        }
        Ok(genre_ids
            .iter()
            .map(|(&movie_id, ids)| {
                let mut named: Vec<GenreRow> = ids.iter().filter_map(|id| all.get(id).cloned()).collect();
                named.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
                (movie_id, named)
            })
            .collect())
    }

    /// Movies matching `filter` in `sort` order: the first `limit` after `after`, in one statement; a search
    /// first probes its indexes (three more statements, see `SearchPlan`), which also counts it.
    pub async fn movies(
        &self,
        mut filter: MovieFilter,
        sort: MovieSort,
        after: Option<&MovieCursor>,
        limit: i64,
    ) -> AppResult<MovieList> {
        check_filter(&filter)?;
        let mut conn = self.db.conn().await?;
        let mut total = None;
        let mut did_you_mean = None;
        if let Some(text) = filter.search.clone().filter(|text| !text.trim().is_empty()) {
            total = plan_search(&mut conn, &mut filter, &text).await?;
            if finds_nothing(&filter) {
                // The typo fallback: the matches of the corrected text, when it has any.
                if let Some(fixed) = correction(&mut conn, &text).await? {
                    let mut instead = MovieFilter {
                        search: Some(fixed.clone()),
                        search_plan: None,
                        ..filter.clone()
                    };
                    let instead_total = plan_search(&mut conn, &mut instead, &fixed).await?;
                    if !finds_nothing(&instead) {
                        (filter, total, did_you_mean) = (instead, instead_total, Some(fixed));
                    }
                }
            }
            if finds_nothing(&filter) {
                return Ok(MovieList {
                    rows: Vec::new(),
                    ranks: HashMap::new(),
                    genre_ids: HashMap::new(),
                    filter,
                    total,
                    did_you_mean: None,
                });
            }
        }
        let searched = filter.search.clone().filter(|text| !text.trim().is_empty());
        let listed = match (sort.field, searched) {
            (MovieSortField::Relevance, Some(text)) => {
                repo::list_movies_by_relevance(&mut conn, &filter, &text, after, limit).await?
            }
            _ => repo::list_movies(&mut conn, &filter, sort, after, limit)
                .await?
                .into_iter()
                .map(|movie| (movie, SearchRank::ExactTitle))
                .collect(),
        };
        let mut ranks = HashMap::with_capacity(listed.len());
        let (rows, genre_ids) = listed
            .into_iter()
            .map(|(movie, rank)| {
                let id = movie.row.id;
                ranks.insert(id, rank);
                (movie.row, (id, movie.genre_ids))
            })
            .unzip();
        Ok(MovieList {
            rows,
            ranks,
            genre_ids,
            filter,
            total,
            did_you_mean,
        })
    }

    /// How many movies match `filter`, up to MOVIE_COUNT_CAP, or SEARCH_COUNT_CAP for a search (asked for
    /// separately: only clients that show a total pay for it). Capped so that a count costs the same at a
    /// million movies as at ten thousand: past the cap the catalog shows "10,000+", which is what a person
    /// reads anyway (B4).
    pub async fn count(&self, filter: &MovieFilter) -> AppResult<Total> {
        let cap = if filter.search.as_deref().is_some_and(|text| !text.trim().is_empty()) {
            SEARCH_COUNT_CAP
        } else {
            MOVIE_COUNT_CAP
        };
        let mut conn = self.db.conn().await?;
        let counted = repo::count_movies_up_to(&mut conn, filter, cap + 1).await?;
        Ok(Total::capped_at(cap, counted))
    }

    /// A movie by its public id; NOT_FOUND when there is none.
    pub async fn movie(&self, uuid: &str) -> AppResult<MovieRow> {
        let mut conn = self.db.conn().await?;
        repo::movie_by_uuid(&mut conn, uuid).await?.ok_or_else(no_such_movie)
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

    /// Suggestions as a shopper types (issue 25): up to `movies` movies whose title contains `text` (the
    /// exact title, titles starting with it, then the others; each rank by popularity) and up to `people`
    /// people whose name contains it, by name. The search's own probe decides how the titles are read. When
    /// more titles contain the text than a search counts, the others are those holding it from a word's start
    /// (`words`, a bounded read; by popularity among those read), as walking the popularity index for them
    /// could cross most of the catalog before the first where matches bunch up (benches/RESULTS.md, issue 25).
    pub async fn suggestions(
        &self,
        text: &str,
        movies: usize,
        people: usize,
    ) -> AppResult<(Vec<MovieRow>, Vec<PersonRow>)> {
        let mut filter = MovieFilter {
            search: Some(text.to_string()),
            ..MovieFilter::default()
        };
        check_filter(&filter)?;
        let Some(pattern) = crate::db::contains_pattern(text) else {
            return Ok((Vec::new(), Vec::new()));
        };
        let mut conn = self.db.conn().await?;
        plan_search(&mut conn, &mut filter, text).await?;
        // Known to be many only when the probe ran (a shorter text is walked without one).
        let probed = text.trim().chars().count() >= INDEXED_SEARCH_CHARS;
        let many_titles =
            probed && matches!(&filter.search_plan, Some(SearchPlan::Scan(fields)) if fields.titles.is_none());
        let word_starts = words::indexed_text(text).filter(|_| many_titles && filter.keeps_every_movie());
        let last = if word_starts.is_some() {
            SearchRank::TitleStart
        } else {
            SearchRank::InTitle
        };
        let mut titles: Vec<MovieRow> = if finds_nothing(&filter) {
            Vec::new()
        } else {
            repo::list_movies_ranked_up_to(&mut conn, &filter, text, None, movies as i64, last)
                .await?
                .into_iter()
                .map(|(movie, _)| movie.row)
                .collect()
        };
        if let Some(lowered) = word_starts.filter(|_| titles.len() < movies) {
            let mut ids = words::titles_with_word_starting(&mut conn, &lowered, 4 * movies as i64).await?;
            ids.sort_unstable();
            ids.dedup();
            ids.retain(|id| titles.iter().all(|title| title.id != *id));
            let listed = MovieFilter {
                search_plan: Some(SearchPlan::Ids(ids, FieldMatches::default())),
                ..filter.clone()
            };
            let popular_first = MovieSort {
                field: MovieSortField::Popularity,
                descending: true,
            };
            let remaining = (movies - titles.len()) as i64;
            let more = repo::list_movies(&mut conn, &listed, popular_first, None, remaining).await?;
            titles.extend(more.into_iter().map(|movie| movie.row));
        }
        let names = repo::people_named(&mut conn, &pattern, people as i64).await?;
        Ok((titles, names))
    }

    /// Up to `first` people whose name contains `text` (any case), by name: for a catalog editor's picker.
    pub async fn people_named(&self, text: &str, first: usize) -> AppResult<Vec<PersonRow>> {
        let Some(pattern) = crate::db::contains_pattern(text) else {
            return Ok(Vec::new());
        };
        let mut conn = self.db.conn().await?;
        Ok(repo::people_named(&mut conn, &pattern, first as i64).await?)
    }

    /// Every certification, by name.
    pub async fn certifications(&self) -> AppResult<Vec<CertificationRow>> {
        let mut conn = self.db.conn().await?;
        Ok(repo::all_certifications(&mut conn).await?)
    }

    /// What `user_id` has to do with each of `movie_ids`, in one statement.
    pub async fn viewer_states(&self, user_id: i64, movie_ids: &[i64]) -> AppResult<HashMap<i64, ViewerState>> {
        let mut conn = self.db.conn().await?;
        Ok(repo::viewer_states(&mut conn, user_id, movie_ids).await?)
    }

    /// B7: adds the movie to, or removes it from, the user's favorites (doing it twice changes nothing).
    pub async fn set_favorite(&self, user_id: i64, movie_uuid: &str, favorite: bool) -> AppResult<MovieRow> {
        let at = now();
        self.db
            .transaction(async |conn| {
                let movie_id = movie_id(conn, movie_uuid).await?;
                if favorite {
                    repo::add_favorite(conn, user_id, movie_id, at).await?;
                } else {
                    repo::remove_favorite(conn, user_id, movie_id).await?;
                }
                movie_row(conn, movie_uuid).await
            })
            .await
    }

    /// B8: sets (or, with None, clears) the user's reaction; the movie's counters change in the same
    /// transaction, by exactly what changed.
    pub async fn react(&self, user_id: i64, movie_uuid: &str, reaction: Option<Reaction>) -> AppResult<MovieRow> {
        let at = now();
        self.db
            .transaction(async |conn| {
                let movie_id = movie_id(conn, movie_uuid).await?;
                match reaction {
                    Some(reaction) => repo::set_reaction(conn, user_id, movie_id, reaction, at).await?,
                    None => repo::clear_reaction(conn, user_id, movie_id).await?,
                }
                // The movie's counters are public.
                movie_row(conn, movie_uuid).await
            })
            .await
    }

    /// B9: sets (or, with None, clears) the user's rating, 1 to 10; the movie's count and sum change in the same
    /// transaction.
    pub async fn rate(&self, user_id: i64, movie_uuid: &str, score: Option<i32>) -> AppResult<MovieRow> {
        if let Some(score) = score
            && !(1..=10).contains(&score)
        {
            return Err(AppError::bad_input("score", "score must be between 1 and 10"));
        }
        let at = now();
        self.db
            .transaction(async |conn| {
                let movie_id = movie_id(conn, movie_uuid).await?;
                match score {
                    Some(score) => repo::set_rating(conn, user_id, movie_id, score, at).await?,
                    None => repo::clear_rating(conn, user_id, movie_id).await?,
                }
                // The movie's average rating is public.
                movie_row(conn, movie_uuid).await
            })
            .await
    }

    /// The database, for the catalog's other rule modules (`moderation`).
    pub(crate) fn db(&self) -> &Db {
        &self.db
    }

    /// The connection the catalog's loader batches its reads on.
    pub(crate) async fn conn(&self) -> AppResult<crate::db::DbConn> {
        self.db.conn().await
    }
}

/// Decides how `filter`'s search (`text`, not blank) is served (`SearchPlan`), probing the search indexes for
/// a text long enough; returns the count when the probe took it.
async fn plan_search(conn: &mut DbConn, filter: &mut MovieFilter, text: &str) -> AppResult<Option<Total>> {
    let (plan, total) = if text.trim().chars().count() < INDEXED_SEARCH_CHARS {
        (SearchPlan::Scan(FieldMatches::default()), None)
    } else {
        let fields = probe::search_probe(conn, filter, text, SEARCH_COUNT_CAP + 1).await?;
        let all = match (&fields.titles, &fields.descriptions, &fields.people) {
            (Some(titles), Some(descriptions), Some(people)) => {
                let mut ids: Vec<i64> = titles.iter().chain(descriptions).chain(people).copied().collect();
                ids.sort_unstable();
                ids.dedup();
                Some(ids).filter(|ids| (ids.len() as i64) <= SEARCH_COUNT_CAP)
            }
            _ => None,
        };
        match all {
            Some(ids) => {
                let total = Total::exact(ids.len() as i64);
                (SearchPlan::Ids(ids, fields), Some(total))
            }
            None => (
                SearchPlan::Scan(fields),
                Some(Total::capped_at(SEARCH_COUNT_CAP, SEARCH_COUNT_CAP + 1)),
            ),
        }
    };
    filter.search_plan = Some(plan);
    Ok(total)
}

/// Whether the search's probe found no movie at all (the page is known to be empty without reading it).
fn finds_nothing(filter: &MovieFilter) -> bool {
    matches!(&filter.search_plan, Some(SearchPlan::Ids(ids, _)) if ids.is_empty())
}

/// The search text with each word the catalog's titles and names do not hold replaced by the closest one
/// they do (issue 25, `typos`); None when no word needs or finds a correction. One statement per word.
async fn correction(conn: &mut DbConn, text: &str) -> AppResult<Option<String>> {
    const CANDIDATES: i64 = 100;
    let mut corrections = Vec::new();
    for word in typos::correctable(text) {
        let candidates = repo::names_sharing_trigrams(conn, &word, CANDIDATES).await?;
        if let Some(fixed) = typos::closest_word(&word, &candidates) {
            corrections.push((word, fixed));
        }
    }
    Ok(typos::corrected(text, &corrections))
}

pub(crate) fn no_such_movie() -> AppError {
    AppError::not_found("no movie has this id")
}

/// The internal id of the movie `uuid` names; NOT_FOUND when there is none.
async fn movie_id(conn: &mut DbConn, uuid: &str) -> AppResult<i64> {
    repo::movie_id_by_uuid(conn, uuid).await?.ok_or_else(no_such_movie)
}

async fn movie_row(conn: &mut DbConn, uuid: &str) -> AppResult<MovieRow> {
    repo::movie_by_uuid(conn, uuid).await?.ok_or_else(no_such_movie)
}
