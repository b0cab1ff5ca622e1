-- Catalog: movies with exactly one certification, genres, people (directors and stars), and what viewers do
-- with movies: favorites, one like/dislike, one rating, comments with replies and likes, notifications.
-- Money is integer minor units with an ISO 4217 currency code.

CREATE TABLE certifications (
    id   INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 32)
);

CREATE TABLE genres (
    id   INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 64)
);

-- Stars and directors are both people: one person can direct one film and act in another.
CREATE TABLE people (
    id   INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 200)
);

CREATE TABLE movies (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid             TEXT NOT NULL UNIQUE,
    name             TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 250),
    year             INTEGER NOT NULL CHECK (year BETWEEN 1870 AND 2100),
    duration_minutes INTEGER NOT NULL CHECK (duration_minutes BETWEEN 1 AND 1440),
    imdb_score       DOUBLE NOT NULL CHECK (imdb_score >= 0 AND imdb_score <= 10),
    votes            BIGINT NOT NULL DEFAULT 0 CHECK (votes >= 0),
    meta_score       INTEGER CHECK (meta_score BETWEEN 0 AND 100),
    gross_cents      BIGINT CHECK (gross_cents >= 0),
    description      TEXT NOT NULL,
    price_cents      BIGINT NOT NULL CHECK (price_cents >= 0),
    currency         TEXT NOT NULL DEFAULT 'USD' CHECK (length(currency) = 3 AND currency = upper(currency)),
    certification_id BIGINT NOT NULL REFERENCES certifications (id) ON DELETE RESTRICT,
    poster_key       TEXT,
    -- Counters kept in the same transaction as the rows they count, so that sorting by popularity or rating
    -- is an index scan rather than an aggregate over every reaction.
    likes_count      BIGINT NOT NULL DEFAULT 0 CHECK (likes_count >= 0),
    dislikes_count   BIGINT NOT NULL DEFAULT 0 CHECK (dislikes_count >= 0),
    ratings_count    BIGINT NOT NULL DEFAULT 0 CHECK (ratings_count >= 0),
    ratings_sum      BIGINT NOT NULL DEFAULT 0 CHECK (ratings_sum >= 0),
    purchases_count  BIGINT NOT NULL DEFAULT 0 CHECK (purchases_count >= 0),
    created_at       TIMESTAMP NOT NULL,
    updated_at       TIMESTAMP NOT NULL,
    UNIQUE (name, year, duration_minutes)
);
-- Sorts and range filters of the catalog (the id breaks ties so pages are stable).
CREATE INDEX movies_name_idx ON movies (name, id);
CREATE INDEX movies_year_idx ON movies (year, id);
CREATE INDEX movies_imdb_idx ON movies (imdb_score, id);
CREATE INDEX movies_price_idx ON movies (price_cents, id);
CREATE INDEX movies_popularity_idx ON movies (purchases_count, likes_count, id);
CREATE INDEX movies_added_idx ON movies (created_at, id);
CREATE INDEX movies_certification_idx ON movies (certification_id);

CREATE TABLE movie_genres (
    movie_id BIGINT NOT NULL REFERENCES movies (id) ON DELETE CASCADE,
    genre_id BIGINT NOT NULL REFERENCES genres (id) ON DELETE CASCADE,
    PRIMARY KEY (movie_id, genre_id)
);
CREATE INDEX movie_genres_genre_idx ON movie_genres (genre_id, movie_id);

CREATE TABLE movie_directors (
    movie_id  BIGINT NOT NULL REFERENCES movies (id) ON DELETE CASCADE,
    person_id BIGINT NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    PRIMARY KEY (movie_id, person_id)
);
CREATE INDEX movie_directors_person_idx ON movie_directors (person_id, movie_id);

CREATE TABLE movie_stars (
    movie_id      BIGINT NOT NULL REFERENCES movies (id) ON DELETE CASCADE,
    person_id     BIGINT NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    billing_order INTEGER NOT NULL DEFAULT 0 CHECK (billing_order >= 0),
    PRIMARY KEY (movie_id, person_id)
);
CREATE INDEX movie_stars_person_idx ON movie_stars (person_id, movie_id);

CREATE TABLE favorites (
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    movie_id   BIGINT NOT NULL REFERENCES movies (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, movie_id)
);
CREATE INDEX favorites_movie_idx ON favorites (movie_id);

-- One reaction per user per movie (switchable between LIKE and DISLIKE, removable).
CREATE TABLE movie_reactions (
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    movie_id   BIGINT NOT NULL REFERENCES movies (id) ON DELETE CASCADE,
    kind       TEXT NOT NULL CHECK (kind IN ('LIKE', 'DISLIKE')),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, movie_id)
);
CREATE INDEX movie_reactions_movie_idx ON movie_reactions (movie_id);

-- One rating per user per movie, changeable.
CREATE TABLE movie_ratings (
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    movie_id   BIGINT NOT NULL REFERENCES movies (id) ON DELETE CASCADE,
    score      INTEGER NOT NULL CHECK (score BETWEEN 1 AND 10),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, movie_id)
);
CREATE INDEX movie_ratings_movie_idx ON movie_ratings (movie_id);

CREATE TABLE comments (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid        TEXT NOT NULL UNIQUE,
    movie_id    BIGINT NOT NULL REFERENCES movies (id) ON DELETE CASCADE,
    user_id     BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    parent_id   BIGINT REFERENCES comments (id) ON DELETE CASCADE,
    body        TEXT NOT NULL CHECK (length(body) BETWEEN 1 AND 5000),
    likes_count BIGINT NOT NULL DEFAULT 0 CHECK (likes_count >= 0),
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL
);
CREATE INDEX comments_movie_idx ON comments (movie_id, created_at);
CREATE INDEX comments_parent_idx ON comments (parent_id);
CREATE INDEX comments_user_idx ON comments (user_id);

CREATE TABLE comment_likes (
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    comment_id BIGINT NOT NULL REFERENCES comments (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, comment_id)
);
CREATE INDEX comment_likes_comment_idx ON comment_likes (comment_id);

-- In-app notifications (a reply to, or a like of, the recipient's comment); read_at NULL means unread.
CREATE TABLE notifications (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid       TEXT NOT NULL UNIQUE,
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind       TEXT NOT NULL CHECK (kind IN ('COMMENT_REPLY', 'COMMENT_LIKE')),
    actor_id   BIGINT REFERENCES users (id) ON DELETE SET NULL,
    comment_id BIGINT REFERENCES comments (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    read_at    TIMESTAMP
);
CREATE INDEX notifications_user_idx ON notifications (user_id, read_at, created_at);
