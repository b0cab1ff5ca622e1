-- The titles' word starts (issue 25): each title, lower-cased, from the start of each of its words (its first
-- character, and each ASCII letter or digit after any other character), cut to 64 characters, in a B-tree.
-- A search text is a prefix of one of these exactly when the title holds it from a word's start, so a range
-- read of this index lists such titles in order and can stop after a count: it tells a common word ("wild",
-- in 5% of titles) from a rare one after a thousand entries, where the trigram index builds the whole list
-- of its posting entries first (8 ms at 1,000,000 movies). Those titles are some of the search's matches (a
-- search also finds a text inside a word), never others, so the search only reads it to learn "more than a
-- thousand"; the application writes it beside each title (catalog::words), this migration fills it once.
-- Only ASCII letters are folded (translate, not lower), as the application and SQLite fold them: the index is
-- read for ASCII texts only. COLLATE "C": byte order, so a prefix is a range whatever the collation.
CREATE TABLE movie_title_words (
    suffix TEXT COLLATE "C" NOT NULL,
    movie_id BIGINT NOT NULL REFERENCES movies (id) ON DELETE CASCADE,
    PRIMARY KEY (suffix, movie_id)
);
CREATE INDEX movie_title_words_movie_idx ON movie_title_words (movie_id);

INSERT INTO movie_title_words (suffix, movie_id)
SELECT DISTINCT substr(m.lowered, p.pos, 64), m.id
FROM (SELECT id, translate(name, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') AS lowered
      FROM movies) m,
     LATERAL generate_series(1, length(m.lowered)) AS p (pos)
WHERE p.pos = 1
   OR (substr(m.lowered, p.pos - 1, 1) !~ '[abcdefghijklmnopqrstuvwxyz0123456789]'
        AND substr(m.lowered, p.pos, 1) ~ '[abcdefghijklmnopqrstuvwxyz0123456789]');
