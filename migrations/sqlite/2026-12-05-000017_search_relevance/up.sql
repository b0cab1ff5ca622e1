-- Relevance (issue 25): the exact title and the titles starting with a search text are read through an index on
-- lower-cased titles (a prefix as a range in byte order: SQLite's LIKE cannot use an index on an expression).
CREATE INDEX movies_lower_name_idx ON movies (lower(name));
