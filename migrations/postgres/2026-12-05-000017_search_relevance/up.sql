-- Relevance (issue 25): the exact title and the titles starting with a search text are read through an index on
-- lower-cased titles; text_pattern_ops serves both `=` and a LIKE prefix whatever the database's collation.
CREATE INDEX movies_lower_name_idx ON movies (lower(name) text_pattern_ops);
