-- Indexed search (B5): the catalog's search is a case-insensitive substring match over titles, descriptions
-- and people's names. On SQLite, FTS5 tables with the trigram tokenizer index them (a phrase of three
-- characters or more matches as a substring); triggers keep them in step with their tables, in the same
-- transaction as every write. Shorter texts scan, as before.
CREATE VIRTUAL TABLE movies_fts USING fts5(
    name, description, content = 'movies', content_rowid = 'id', tokenize = 'trigram'
);
INSERT INTO movies_fts (movies_fts) VALUES ('rebuild');
CREATE TRIGGER movies_fts_insert AFTER INSERT ON movies BEGIN
    INSERT INTO movies_fts (rowid, name, description) VALUES (new.id, new.name, new.description);
END;
CREATE TRIGGER movies_fts_delete AFTER DELETE ON movies BEGIN
    INSERT INTO movies_fts (movies_fts, rowid, name, description) VALUES ('delete', old.id, old.name, old.description);
END;
CREATE TRIGGER movies_fts_update AFTER UPDATE OF name, description ON movies BEGIN
    INSERT INTO movies_fts (movies_fts, rowid, name, description) VALUES ('delete', old.id, old.name, old.description);
    INSERT INTO movies_fts (rowid, name, description) VALUES (new.id, new.name, new.description);
END;

CREATE VIRTUAL TABLE people_fts USING fts5(name, content = 'people', content_rowid = 'id', tokenize = 'trigram');
INSERT INTO people_fts (people_fts) VALUES ('rebuild');
CREATE TRIGGER people_fts_insert AFTER INSERT ON people BEGIN
    INSERT INTO people_fts (rowid, name) VALUES (new.id, new.name);
END;
CREATE TRIGGER people_fts_delete AFTER DELETE ON people BEGIN
    INSERT INTO people_fts (people_fts, rowid, name) VALUES ('delete', old.id, old.name);
END;
CREATE TRIGGER people_fts_update AFTER UPDATE OF name ON people BEGIN
    INSERT INTO people_fts (people_fts, rowid, name) VALUES ('delete', old.id, old.name);
    INSERT INTO people_fts (rowid, name) VALUES (new.id, new.name);
END;
