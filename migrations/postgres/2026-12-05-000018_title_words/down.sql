DROP TABLE movie_title_words;
