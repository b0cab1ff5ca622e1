//! A search's probe (B5, issue 25): before a search page is read, which movies match the text field by field
//! (title, description, people), each list given up past a limit. Its answer decides how the page is read
//! (`SearchPlan`) and what `totalCount` says.
//!
//! The exact lists come from the search indexes (trigrams). Those gather every posting of a text's trigrams
//! before the first row, so a common text costs its whole list whatever the limit (benches/RESULTS.md,
//! issue 25). Where nothing but the search filters the catalog, reads that stop at their limit answer
//! first: the titles' word starts (`words`), read in order, show a common title text after `limit` entries
//! (the trigram read then never runs); and a person's movies are read from the cast's and crew's indexes,
//! which stop at the limit, where the same list as a condition on movies was gathered whole.

use diesel::QueryResult;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::catalog::models::{FieldMatches, MovieFilter, TitleStarts};
use crate::catalog::repo::{MovieQueries, MovieText, fts_phrase};
use crate::catalog::words;
use crate::db::schema::movies;
use crate::db::{DbConn, FixedBind, fixed_query};
use crate::per_backend;

/// What a quick read learned of one field's matches.
#[derive(Debug, PartialEq, Eq)]
enum Quick {
    /// More than the probe lists.
    More,
    /// All of them.
    All(Vec<i64>),
    /// Nothing certain: ask the search index.
    Unknown,
}

/// The movies matching `filter` (its own search ignored) whose title, description or people contain `text`
/// (three characters or more), field by field: each list is None past `limit - 1` movies.
pub async fn search_probe(
    conn: &mut DbConn,
    filter: &MovieFilter,
    text: &str,
    limit: i64,
) -> QueryResult<FieldMatches> {
    let unsearched = MovieFilter {
        search: None,
        search_plan: None,
        ..filter.clone()
    };
    let quick = unsearched.keeps_every_movie();
    let titles = match words::indexed_text(text).filter(|_| quick) {
        Some(lowered) => titles_matching(conn, &lowered, text, limit).await?,
        None => indexed_titles(conn, &unsearched, text, limit).await?,
    };
    let quick_people = if quick {
        people_movies(conn, text, limit).await?
    } else {
        Quick::Unknown
    };
    let (titles, title_starts) = listed_titles(titles, text, limit);
    let descriptions = indexed(conn, &unsearched, Field::Movie(MovieText::Description), text, limit).await?;
    let people = match quick_people {
        Quick::Unknown => indexed(conn, &unsearched, Field::People, text, limit).await?,
        quick => quick,
    };
    let listed = |quick: Quick| match quick {
        Quick::All(ids) => Some(ids),
        _ => None,
    };
    Ok(FieldMatches {
        titles,
        descriptions: listed(descriptions),
        people: listed(people),
        title_starts,
    })
}

/// A title the probe read: its id and title (the id -1 says "more than the limit").
#[derive(diesel::QueryableByName)]
struct ListedTitle {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    movie_id: i64,
    #[diesel(sql_type = diesel::sql_types::Text)]
    name: String,
}

/// The titles' list (None past `limit - 1`) and what it may hold at the start.
fn listed_titles(read: Vec<ListedTitle>, text: &str, limit: i64) -> (Option<Vec<i64>>, TitleStarts) {
    if read.len() as i64 >= limit || read.iter().any(|title| title.movie_id < 0) {
        return (None, TitleStarts::default());
    }
    let starts = TitleStarts::of(text, read.iter().map(|title| title.name.as_str()));
    (Some(read.into_iter().map(|title| title.movie_id).collect()), starts)
}

/// The titles matching `text` within `filter`, through the title search index, at most `limit`.
async fn indexed_titles(
    conn: &mut DbConn,
    filter: &MovieFilter,
    text: &str,
    limit: i64,
) -> QueryResult<Vec<ListedTitle>> {
    let rows: Vec<(i64, String)> = per_backend!(conn, |c| {
        let query = movies_with(filter, Field::Movie(MovieText::Title), text);
        query.select((movies::id, movies::name)).limit(limit).load(c).await
    })?;
    Ok(rows
        .into_iter()
        .map(|(movie_id, name)| ListedTitle { movie_id, name })
        .collect())
}

/// A field the search indexes serve.
#[derive(Debug, Clone, Copy)]
enum Field {
    Movie(MovieText),
    People,
}

/// One field's matches through its search index, within `filter`: `All` below `limit`, else `More`.
async fn indexed(conn: &mut DbConn, filter: &MovieFilter, field: Field, text: &str, limit: i64) -> QueryResult<Quick> {
    let ids: Vec<i64> = per_backend!(conn, |c| {
        let query = movies_with(filter, field, text);
        query.select(movies::id).limit(limit).load(c).await
    })?;
    Ok(if (ids.len() as i64) < limit {
        Quick::All(ids)
    } else {
        Quick::More
    })
}

fn movies_with<'a, DB: MovieQueries>(filter: &MovieFilter, field: Field, text: &str) -> movies::BoxedQuery<'a, DB> {
    match field {
        Field::Movie(text_field) => DB::field_containing(DB::movies_matching(filter), text_field, text),
        Field::People => DB::people_containing(DB::movies_matching(filter), text),
    }
}

/// The titles matching `text` where nothing else filters the catalog: the single row of id -1 when at least
/// `limit` titles hold it from a word's start (they all match the search; read from the titles' word starts,
/// which stops there), otherwise up to `limit` titles from the title search index (the search also matches
/// inside words). On PostgreSQL one statement: the index's read sits behind a condition on the first read's
/// count, decided once before reading (a one-time filter), so a common text never gathers its trigram
/// postings and a rare one costs one round trip, not two. On SQLite two statements (see there).
async fn titles_matching(conn: &mut DbConn, lowered: &str, text: &str, limit: i64) -> QueryResult<Vec<ListedTitle>> {
    use diesel::sql_types::{BigInt, Text};
    match conn {
        DbConn::Postgres(c) => {
            const PIECES: &[&str] = &[
                "WITH starts AS MATERIALIZED (SELECT count(DISTINCT movie_id) AS n FROM \
                   (SELECT movie_id FROM movie_title_words WHERE suffix >= ",
                " AND suffix < ",
                " LIMIT ",
                ") AS s) SELECT CAST(-1 AS BIGINT) AS movie_id, '' AS name FROM starts WHERE n >= ",
                " UNION ALL (SELECT id AS movie_id, name FROM movies WHERE lower(name) LIKE ",
                " ESCAPE '\\' AND (SELECT n FROM starts) < ",
                " LIMIT ",
                ")",
            ];
            let binds = vec![
                FixedBind::Text(lowered.to_string()),
                FixedBind::Text(format!("{lowered}{}", char::MAX)),
                FixedBind::BigInt(2 * limit),
                FixedBind::BigInt(limit),
                FixedBind::Text(crate::db::contains_pattern(text).unwrap_or_default()),
                FixedBind::BigInt(limit),
                FixedBind::BigInt(limit),
            ];
            let rows: Vec<(i64, String)> = fixed_query::<(BigInt, Text)>(PIECES, binds).load(&mut **c).await?;
            Ok(rows
                .into_iter()
                .map(|(movie_id, name)| ListedTitle { movie_id, name })
                .collect())
        }
        DbConn::Sqlite(_) => {
            // Two statements here: in-process, a statement costs no round trip; and SQLite (3.51, with stat4
            // statistics) refused the one-statement form on a million analyzed movies ("SELECTs to the left
            // and right of UNION ALL do not have the same number of result columns"), though it took it on
            // smaller catalogs.
            let mut starts = words::titles_with_word_starting(conn, lowered, 2 * limit).await?;
            starts.sort_unstable();
            starts.dedup();
            if starts.len() as i64 >= limit {
                return Ok(vec![ListedTitle {
                    movie_id: -1,
                    name: String::new(),
                }]);
            }
            indexed_titles(conn, &MovieFilter::default(), text, limit).await
        }
    }
}

/// The movies of every star and director whose name contains `text` (three characters or more), read from the
/// cast's and crew's `(person_id, movie_id)` indexes after the people's search index, stopping after
/// `2 * limit` rows (one statement): `All` or `More` when that settles it, `Unknown` when the rows ran past
/// what was read without `limit` distinct movies (a movie counts once per person named so, and per role).
async fn people_movies(conn: &mut DbConn, text: &str, limit: i64) -> QueryResult<Quick> {
    use diesel::sql_types::BigInt;
    let rows = 2 * limit;
    let Some(pattern) = crate::db::contains_pattern(text) else {
        return Ok(Quick::All(Vec::new()));
    };
    let read: Vec<i64> = match conn {
        DbConn::Postgres(c) => {
            const PIECES: &[&str] = &[
                "SELECT movie_id FROM movie_stars WHERE person_id IN \
                   (SELECT id FROM people WHERE lower(name) LIKE ",
                " ESCAPE '\\') UNION ALL SELECT movie_id FROM movie_directors WHERE person_id IN \
                   (SELECT id FROM people WHERE lower(name) LIKE ",
                " ESCAPE '\\') LIMIT ",
            ];
            let binds = vec![
                FixedBind::Text(pattern.clone()),
                FixedBind::Text(pattern),
                FixedBind::BigInt(rows),
            ];
            fixed_query::<BigInt>(PIECES, binds).load(&mut **c).await?
        }
        DbConn::Sqlite(c) => {
            const PIECES: &[&str] = &[
                "SELECT movie_id FROM movie_stars WHERE person_id IN \
                   (SELECT rowid FROM people_fts WHERE people_fts MATCH ",
                ") UNION ALL SELECT movie_id FROM movie_directors WHERE person_id IN \
                   (SELECT rowid FROM people_fts WHERE people_fts MATCH ",
                ") LIMIT ",
            ];
            let phrase = fts_phrase(text);
            let binds = vec![
                FixedBind::Text(phrase.clone()),
                FixedBind::Text(phrase),
                FixedBind::BigInt(rows),
            ];
            fixed_query::<BigInt>(PIECES, binds).load(&mut **c).await?
        }
    };
    let complete = (read.len() as i64) < rows;
    let mut ids = read;
    ids.sort_unstable();
    ids.dedup();
    Ok(if ids.len() as i64 >= limit {
        Quick::More
    } else if complete {
        Quick::All(ids)
    } else {
        Quick::Unknown
    })
}
