//! B7–B9, B14: what a signed-in viewer does with movies — favorites, likes and dislikes, ratings — and the
//! viewer state on every movie, on both databases; the public counters stay equal to the rows under
//! concurrent requests; a page with viewer state costs a fixed number of statements.

use crate::common::{TestApp, names};
use cinema::db::Backend;
use serde_json::{Value, json};

backend_tests!(
    anonymous_viewers_see_defaults_and_cannot_change_anything,
    favorites_reactions_and_ratings_change_the_movie_and_the_viewer,
    ratings_and_reactions_refuse_bad_input,
    favorites_page_sort_and_filter_like_the_catalog,
    a_page_with_viewer_state_costs_a_fixed_number_of_statements,
    counters_stay_equal_to_the_rows_under_concurrent_requests,
);

const STATE: &str = "viewerReaction viewerRating isFavorite isPurchased inCart";

async fn some_movie(app: &TestApp) -> String {
    let data = app
        .query_ok(
            "{ movies(first: 1, sort: {field: IMDB, direction: DESC}) { nodes { id } } }",
            json!({}),
        )
        .await;
    data["movies"]["nodes"][0]["id"].as_str().unwrap().to_string()
}

async fn mutate(app: &TestApp, token: &str, mutation: &str, variables: Value) -> Value {
    let (status, body) = app.graphql_as(token, mutation, variables).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("errors").is_none(), "{mutation}: {body}");
    body["data"].clone()
}

async fn mutation_error(app: &TestApp, token: &str, mutation: &str, variables: Value) -> Value {
    let (_, body) = app.graphql_as(token, mutation, variables).await;
    body["errors"][0]["extensions"].clone()
}

fn access(tokens: &Value) -> String {
    tokens["accessToken"].as_str().unwrap().to_string()
}

async fn anonymous_viewers_see_defaults_and_cannot_change_anything(backend: Backend) {
    let app = TestApp::start_with(backend, &[("SEED_DEMO", "on")]).await;
    let data = app
        .query_ok(&format!("{{ movies(first: 3) {{ nodes {{ {STATE} }} }} }}"), json!({}))
        .await;
    for movie in data["movies"]["nodes"].as_array().unwrap() {
        assert_eq!(
            movie,
            &json!({ "viewerReaction": null, "viewerRating": null, "isFavorite": false,
                     "isPurchased": false, "inCart": false })
        );
    }
    let movie = some_movie(&app).await;
    for mutation in [
        "mutation($m: ID!) { addFavorite(movieId: $m) { id } }",
        "mutation($m: ID!) { removeFavorite(movieId: $m) { id } }",
        "mutation($m: ID!) { setReaction(movieId: $m, reaction: LIKE) { id } }",
        "mutation($m: ID!) { clearReaction(movieId: $m) { id } }",
        "mutation($m: ID!) { rateMovie(movieId: $m, score: 5) { id } }",
        "mutation($m: ID!) { clearRating(movieId: $m) { id } }",
    ] {
        let (_, body) = app.graphql(mutation, json!({ "m": movie })).await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
            "{mutation}: {body}"
        );
    }
    let data = app
        .query_ok(
            "query($m: ID!) { movie(id: $m) { likes ratingsCount } }",
            json!({ "m": movie }),
        )
        .await;
    assert_eq!(
        data["movie"],
        json!({ "likes": 0, "ratingsCount": 0 }),
        "nothing changed"
    );
}

async fn favorites_reactions_and_ratings_change_the_movie_and_the_viewer(backend: Backend) {
    let app = TestApp::start_with(backend, &[("SEED_DEMO", "on")]).await;
    let ann = access(&app.signed_in_user("ann@example.com").await);
    let bob = access(&app.signed_in_user("bob@example.com").await);
    let movie = some_movie(&app).await;
    let m = json!({ "m": movie });
    let fields = format!("id likes dislikes averageRating ratingsCount {STATE}");

    // B7: favorites, idempotent both ways.
    for _ in 0..2 {
        let data = mutate(
            &app,
            &ann,
            &format!("mutation($m: ID!) {{ addFavorite(movieId: $m) {{ {fields} }} }}"),
            m.clone(),
        )
        .await;
        assert_eq!(data["addFavorite"]["isFavorite"], true);
    }
    let me = app
        .graphql_as(
            &ann,
            "{ me { favorites { totalCount nodes { id isFavorite } } } }",
            json!({}),
        )
        .await
        .1;
    assert_eq!(me["data"]["me"]["favorites"]["totalCount"], 1, "{me}");
    assert_eq!(me["data"]["me"]["favorites"]["nodes"][0]["id"], movie.as_str());
    let bobs = app
        .graphql_as(&bob, "{ me { favorites { totalCount } } }", json!({}))
        .await
        .1;
    assert_eq!(
        bobs["data"]["me"]["favorites"]["totalCount"], 0,
        "favorites are per user"
    );
    for _ in 0..2 {
        let data = mutate(
            &app,
            &ann,
            &format!("mutation($m: ID!) {{ removeFavorite(movieId: $m) {{ {fields} }} }}"),
            m.clone(),
        )
        .await;
        assert_eq!(data["removeFavorite"]["isFavorite"], false);
    }

    // B8: one reaction per user; switching moves the count; clearing removes it.
    let react = |token: &str, reaction: &str| {
        let query = format!("mutation($m: ID!) {{ setReaction(movieId: $m, reaction: {reaction}) {{ {fields} }} }}");
        let (app, token, m) = (&app, token.to_string(), m.clone());
        async move { mutate(app, &token, &query, m).await["setReaction"].clone() }
    };
    let after = react(&ann, "LIKE").await;
    assert_eq!(
        (
            after["likes"].clone(),
            after["dislikes"].clone(),
            after["viewerReaction"].clone()
        ),
        (json!(1), json!(0), json!("LIKE"))
    );
    let after = react(&ann, "LIKE").await;
    assert_eq!(after["likes"], 1, "liking twice counts once");
    let after = react(&bob, "LIKE").await;
    assert_eq!(after["likes"], 2);
    let after = react(&ann, "DISLIKE").await;
    assert_eq!(
        (
            after["likes"].clone(),
            after["dislikes"].clone(),
            after["viewerReaction"].clone()
        ),
        (json!(1), json!(1), json!("DISLIKE"))
    );
    let cleared = mutate(
        &app,
        &ann,
        &format!("mutation($m: ID!) {{ clearReaction(movieId: $m) {{ {fields} }} }}"),
        m.clone(),
    )
    .await;
    assert_eq!(
        (
            cleared["clearReaction"]["likes"].clone(),
            cleared["clearReaction"]["dislikes"].clone()
        ),
        (json!(1), json!(0))
    );
    assert_eq!(cleared["clearReaction"]["viewerReaction"], Value::Null);
    let again = mutate(
        &app,
        &ann,
        "mutation($m: ID!) { clearReaction(movieId: $m) { likes dislikes } }",
        m.clone(),
    )
    .await;
    assert_eq!(
        again["clearReaction"],
        json!({ "likes": 1, "dislikes": 0 }),
        "clearing nothing changes nothing"
    );

    // B9: ratings 1..10, replaceable, removable; the average follows.
    let rate = |token: &str, score: i64| {
        let query = format!("mutation($m: ID!, $s: Int!) {{ rateMovie(movieId: $m, score: $s) {{ {fields} }} }}");
        let (app, token, vars) = (&app, token.to_string(), json!({ "m": movie, "s": score }));
        async move { mutate(app, &token, &query, vars).await["rateMovie"].clone() }
    };
    let after = rate(&ann, 8).await;
    assert_eq!(
        (
            after["averageRating"].clone(),
            after["ratingsCount"].clone(),
            after["viewerRating"].clone()
        ),
        (json!(8.0), json!(1), json!(8))
    );
    let after = rate(&bob, 6).await;
    assert_eq!(
        (after["averageRating"].clone(), after["viewerRating"].clone()),
        (json!(7.0), json!(6))
    );
    let after = rate(&ann, 10).await;
    assert_eq!(
        (after["averageRating"].clone(), after["ratingsCount"].clone()),
        (json!(8.0), json!(2)),
        "a new score replaces the old"
    );
    let cleared = mutate(
        &app,
        &ann,
        &format!("mutation($m: ID!) {{ clearRating(movieId: $m) {{ {fields} }} }}"),
        m.clone(),
    )
    .await;
    assert_eq!(
        (
            cleared["clearRating"]["averageRating"].clone(),
            cleared["clearRating"]["ratingsCount"].clone(),
            cleared["clearRating"]["viewerRating"].clone()
        ),
        (json!(6.0), json!(1), Value::Null)
    );

    // Each viewer sees their own state on the same movie.
    let query = format!("query($m: ID!) {{ movie(id: $m) {{ {STATE} }} }}");
    let bobs = app.graphql_as(&bob, &query, m.clone()).await.1;
    assert_eq!(bobs["data"]["movie"]["viewerReaction"], "LIKE");
    assert_eq!(bobs["data"]["movie"]["viewerRating"], 6);
    let anns = app.graphql_as(&ann, &query, m.clone()).await.1;
    assert_eq!(anns["data"]["movie"]["viewerRating"], Value::Null);
}

async fn ratings_and_reactions_refuse_bad_input(backend: Backend) {
    let app = TestApp::start_with(backend, &[("SEED_DEMO", "on")]).await;
    let ann = access(&app.signed_in_user("ann@example.com").await);
    let movie = some_movie(&app).await;
    for score in [0, 11, -3] {
        let error = mutation_error(
            &app,
            &ann,
            "mutation($m: ID!, $s: Int!) { rateMovie(movieId: $m, score: $s) { id } }",
            json!({ "m": movie, "s": score }),
        )
        .await;
        assert_eq!(
            (error["code"].as_str(), error["field"].as_str()),
            (Some("BAD_USER_INPUT"), Some("score")),
            "{score}: {error}"
        );
    }
    for mutation in [
        "mutation($m: ID!) { addFavorite(movieId: $m) { id } }",
        "mutation($m: ID!) { setReaction(movieId: $m, reaction: LIKE) { id } }",
        "mutation($m: ID!) { rateMovie(movieId: $m, score: 5) { id } }",
        "mutation($m: ID!) { clearRating(movieId: $m) { id } }",
    ] {
        let error = mutation_error(&app, &ann, mutation, json!({ "m": "no-such-movie" })).await;
        assert_eq!(error["code"], "NOT_FOUND", "{mutation}: {error}");
    }
    let error = mutation_error(
        &app,
        &ann,
        "mutation($m: ID!) { setReaction(movieId: $m, reaction: LOVE) { id } }",
        json!({ "m": movie }),
    )
    .await;
    assert_eq!(error["code"], "GRAPHQL_VALIDATION_FAILED", "{error}");
    let data = app
        .query_ok(
            "query($m: ID!) { movie(id: $m) { likes ratingsCount } }",
            json!({ "m": movie }),
        )
        .await;
    assert_eq!(
        data["movie"],
        json!({ "likes": 0, "ratingsCount": 0 }),
        "nothing changed"
    );
}

/// B7: `me.favorites` takes the catalog's filters, search, sorting and keyset pages.
async fn favorites_page_sort_and_filter_like_the_catalog(backend: Backend) {
    let app = TestApp::start_with(backend, &[("SEED_DEMO", "on")]).await;
    let ann = access(&app.signed_in_user("ann@example.com").await);
    let top = app
        .query_ok(
            "{ movies(first: 7, sort: {field: IMDB, direction: DESC}) { nodes { id name year } } }",
            json!({}),
        )
        .await;
    let top = top["movies"]["nodes"].as_array().unwrap().clone();
    for movie in &top {
        mutate(
            &app,
            &ann,
            "mutation($m: ID!) { addFavorite(movieId: $m) { id } }",
            json!({ "m": movie["id"] }),
        )
        .await;
    }
    let mut by_year: Vec<(i64, String)> = top
        .iter()
        .map(|m| (m["year"].as_i64().unwrap(), m["name"].as_str().unwrap().to_string()))
        .collect();
    by_year.sort();
    let query = "query($after: String, $filter: MovieFilter, $search: String) { me { favorites(first: 3, after: $after, filter: $filter, search: $search, sort: {field: YEAR}) {
        totalCount pageInfo { hasNextPage endCursor } nodes { name year isFavorite } } } }";
    let mut seen = Vec::new();
    let mut after = Value::Null;
    loop {
        let (_, body) = app.graphql_as(&ann, query, json!({ "after": after })).await;
        let page = body["data"]["me"]["favorites"].clone();
        assert_eq!(page["totalCount"], 7, "{body}");
        assert!(
            page["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .all(|m| m["isFavorite"] == true)
        );
        seen.extend(names(&page));
        if page["pageInfo"]["hasNextPage"] == false {
            break;
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
    let years: Vec<i64> = by_year.iter().map(|(year, _)| *year).collect();
    assert_eq!(seen.len(), 7);
    let mut seen_sorted = seen.clone();
    seen_sorted.sort();
    let mut expected: Vec<String> = by_year.iter().map(|(_, name)| name.clone()).collect();
    expected.sort();
    assert_eq!(seen_sorted, expected, "every favorite once, years {years:?}");

    let middle = by_year[3].0;
    let (_, body) = app
        .graphql_as(&ann, query, json!({ "filter": { "yearMin": middle } }))
        .await;
    let count = by_year.iter().filter(|(year, _)| *year >= middle).count();
    assert_eq!(body["data"]["me"]["favorites"]["totalCount"], count, "{body}");
    let first_word = by_year[0].1.split_whitespace().next().unwrap().to_string();
    let (_, body) = app.graphql_as(&ann, query, json!({ "search": first_word })).await;
    assert!(
        body["data"]["me"]["favorites"]["totalCount"].as_i64().unwrap() >= 1,
        "{body}"
    );
}

/// A catalog page and a favorites page with viewer state cost the same statements for 1 and 100 movies.
async fn a_page_with_viewer_state_costs_a_fixed_number_of_statements(backend: Backend) {
    let app = TestApp::start_with(backend, &[("SEED_DEMO", "on"), ("RUN_WORKER", "off")]).await;
    let ann = access(&app.signed_in_user_without_worker("ann@example.com").await);
    let all = app.query_ok("{ movies(first: 100) { nodes { id } } }", json!({})).await;
    for movie in all["movies"]["nodes"].as_array().unwrap() {
        mutate(
            &app,
            &ann,
            "mutation($m: ID!) { addFavorite(movieId: $m) { id } }",
            json!({ "m": movie["id"] }),
        )
        .await;
    }
    let catalog = format!(
        "query($first: Int) {{ movies(first: $first) {{ totalCount nodes {{ name genres {{ name }} directors {{ name }} {STATE} }} }} }}"
    );
    let favorites = format!(
        "query($first: Int) {{ me {{ favorites(first: $first) {{ totalCount nodes {{ name genres {{ name }} {STATE} }} }} }} }}"
    );
    for (query, expected) in [(&catalog, 4), (&favorites, 4)] {
        let mut costs = Vec::new();
        for first in [1, 100] {
            app.graphql_as(&ann, query, json!({ "first": first })).await;
            let before = app.statements();
            let (_, body) = app.graphql_as(&ann, query, json!({ "first": first })).await;
            assert!(body.get("errors").is_none(), "{body}");
            costs.push(app.statements() - before);
        }
        // catalog: page (with its movies' genre ids; their names from the catalog's copy) + count + directors +
        // viewer state; favorites: the user (`me`) + page + count + viewer state (the session is cached, so the
        // token costs nothing here)
        assert_eq!(costs, [expected, expected], "{query}");
    }
}

/// B8, B9: many users liking, disliking, rating and taking back at once leave the movie's counters exactly
/// equal to its rows (on PostgreSQL the requests really overlap; on SQLite they queue for the write lock).
async fn counters_stay_equal_to_the_rows_under_concurrent_requests(backend: Backend) {
    use cinema::db::schema::{movie_ratings, movie_reactions, movies};
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    let app = TestApp::start_with(backend, &[("SEED_DEMO", "on")]).await;
    let movie = some_movie(&app).await;
    let mut users = Vec::new();
    for i in 0..6 {
        users.push(access(&app.signed_in_user(&format!("fan{i}@example.com")).await));
    }
    let script = [
        "mutation($m: ID!) { setReaction(movieId: $m, reaction: LIKE) { id } }",
        "mutation($m: ID!) { setReaction(movieId: $m, reaction: DISLIKE) { id } }",
        "mutation($m: ID!) { rateMovie(movieId: $m, score: 7) { id } }",
        "mutation($m: ID!) { setReaction(movieId: $m, reaction: LIKE) { id } }",
        "mutation($m: ID!) { rateMovie(movieId: $m, score: 3) { id } }",
        "mutation($m: ID!) { clearReaction(movieId: $m) { id } }",
        "mutation($m: ID!) { setReaction(movieId: $m, reaction: DISLIKE) { id } }",
        "mutation($m: ID!) { clearRating(movieId: $m) { id } }",
        "mutation($m: ID!) { rateMovie(movieId: $m, score: 9) { id } }",
    ];
    // Every user runs the script from a different starting point, twice over, each request as its own task,
    // several at once per user too.
    let mut tasks = Vec::new();
    for (u, token) in users.iter().enumerate() {
        for step in 0..script.len() * 2 {
            let mutation = script[(u + step) % script.len()];
            let (client, url, token, movie) = (app.client.clone(), app.url("/graphql"), token.clone(), movie.clone());
            tasks.push(tokio::spawn(async move {
                client
                    .post(url)
                    .bearer_auth(token)
                    .json(&json!({ "query": mutation, "variables": { "m": movie } }))
                    .send()
                    .await
                    .unwrap()
                    .json::<Value>()
                    .await
                    .unwrap()
            }));
        }
    }
    for task in tasks {
        let body = task.await.unwrap();
        assert!(body.get("errors").is_none(), "{body}");
    }
    let mut conn = app.conn().await;
    let counters: (i64, i64, i64, i64, i64) = cinema::per_backend!(&mut conn, |c| movies::table
        .filter(movies::uuid.eq(&movie))
        .select((
            movies::id,
            movies::likes_count,
            movies::dislikes_count,
            movies::ratings_count,
            movies::ratings_sum
        ))
        .first(c)
        .await)
    .unwrap();
    let (id, likes, dislikes, ratings, sum) = counters;
    let reactions: Vec<String> = cinema::per_backend!(&mut conn, |c| movie_reactions::table
        .filter(movie_reactions::movie_id.eq(id))
        .select(movie_reactions::kind)
        .load(c)
        .await)
    .unwrap();
    let scores: Vec<i32> = cinema::per_backend!(&mut conn, |c| movie_ratings::table
        .filter(movie_ratings::movie_id.eq(id))
        .select(movie_ratings::score)
        .load(c)
        .await)
    .unwrap();
    assert_eq!(likes, reactions.iter().filter(|k| *k == "LIKE").count() as i64);
    assert_eq!(dislikes, reactions.iter().filter(|k| *k == "DISLIKE").count() as i64);
    assert_eq!(ratings, scores.len() as i64);
    assert_eq!(sum, scores.iter().map(|s| i64::from(*s)).sum::<i64>());
}
