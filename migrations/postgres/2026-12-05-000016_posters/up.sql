-- Issue 24: a movie's poster — the stored picture's key prefix (poster_key, unused until now) and the uploaded
-- picture's size, from which each stored width's height follows.
ALTER TABLE movies ADD COLUMN poster_width INTEGER;
ALTER TABLE movies ADD COLUMN poster_height INTEGER;
