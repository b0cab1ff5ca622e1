-- The titles' word starts (issue 25): each title, lower-cased, from the start of each of its words (its first
-- character, and each ASCII letter or digit after any other character), cut to 64 characters, in a B-tree.
-- A search text is a prefix of one of these exactly when the title holds it from a word's start, so a range
-- read of this index lists such titles in order and can stop after a count: it tells a common word from a
-- rare one after a thousand entries, where the FTS5 trigram table gathers every posting of the text's
-- trigrams first. Those titles are some of the search's matches (a search also finds a text inside a word),
-- never others, so the search only reads it to learn "more than a thousand"; the application writes it
-- beside each title (catalog::words), this migration fills it once. SQLite's lower() folds ASCII only, as
-- the application does for these rows.
CREATE TABLE movie_title_words (
    suffix TEXT NOT NULL,
    movie_id BIGINT NOT NULL REFERENCES movies (id) ON DELETE CASCADE,
    PRIMARY KEY (suffix, movie_id)
) WITHOUT ROWID;
CREATE INDEX movie_title_words_movie_idx ON movie_title_words (movie_id);

INSERT OR IGNORE INTO movie_title_words (suffix, movie_id)
WITH RECURSIVE positions (movie_id, lowered, pos) AS (
    SELECT id, lower(name), 1 FROM movies
    UNION ALL
    SELECT movie_id, lowered, pos + 1 FROM positions WHERE pos < length(lowered)
)
SELECT substr(lowered, pos, 64), movie_id
FROM positions
WHERE pos = 1
   OR (substr(lowered, pos - 1, 1) NOT GLOB '[a-z0-9]' AND substr(lowered, pos, 1) GLOB '[a-z0-9]');
