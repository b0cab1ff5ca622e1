//! The search's typo fallback (issue 25): when a search finds nothing, each word of it that the catalog does
//! not hold is replaced by the most similar word of a title or a person's name, judged by trigrams as
//! PostgreSQL's pg_trgm judges them (each word padded with two spaces before and one after; similarity is the
//! shared trigrams over all of them). The database only proposes candidates (titles and names sharing
//! trigrams with the word, through the search indexes); the choice is made here, the same on both backends.

use std::collections::BTreeSet;

/// Below this similarity a word is not offered as a correction (pg_trgm's own default threshold).
const SIMILAR_ENOUGH: f64 = 0.3;

/// Words shorter than this are not corrected: their few trigrams match too much.
pub const CORRECTED_WORD_CHARS: usize = 3;

/// At most this many words of a search are corrected (each costs one statement).
pub const MAX_CORRECTED_WORDS: usize = 3;

/// Words longer than this are not corrected: no title word is that long, and each character adds a trigram
/// to the candidates' query (on SQLite an OR of them, ranked over every row holding any).
pub const MAX_CORRECTED_WORD_CHARS: usize = 24;

/// The words of `text` as the search compares them: lower-cased runs of letters and digits.
pub fn words(text: &str) -> Vec<String> {
    text.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(str::to_string)
        .collect()
}

/// The words of a search worth correcting: long enough, not numbers, at most `MAX_CORRECTED_WORDS`.
pub fn correctable(text: &str) -> Vec<String> {
    let mut seen = BTreeSet::new();
    words(text)
        .into_iter()
        .filter(|word| {
            (CORRECTED_WORD_CHARS..=MAX_CORRECTED_WORD_CHARS).contains(&word.chars().count())
                && !word.chars().all(|c| c.is_numeric())
        })
        .filter(|word| seen.insert(word.clone()))
        .take(MAX_CORRECTED_WORDS)
        .collect()
}

fn trigrams(word: &str) -> BTreeSet<[char; 3]> {
    let padded: Vec<char> = "  ".chars().chain(word.chars()).chain(" ".chars()).collect();
    padded.windows(3).map(|w| [w[0], w[1], w[2]]).collect()
}

/// pg_trgm's similarity of two words: shared trigrams over all their trigrams, 0 to 1.
pub fn similarity(a: &str, b: &str) -> f64 {
    let (a, b) = (trigrams(a), trigrams(b));
    let shared = a.intersection(&b).count();
    let all = a.len() + b.len() - shared;
    if all == 0 { 0.0 } else { shared as f64 / all as f64 }
}

/// The word of `candidates` (titles and names) most similar to `word`, when one is similar enough and is not
/// `word` itself; None when `word` is among them (it needs no correction) or nothing is close.
pub fn closest_word(word: &str, candidates: &[String]) -> Option<String> {
    let mut best: Option<(f64, String)> = None;
    for candidate in candidates.iter().flat_map(|text| words(text)) {
        if candidate == word {
            return None;
        }
        let score = similarity(word, &candidate);
        // Ties go to the shorter, then the alphabetically first word, so the answer does not depend on the
        // order the database returned the candidates in.
        let better = match &best {
            None => true,
            Some((best_score, best_word)) => {
                score > *best_score
                    || (score == *best_score && (candidate.len(), &candidate) < (best_word.len(), best_word))
            }
        };
        if score >= SIMILAR_ENOUGH && better {
            best = Some((score, candidate));
        }
    }
    best.map(|(_, word)| word)
}

/// `text` with each of `corrections` (word, replacement) applied to its lower-cased words, or None when no
/// word changed.
pub fn corrected(text: &str, corrections: &[(String, String)]) -> Option<String> {
    if corrections.is_empty() {
        return None;
    }
    let fixed: Vec<String> = words(text)
        .into_iter()
        .map(|word| {
            corrections
                .iter()
                .find(|(typed, _)| *typed == word)
                .map(|(_, fixed)| fixed.clone())
                .unwrap_or(word)
        })
        .collect();
    Some(fixed.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn similarity_is_pg_trgms() {
        // pg_trgm: similarity('word', 'word') = 1, similarity('godfater', 'godfather') = 7 / 12.
        assert_eq!(similarity("word", "word"), 1.0);
        assert!((similarity("godfater", "godfather") - 7.0 / 12.0).abs() < 1e-9);
        assert_eq!(similarity("abc", "xyz"), 0.0);
    }

    #[test]
    fn a_typo_finds_the_closest_word_and_a_known_word_is_kept() {
        let titles = [
            "The Godfather".to_string(),
            "The Godfather Part II".to_string(),
            "God's Own Country".to_string(),
        ];
        assert_eq!(closest_word("godfater", &titles).as_deref(), Some("godfather"));
        assert_eq!(closest_word("godfather", &titles), None, "already right");
        assert_eq!(closest_word("zebra", &titles), None, "nothing close");
        assert_eq!(
            corrected("Godfater  part", &[("godfater".into(), "godfather".into())]).as_deref(),
            Some("godfather part")
        );
        assert_eq!(corrected("godfater", &[]), None);
    }

    #[test]
    fn only_words_worth_correcting_are() {
        assert_eq!(correctable("No. 4321 of the wlid rivr, rivr"), ["the", "wlid", "rivr"]);
        assert_eq!(correctable("a b 12"), Vec::<String>::new());
        let long = "x".repeat(MAX_CORRECTED_WORD_CHARS + 1);
        assert_eq!(
            correctable(&format!("{long} wlid")),
            ["wlid"],
            "a word too long to be a title's is left"
        );
    }
}
