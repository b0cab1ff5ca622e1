DROP INDEX movies_rating_low_first_idx;
DROP INDEX movies_rating_high_first_idx;
ALTER TABLE movies DROP COLUMN rating_low_first;
ALTER TABLE movies DROP COLUMN rating_high_first;
