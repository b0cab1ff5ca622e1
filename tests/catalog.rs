//! B1–B6 catalog reads over GraphQL: browsing, pagination, filters, sorting, search, details, genres; and the
//! bounded number of SQL statements per page (DataLoaders).

use crate::common::{TestApp, names};
use cinema::catalog::seed::{CatalogEntry, insert_catalog};
use cinema::db::Backend;
use serde_json::{Value, json};

backend_tests!(
    top_movies_by_imdb_with_relations,
    pages_follow_cursors_without_overlap,
    every_sort_is_stable_across_pages,
    cursors_of_another_sort_or_edited_are_refused,
    pages_neither_skip_nor_repeat_when_the_catalog_changes,
    sort_directions_reverse_the_order,
    filters_narrow_the_catalog,
    search_matches_title_description_and_people,
    a_movie_without_people_is_found_by_title,
    movie_details_and_not_found,
    genres_count_their_movies_and_lead_to_them,
    bad_arguments_are_refused_with_codes,
    a_page_costs_a_fixed_number_of_statements,
    a_pages_statement_is_prepared_once_per_connection,
    every_genres_page_is_read_in_one_statement,
    people_by_id_and_a_synthetic_catalog,
    counts_stop_at_ten_thousand,
    common_and_rare_words_page_alike,
    people_are_found_by_part_of_their_name,
);

const PAGE: &str = r#"
query Page($first: Int, $after: String, $filter: MovieFilter, $sort: MovieSort, $search: String) {
  movies(first: $first, after: $after, filter: $filter, sort: $sort, search: $search) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor }
    nodes { id name year imdbScore price { amount currency formatted } }
  }
}"#;

async fn page(app: &TestApp, variables: Value) -> Value {
    app.query_ok(PAGE, variables).await["movies"].clone()
}

async fn top_movies_by_imdb_with_relations(backend: Backend) {
    let app = TestApp::start(backend).await;
    let data = app
        .query_ok(
            r#"{ movies(first: 20, sort: {field: IMDB, direction: DESC}) {
                   totalCount
                   nodes { name year durationMinutes imdbScore votes metaScore gross { amount currency }
                           price { amount currency formatted } certification { name }
                           genres { name } directors { name } stars { name } } } }"#,
            json!({}),
        )
        .await;
    let movies = &data["movies"];
    assert_eq!(movies["totalCount"], 116);
    let nodes = movies["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 20);
    let scores: Vec<f64> = nodes.iter().map(|m| m["imdbScore"].as_f64().unwrap()).collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "descending: {scores:?}");
    let first = &nodes[0];
    assert_eq!(first["name"], "The Shawshank Redemption");
    assert_eq!(first["year"], 1994);
    assert_eq!(first["durationMinutes"], 142);
    assert_eq!(first["certification"]["name"], "R");
    assert_eq!(first["genres"], json!([{ "name": "Drama" }]));
    assert_eq!(first["directors"], json!([{ "name": "Frank Darabont" }]));
    assert_eq!(
        first["stars"],
        json!([{ "name": "Tim Robbins" }, { "name": "Morgan Freeman" }, { "name": "Bob Gunton" }])
    );
    assert_eq!(
        first["price"],
        json!({ "amount": 1299, "currency": "USD", "formatted": "12.99 USD" })
    );
    assert_eq!(first["gross"], json!({ "amount": 2834146900i64, "currency": "USD" }));
    // Every movie of the page has its relations (no relation lost by batching).
    for movie in nodes {
        assert!(!movie["genres"].as_array().unwrap().is_empty(), "{movie}");
        assert!(!movie["directors"].as_array().unwrap().is_empty(), "{movie}");
        assert!(!movie["stars"].as_array().unwrap().is_empty(), "{movie}");
    }
    let godfather = nodes.iter().find(|m| m["name"] == "The Godfather").unwrap();
    let genres: Vec<&str> = godfather["genres"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert_eq!(genres, ["Crime", "Drama"]);
}

async fn pages_follow_cursors_without_overlap(backend: Backend) {
    let app = TestApp::start(backend).await;
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    let mut pages = 0;
    loop {
        let movies = page(&app, json!({ "first": 25, "after": after })).await;
        assert_eq!(movies["totalCount"], 116, "the total is the same on every page");
        assert_eq!(movies["pageInfo"]["hasPreviousPage"], pages > 0);
        seen.extend(names(&movies));
        pages += 1;
        let edges = movies["edges"].as_array().unwrap();
        assert_eq!(movies["pageInfo"]["endCursor"], edges.last().unwrap()["cursor"]);
        if movies["pageInfo"]["hasNextPage"] == false {
            break;
        }
        after = movies["pageInfo"]["endCursor"].as_str().map(String::from);
    }
    assert_eq!(pages, 5);
    assert_eq!(seen.len(), 116);
    let unique: std::collections::BTreeSet<_> = seen.iter().collect();
    assert_eq!(unique.len(), 116, "no movie twice");
    // An empty page past the end.
    let beyond = page(&app, json!({ "first": 0 })).await;
    assert_eq!(beyond["nodes"], json!([]));
    assert_eq!(beyond["pageInfo"]["endCursor"], Value::Null);
}

/// B4: pages through keyset cursors equal one long page, for every sort in both directions, ties included
/// (the demo catalog shares years and prices; a third of the movies get ratings and purchases here, so the
/// rating and popularity sorts have values and ties, and unrated movies come last both ways).
async fn every_sort_is_stable_across_pages(backend: Backend) {
    use cinema::db::schema::movies;
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    let app = TestApp::start(backend).await;
    let mut conn = app.conn().await;
    for (modulo, sum, count, purchases, likes) in [(3, 17, 2, 4, 1), (5, 9, 1, 4, 2), (7, 8, 1, 1, 0)] {
        cinema::per_backend!(&mut conn, |c| diesel::update(movies::table.filter(movies::id.eq(
            diesel::dsl::sql::<diesel::sql_types::BigInt>(&format!("(movies.id / {modulo}) * {modulo}"))
        )))
        .set((
            movies::ratings_sum.eq(sum),
            movies::ratings_count.eq(count),
            movies::purchases_count.eq(purchases),
            movies::likes_count.eq(likes),
        ))
        .execute(c)
        .await)
        .unwrap();
    }
    drop(conn);
    let ratings = |movies: &Value| -> Vec<Option<f64>> {
        movies["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["averageRating"].as_f64())
            .collect()
    };
    let by_rating = |direction: &str| json!({ "first": 100, "sort": { "field": "RATING", "direction": direction } });
    let rated = app
        .query_ok(
            "query($sort: MovieSort) { movies(first: 100, sort: $sort) { nodes { averageRating } } }",
            json!({ "sort": by_rating("DESC")["sort"] }),
        )
        .await;
    let descending = ratings(&rated["movies"]);
    assert_eq!(descending[0], Some(9.0));
    assert!(descending.iter().filter(|r| r.is_some()).count() > 10);
    let unrated_from = descending.iter().position(Option::is_none).unwrap();
    assert!(
        descending[unrated_from..].iter().all(Option::is_none),
        "unrated last, descending"
    );
    let rated = app
        .query_ok(
            "query($sort: MovieSort) { movies(first: 100, sort: $sort) { nodes { averageRating } } }",
            json!({ "sort": by_rating("ASC")["sort"] }),
        )
        .await;
    let ascending = ratings(&rated["movies"]);
    assert_eq!(ascending[0], Some(8.0));
    let unrated_from = ascending.iter().position(Option::is_none).unwrap();
    assert!(
        ascending[unrated_from..].iter().all(Option::is_none),
        "unrated last, ascending"
    );

    for field in ["NAME", "YEAR", "IMDB", "PRICE", "POPULARITY", "RATING", "ADDED"] {
        for direction in ["ASC", "DESC"] {
            let sort = json!({ "field": field, "direction": direction });
            let whole = names(&page(&app, json!({ "first": 40, "sort": sort })).await);
            let first = page(&app, json!({ "first": 15, "sort": sort })).await;
            let second = page(
                &app,
                json!({ "first": 25, "sort": sort, "after": first["pageInfo"]["endCursor"] }),
            )
            .await;
            let mut stitched = names(&first);
            stitched.extend(names(&second));
            assert_eq!(whole, stitched, "{field} {direction}: two pages equal one page");
        }
    }
}

async fn sort_directions_reverse_the_order(backend: Backend) {
    let app = TestApp::start(backend).await;
    let by_year = |direction: &str| json!({ "first": 100, "sort": { "field": "YEAR", "direction": direction } });
    let years = |movies: &Value| -> Vec<i64> {
        movies["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["year"].as_i64().unwrap())
            .collect()
    };
    let ascending = years(&page(&app, by_year("ASC")).await);
    assert!(ascending.windows(2).all(|w| w[0] <= w[1]));
    assert_eq!(ascending[0], 1940, "The Great Dictator is the oldest");
    let descending = years(&page(&app, by_year("DESC")).await);
    assert!(descending.windows(2).all(|w| w[0] >= w[1]));
    assert_eq!(descending[0], 2024);

    let prices = |movies: &Value| -> Vec<i64> {
        movies["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["price"]["amount"].as_i64().unwrap())
            .collect()
    };
    let cheapest = prices(&page(&app, json!({ "first": 100, "sort": { "field": "PRICE" } })).await);
    assert!(cheapest.windows(2).all(|w| w[0] <= w[1]));
    // Ties (same price) are ordered by id, so the default direction is ascending and repeatable.
    let again = prices(
        &page(
            &app,
            json!({ "first": 100, "sort": { "field": "PRICE", "direction": "ASC" } }),
        )
        .await,
    );
    assert_eq!(cheapest, again);
    let by_name = names(&page(&app, json!({ "first": 3 })).await);
    assert_eq!(
        by_name,
        ["12 Angry Men", "2001: A Space Odyssey", "A Clockwork Orange"],
        "default sort is by name"
    );
}

async fn filters_narrow_the_catalog(backend: Backend) {
    let app = TestApp::start(backend).await;
    let app = &app;
    let total = |v: Value| async move { page(app, v).await["totalCount"].as_i64().unwrap() };
    assert_eq!(total(json!({ "filter": { "yearMin": 2019 } })).await, 8);
    assert_eq!(
        total(json!({ "filter": { "yearMin": 1994, "yearMax": 1994 } })).await,
        5
    );
    assert_eq!(total(json!({ "filter": { "imdbMin": 9.0 } })).await, 7);
    assert_eq!(total(json!({ "filter": { "imdbMin": 8.0, "imdbMax": 8.2 } })).await, 23);
    assert_eq!(total(json!({ "filter": { "priceMax": 799 } })).await, 13);
    assert_eq!(
        total(json!({ "filter": { "priceMin": 1400, "priceMax": 1500 } })).await,
        10
    );

    let ids = app
        .query_ok("{ genres { id name } certifications { id name } }", json!({}))
        .await;
    let id_of = |list: &str, name: &str| -> String {
        ids[list]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["name"] == name)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let western = id_of("genres", "Western");
    assert_eq!(total(json!({ "filter": { "genreIds": [western] } })).await, 2);
    let animation = id_of("genres", "Animation");
    assert_eq!(
        total(json!({ "filter": { "genreIds": [western, animation] } })).await,
        14,
        "any of the genres"
    );
    let g_rating = id_of("certifications", "G");
    assert_eq!(total(json!({ "filter": { "certificationIds": [g_rating] } })).await, 9);

    // Directors and stars by id, taken from a movie.
    let movie = app
        .query_ok(
            r#"{ movies(search: "Inception") { nodes { directors { id } stars { id name } } } }"#,
            json!({}),
        )
        .await;
    let nolan = movie["movies"]["nodes"][0]["directors"][0]["id"].clone();
    assert_eq!(total(json!({ "filter": { "directorIds": [nolan] } })).await, 7);
    let leo = movie["movies"]["nodes"][0]["stars"][0].clone();
    assert_eq!(leo["name"], "Leonardo DiCaprio");
    assert_eq!(total(json!({ "filter": { "starIds": [leo["id"]] } })).await, 5);
    // Filters combine.
    assert_eq!(
        total(json!({ "filter": { "directorIds": [nolan], "yearMin": 2010 } })).await,
        4
    );
    assert_eq!(total(json!({ "filter": { "yearMin": 2030 } })).await, 0);
}

async fn search_matches_title_description_and_people(backend: Backend) {
    let app = TestApp::start(backend).await;
    let found = |search: &str| {
        let app = &app;
        let search = search.to_string();
        async move {
            names(
                &page(
                    app,
                    json!({ "search": search, "first": 100, "sort": { "field": "NAME" } }),
                )
                .await,
            )
        }
    };
    assert_eq!(
        found("godfather").await,
        ["The Godfather", "The Godfather Part II"],
        "title, any case"
    );
    assert_eq!(found("GODFATHER part").await, ["The Godfather Part II"]);
    assert_eq!(found("wormhole").await, ["Interstellar"], "description");
    assert_eq!(found("keanu").await, ["The Matrix"], "star");
    // Case folding beyond ASCII, the same on both backends.
    assert_eq!(found("LÉON").await, ["Léon: The Professional"]);
    assert_eq!(found("amÉlie").await, ["Amélie"]);
    assert_eq!(found("TIMOTHÉE").await, ["Dune: Part Two"], "star with an accent");
    let kubrick = found("kubrick").await;
    assert_eq!(kubrick.len(), 6, "director: {kubrick:?}");
    assert!(found("no such film anywhere").await.is_empty());
    // LIKE wildcards in the text are taken literally.
    assert!(found("%").await.is_empty());
    assert!(found("_").await.is_empty());
    // Search combines with filters.
    let nolan_recent = names(
        &page(
            &app,
            json!({ "search": "nolan", "filter": { "yearMin": 2014 }, "first": 100, "sort": { "field": "NAME" } }),
        )
        .await,
    );
    assert_eq!(nolan_recent, ["Interstellar", "Oppenheimer"]);
}

async fn a_movie_without_people_is_found_by_title(backend: Backend) {
    let app = TestApp::start(backend).await;
    insert_catalog(
        app.db(),
        &[CatalogEntry {
            name: "Untitled Archive Reel".into(),
            year: 1921,
            duration: 12,
            certification: "G".into(),
            genres: vec!["History".into()],
            directors: vec![],
            stars: vec![],
            imdb: 6.1,
            votes: 40,
            meta: None,
            gross: None,
            price: 199,
            description: "Found footage of a city street.".into(),
        }],
    )
    .await
    .map_err(|e| e.public_message())
    .unwrap();
    let data = app
        .query_ok(r#"{ movies(search: "archive reel") { totalCount nodes { name directors { name } stars { name } gross { amount } metaScore } } }"#, json!({}))
        .await;
    assert_eq!(
        data["movies"],
        json!({ "totalCount": 1, "nodes": [{ "name": "Untitled Archive Reel", "directors": [], "stars": [], "gross": null, "metaScore": null }] })
    );
}

async fn movie_details_and_not_found(backend: Backend) {
    let app = TestApp::start(backend).await;
    let id = page(&app, json!({ "search": "Casablanca" })).await["nodes"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let data = app
        .query_ok(
            "query($id: ID!) { movie(id: $id) { id name year description likes dislikes averageRating ratingsCount addedAt } }",
            json!({ "id": id }),
        )
        .await;
    let movie = &data["movie"];
    assert_eq!(movie["id"], id);
    assert_eq!(movie["name"], "Casablanca");
    assert_eq!(movie["year"], 1942);
    assert_eq!(movie["likes"], 0);
    assert_eq!(movie["averageRating"], Value::Null, "nobody rated it yet");
    assert!(movie["addedAt"].as_str().unwrap().ends_with("+00:00"), "UTC: {movie}");

    let unknown = uuid::Uuid::new_v4().to_string();
    let (status, body) = app
        .graphql("query($id: ID!) { movie(id: $id) { name } }", json!({ "id": unknown }))
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["movie"], Value::Null);
    assert_eq!(body["errors"][0]["extensions"]["code"], "NOT_FOUND");
    assert_eq!(body["errors"][0]["path"], json!(["movie"]));
    let (_, code) = app.error_code(r#"{ genre(id: "999999") { name } }"#, json!({})).await;
    assert_eq!(code, "NOT_FOUND");
    let (_, code) = app.error_code(r#"{ person(id: "999999") { name } }"#, json!({})).await;
    assert_eq!(code, "NOT_FOUND");
    let (_, code) = app.error_code(r#"{ genre(id: "drama") { name } }"#, json!({})).await;
    assert_eq!(code, "BAD_USER_INPUT");
}

async fn genres_count_their_movies_and_lead_to_them(backend: Backend) {
    let app = TestApp::start(backend).await;
    let data = app.query_ok("{ genres { id name movieCount } }", json!({})).await;
    let genres = data["genres"].as_array().unwrap();
    let names: Vec<&str> = genres.iter().map(|g| g["name"].as_str().unwrap()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "by name");
    let drama = genres.iter().find(|g| g["name"] == "Drama").unwrap();
    assert_eq!(drama["movieCount"], 77);
    let western = genres.iter().find(|g| g["name"] == "Western").unwrap();
    let movies = app
        .query_ok(
            r#"query($id: ID!) { genre(id: $id) { name movieCount
                 movies(sort: {field: YEAR}) { totalCount nodes { name } } } }"#,
            json!({ "id": western["id"] }),
        )
        .await;
    assert_eq!(
        movies["genre"],
        json!({ "name": "Western", "movieCount": 2, "movies": { "totalCount": 2, "nodes": [
            { "name": "The Good, the Bad and the Ugly" }, { "name": "Django Unchained" } ] } })
    );
    // A genre reached through a movie counts its movies too (through a loader).
    let nested = app
        .query_ok(
            r#"{ movies(search: "Django") { nodes { genres { name movieCount } } } }"#,
            json!({}),
        )
        .await;
    let western_count = nested["movies"]["nodes"][0]["genres"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "Western")
        .unwrap()["movieCount"]
        .clone();
    assert_eq!(western_count, 2);
}

async fn bad_arguments_are_refused_with_codes(backend: Backend) {
    let app = TestApp::start(backend).await;
    for (variables, field) in [
        (json!({ "first": -1 }), "first"),
        (json!({ "first": 101 }), "first"),
        (json!({ "first": 10, "after": "not-a-cursor" }), "after"),
        (
            json!({ "filter": { "yearMin": 2000, "yearMax": 1990 } }),
            "filter.yearMin",
        ),
        (json!({ "filter": { "imdbMin": 11.0 } }), "filter.imdbMin"),
        (
            json!({ "filter": { "imdbMin": 8.0, "imdbMax": 7.0 } }),
            "filter.imdbMin",
        ),
        (
            json!({ "filter": { "priceMin": 500, "priceMax": 100 } }),
            "filter.priceMin",
        ),
        (
            json!({ "filter": { "genreIds": (1..=51).map(|i| i.to_string()).collect::<Vec<_>>() } }),
            "filter.genreIds",
        ),
        (json!({ "filter": { "priceMin": -5 } }), "filter.priceMin"),
        (json!({ "filter": { "genreIds": ["x"] } }), "filter.genreIds"),
        (json!({ "search": "x".repeat(201) }), "search"),
    ] {
        let (status, body) = app.graphql(PAGE, variables.clone()).await;
        assert_eq!(status, 200, "{variables}: {body}");
        let error = &body["errors"][0];
        assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT", "{variables}: {body}");
        assert_eq!(error["extensions"]["field"], field, "{variables}: {body}");
    }
    // A value of the wrong type inside an input object is found while the field reads its arguments: it is
    // still the client's input at fault, with the code that says so.
    for query in [
        "{ movies(filter: { priceMin: true }) { totalCount } }",
        "{ movies(filter: { priceMin: 9007199254740993 }) { totalCount } }",
    ] {
        let (status, code) = app.error_code(query, json!({})).await;
        assert_eq!((status, code.as_str()), (200, "BAD_USER_INPUT"), "{query}");
    }
    // Wrong types and unknown fields never reach the resolvers.
    for (query, variables) in [
        (PAGE, json!({ "first": "ten" })),
        (PAGE, json!({ "first": 99999999999i64 })),
        (PAGE, json!({ "sort": { "field": "SHOE_SIZE" } })),
        ("{ movies { nodes { shoeSize } } }", json!({})),
        ("{ movies(first: 1.5) { totalCount } }", json!({})),
        ("{ movie { name } }", json!({})),
    ] {
        let (status, body) = app.graphql(query, variables.clone()).await;
        assert_eq!(status, 400, "{query} {variables}: {body}");
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED",
            "{body}"
        );
    }
}

async fn a_page_costs_a_fixed_number_of_statements(backend: Backend) {
    let app = TestApp::counting_statements(backend).await;
    let query = r#"query($first: Int) { movies(first: $first, sort: {field: IMDB, direction: DESC}) {
        totalCount nodes { name certification { name } genres { name movieCount } directors { name } stars { name } } } }"#;
    let mut costs = Vec::new();
    for first in [1, 20, 100] {
        // Warm the pool so that connection set-up is not counted.
        app.query_ok(query, json!({ "first": first })).await;
        let before = app.statements();
        app.query_ok(query, json!({ "first": first })).await;
        costs.push(app.statements() - before);
    }
    // page (with its movies' genre ids) + count + genre counts + directors + stars; the names of the genres and
    // certifications come from the catalog's copies, read once while public content is unchanged.
    assert_eq!(costs, [5, 5, 5], "statements per page for 1, 20 and 100 movies");
    // A page deep in the list, after a cursor, costs the same (B4: keyset pages).
    let deep = r#"query($after: String) { movies(first: 5, after: $after, sort: {field: IMDB, direction: DESC}) {
        totalCount nodes { name certification { name } genres { name movieCount } directors { name } stars { name } } } }"#;
    let start = app
        .query_ok(
            "{ movies(first: 100, sort: {field: IMDB, direction: DESC}) { pageInfo { endCursor } } }",
            json!({}),
        )
        .await;
    let after = start["movies"]["pageInfo"]["endCursor"].clone();
    app.query_ok(deep, json!({ "after": after })).await;
    let before = app.statements();
    let data = app.query_ok(deep, json!({ "after": after })).await;
    assert_eq!(data["movies"]["nodes"].as_array().unwrap().len(), 5);
    assert_eq!(app.statements() - before, 5, "a page after 100 movies");
}

/// A page's statement is prepared once per connection and then reused: parsing and planning it on every page
/// cost PostgreSQL half its time (benches/RESULTS.md, issue 12). A statement diesel may not cache (one holding
/// `diesel::dsl::sql`, for instance) would be prepared on every call and never counted as kept. One connection
/// in the pool, so that every page meets the same statement cache.
async fn a_pages_statement_is_prepared_once_per_connection(backend: Backend) {
    let app = TestApp::on_one_connection(backend).await;
    let stats = app.db().stats();
    let page = r#"query($first: Int, $filter: MovieFilter) {
        movies(first: $first, filter: $filter, sort: {field: IMDB, direction: DESC}) {
            nodes { name certification { name } genres { name } } } }"#;
    let cost = async |variables: Value| {
        let (statements, prepared) = (stats.statements(), stats.prepared());
        app.query_ok(page, variables).await;
        (stats.statements() - statements, stats.prepared() - prepared)
    };
    // The first page also reads the catalog's copies of the certifications and genres.
    cost(json!({ "first": 20 })).await;
    assert_eq!(
        cost(json!({ "first": 5 })).await,
        (1, 0),
        "the same shape: its statement is reused"
    );
    assert_eq!(
        cost(json!({ "first": 20, "filter": { "yearMin": 1990 } })).await,
        (1, 1),
        "a new shape (a filter more): its statement is prepared and kept"
    );
    assert_eq!(
        cost(json!({ "first": 10, "filter": { "yearMin": 2000 } })).await,
        (1, 0),
        "that shape again, other values: reused"
    );

    // A search's statements too, the probe's fixed ones included (issue 25: `diesel::sql_query` is never
    // kept, and planning two of them on every search cost a third of the search rate). On PostgreSQL, where a
    // list of ids is one bind (`= ANY($1)`) whatever its length; SQLite writes one placeholder an id.
    if backend == Backend::Postgres {
        let search = "query($s: String) { movies(first: 5, search: $s) { totalCount nodes { name } } }";
        let searched = async |text: &str| {
            let prepared = stats.prepared();
            app.query_ok(search, json!({ "s": text })).await;
            stats.prepared() - prepared
        };
        searched("godfather").await;
        assert_eq!(
            searched("dark knight").await,
            0,
            "a search of the same shape: every statement reused"
        );
        // And the probe's own statements are among those the (one) connection keeps.
        #[derive(diesel::QueryableByName)]
        struct Kept {
            #[diesel(sql_type = diesel::sql_types::Text)]
            statement: String,
        }
        let cinema::db::DbConn::Postgres(mut conn) = app.conn().await else {
            unreachable!()
        };
        let kept: Vec<Kept> = diesel_async::RunQueryDsl::load(
            diesel::sql_query("SELECT statement FROM pg_prepared_statements"),
            &mut *conn,
        )
        .await
        .unwrap();
        for part in [
            "FROM movie_title_words",
            "UNION ALL SELECT movie_id FROM movie_directors",
        ] {
            assert!(
                kept.iter().any(|kept| kept.statement.contains(part)),
                "a kept statement holds {part:?}"
            );
        }
    }
}

/// Issue 25 (the deep page): a page deep in a sort starts its index walk at its cursor. Every movie here shares
/// one IMDb score, so the cursor sits inside a tie as wide as the catalog (as a score with one decimal is at a
/// million movies). The page's statement, as the server keeps it prepared, is explained with the cursor's
/// values: PostgreSQL seeks the (imdb_score, id) index with the row comparison and drops no row on the way,
/// where the AND/OR form of the same condition started at the top of the tie and dropped every movie up to the
/// cursor, one heap row each. (SQLite's plan for the same statement is in benches/RESULTS.md; both backends'
/// pages through ties are `every_sort_is_stable_across_pages`.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deep_page_starts_at_its_cursor_on_postgres() {
    use cinema::db::schema::movies;
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    if !crate::common::postgres_available() {
        return;
    }
    let app = TestApp::on_one_connection(Backend::Postgres).await;
    let cinema::db::DbConn::Postgres(mut conn) = app.conn().await else {
        unreachable!()
    };
    diesel::update(movies::table)
        .set(movies::imdb_score.eq(7.5))
        .execute(&mut *conn)
        .await
        .unwrap();
    diesel::sql_query("ANALYZE movies").execute(&mut *conn).await.unwrap();
    // The 60th movie by IMDb descending is the 60th by id descending: the tie breaks by id.
    let cursor_id: i64 = movies::table
        .select(movies::id)
        .order(movies::id.desc())
        .offset(59)
        .first(&mut *conn)
        .await
        .unwrap();
    drop(conn);

    let by_imdb = json!({ "field": "IMDB", "direction": "DESC" });
    let first = page(&app, json!({ "first": 60, "sort": by_imdb })).await;
    let deep = page(
        &app,
        json!({ "first": 20, "sort": by_imdb, "after": first["pageInfo"]["endCursor"] }),
    )
    .await;
    let mut stitched = names(&first);
    stitched.extend(names(&deep));
    assert_eq!(
        stitched,
        names(&page(&app, json!({ "first": 80, "sort": by_imdb })).await),
        "the deep page goes on from its cursor"
    );

    #[derive(diesel::QueryableByName)]
    struct Kept {
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        parameters: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        statement: String,
    }
    #[derive(diesel::QueryableByName)]
    struct PlanLine {
        #[diesel(sql_type = diesel::sql_types::Text)]
        #[diesel(column_name = "QUERY PLAN")]
        line: String,
    }
    let cinema::db::DbConn::Postgres(mut conn) = app.conn().await else {
        unreachable!()
    };
    let kept: Vec<Kept> = diesel::sql_query(
        "SELECT name, CAST(parameter_types AS TEXT) AS parameters, statement FROM pg_prepared_statements \
         WHERE statement LIKE '%(\"movies\".\"imdb_score\", \"movies\".\"id\") < ($1, $2)%' \
         AND statement LIKE 'SELECT \"movies\".%'",
    )
    .load(&mut *conn)
    .await
    .unwrap();
    let statements: Vec<&str> = kept.iter().map(|kept| kept.statement.as_str()).collect();
    assert_eq!(
        kept.len(),
        1,
        "the deep page's statement is kept, with the row comparison: {statements:#?}"
    );
    assert_eq!(kept[0].parameters, "{\"double precision\",bigint,bigint}");
    let plan: Vec<PlanLine> = diesel::sql_query(format!(
        "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) EXECUTE {}(7.5, {cursor_id}, 21)",
        kept[0].name
    ))
    .load(&mut *conn)
    .await
    .unwrap();
    let plan: Vec<&str> = plan.iter().map(|line| line.line.trim()).collect();
    assert!(
        plan.iter()
            .any(|line| line.starts_with("Index Cond: (ROW(imdb_score, id) < ROW(")),
        "the walk starts at the cursor: {plan:#?}"
    );
    assert!(
        !plan.iter().any(|line| line.starts_with("Rows Removed by Filter")),
        "no row read before the cursor: {plan:#?}"
    );
}

/// B4: a cursor is only good for the list and sort that made it: another sort's, an edited one, or an old
/// offset cursor is BAD_USER_INPUT naming `after`.
async fn cursors_of_another_sort_or_edited_are_refused(backend: Backend) {
    let app = TestApp::start(backend).await;
    let by = |field: &str, direction: &str| json!({ "field": field, "direction": direction });
    let first = page(&app, json!({ "first": 3, "sort": by("YEAR", "ASC") })).await;
    let cursor = first["pageInfo"]["endCursor"].as_str().unwrap().to_string();
    let (payload, tag) = cursor.split_once('.').unwrap();
    let mut edited = payload.as_bytes().to_vec();
    edited[10] = if edited[10] == b'A' { b'B' } else { b'A' };
    let edited = format!("{}.{tag}", String::from_utf8(edited).unwrap());
    for (after, sort) in [
        (cursor.clone(), by("YEAR", "DESC")),
        (cursor.clone(), by("NAME", "ASC")),
        (cursor.clone(), by("IMDB", "ASC")),
        (edited, by("YEAR", "ASC")),
        ("cDo0".to_string(), by("YEAR", "ASC")),
        ("not a cursor".to_string(), by("YEAR", "ASC")),
    ] {
        let (_, body) = app
            .graphql(PAGE, json!({ "first": 3, "after": after, "sort": sort }))
            .await;
        let error = &body["errors"][0];
        assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT", "{after} {sort}: {body}");
        assert_eq!(error["extensions"]["field"], "after", "{body}");
    }
    // The same cursor with its own sort goes on.
    let next = page(&app, json!({ "first": 3, "after": cursor, "sort": by("YEAR", "ASC") })).await;
    assert_eq!(next["nodes"].as_array().unwrap().len(), 3);
}

/// B4: movies added before the cursor's position, and a movie of the next page deleted, between two page
/// requests: the next page starts right after the last movie seen — nothing repeats, nothing is skipped.
/// (Offset pages would have repeated the shifted movies.)
async fn pages_neither_skip_nor_repeat_when_the_catalog_changes(backend: Backend) {
    use cinema::db::schema::movies;
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    let app = TestApp::start(backend).await;
    let by_year = json!({ "field": "YEAR", "direction": "DESC" });
    let first = page(&app, json!({ "first": 10, "sort": by_year })).await;
    let seen = names(&first);
    let whole_before = names(&page(&app, json!({ "first": 100, "sort": by_year })).await);
    let entry = |name: &str, year: i32| CatalogEntry {
        name: name.into(),
        year,
        duration: 90,
        certification: "PG".into(),
        genres: vec!["Drama".into()],
        directors: vec![],
        stars: vec![],
        imdb: 7.0,
        votes: 10,
        meta: None,
        gross: None,
        price: 499,
        description: "Added between two pages.".into(),
    };
    insert_catalog(app.db(), &[entry("Newest Film", 2026), entry("Brand New Film", 2025)])
        .await
        .unwrap();
    let doomed = whole_before[12].clone();
    let mut conn = app.conn().await;
    cinema::per_backend!(&mut conn, |c| diesel::delete(
        movies::table.filter(movies::name.eq(&doomed))
    )
    .execute(c)
    .await)
    .unwrap();
    drop(conn);

    let second = page(
        &app,
        json!({ "first": 10, "sort": by_year, "after": first["pageInfo"]["endCursor"] }),
    )
    .await;
    let expected: Vec<String> = whole_before[10..]
        .iter()
        .filter(|name| **name != doomed)
        .take(10)
        .cloned()
        .collect();
    assert_eq!(names(&second), expected);
    assert!(
        names(&second).iter().all(|name| !seen.contains(name)),
        "nothing repeats"
    );
}

/// H2, B6: `Genre.movies` over every genre costs the same few statements as over one — one for the pages of
/// all genres asked with the same arguments, one for their totals, one per relation — and each genre's page
/// and total are what `movies` filtered by that genre answers. Before, each genre was its own queries.
async fn every_genres_page_is_read_in_one_statement(backend: Backend) {
    let app = TestApp::counting_statements(backend).await;
    let query = r#"{ genres { id name
        movies(first: 3, sort: {field: YEAR, direction: DESC}, filter: {imdbMin: 7.5}) {
            totalCount pageInfo { hasNextPage } nodes { name genres { name } directors { name } } } } }"#;
    app.query_ok(query, json!({})).await;
    let before = app.statements();
    let data = app.query_ok(query, json!({})).await;
    let statements = app.statements() - before;
    let genres = data["genres"].as_array().unwrap();
    assert!(genres.len() > 10, "the demo catalog has many genres");
    // genres + pages + totals + the movies' genres + their directors: 5 when each relation's loads from the
    // genres' pages fall into one batch of the loader, as they usually do. A loaded machine (the instrumented
    // coverage run on two cores) can split a batch across the loader's 1 ms window, a few times over, so the
    // bound that holds everywhere is the one that matters: fewer statements than genres, where reading each
    // genre's page on its own costs at least two per genre.
    assert!(
        statements >= 5 && (statements as usize) < genres.len(),
        "{statements} statements for {} genres",
        genres.len()
    );

    for genre in genres {
        let alone = page(
            &app,
            json!({ "first": 3, "sort": { "field": "YEAR", "direction": "DESC" },
                    "filter": { "imdbMin": 7.5, "genreIds": [genre["id"]] } }),
        )
        .await;
        let batched = &genre["movies"];
        assert_eq!(batched["totalCount"], alone["totalCount"], "{}", genre["name"]);
        assert_eq!(batched["pageInfo"]["hasNextPage"], alone["pageInfo"]["hasNextPage"]);
        assert_eq!(names(batched), names(&alone), "{}", genre["name"]);
        for movie in batched["nodes"].as_array().unwrap() {
            assert!(
                movie["genres"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|g| g["name"] == genre["name"]),
                "{movie}"
            );
        }
    }

    // Two argument sets (aliases) are two page statements, still independent of the number of genres.
    let two = r#"{ genres { a: movies(first: 2) { nodes { name } } b: movies(first: 2, sort: {field: PRICE}) { nodes { name } } } }"#;
    app.query_ok(two, json!({})).await;
    let before = app.statements();
    app.query_ok(two, json!({})).await;
    assert_eq!(
        app.statements() - before,
        3,
        "genres + one page statement per argument set"
    );
}

/// B1: a director or star by id, and NOT_FOUND for an id nobody has; G10: the synthetic catalog for
/// benchmarks adds movies with their relations.
async fn people_by_id_and_a_synthetic_catalog(backend: Backend) {
    let app = TestApp::start(backend).await;
    let data = app
        .query_ok(
            "{ movies(first: 1, sort: {field: IMDB, direction: DESC}) { nodes { directors { id name } } } }",
            json!({}),
        )
        .await;
    let director = &data["movies"]["nodes"][0]["directors"][0];
    let person = app
        .query_ok(
            "query($id: ID!) { person(id: $id) { id name } }",
            json!({ "id": director["id"] }),
        )
        .await;
    assert_eq!(&person["person"], director);
    let (status, code) = app.error_code("{ person(id: \"999999\") { name } }", json!({})).await;
    assert_eq!((status, code.as_str()), (200, "NOT_FOUND"));

    let before = app.query_ok("{ movies { totalCount } }", json!({})).await["movies"]["totalCount"]
        .as_i64()
        .unwrap();
    // The demo catalog goes only into an empty catalog.
    let again = cinema::catalog::seed::seed_demo_if_empty(app.db()).await;
    assert_eq!(again.map_err(|e| e.code()), Ok(0));
    let added = cinema::catalog::seed::seed_synthetic(app.db(), 25).await;
    assert_eq!(added.map_err(|e| e.code()), Ok(25));
    let after = app
        .query_ok(
            "{ movies(first: 100) { totalCount nodes { genres { name } directors { name } } } }",
            json!({}),
        )
        .await;
    assert_eq!(after["movies"]["totalCount"].as_i64().unwrap(), before + 25);
}

/// B4: a movie list counts at most 10,000 movies, so its count costs the same at any catalog size; past the
/// cap `totalCount` is 10,000 and `totalCountCapped` true; narrower lists are exact.
async fn counts_stop_at_ten_thousand(backend: Backend) {
    let app = TestApp::start(backend).await;
    cinema::catalog::seed::seed_synthetic(app.db(), 10_050).await.unwrap();
    let count = |filter: Value| {
        let app = &app;
        async move {
            app.query_ok(
                "query($f: MovieFilter) { movies(first: 0, filter: $f) { totalCount totalCountCapped } }",
                json!({ "f": filter }),
            )
            .await["movies"]
                .clone()
        }
    };
    assert_eq!(
        count(Value::Null).await,
        json!({ "totalCount": 10_000, "totalCountCapped": true })
    );
    let demo_and_more = app
        .query_ok(
            "{ genres { name movies(first: 0) { totalCount totalCountCapped } } }",
            json!({}),
        )
        .await;
    assert!(
        demo_and_more["genres"]
            .as_array()
            .unwrap()
            .iter()
            .all(|g| g["movies"]["totalCountCapped"] == false)
    );
    let narrow = count(json!({ "yearMin": 2000, "yearMax": 2000 })).await;
    assert_eq!(narrow["totalCountCapped"], false);
    assert!(narrow["totalCount"].as_i64().unwrap() > 0);
}

/// Every movie of a search, walked page by page in `sort` order: (name, description) of each, and the first
/// page's count.
async fn walk_search(app: &TestApp, search: &str, sort: Value, first: i64) -> (Vec<(String, String)>, Value) {
    let query = "query($s: String, $a: String, $o: MovieSort, $n: Int) { movies(first: $n, after: $a, search: $s, sort: $o) { totalCount totalCountCapped pageInfo { hasNextPage endCursor } nodes { name description } } }";
    let mut after = Value::Null;
    let mut seen = Vec::new();
    let mut count = Value::Null;
    loop {
        let page = app
            .query_ok(query, json!({ "s": search, "a": after, "o": sort, "n": first }))
            .await["movies"]
            .clone();
        if count.is_null() {
            count = json!({ "totalCount": page["totalCount"], "totalCountCapped": page["totalCountCapped"] });
        }
        for node in page["nodes"].as_array().unwrap() {
            seen.push((
                node["name"].as_str().unwrap().to_string(),
                node["description"].as_str().unwrap().to_string(),
            ));
        }
        if page["pageInfo"]["hasNextPage"] != true {
            return (seen, count);
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
}

/// B5 at scale: a word more than 1,000 movies contain is read by walking the sort's index (its count stops at
/// 1,000, "1,000+"); a rarer one is listed from the search index and read by id (counted exactly); a text too
/// short for the index is walked. Each way pages through every match once, in order.
async fn common_and_rare_words_page_alike(backend: Backend) {
    let app = TestApp::start(backend).await;
    cinema::catalog::seed::seed_synthetic(app.db(), 1_500).await.unwrap();
    let contains = |(name, description): &(String, String), word: &str| {
        name.to_lowercase().contains(word) || description.to_lowercase().contains(word)
    };

    // Every synthetic movie's description says "generated".
    let by_name = json!({ "field": "NAME", "direction": "ASC" });
    let (common, count) = walk_search(&app, "Generated", by_name.clone(), 100).await;
    assert_eq!(count, json!({ "totalCount": 1000, "totalCountCapped": true }));
    assert!(common.len() >= 1_500, "{}", common.len());
    assert!(common.iter().all(|movie| contains(movie, "generated")));
    let names: Vec<&String> = common.iter().map(|(name, _)| name).collect();
    assert!(names.windows(2).all(|w| w[0] <= w[1]), "in name order, each once");
    let (by_score, _) = walk_search(&app, "generated", json!({ "field": "IMDB", "direction": "DESC" }), 100).await;
    let mut a: Vec<&String> = by_score.iter().map(|(name, _)| name).collect();
    a.sort();
    assert_eq!(a, names, "the same movies in any sort");

    // A title word about one movie in twenty has: listed by id, counted exactly, paged in small pages.
    let word = common[7].0.split(' ').nth(2).unwrap().to_lowercase();
    let (rare, count) = walk_search(&app, &word, by_name.clone(), 7).await;
    assert_eq!(count["totalCountCapped"], false);
    assert_eq!(count["totalCount"].as_u64().unwrap() as usize, rare.len());
    assert!(rare.iter().all(|movie| contains(movie, &word)), "{word}");
    let expected = common.iter().filter(|movie| contains(movie, &word)).count();
    assert!(
        rare.len() >= expected && expected > 0,
        "{word}: {} of {expected}",
        rare.len()
    );

    // One title, exactly.
    let title = &common[42].0;
    let (one, count) = walk_search(&app, title, by_name.clone(), 20).await;
    assert_eq!(count, json!({ "totalCount": one.len(), "totalCountCapped": false }));
    assert!(one.iter().any(|(name, _)| name == title));

    // Too short for the index: walked, and capped like a common word.
    let (short, count) = walk_search(&app, "no", by_name, 100).await;
    assert_eq!(count["totalCountCapped"], true);
    assert!(short.len() >= 1_500);
}

/// Issue 24 (the catalog editor's picker): `people(nameContains)` finds people by any part of their name in
/// any case, by name, at most `first`; LIKE's wildcards are plain characters; `first` outside 1..=50 is refused.
async fn people_are_found_by_part_of_their_name(backend: Backend) {
    let app = TestApp::start(backend).await;
    let query = "query($t: String!, $n: Int) { people(nameContains: $t, first: $n) { id name } }";
    let found = app.query_ok(query, json!({ "t": "FREEMAN" })).await;
    let names: Vec<&str> = found["people"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"Morgan Freeman"), "{names:?}");
    assert!(names.iter().all(|n| n.to_lowercase().contains("freeman")), "{names:?}");

    let many = app.query_ok(query, json!({ "t": "a", "n": 3 })).await;
    let names: Vec<String> = many["people"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names.len(), 3);
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "by name");

    for text in ["%", "_", "   "] {
        let none = app.query_ok(query, json!({ "t": text })).await;
        assert_eq!(none["people"], json!([]), "{text:?}");
    }
    for first in [0, 51] {
        let (_, code) = app.error_code(query, json!({ "t": "a", "n": first })).await;
        assert_eq!(code, "BAD_USER_INPUT", "first: {first}");
    }
}
