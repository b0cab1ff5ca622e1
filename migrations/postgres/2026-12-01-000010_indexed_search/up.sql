-- Indexed search (B5): the catalog's search is a case-insensitive substring match over titles, descriptions
-- and people's names. On PostgreSQL trigram indexes serve `lower(column) LIKE '%text%'` for texts of three
-- characters or more (shorter ones scan, as before).
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX movies_name_trgm_idx ON movies USING gin (lower(name) gin_trgm_ops);
CREATE INDEX movies_description_trgm_idx ON movies USING gin (lower(description) gin_trgm_ops);
CREATE INDEX people_name_trgm_idx ON people USING gin (lower(name) gin_trgm_ops);
