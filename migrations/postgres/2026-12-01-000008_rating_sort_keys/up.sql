-- The rating sort (B4) served by an index like every other sort, with unrated movies last in both directions:
-- one key per direction, computed by the database from the counters kept beside the ratings, so it can never
-- disagree with them. Descending reads `rating_high_first` (unrated = -1), ascending `rating_low_first`
-- (unrated = 11); ratings run from 1 to 10.
ALTER TABLE movies ADD COLUMN rating_high_first DOUBLE PRECISION NOT NULL
    GENERATED ALWAYS AS (CASE WHEN ratings_count = 0 THEN -1.0 ELSE ratings_sum::float8 / ratings_count END) STORED;
ALTER TABLE movies ADD COLUMN rating_low_first DOUBLE PRECISION NOT NULL
    GENERATED ALWAYS AS (CASE WHEN ratings_count = 0 THEN 11.0 ELSE ratings_sum::float8 / ratings_count END) STORED;
CREATE INDEX movies_rating_high_first_idx ON movies (rating_high_first, id);
CREATE INDEX movies_rating_low_first_idx ON movies (rating_low_first, id);
