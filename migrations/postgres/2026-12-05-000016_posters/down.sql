ALTER TABLE movies DROP COLUMN poster_height;
ALTER TABLE movies DROP COLUMN poster_width;
