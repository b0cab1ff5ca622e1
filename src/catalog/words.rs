//! The titles' word starts (issue 25, migration 000018): each title, lower-cased, from the start of each of
//! its words, in a B-tree (`movie_title_words`). A search text that is a prefix of one of these is held by
//! the title from a word's start; a range read of the index lists those titles and stops after a count, so
//! it tells a common word from a rare one at a fixed cost, where a trigram index first gathers every posting
//! of the text's trigrams. The search still matches a text anywhere (inside a word too); these titles are
//! some of its matches and never others, which is what the search's probe asks of them ("more than a
//! thousand?", `catalog::probe`), and what suggestions offer when most titles match. Written beside each
//! title by the catalog's writes and the bulk load.

use std::collections::BTreeSet;

use diesel::QueryResult;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::db::DbConn;
use crate::db::schema::movie_title_words;
use crate::per_backend;

/// How much of a title each entry keeps from a word's start: a longer search text is not read here.
pub const SUFFIX_CHARS: usize = 64;

/// One entry of the index.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Insertable)]
#[diesel(table_name = movie_title_words)]
pub struct TitleWord {
    pub suffix: String,
    pub movie_id: i64,
}

/// The entries of a title: the title lower-cased (ASCII letters only, as SQLite's `lower` and migration
/// 000018 fold it), from its first character and from each ASCII letter or digit that follows any other
/// character, each cut to `SUFFIX_CHARS` characters.
pub fn title_words(movie_id: i64, title: &str) -> BTreeSet<TitleWord> {
    let lowered: Vec<char> = title.to_ascii_lowercase().chars().collect();
    (0..lowered.len())
        .filter(|&at| at == 0 || (!lowered[at - 1].is_ascii_alphanumeric() && lowered[at].is_ascii_alphanumeric()))
        .map(|at| TitleWord {
            suffix: lowered[at..].iter().take(SUFFIX_CHARS).collect(),
            movie_id,
        })
        .collect()
}

/// The form of a search text the index is read with, when it can be: trimmed and lower-cased, ASCII (the
/// index folds no other letters, so another text could miss titles that match it), at most `SUFFIX_CHARS`.
pub fn indexed_text(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty() && text.is_ascii() && text.chars().count() <= SUFFIX_CHARS).then(|| text.to_ascii_lowercase())
}

/// Replaces the entries of `movie_id` by those of `title`, in the caller's transaction.
pub async fn index_title(conn: &mut DbConn, movie_id: i64, title: &str) -> QueryResult<()> {
    let words = title_words(movie_id, title);
    per_backend!(conn, |c| {
        diesel::delete(movie_title_words::table.filter(movie_title_words::movie_id.eq(movie_id)))
            .execute(c)
            .await?;
        // One row a statement: SQLite's multi-row INSERT exists only on diesel's blocking connection, and a
        // title has a handful of words.
        for word in &words {
            diesel::insert_into(movie_title_words::table)
                .values(word)
                .execute(c)
                .await?;
        }
        QueryResult::Ok(())
    })
}

/// The movies (with repeats) whose title holds `lowered` (an `indexed_text`) from a word's start: at most
/// `limit` entries, read in index order, so the cost is bounded by `limit` whatever the word.
pub async fn titles_with_word_starting(conn: &mut DbConn, lowered: &str, limit: i64) -> QueryResult<Vec<i64>> {
    let end = format!("{lowered}{}", char::MAX);
    per_backend!(conn, |c| movie_title_words::table
        .filter(movie_title_words::suffix.ge(lowered))
        .filter(movie_title_words::suffix.lt(&end))
        .select(movie_title_words::movie_id)
        .limit(limit)
        .load(c)
        .await)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn suffixes(title: &str) -> Vec<String> {
        title_words(1, title).into_iter().map(|word| word.suffix).collect()
    }

    #[test]
    fn a_title_is_entered_from_each_word_start() {
        assert_eq!(
            suffixes("The Wild River No. 4321"),
            [
                "4321",
                "no. 4321",
                "river no. 4321",
                "the wild river no. 4321",
                "wild river no. 4321"
            ]
        );
        // Punctuation starts nothing; the letter after it does; the first character always counts.
        assert_eq!(suffixes("(500) Days"), ["(500) days", "500) days", "days"]);
        // A repeated word start is one entry.
        assert_eq!(suffixes("ab ab"), ["ab", "ab ab"]);
        // Only ASCII letters are folded (as SQLite's lower does), and only they or digits start a word:
        // another letter is a separator.
        assert_eq!(suffixes("Élan Vital"), ["lan vital", "vital", "Élan vital"]);
    }

    #[test]
    fn entries_are_cut_to_a_fixed_length() {
        let title = "a".repeat(100);
        let words = suffixes(&title);
        assert_eq!(words, ["a".repeat(SUFFIX_CHARS)]);
    }

    #[test]
    fn only_short_ascii_texts_are_read_from_the_index() {
        assert_eq!(indexed_text("  Wild River "), Some("wild river".to_string()));
        assert_eq!(indexed_text("   "), None);
        assert_eq!(indexed_text("élan"), None);
        assert_eq!(indexed_text(&"a".repeat(SUFFIX_CHARS + 1)), None);
    }
}
