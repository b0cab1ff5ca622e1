DROP TRIGGER people_fts_update;
DROP TRIGGER people_fts_delete;
DROP TRIGGER people_fts_insert;
DROP TABLE people_fts;
DROP TRIGGER movies_fts_update;
DROP TRIGGER movies_fts_delete;
DROP TRIGGER movies_fts_insert;
DROP TABLE movies_fts;
