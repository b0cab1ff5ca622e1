//! B12, B13: moderators manage movies, genres and people; admins manage certifications; the delete rules
//! (bought, ordered, in carts) and the uniqueness rules answer CONFLICT with the facts. On both databases.

use crate::common::{PASSWORD, TestApp, ok};
use cinema::db::{Backend, Role};
use serde_json::{Value, json};

backend_tests!(
    moderators_create_update_and_delete_movies,
    movie_changes_are_refused_with_the_field_or_the_fact,
    only_moderators_and_admins_may_moderate,
    a_movie_in_carts_or_bought_is_protected,
    genres_people_and_certifications,
    search_follows_every_change_and_takes_any_text,
);

struct Staff {
    app: TestApp,
    admin: String,
    moderator: String,
    user: String,
}

async fn staffed(backend: Backend) -> Staff {
    let app = TestApp::start_with(backend, &[("SEED_DEMO", "on")]).await;
    for email in ["admin@example.com", "mod@example.com", "user@example.com"] {
        app.signed_in_user(email).await;
    }
    app.set_role("admin@example.com", Role::Admin).await;
    app.set_role("mod@example.com", Role::Moderator).await;
    let token = |t: Value| t["accessToken"].as_str().unwrap().to_string();
    Staff {
        admin: token(app.login("admin@example.com", PASSWORD).await),
        moderator: token(app.login("mod@example.com", PASSWORD).await),
        user: token(app.login("user@example.com", PASSWORD).await),
        app,
    }
}

async fn refused(app: &TestApp, token: Option<&str>, query: &str, variables: Value) -> Value {
    let body = match token {
        Some(token) => app.graphql_as(token, query, variables).await.1,
        None => app.graphql(query, variables).await.1,
    };
    assert!(body["data"].is_null() || body["errors"].is_array(), "{body}");
    body["errors"][0].clone()
}

/// Ids of named catalog entries, by name.
async fn ids_of(app: &TestApp) -> (Value, Value, Value) {
    let data = app
        .query_ok(
            r#"{ genres { id name } certifications { id name }
                 movies(first: 1, search: "Nolan") { nodes { directors { id name } stars { id name } } } }"#,
            json!({}),
        )
        .await;
    (
        data["genres"].clone(),
        data["certifications"].clone(),
        data["movies"]["nodes"][0].clone(),
    )
}

fn id_named(list: &Value, name: &str) -> Value {
    list.as_array().unwrap().iter().find(|e| e["name"] == name).unwrap()["id"].clone()
}

const CREATE: &str = "mutation($input: MovieInput!) { createMovie(input: $input) {
    id name year durationMinutes metaScore gross { amount } price { amount } certification { name }
    genres { name } directors { name } stars { name } } }";

async fn moderators_create_update_and_delete_movies(backend: Backend) {
    let staff = staffed(backend).await;
    let app = &staff.app;
    let (genres, certifications, nolan) = ids_of(app).await;
    let star_a = nolan["stars"][1]["id"].clone();
    let star_b = nolan["stars"][0]["id"].clone();
    let input = json!({
        "name": "  The Long Reel  ", "year": 2025, "durationMinutes": 131, "imdbScore": 7.4, "metaScore": 71,
        "gross": 1_234_500, "description": "A film about films.", "price": 1299,
        "certificationId": id_named(&certifications, "PG-13"),
        "genreIds": [id_named(&genres, "Drama"), id_named(&genres, "Drama"), id_named(&genres, "History")],
        "directorIds": [nolan["directors"][0]["id"]], "starIds": [star_a, star_b],
    });
    let created = ok(app, &staff.moderator, CREATE, json!({ "input": input })).await["createMovie"].clone();
    assert_eq!(created["name"], "The Long Reel", "trimmed");
    assert_eq!(
        created["genres"],
        json!([{ "name": "Drama" }, { "name": "History" }]),
        "duplicates once"
    );
    assert_eq!(
        created["stars"][0]["name"], nolan["stars"][1]["name"],
        "billing order as given"
    );
    assert_eq!(created["certification"]["name"], "PG-13");
    assert_eq!(created["price"]["amount"], 1299);
    let id = created["id"].clone();
    let found = app
        .query_ok("{ movies(search: \"long reel\") { totalCount } }", json!({}))
        .await;
    assert_eq!(found["movies"]["totalCount"], 1, "the catalog shows it");

    let update = "mutation($id: ID!, $input: MovieUpdateInput!) { updateMovie(id: $id, input: $input) {
        name year metaScore gross { amount } price { amount } genres { name } stars { name } } }";
    let updated = ok(
        app,
        &staff.moderator,
        update,
        json!({ "id": id, "input": { "year": 2026, "metaScore": null, "price": 999, "genreIds": [id_named(&genres, "Sci-Fi")], "starIds": [] } }),
    )
    .await["updateMovie"]
        .clone();
    assert_eq!(
        updated,
        json!({ "name": "The Long Reel", "year": 2026, "metaScore": null, "gross": { "amount": 1_234_500 },
                "price": { "amount": 999 }, "genres": [{ "name": "Sci-Fi" }], "stars": [] })
    );

    let deleted = ok(
        app,
        &staff.moderator,
        "mutation($id: ID!) { deleteMovie(id: $id) { deletedMovieId removedFromCarts } }",
        json!({ "id": id }),
    )
    .await;
    assert_eq!(
        deleted["deleteMovie"],
        json!({ "deletedMovieId": id, "removedFromCarts": 0 })
    );
    let (_, body) = app
        .graphql("query($id: ID!) { movie(id: $id) { name } }", json!({ "id": id }))
        .await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "NOT_FOUND");
}

async fn movie_changes_are_refused_with_the_field_or_the_fact(backend: Backend) {
    let staff = staffed(backend).await;
    let app = &staff.app;
    let (genres, certifications, _) = ids_of(app).await;
    let base = json!({
        "name": "Refusals", "year": 2020, "durationMinutes": 100, "imdbScore": 6.0, "price": 500,
        "certificationId": id_named(&certifications, "R"), "genreIds": [id_named(&genres, "Drama")],
    });
    let with = |key: &str, value: Value| {
        let mut input = base.clone();
        input[key] = value;
        json!({ "input": input })
    };
    for (key, value, field) in [
        ("year", json!(1500), "input.year"),
        ("durationMinutes", json!(0), "input.durationMinutes"),
        ("imdbScore", json!(10.5), "input.imdbScore"),
        ("metaScore", json!(101), "input.metaScore"),
        ("price", json!(-1), "input.price"),
        ("name", json!("   "), "input.name"),
        ("genreIds", json!(["999999"]), "input.genreIds"),
        ("directorIds", json!(["999998", "999999"]), "input.directorIds"),
        ("certificationId", json!("999999"), "input.certificationId"),
        ("genreIds", json!(["not-an-id"]), "input.genreIds"),
    ] {
        let error = refused(app, Some(&staff.moderator), CREATE, with(key, value.clone())).await;
        assert_eq!(
            (
                error["extensions"]["code"].as_str(),
                error["extensions"]["field"].as_str()
            ),
            (Some("BAD_USER_INPUT"), Some(field)),
            "{key} = {value}: {error}"
        );
    }
    let error = refused(
        app,
        Some(&staff.moderator),
        CREATE,
        with("directorIds", json!(["999998", "999999"])),
    )
    .await;
    assert!(
        error["message"].as_str().unwrap().contains("999998, 999999"),
        "every unknown id is named: {error}"
    );

    // The (name, year, duration) of a film is unique: the conflict names the existing movie.
    let first = ok(app, &staff.moderator, CREATE, json!({ "input": base })).await["createMovie"]["id"].clone();
    let error = refused(app, Some(&staff.moderator), CREATE, json!({ "input": base })).await;
    assert_eq!(error["extensions"]["code"], "CONFLICT", "{error}");
    assert_eq!(error["extensions"]["existingMovieId"], first);
    assert!(error["message"].as_str().unwrap().contains("Refusals"), "{error}");
    let other = ok(app, &staff.moderator, CREATE, with("year", json!(2021))).await["createMovie"]["id"].clone();
    let error = refused(
        app,
        Some(&staff.moderator),
        "mutation($id: ID!) { updateMovie(id: $id, input: { year: 2020 }) { id } }",
        json!({ "id": other }),
    )
    .await;
    assert_eq!(
        error["extensions"]["existingMovieId"], first,
        "an edit into another film's identity: {error}"
    );
    let error = refused(
        app,
        Some(&staff.moderator),
        "mutation { updateMovie(id: \"no-such-movie\", input: { year: 2020 }) { id } }",
        json!({}),
    )
    .await;
    assert_eq!(error["extensions"]["code"], "NOT_FOUND");
    let count = app
        .query_ok("{ movies(search: \"Refusals\") { totalCount } }", json!({}))
        .await;
    assert_eq!(count["movies"]["totalCount"], 2, "no refused change left anything");
}

async fn only_moderators_and_admins_may_moderate(backend: Backend) {
    let staff = staffed(backend).await;
    let app = &staff.app;
    let movie_mutations = [
        "mutation { createGenre(name: \"Noir\") { id } }",
        "mutation { updateGenre(id: \"1\", name: \"Noir\") { id } }",
        "mutation { deleteGenre(id: \"1\") }",
        "mutation { createPerson(name: \"Someone New\") { id } }",
        "mutation { deletePerson(id: \"1\") }",
        "mutation { deleteMovie(id: \"x\") { deletedMovieId } }",
        "mutation { updateMovie(id: \"x\", input: {}) { id } }",
    ];
    let certification_mutations = [
        "mutation { createCertification(name: \"TV-MA\") { id } }",
        "mutation { updateCertification(id: \"1\", name: \"TV-MA\") { id } }",
        "mutation { deleteCertification(id: \"1\") }",
    ];
    for mutation in movie_mutations.iter().chain(&certification_mutations) {
        let error = refused(app, None, mutation, json!({})).await;
        assert_eq!(error["extensions"]["code"], "UNAUTHENTICATED", "{mutation}");
        let error = refused(app, Some(&staff.user), mutation, json!({})).await;
        assert_eq!(error["extensions"]["code"], "FORBIDDEN", "{mutation}");
    }
    for mutation in certification_mutations {
        let error = refused(app, Some(&staff.moderator), mutation, json!({})).await;
        assert_eq!(
            error["extensions"]["code"], "FORBIDDEN",
            "moderators do not manage certifications: {mutation}"
        );
    }
    ok(
        app,
        &staff.admin,
        "mutation { createGenre(name: \"Noir\") { id } }",
        json!({}),
    )
    .await;
}

/// B12: bought → kept (owners counted); in carts → kept unless confirmed, then taken out of the carts in the
/// same transaction.
async fn a_movie_in_carts_or_bought_is_protected(backend: Backend) {
    use cinema::db::schema::{cart_items, carts, movies, order_items, orders, purchases, users};
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    let staff = staffed(backend).await;
    let app = &staff.app;
    let top = app.query_ok("{ movies(first: 2) { nodes { id } } }", json!({})).await;
    let (carted, bought) = (
        top["movies"]["nodes"][0]["id"].clone(),
        top["movies"]["nodes"][1]["id"].clone(),
    );
    let now = cinema::db::now();
    let mut conn = app.conn().await;
    let user_id: i64 = cinema::per_backend!(&mut conn, |c| users::table
        .filter(users::email.eq("user@example.com"))
        .select(users::id)
        .first(c)
        .await)
    .unwrap();
    let movie_id = |uuid: &Value| {
        let uuid = uuid.as_str().unwrap().to_string();
        movies::table.filter(movies::uuid.eq(uuid)).select(movies::id)
    };
    let carted_id: i64 = cinema::per_backend!(&mut conn, |c| movie_id(&carted).first(c).await).unwrap();
    let bought_id: i64 = cinema::per_backend!(&mut conn, |c| movie_id(&bought).first(c).await).unwrap();
    cinema::per_backend!(&mut conn, |c| async {
        let cart: i64 = diesel::insert_into(carts::table)
            .values((
                carts::user_id.eq(user_id),
                carts::created_at.eq(now),
                carts::updated_at.eq(now),
            ))
            .returning(carts::id)
            .get_result(c)
            .await?;
        diesel::insert_into(cart_items::table)
            .values((
                cart_items::cart_id.eq(cart),
                cart_items::movie_id.eq(carted_id),
                cart_items::added_at.eq(now),
            ))
            .execute(c)
            .await?;
        let order: i64 = diesel::insert_into(orders::table)
            .values((
                orders::uuid.eq("order-1"),
                orders::user_id.eq(user_id),
                orders::status.eq("PAID"),
                orders::total_cents.eq(500),
                orders::currency.eq("USD"),
                orders::created_at.eq(now),
                orders::updated_at.eq(now),
            ))
            .returning(orders::id)
            .get_result(c)
            .await?;
        diesel::insert_into(order_items::table)
            .values((
                order_items::order_id.eq(order),
                order_items::movie_id.eq(bought_id),
                order_items::price_cents.eq(500),
                order_items::currency.eq("USD"),
            ))
            .execute(c)
            .await?;
        diesel::insert_into(purchases::table)
            .values((
                purchases::user_id.eq(user_id),
                purchases::movie_id.eq(bought_id),
                purchases::order_id.eq(order),
                purchases::price_cents.eq(500),
                purchases::currency.eq("USD"),
                purchases::purchased_at.eq(now),
            ))
            .execute(c)
            .await?;
        diesel::QueryResult::Ok(())
    }
    .await)
    .unwrap();
    drop(conn);

    let delete = "mutation($id: ID!, $confirm: Boolean) { deleteMovie(id: $id, confirmInCarts: $confirm) { deletedMovieId removedFromCarts } }";
    let error = refused(app, Some(&staff.moderator), delete, json!({ "id": bought })).await;
    assert_eq!(
        (
            error["extensions"]["code"].as_str(),
            error["extensions"]["owners"].as_i64()
        ),
        (Some("CONFLICT"), Some(1)),
        "{error}"
    );
    let error = refused(
        app,
        Some(&staff.moderator),
        delete,
        json!({ "id": bought, "confirm": true }),
    )
    .await;
    assert_eq!(
        error["extensions"]["owners"], 1,
        "confirming carts does not touch purchases"
    );

    let error = refused(app, Some(&staff.moderator), delete, json!({ "id": carted })).await;
    assert_eq!(
        (
            error["extensions"]["code"].as_str(),
            error["extensions"]["carts"].as_i64()
        ),
        (Some("CONFLICT"), Some(1)),
        "{error}"
    );
    let in_cart = app
        .graphql_as(
            &staff.user,
            "query($id: ID!) { movie(id: $id) { inCart isPurchased } }",
            json!({ "id": carted }),
        )
        .await
        .1;
    assert_eq!(
        in_cart["data"]["movie"],
        json!({ "inCart": true, "isPurchased": false })
    );
    let owned = app
        .graphql_as(
            &staff.user,
            "query($id: ID!) { movie(id: $id) { inCart isPurchased } }",
            json!({ "id": bought }),
        )
        .await
        .1;
    assert_eq!(owned["data"]["movie"], json!({ "inCart": false, "isPurchased": true }));
    let bought_list = ok(
        app,
        &staff.user,
        "{ me { purchasedMovies { totalCount nodes { id } } } }",
        json!({}),
    )
    .await;
    assert_eq!(bought_list["me"]["purchasedMovies"]["nodes"][0]["id"], bought, "B14");

    let deleted = ok(app, &staff.moderator, delete, json!({ "id": carted, "confirm": true })).await;
    assert_eq!(deleted["deleteMovie"]["removedFromCarts"], 1);
    let mut conn = app.conn().await;
    let left: i64 = cinema::per_backend!(&mut conn, |c| cart_items::table.count().get_result(c).await).unwrap();
    assert_eq!(left, 0, "the movie left the cart with its deletion");
}

async fn genres_people_and_certifications(backend: Backend) {
    let staff = staffed(backend).await;
    let app = &staff.app;
    let genre = ok(
        app,
        &staff.moderator,
        "mutation { createGenre(name: \"  Noir \") { id name movieCount } }",
        json!({}),
    )
    .await["createGenre"]
        .clone();
    assert_eq!(
        (genre["name"].clone(), genre["movieCount"].clone()),
        (json!("Noir"), json!(0))
    );
    let error = refused(
        app,
        Some(&staff.moderator),
        "mutation { createGenre(name: \"Noir\") { id } }",
        json!({}),
    )
    .await;
    assert_eq!(error["extensions"]["code"], "CONFLICT");
    let error = refused(
        app,
        Some(&staff.moderator),
        "mutation { createGenre(name: \"\") { id } }",
        json!({}),
    )
    .await;
    assert_eq!(
        (
            error["extensions"]["code"].as_str(),
            error["extensions"]["field"].as_str()
        ),
        (Some("BAD_USER_INPUT"), Some("name"))
    );
    let renamed = ok(
        app,
        &staff.moderator,
        "mutation($id: ID!) { updateGenre(id: $id, name: \"Film Noir\") { name } }",
        json!({ "id": genre["id"] }),
    )
    .await;
    assert_eq!(renamed["updateGenre"]["name"], "Film Noir");
    let error = refused(
        app,
        Some(&staff.moderator),
        "mutation { updateGenre(id: \"999999\", name: \"X\") { name } }",
        json!({}),
    )
    .await;
    assert_eq!(error["extensions"]["code"], "NOT_FOUND");
    ok(
        app,
        &staff.moderator,
        "mutation($id: ID!) { deleteGenre(id: $id) }",
        json!({ "id": genre["id"] }),
    )
    .await;
    let error = refused(
        app,
        Some(&staff.moderator),
        "mutation($id: ID!) { deleteGenre(id: $id) }",
        json!({ "id": genre["id"] }),
    )
    .await;
    assert_eq!(error["extensions"]["code"], "NOT_FOUND", "deleted once");

    // A genre in use leaves its movies.
    let (genres, certifications, _) = ids_of(app).await;
    let drama = id_named(&genres, "Drama");
    ok(
        app,
        &staff.moderator,
        "mutation($id: ID!) { deleteGenre(id: $id) }",
        json!({ "id": drama }),
    )
    .await;
    let still = app
        .query_ok(
            "{ movies(first: 1, search: \"Shawshank\") { nodes { name genres { name } } } }",
            json!({}),
        )
        .await;
    assert_eq!(still["movies"]["nodes"][0]["name"], "The Shawshank Redemption");

    let person = ok(
        app,
        &staff.moderator,
        "mutation { createPerson(name: \"Ada Director\") { id name } }",
        json!({}),
    )
    .await["createPerson"]
        .clone();
    ok(
        app,
        &staff.moderator,
        "mutation($id: ID!) { updatePerson(id: $id, name: \"Ada B. Director\") { name } }",
        json!({ "id": person["id"] }),
    )
    .await;
    ok(
        app,
        &staff.moderator,
        "mutation($id: ID!) { deletePerson(id: $id) }",
        json!({ "id": person["id"] }),
    )
    .await;

    // Certifications: admins only; one in use is kept, with the number of movies.
    let cert = ok(
        app,
        &staff.admin,
        "mutation { createCertification(name: \"TV-MA\") { id name } }",
        json!({}),
    )
    .await["createCertification"]
        .clone();
    ok(
        app,
        &staff.admin,
        "mutation($id: ID!) { updateCertification(id: $id, name: \"TV-14\") { name } }",
        json!({ "id": cert["id"] }),
    )
    .await;
    ok(
        app,
        &staff.admin,
        "mutation($id: ID!) { deleteCertification(id: $id) }",
        json!({ "id": cert["id"] }),
    )
    .await;
    let error = refused(
        app,
        Some(&staff.admin),
        "mutation($id: ID!) { deleteCertification(id: $id) }",
        json!({ "id": id_named(&certifications, "R") }),
    )
    .await;
    assert_eq!(error["extensions"]["code"], "CONFLICT", "{error}");
    assert!(error["extensions"]["movies"].as_i64().unwrap() > 0, "{error}");
    let error = refused(
        app,
        Some(&staff.admin),
        "mutation { createCertification(name: \"R\") { id } }",
        json!({}),
    )
    .await;
    assert_eq!(error["extensions"]["code"], "CONFLICT");
}

/// B5: the search index (trigram on PostgreSQL, FTS5 on SQLite) follows creates, renames and deletes in the
/// same transaction; texts of any length and with quotes, percent signs or FTS syntax are plain text.
async fn search_follows_every_change_and_takes_any_text(backend: Backend) {
    let staff = staffed(backend).await;
    let app = &staff.app;
    let count = |search: &str| {
        let search = search.to_string();
        async move {
            // The matches of the text as typed: a page of the typo fallback's matches counts none.
            let page = app
                .query_ok(
                    "query($s: String) { movies(search: $s) { totalCount didYouMean } }",
                    json!({ "s": search }),
                )
                .await["movies"]
                .clone();
            if page["didYouMean"].is_null() {
                page["totalCount"].as_i64().unwrap()
            } else {
                0
            }
        }
    };
    let (_, certifications, _) = ids_of(app).await;
    let person = ok(
        app,
        &staff.moderator,
        "mutation { createPerson(name: \"Zelda Quixote\") { id } }",
        json!({}),
    )
    .await["createPerson"]["id"]
        .clone();
    let input = json!({ "name": "Xylophone 100% \"Live\"", "year": 2024, "durationMinutes": 88, "imdbScore": 7.0,
        "price": 300, "description": "An ensemble of mallets.", "certificationId": id_named(&certifications, "G"),
        "starIds": [person] });
    let movie = ok(app, &staff.moderator, CREATE, json!({ "input": input })).await["createMovie"]["id"].clone();
    for (text, expected) in [
        ("xylophone", 1),
        ("XYLO", 1),
        ("100%", 1),
        ("% \"live", 1),
        ("mallets", 1),
        ("quixote", 1),
        ("ylo", 1),
        ("xy", 1),
        ("\"", 1),
        ("NEAR(xylo live)", 0),
        ("xylophone OR anything", 0),
    ] {
        assert_eq!(count(text).await, expected, "{text}");
    }
    ok(
        app,
        &staff.moderator,
        "mutation($id: ID!) { updateMovie(id: $id, input: { name: \"Marimba\", description: \"Wood.\" }) { id } }",
        json!({ "id": movie }),
    )
    .await;
    assert_eq!(count("xylophone").await, 0, "the old title is gone from the index");
    assert_eq!(count("marimba").await, 1);
    let (stored, expected) = app.title_words().await;
    assert_eq!(
        stored, expected,
        "the titles' word starts follow a new title and a renamed one"
    );
    ok(
        app,
        &staff.moderator,
        "mutation($id: ID!) { updatePerson(id: $id, name: \"Zora Quill\") { id } }",
        json!({ "id": person }),
    )
    .await;
    assert_eq!(count("quixote").await, 0);
    assert_eq!(count("quill").await, 1);
    ok(
        app,
        &staff.moderator,
        "mutation($id: ID!) { deleteMovie(id: $id) { deletedMovieId } }",
        json!({ "id": movie }),
    )
    .await;
    assert_eq!(count("marimba").await, 0);
    let (stored, expected) = app.title_words().await;
    assert_eq!(stored, expected, "a deleted movie's word starts go with it");
}
