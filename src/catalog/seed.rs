//! Catalog loading: the demo catalog a new user sees at once (G10), and a large synthetic catalog for
//! benchmarks. Both go through `insert_catalog`, which writes in batches inside one transaction per call.

use std::collections::{BTreeSet, HashMap};

use diesel::prelude::{Insertable, QueryDsl};
use serde::Deserialize;

use crate::catalog::models::{NewMovie, NewMovieDirector, NewMovieGenre, NewMovieStar};
use crate::db::schema::{
    certifications, genres, movie_directors, movie_genres, movie_stars, movie_title_words, movies, people,
};
use crate::db::{Db, DbConn, now};
use crate::error::{AppError, AppResult};

/// The demo catalog: real, well-known movies with their facts; descriptions written for this project.
const DEMO_CATALOG: &str = include_str!("../../data/demo_catalog.json");

/// One movie to load, with its relations by name.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogEntry {
    pub name: String,
    pub year: i32,
    /// Minutes.
    pub duration: i32,
    pub certification: String,
    pub genres: Vec<String>,
    pub directors: Vec<String>,
    pub stars: Vec<String>,
    pub imdb: f64,
    pub votes: i64,
    pub meta: Option<i32>,
    /// Box-office gross in whole US dollars.
    pub gross: Option<i64>,
    /// Price in cents (USD).
    pub price: i64,
    pub description: String,
}

pub fn demo_entries() -> Vec<CatalogEntry> {
    serde_json::from_str(DEMO_CATALOG).expect("data/demo_catalog.json is valid (checked by a test)")
}

/// Seeds the demo catalog when the catalog is empty; returns how many movies were added.
pub async fn seed_demo_if_empty(db: &Db) -> AppResult<usize> {
    // Two instances starting together on an empty database would both find it empty: one seeds at a time.
    crate::db::migrate::one_instance_at_a_time(db, async || {
        if movie_count(db).await? > 0 {
            return Ok(0);
        }
        Ok(insert_catalog(db, &demo_entries()).await?)
    })
    .await
    .map_err(AppError::internal)
}

async fn movie_count(db: &Db) -> AppResult<i64> {
    use diesel_async::RunQueryDsl;
    let mut conn = db.conn().await?;
    Ok(crate::per_backend!(&mut conn, |c| movies::table
        .count()
        .get_result(c)
        .await)?)
}

/// Rows per INSERT: well under SQLite's and PostgreSQL's bind-parameter limits.
const MOVIE_BATCH: usize = 500;
const LINK_BATCH: usize = 5000;

#[derive(Insertable)]
#[diesel(table_name = genres)]
struct NewGenre<'a> {
    name: &'a str,
}

#[derive(Insertable)]
#[diesel(table_name = people)]
struct NewPerson<'a> {
    name: &'a str,
}

#[derive(Insertable)]
#[diesel(table_name = certifications)]
struct NewCertification<'a> {
    name: &'a str,
}

/// What `insert_catalog` writes, prepared before the transaction starts.
struct CatalogPlan {
    entries: Vec<CatalogEntry>,
    movies: Vec<NewMovie>,
    certification_names: BTreeSet<String>,
    genre_names: BTreeSet<String>,
    person_names: BTreeSet<String>,
}

impl CatalogPlan {
    fn new(entries: &[CatalogEntry]) -> CatalogPlan {
        let created = now();
        CatalogPlan {
            certification_names: entries.iter().map(|e| e.certification.clone()).collect(),
            genre_names: entries.iter().flat_map(|e| e.genres.iter().cloned()).collect(),
            person_names: entries
                .iter()
                .flat_map(|e| e.directors.iter().chain(e.stars.iter()).cloned())
                .collect(),
            movies: entries
                .iter()
                .map(|e| NewMovie {
                    uuid: uuid::Uuid::new_v4().to_string(),
                    name: e.name.clone(),
                    year: e.year,
                    duration_minutes: e.duration,
                    imdb_score: e.imdb,
                    votes: e.votes,
                    meta_score: e.meta,
                    gross_cents: e.gross.map(|dollars| dollars.saturating_mul(100)),
                    description: e.description.clone(),
                    price_cents: e.price,
                    currency: "USD".into(),
                    certification_id: 0,
                    created_at: created,
                    updated_at: created,
                })
                .collect(),
            entries: entries.to_vec(),
        }
    }
}

/// The body of `insert_catalog`, written once and expanded twice: with `.await` on PostgreSQL (diesel-async),
/// and synchronously on SQLite, where diesel's multi-row INSERT exists only for the blocking connection.
macro_rules! insert_plan {
    ($conn:ident, $plan:expr, $run:ident) => {{
        let plan: &CatalogPlan = $plan;
        let existing: BTreeSet<String> =
            $run!(certifications::table.select(certifications::name).load::<String>($conn))?
                .into_iter()
                .collect();
        let missing: Vec<NewCertification> = plan
            .certification_names
            .iter()
            .filter(|n| !existing.contains(*n))
            .map(|name| NewCertification { name })
            .collect();
        if !missing.is_empty() {
            $run!(
                diesel::insert_into(certifications::table)
                    .values(&missing)
                    .execute($conn)
            )?;
        }
        let certification_ids: HashMap<String, i64> = $run!(
            certifications::table
                .select((certifications::name, certifications::id))
                .load::<(String, i64)>($conn)
        )?
        .into_iter()
        .collect();

        let existing: BTreeSet<String> = $run!(genres::table.select(genres::name).load::<String>($conn))?
            .into_iter()
            .collect();
        let missing: Vec<NewGenre> = plan
            .genre_names
            .iter()
            .filter(|n| !existing.contains(*n))
            .map(|name| NewGenre { name })
            .collect();
        for chunk in missing.chunks(LINK_BATCH) {
            $run!(diesel::insert_into(genres::table).values(chunk).execute($conn))?;
        }
        let genre_ids: HashMap<String, i64> = $run!(
            genres::table
                .select((genres::name, genres::id))
                .load::<(String, i64)>($conn)
        )?
        .into_iter()
        .collect();

        let existing: BTreeSet<String> = $run!(people::table.select(people::name).load::<String>($conn))?
            .into_iter()
            .collect();
        let missing: Vec<NewPerson> = plan
            .person_names
            .iter()
            .filter(|n| !existing.contains(*n))
            .map(|name| NewPerson { name })
            .collect();
        for chunk in missing.chunks(LINK_BATCH) {
            $run!(diesel::insert_into(people::table).values(chunk).execute($conn))?;
        }
        let person_ids: HashMap<String, i64> = $run!(
            people::table
                .select((people::name, people::id))
                .load::<(String, i64)>($conn)
        )?
        .into_iter()
        .collect();

        let mut genre_links = Vec::new();
        let mut director_links = Vec::new();
        let mut star_links = Vec::new();
        let mut title_words = Vec::new();
        for (chunk_index, chunk) in plan.movies.chunks(MOVIE_BATCH).enumerate() {
            let chunk_entries = &plan.entries[chunk_index * MOVIE_BATCH..];
            let rows: Vec<NewMovie> = chunk
                .iter()
                .zip(chunk_entries)
                .map(|(movie, entry)| NewMovie {
                    certification_id: certification_ids[&entry.certification],
                    ..movie.clone()
                })
                .collect();
            let inserted: Vec<(i64, String)> = $run!(
                diesel::insert_into(movies::table)
                    .values(&rows)
                    .returning((movies::id, movies::uuid))
                    .get_results($conn)
            )?;
            let id_of: HashMap<String, i64> = inserted.into_iter().map(|(id, uuid)| (uuid, id)).collect();
            for (movie, entry) in rows.iter().zip(chunk_entries) {
                let movie_id = id_of[&movie.uuid];
                title_words.extend(crate::catalog::words::title_words(movie_id, &movie.name));
                let unique_genres: BTreeSet<&String> = entry.genres.iter().collect();
                genre_links.extend(unique_genres.into_iter().map(|g| NewMovieGenre {
                    movie_id,
                    genre_id: genre_ids[g],
                }));
                let unique_directors: BTreeSet<&String> = entry.directors.iter().collect();
                director_links.extend(unique_directors.into_iter().map(|d| NewMovieDirector {
                    movie_id,
                    person_id: person_ids[d],
                }));
                let mut seen = BTreeSet::new();
                for (order, star) in entry.stars.iter().enumerate() {
                    if seen.insert(star) {
                        star_links.push(NewMovieStar {
                            movie_id,
                            person_id: person_ids[star],
                            billing_order: order as i32,
                        });
                    }
                }
            }
        }
        for chunk in genre_links.chunks(LINK_BATCH) {
            $run!(diesel::insert_into(movie_genres::table).values(chunk).execute($conn))?;
        }
        for chunk in director_links.chunks(LINK_BATCH) {
            $run!(diesel::insert_into(movie_directors::table).values(chunk).execute($conn))?;
        }
        for chunk in star_links.chunks(LINK_BATCH) {
            $run!(diesel::insert_into(movie_stars::table).values(chunk).execute($conn))?;
        }
        for chunk in title_words.chunks(LINK_BATCH) {
            $run!(
                diesel::insert_into(movie_title_words::table)
                    .values(chunk)
                    .execute($conn)
            )?;
        }
        Ok::<usize, diesel::result::Error>(plan.movies.len())
    }};
}

macro_rules! awaited {
    ($e:expr) => {
        $e.await
    };
}

macro_rules! blocking {
    ($e:expr) => {
        $e
    };
}

/// Inserts `entries` with their certifications, genres and people (created when missing), in one transaction.
/// A movie that breaks a rule (say, a duplicate name/year/duration) fails the whole call and changes nothing.
///
/// A bulk load owns its transaction rather than joining the caller's: SQLite's multi-row INSERT exists only
/// on diesel's blocking connection, so there the whole load runs as one blocking task (the backends differ on
/// purpose here).
pub async fn insert_catalog(db: &Db, entries: &[CatalogEntry]) -> AppResult<usize> {
    let plan = CatalogPlan::new(entries);
    let inserted = match db.conn().await? {
        DbConn::Postgres(mut pooled) => {
            use diesel_async::{AsyncConnection, RunQueryDsl};
            let conn: &mut diesel_async::AsyncPgConnection = &mut pooled;
            conn.transaction(async |conn: &mut diesel_async::AsyncPgConnection| insert_plan!(conn, &plan, awaited))
                .await?
        }
        DbConn::Sqlite(mut pooled) => {
            use diesel::RunQueryDsl;
            pooled
                .spawn_blocking(move |conn: &mut diesel::SqliteConnection| {
                    conn.immediate_transaction(|conn| insert_plan!(conn, &plan, blocking))
                })
                .await?
        }
    };
    Ok(inserted)
}

/// A deterministic generator (splitmix64), so a synthetic catalog of a given size is the same every time.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a>(&mut self, items: &'a [&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

const ADJECTIVES: &[&str] = &[
    "Silent", "Crimson", "Last", "Hidden", "Electric", "Golden", "Broken", "Midnight", "Frozen", "Wild", "Lost",
    "Burning", "Distant", "Secret", "Iron", "Velvet", "Hollow", "Endless", "Paper", "Glass",
];
const NOUNS: &[&str] = &[
    "River", "Empire", "Garden", "Signal", "Harbor", "Machine", "Kingdom", "Letter", "Horizon", "Station", "Orchard",
    "Mirror", "Frontier", "Lantern", "Voyage", "Citadel", "Echo", "Meadow", "Tide", "Compass",
];
const FIRST_NAMES: &[&str] = &[
    "Ava", "Ben", "Chloe", "Daniel", "Elena", "Felix", "Grace", "Hugo", "Iris", "Jonah", "Kira", "Leo", "Maya", "Noah",
    "Olive", "Pablo", "Quinn", "Rosa", "Samir", "Tessa", "Umar", "Vera", "Wes", "Xenia", "Yusuf", "Zoe",
];
const LAST_NAMES: &[&str] = &[
    "Abbott",
    "Brennan",
    "Castillo",
    "Dubois",
    "Eriksen",
    "Fontaine",
    "Gallo",
    "Hartmann",
    "Ibarra",
    "Jensen",
    "Kowalski",
    "Lindqvist",
    "Moreau",
    "Nakamura",
    "Okafor",
    "Petrov",
    "Quintero",
    "Rossi",
    "Sato",
    "Tanaka",
];
const SYNTHETIC_GENRES: &[&str] = &[
    "Action",
    "Adventure",
    "Animation",
    "Biography",
    "Comedy",
    "Crime",
    "Drama",
    "Family",
    "Fantasy",
    "History",
    "Horror",
    "Music",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Sport",
    "Thriller",
    "War",
    "Western",
];
const CERTIFICATIONS: &[&str] = &["G", "PG", "PG-13", "R", "NC-17"];

/// `count` generated movies numbered from `first_number`; names carry the number, so they never collide.
pub fn synthetic_entries(first_number: u64, count: usize) -> Vec<CatalogEntry> {
    let mut rng = SplitMix(first_number.wrapping_mul(0x2545_F491_4F6C_DD1D) ^ 0xC1_4E_4A);
    let people_pool = (count as u64 / 4).clamp(200, 50_000);
    let person = |rng: &mut SplitMix| {
        let n = rng.below(people_pool);
        let first = FIRST_NAMES[(n % FIRST_NAMES.len() as u64) as usize];
        let last = LAST_NAMES[((n / FIRST_NAMES.len() as u64) % LAST_NAMES.len() as u64) as usize];
        let generation = n / (FIRST_NAMES.len() * LAST_NAMES.len()) as u64;
        if generation == 0 {
            format!("{first} {last}")
        } else {
            format!("{first} {last} {}", generation + 1)
        }
    };
    (0..count as u64)
        .map(|i| {
            let number = first_number + i;
            let genre_count = 1 + rng.below(3) as usize;
            let genres = (0..genre_count)
                .map(|_| rng.pick(SYNTHETIC_GENRES).to_string())
                .collect();
            let directors = (0..1 + rng.below(2)).map(|_| person(&mut rng)).collect();
            let stars = (0..2 + rng.below(3)).map(|_| person(&mut rng)).collect();
            CatalogEntry {
                name: format!("The {} {} No. {number}", rng.pick(ADJECTIVES), rng.pick(NOUNS)),
                year: 1950 + rng.below(76) as i32,
                duration: 75 + rng.below(110) as i32,
                certification: rng.pick(CERTIFICATIONS).to_string(),
                genres,
                directors,
                stars,
                imdb: (10 + rng.below(86)) as f64 / 10.0,
                votes: rng.below(2_000_000) as i64,
                meta: (rng.below(4) > 0).then(|| 20 + rng.below(80) as i32),
                gross: (rng.below(3) > 0).then(|| rng.below(900_000_000) as i64),
                price: 199 + 50 * rng.below(40) as i64,
                description: "A generated movie for load tests of the catalog.".into(),
            }
        })
        .collect()
}

/// Adds `count` synthetic movies in batches of 10,000 (one transaction each), numbered after those already there.
pub async fn seed_synthetic(db: &Db, count: usize) -> AppResult<usize> {
    const BATCH: usize = 10_000;
    let existing = movie_count(db).await?;
    let mut inserted = 0;
    while inserted < count {
        let n = BATCH.min(count - inserted);
        let entries = synthetic_entries(existing as u64 + inserted as u64 + 1, n);
        inserted += insert_catalog(db, &entries).await?;
        tracing::info!(inserted, of = count, "synthetic catalog");
    }
    // Fresh statistics after a bulk load, so the planner picks the catalog's indexes, and the search indexes
    // compacted as they would be after a while in service: PostgreSQL's vacuum sets the visibility map that
    // index-only reads need; SQLite's FTS5 tables merge the segments each batch wrote.
    let mut conn = db.conn().await?;
    match &mut conn {
        crate::db::DbConn::Postgres(c) => {
            use diesel_async::RunQueryDsl;
            diesel::sql_query("VACUUM ANALYZE").execute(&mut **c).await?;
        }
        crate::db::DbConn::Sqlite(c) => {
            use diesel_async::RunQueryDsl;
            for statement in [
                "INSERT INTO movies_fts (movies_fts) VALUES ('optimize')",
                "INSERT INTO people_fts (people_fts) VALUES ('optimize')",
                "ANALYZE",
            ] {
                diesel::sql_query(statement).execute(&mut **c).await?;
            }
        }
    }
    Ok(inserted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_catalog_is_complete_and_valid() {
        let movies = demo_entries();
        assert!(movies.len() >= 100, "{} movies", movies.len());
        let mut keys = BTreeSet::new();
        for m in &movies {
            assert!(
                keys.insert((m.name.clone(), m.year, m.duration)),
                "duplicate {}",
                m.name
            );
            assert!((1870..=2100).contains(&m.year), "{}", m.name);
            assert!((1..=1440).contains(&m.duration), "{}", m.name);
            assert!((0.0..=10.0).contains(&m.imdb), "{}", m.name);
            assert!(m.meta.is_none_or(|s| (0..=100).contains(&s)), "{}", m.name);
            assert!(
                m.price > 0 && !m.genres.is_empty() && !m.directors.is_empty() && !m.stars.is_empty(),
                "{}",
                m.name
            );
            assert!(
                CERTIFICATIONS.contains(&m.certification.as_str()) || m.certification == "Not Rated",
                "{}",
                m.name
            );
            assert!(!m.description.is_empty() && m.description.len() < 300, "{}", m.name);
        }
    }

    #[test]
    fn synthetic_entries_are_deterministic_and_unique() {
        let a = synthetic_entries(1, 500);
        let b = synthetic_entries(1, 500);
        assert_eq!(
            a.iter().map(|m| &m.name).collect::<Vec<_>>(),
            b.iter().map(|m| &m.name).collect::<Vec<_>>()
        );
        let names: BTreeSet<&String> = a.iter().map(|m| &m.name).collect();
        assert_eq!(names.len(), 500);
    }
}
