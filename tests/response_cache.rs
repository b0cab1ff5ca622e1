//! Issue 12: the response cache of anonymous public reads, persisted queries and HTTP caching. A public answer is
//! reused until public content changes (a moderator's edit, a rating, a comment, a profile's name): the next
//! anonymous read after the change sees it, on this instance at once and, on PostgreSQL, on another instance
//! once its notice arrives. Viewer fields, signed-in requests, errors and mutations are never kept. On both
//! databases.

use std::time::{Duration, Instant};

use crate::common::{PASSWORD, TestApp, ok};
use cinema::db::{Backend, DatabaseUrl, Role};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

backend_tests!(
    public_reads_are_reused_until_public_content_changes,
    viewer_fields_signed_in_requests_and_errors_are_never_kept,
    persisted_queries_stand_for_their_text_and_get_revalidated,
    every_write_of_public_content_drops_the_kept_answers,
    a_flood_of_distinct_requests_stays_within_the_budgets,
    the_catalogs_copies_of_certifications_and_genres_follow_their_changes,
    a_genre_the_copy_does_not_know_is_read_at_once,
    purchases_and_refunds_move_popular_answers,
);

const PAGE: &str = "query($first: Int) { movies(first: $first, sort: {field: IMDB, direction: DESC}) {
    nodes { id name averageRating genres { id name } comments(first: 5) { totalCount nodes { text author { name } } } } } }";

/// An anonymous POST: (status, headers, body).
async fn anonymous(app: &TestApp, query: &str, variables: Value) -> (u16, reqwest::header::HeaderMap, Value) {
    app.graphql_request(None, query, variables).await
}

/// The data of an anonymous read, and how many SQL statements it cost.
async fn read(app: &TestApp, query: &str, variables: Value) -> (Value, u64) {
    let before = app.statements();
    let (status, _, body) = anonymous(app, query, variables).await;
    assert!(status == 200 && body.get("errors").is_none(), "{status}: {body}");
    (body["data"].clone(), app.statements() - before)
}

struct Cast {
    app: TestApp,
    admin: String,
    moderator: String,
    user: String,
}

/// An app without a background worker (its polling would count among the statements a read costs), with an
/// admin, a moderator and a user.
async fn cast(backend: Backend) -> Cast {
    let app = TestApp::start_with(backend, &[("SEED_DEMO", "on"), ("RUN_WORKER", "off")]).await;
    for (email, role) in [
        ("admin@example.com", Some(Role::Admin)),
        ("mod@example.com", Some(Role::Moderator)),
        ("fan@example.com", None),
    ] {
        app.signed_in_user_without_worker(email).await;
        if let Some(role) = role {
            app.set_role(email, role).await;
        }
    }
    let token = |t: Value| t["accessToken"].as_str().unwrap().to_string();
    app.hearing().await;
    Cast {
        admin: token(app.login("admin@example.com", PASSWORD).await),
        moderator: token(app.login("mod@example.com", PASSWORD).await),
        user: token(app.login("fan@example.com", PASSWORD).await),
        app,
    }
}

async fn public_reads_are_reused_until_public_content_changes(backend: Backend) {
    let Cast {
        app, moderator, user, ..
    } = cast(backend).await;
    let vars = json!({ "first": 3 });
    let (first, cost) = read(&app, PAGE, vars.clone()).await;
    assert!(cost > 0, "the first read runs");
    let (again, cost) = read(&app, PAGE, vars.clone()).await;
    assert_eq!(
        (again.clone(), cost),
        (first.clone(), 0),
        "the second is the kept answer"
    );
    let (_, headers, _) = anonymous(&app, PAGE, vars.clone()).await;
    assert_eq!(headers["cache-control"], "public, max-age=10");
    assert_eq!(headers["vary"], "Accept, Authorization");
    assert!(headers["etag"].to_str().unwrap().starts_with('"'));
    // Other variables are another answer.
    let (_, cost) = read(&app, PAGE, json!({ "first": 2 })).await;
    assert!(cost > 0);

    let movie = first["movies"]["nodes"][0].clone();
    let movie_id = movie["id"].as_str().unwrap();
    let changes: [(&str, &str, Value); 5] = [
        (
            "a moderator's edit",
            "mutation($id: ID!) { updateMovie(id: $id, input: {name: \"Renamed for the cache\"}) { id } }",
            json!({ "id": movie_id }),
        ),
        (
            "a rating",
            "mutation($id: ID!) { rateMovie(movieId: $id, score: 3) { id } }",
            json!({ "id": movie_id }),
        ),
        (
            "a comment",
            "mutation($id: ID!) { addComment(movieId: $id, text: \"Seen through the cache\") { id } }",
            json!({ "id": movie_id }),
        ),
        (
            "a renamed genre",
            "mutation($id: ID!) { updateGenre(id: $id, name: \"Renamed genre\") { id } }",
            json!({ "id": movie["genres"][0]["id"] }),
        ),
        (
            "a commenter's new name",
            "mutation { updateProfile(input: {firstName: \"Renamed\", lastName: \"Fan\"}) { firstName } }",
            json!({}),
        ),
    ];
    let mut seen = first;
    for (what, mutation, variables) in changes {
        let token = if what.contains("moderator") || what.contains("genre") {
            &moderator
        } else {
            &user
        };
        ok(&app, token, mutation, variables).await;
        let (now, cost) = read(&app, PAGE, vars.clone()).await;
        assert!(cost > 0, "after {what} the page runs again");
        assert_ne!(now, seen, "after {what} the page shows it");
        seen = now;
    }
    let node = &seen["movies"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == movie_id)
        .expect("the movie is still on the page")
        .clone();
    assert_eq!(node["name"], "Renamed for the cache");
    assert_eq!(node["averageRating"], 3.0);
    assert_eq!(node["genres"][0]["name"], "Renamed genre");
    assert_eq!(node["comments"]["nodes"][0]["text"], "Seen through the cache");
    assert_eq!(node["comments"]["nodes"][0]["author"]["name"], "Renamed Fan");

    assert!(app.metric("cinema_response_cache_hits_total").await > 0.0);
    assert!(app.metric("cinema_response_cache_entries").await > 0.0);
    assert!(app.metric("cinema_response_cache_bytes").await > 0.0);
}

/// An attacker who sends many distinct documents (here, aliases; variables alike) fills the response cache, the
/// persisted queries and the parsed documents with answers, texts and documents nobody asks for again: each
/// stays within its budget, the oldest go, and the caches keep working.
async fn a_flood_of_distinct_requests_stays_within_the_budgets(backend: Backend) {
    const ANSWERS: f64 = 64.0 * 1024.0;
    const TEXTS: f64 = 16.0 * 1024.0;
    const DOCUMENTS: f64 = 32.0 * 1024.0;
    let app = TestApp::start_with(
        backend,
        &[
            ("SEED_DEMO", "on"),
            ("RUN_WORKER", "off"),
            ("RESPONSE_CACHE_BYTES", "65536"),
            ("PERSISTED_QUERY_BYTES", "16384"),
            ("DOCUMENT_CACHE_BYTES", "32768"),
        ],
    )
    .await;
    app.hearing().await;
    let page = |n: usize| format!("{{ m{n}: movies(first: 20) {{ nodes {{ name description genres {{ name }} }} }} }}");
    for n in 0..200 {
        read(&app, &page(n), json!({})).await;
    }
    let bytes = app.metric("cinema_response_cache_bytes").await;
    let entries = app.metric("cinema_response_cache_entries").await;
    assert!(bytes <= ANSWERS, "{bytes} bytes kept");
    assert!((1.0..200.0).contains(&entries), "{entries} answers kept");
    let (_, cost) = read(&app, &page(0), json!({})).await;
    assert!(cost > 0, "the oldest answer made room");
    let (_, cost) = read(&app, &page(0), json!({})).await;
    assert_eq!(cost, 0, "and the cache still keeps answers");

    // The app's own query, in use: the flood does not push it out (moka admits by frequency).
    let popular = "{ genres { id name } }";
    register(&app, popular, &sha(popular)).await;
    for _ in 0..10 {
        assert_eq!(by_hash(&app, &sha(popular), None).await.0, 200);
    }
    for n in 0..300 {
        let text = format!("{{ g{n}: genres {{ name }} }}");
        let (status, body) = register(&app, &text, &sha(&text)).await;
        assert_eq!(status, 200, "{body}");
    }
    let bytes = app.metric("cinema_persisted_queries_bytes").await;
    let entries = app.metric("cinema_persisted_queries_entries").await;
    assert!(bytes <= TEXTS, "{bytes} bytes of texts kept");
    assert!((1.0..300.0).contains(&entries), "{entries} texts kept");
    let (status, _, body) = by_hash(&app, &sha(popular), None).await;
    assert!(status == 200 && body.contains("\"genres\""), "{body}");

    // Every one of those 500 documents was parsed and offered to the parsed documents, within their budget too.
    let bytes = app.metric("cinema_parsed_documents_bytes").await;
    let entries = app.metric("cinema_parsed_documents_entries").await;
    assert!(bytes <= DOCUMENTS, "{bytes} bytes of documents kept");
    assert!((1.0..500.0).contains(&entries), "{entries} documents kept");
}

async fn viewer_fields_signed_in_requests_and_errors_are_never_kept(backend: Backend) {
    let Cast { app, user, .. } = cast(backend).await;
    let viewer_page = "{ movies(first: 3) { nodes { name isFavorite } } }";
    for _ in 0..2 {
        let before = app.statements();
        let (status, headers, body) = anonymous(&app, viewer_page, json!({})).await;
        assert_eq!(status, 200, "{body}");
        assert!(app.statements() > before, "a viewer field runs every time");
        assert_eq!(headers["cache-control"], "private, no-store");
        assert!(headers.get("etag").is_none());
    }
    let comments = "{ movies(first: 1) { nodes { comments(first: 1) { nodes { viewerLiked } } } } }";
    let (_, headers, _) = anonymous(&app, comments, json!({})).await;
    assert_eq!(headers["cache-control"], "private, no-store");

    // Signed in: the same public page runs every time and is private.
    let public_page = "{ movies(first: 3) { nodes { name } } }";
    read(&app, public_page, json!({})).await;
    for _ in 0..2 {
        let before = app.statements();
        let (_, headers, _) = app.graphql_request(Some(&user), public_page, json!({})).await;
        assert_eq!(headers["cache-control"], "private, no-store");
        assert!(app.statements() > before, "a signed-in read runs every time");
    }

    // An answer with an error, and one naming a field that is not the catalog's, are not kept.
    for query in [
        "{ movie(id: \"no-such-movie\") { name } }",
        "{ movies(first: 1) { nodes { name } } me { email } }",
    ] {
        for _ in 0..2 {
            let before = app.statements();
            let (_, headers, body) = anonymous(&app, query, json!({})).await;
            assert!(body["errors"].is_array(), "{body}");
            assert_eq!(headers["cache-control"], "private, no-store");
            assert!(app.statements() > before, "{query} runs every time");
        }
    }
}

/// What a write of public content is, for the table below: who makes it, the mutation, its variables (a string
/// starting with `$` stands for an id kept from an earlier write), the id it yields for later writes, and
/// whether the witness read shows it (a new person shows only once a movie names them).
struct Write {
    who: Who,
    mutation: &'static str,
    variables: Value,
    keeps: Option<(&'static str, &'static str)>,
    shows: bool,
    /// Changes the catalog (every catalog answer goes); otherwise one movie's likes, ratings or comments, or
    /// names, and answers that never showed those stay kept (issue 22).
    catalog: bool,
}

#[derive(Clone, Copy)]
enum Who {
    User,
    Moderator,
    Admin,
}

fn write(who: Who, mutation: &'static str, variables: Value) -> Write {
    Write {
        who,
        mutation,
        variables,
        keeps: None,
        shows: true,
        catalog: false,
    }
}

impl Write {
    /// The id at `pointer` in the mutation's data is kept as `name`.
    fn keeps(self, name: &'static str, pointer: &'static str) -> Write {
        Write {
            keeps: Some((name, pointer)),
            ..self
        }
    }

    fn unseen(self) -> Write {
        Write { shows: false, ..self }
    }

    fn catalog(self) -> Write {
        Write { catalog: true, ..self }
    }
}

/// `variables` with every `$name` string replaced by the id kept under that name.
fn fill(variables: &Value, kept: &std::collections::HashMap<&str, Value>) -> Value {
    match variables {
        Value::String(text) if text.starts_with('$') => kept
            .get(text.as_str())
            .unwrap_or_else(|| panic!("no id kept as {text}"))
            .clone(),
        Value::Array(items) => Value::Array(items.iter().map(|item| fill(item, kept)).collect()),
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(name, value)| (name.clone(), fill(value, kept)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// One anonymous read that shows every kind of public content a write can change.
const WITNESS: &str = "query($movie: ID!) {
    movie(id: $movie) { likes dislikes averageRating ratingsCount
        comments(first: 10) { totalCount nodes { id text likes replyCount author { name }
            replies(first: 10) { totalCount nodes { id text isDeleted } } } } }
    recent: movies(first: 3, sort: {field: ADDED, direction: DESC}) {
        nodes { id name genres { name } directors { name } } }
    genres { id name }
    certifications { id name } }";

/// Answers that show none of a movie's counters or comments, nor names.
const BYSTANDER: &str =
    "{ movies(first: 5, sort: {field: IMDB, direction: DESC}) { nodes { id name year genres { name } } } }";
const OTHER_MOVIE: &str = "query($movie: ID!) { movie(id: $movie) { likes dislikes averageRating ratingsCount
    comments(first: 5) { totalCount nodes { text likes replyCount } } } }";

/// The table of public writes, in the order they run (later ones use ids kept by earlier ones).
fn public_writes() -> Vec<Write> {
    vec![
        write(
            Who::User,
            "mutation($movie: ID!) { addComment(movieId: $movie, text: \"First\") { id } }",
            json!({ "movie": "$movie" }),
        )
        .keeps("$comment", "/addComment/id"),
        write(
            Who::User,
            "mutation($id: ID!) { reply(commentId: $id, text: \"A reply\") { id } }",
            json!({ "id": "$comment" }),
        )
        .keeps("$reply", "/reply/id"),
        write(
            Who::Admin,
            "mutation($id: ID!) { likeComment(commentId: $id) { id } }",
            json!({ "id": "$comment" }),
        ),
        write(
            Who::Admin,
            "mutation($id: ID!) { unlikeComment(commentId: $id) { id } }",
            json!({ "id": "$comment" }),
        ),
        write(
            Who::User,
            "mutation($id: ID!) { deleteComment(commentId: $id) }",
            json!({ "id": "$reply" }),
        ),
        write(
            Who::User,
            "mutation($movie: ID!) { setReaction(movieId: $movie, reaction: LIKE) { id } }",
            json!({ "movie": "$movie" }),
        ),
        write(
            Who::User,
            "mutation($movie: ID!) { setReaction(movieId: $movie, reaction: DISLIKE) { id } }",
            json!({ "movie": "$movie" }),
        ),
        write(
            Who::User,
            "mutation($movie: ID!) { clearReaction(movieId: $movie) { id } }",
            json!({ "movie": "$movie" }),
        ),
        write(
            Who::User,
            "mutation($movie: ID!) { rateMovie(movieId: $movie, score: 7) { id } }",
            json!({ "movie": "$movie" }),
        ),
        write(
            Who::User,
            "mutation($movie: ID!) { clearRating(movieId: $movie) { id } }",
            json!({ "movie": "$movie" }),
        ),
        write(
            Who::User,
            "mutation { updateProfile(input: {firstName: \"Cached\", lastName: \"Commenter\"}) { firstName } }",
            json!({}),
        ),
        // Issue 24: a poster shows on every catalog answer that asks for it (the witness does not ask).
        write(
            Who::Moderator,
            "mutation($movie: ID!) { removePoster(movieId: $movie) { id } }",
            json!({ "movie": "$movie" }),
        )
        .unseen()
        .catalog(),
        write(
            Who::Moderator,
            "mutation { createGenre(name: \"Cache genre\") { id } }",
            json!({}),
        )
        .keeps("$genre", "/createGenre/id")
        .catalog(),
        write(
            Who::Moderator,
            "mutation($id: ID!) { updateGenre(id: $id, name: \"Cache genre renamed\") { id } }",
            json!({ "id": "$genre" }),
        )
        .catalog(),
        write(
            Who::Moderator,
            "mutation { createPerson(name: \"Cache Person\") { id } }",
            json!({}),
        )
        .keeps("$person", "/createPerson/id")
        .unseen()
        .catalog(),
        write(
            Who::Moderator,
            "mutation($input: MovieInput!) { createMovie(input: $input) { id } }",
            json!({ "input": {
                "name": "A movie for the cache", "year": 2024, "durationMinutes": 101, "imdbScore": 7.1, "price": 499,
                "certificationId": "$certification", "genreIds": ["$genre"], "directorIds": ["$person"] } }),
        )
        .keeps("$new_movie", "/createMovie/id")
        .catalog(),
        write(
            Who::Moderator,
            "mutation($id: ID!) { updateMovie(id: $id, input: {name: \"Renamed for the cache\"}) { id } }",
            json!({ "id": "$new_movie" }),
        )
        .catalog(),
        write(
            Who::Moderator,
            "mutation($id: ID!) { updatePerson(id: $id, name: \"Cache Person renamed\") { id } }",
            json!({ "id": "$person" }),
        )
        .catalog(),
        write(
            Who::Moderator,
            "mutation($id: ID!) { deletePerson(id: $id) }",
            json!({ "id": "$person" }),
        )
        .catalog(),
        write(
            Who::Moderator,
            "mutation($id: ID!) { deleteGenre(id: $id) }",
            json!({ "id": "$genre" }),
        )
        .catalog(),
        write(
            Who::Moderator,
            "mutation($id: ID!) { deleteMovie(id: $id) { deletedMovieId } }",
            json!({ "id": "$new_movie" }),
        )
        .catalog(),
        write(
            Who::Admin,
            "mutation { createCertification(name: \"CACHE-1\") { id } }",
            json!({}),
        )
        .keeps("$new_certification", "/createCertification/id")
        .catalog(),
        write(
            Who::Admin,
            "mutation($id: ID!) { updateCertification(id: $id, name: \"CACHE-2\") { id } }",
            json!({ "id": "$new_certification" }),
        )
        .catalog(),
        write(
            Who::Admin,
            "mutation($id: ID!) { deleteCertification(id: $id) }",
            json!({ "id": "$new_certification" }),
        )
        .catalog(),
    ]
}

/// The mutations whose public effect is a purchase or a refund (they move the popularity sort), proven by
/// `purchases_and_refunds_move_popular_answers`.
const MONEY_PATHS: [&str; 3] = ["payOrder", "acceptPayment", "refundPayment"];

/// Public writes a JSON request cannot make (a file travels in a multipart request), each with the test that
/// proves it drops what it changes.
const MULTIPART_PUBLIC_WRITES: [(&str, &str); 1] = [(
    "uploadPoster",
    "tests/posters.rs: an anonymous reader sees the new poster at once",
)];

/// The mutations that write nothing an anonymous reader sees, and why.
const PRIVATE_WRITES: [(&str, &str); 14] = [
    ("addFavorite", "a viewer's favorites are theirs alone (no public count)"),
    ("removeFavorite", "a viewer's favorites are theirs alone"),
    ("addToCart", "carts are private"),
    ("removeFromCart", "carts are private"),
    ("clearCart", "carts are private"),
    ("placeOrder", "orders are private"),
    ("cancelOrder", "orders are private (a canceled order held no purchase)"),
    ("requestRefund", "a request moves no money"),
    ("declineRefund", "a declined request moves no money"),
    ("markNotificationsRead", "notifications are private"),
    ("uploadAvatar", "avatars show on the profile, never on public content"),
    ("removeAvatar", "avatars show on the profile, never on public content"),
    ("setUserActive", "a ban hides nothing public"),
    ("setUserRole", "roles show nowhere public"),
];

/// The field a mutation document calls: the first name after its first `{`.
fn called(mutation: &str) -> String {
    let body = &mutation[mutation.find('{').unwrap() + 1..];
    body.trim_start()
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

/// Issue 22: every mutation of `schema.graphql` is a public write run by the table above (each one proven to
/// drop what it changes), a money path proven with the popularity sort, or named as private with its reason.
/// A new mutation fails here until someone decides which.
#[test]
fn every_mutation_is_classified_for_the_response_cache() {
    let schema: std::collections::BTreeSet<String> = crate::common::mutation_definitions()
        .iter()
        .map(|field| field.chars().take_while(|c| c.is_alphanumeric()).collect())
        .collect();
    let public: std::collections::BTreeSet<String> = public_writes().iter().map(|w| called(w.mutation)).collect();
    let public: std::collections::BTreeSet<String> = public
        .into_iter()
        .chain(MULTIPART_PUBLIC_WRITES.iter().map(|(m, _)| m.to_string()))
        .collect();
    let money: std::collections::BTreeSet<String> = MONEY_PATHS.iter().map(|m| m.to_string()).collect();
    let private: std::collections::BTreeSet<String> = PRIVATE_WRITES.iter().map(|(m, _)| m.to_string()).collect();
    assert!(public.is_disjoint(&private) && money.is_disjoint(&private) && public.is_disjoint(&money));
    let classified: std::collections::BTreeSet<String> = public.union(&money).chain(&private).cloned().collect();
    let unclassified: Vec<&String> = schema.difference(&classified).collect();
    assert!(
        unclassified.is_empty(),
        "mutations nobody classified for the cache: {unclassified:?}"
    );
    let unknown: Vec<&String> = classified.difference(&schema).collect();
    assert!(unknown.is_empty(), "classified but not in the schema: {unknown:?}");
}

/// Issue 22: a purchase and a refund move a movie's popularity: an anonymous POPULARITY page (and its ETag)
/// changes after each, not served stale. On both databases, through the mock checkout's real path.
async fn purchases_and_refunds_move_popular_answers(backend: Backend) {
    use crate::payments::{buyer, checkout_path, moderator, pay_order, placed_order, press};
    let b = buyer(backend).await;
    let popular = "{ movies(first: 3, sort: {field: POPULARITY, direction: DESC}) { nodes { id } } }";
    let page = async || {
        let (status, headers, body) = anonymous(&b.app, popular, json!({})).await;
        assert_eq!(status, 200, "{body}");
        (
            body["data"]["movies"]["nodes"][0]["id"].clone(),
            headers["etag"].clone(),
        )
    };
    let (first, tag) = page().await;
    assert_eq!(page().await, (first.clone(), tag.clone()), "kept");
    let bought = b.movies.iter().find(|m| json!(m) != first).unwrap().clone();
    let order = placed_order(&b, std::slice::from_ref(&bought)).await;
    let started = pay_order(&b, &order).await;
    assert_eq!(
        press(&b.app, &format!("{}/pay", checkout_path(&started)))
            .await
            .status(),
        303
    );
    let (now_first, now_tag) = page().await;
    assert_eq!(now_first, json!(bought), "the purchase moved it up");
    assert_ne!(now_tag, tag);

    let staff = moderator(&b).await;
    let payment = started["payment"]["id"].as_str().unwrap();
    ok(
        &b.app,
        &staff,
        "mutation($p: ID!) { refundPayment(paymentId: $p, reason: \"test\") { status } }",
        json!({ "p": payment }),
    )
    .await;
    let (after_refund, refund_tag) = page().await;
    assert_ne!(after_refund, json!(bought), "the refund moved it back");
    assert_ne!(refund_tag, now_tag);

    // Money short of the charge, accepted by staff: a purchase too.
    let accepted = b
        .movies
        .iter()
        .find(|m| json!(m) != after_refund && **m != bought)
        .unwrap()
        .clone();
    let (_, short) = crate::payments::pending_payment(&b, std::slice::from_ref(&accepted), "cs_popular_short").await;
    crate::payments::delivered(&b.app, &crate::payments::completed("evt_popular_short", &short, 1)).await;
    assert_eq!(
        page().await.1,
        refund_tag,
        "short money granted nothing, and changed nothing public"
    );
    ok(
        &b.app,
        &staff,
        "mutation($p: ID!) { acceptPayment(paymentId: $p) { status } }",
        json!({ "p": short.uuid }),
    )
    .await;
    let (top, _) = page().await;
    assert_eq!(top, json!(accepted), "the accepted payment moved it up");
}

/// Every mutation that changes public content drops the kept answers, on this instance at once: reactions (B8),
/// ratings (B9), comments, replies and their likes (B10, B11), movies (B12), genres, people and certifications
/// (B13), and a commenter's name. A forgotten notice would serve stale content with every other test green;
/// this table names each public write, so a new one belongs here.
async fn every_write_of_public_content_drops_the_kept_answers(backend: Backend) {
    let Cast {
        app,
        admin,
        moderator,
        user,
    } = cast(backend).await;
    let (catalog, _) = read(
        &app,
        "{ movies(first: 1, sort: {field: IMDB, direction: DESC}) { nodes { id } } certifications { id } }",
        json!({}),
    )
    .await;
    let mut kept = std::collections::HashMap::from([
        ("$movie", catalog["movies"]["nodes"][0]["id"].clone()),
        ("$certification", catalog["certifications"][0]["id"].clone()),
    ]);
    let writes = public_writes();

    let witness = json!({ "movie": kept["$movie"] });
    read(&app, WITNESS, witness.clone()).await;
    let (mut seen, cost) = read(&app, WITNESS, witness.clone()).await;
    assert_eq!(cost, 0, "the witness is kept");
    // Issue 22: bystanders, answers that show none of what the non-catalog writes change — a page without
    // counters or comments, and another movie's counters and comments without their authors' names.
    let (others, _) = read(
        &app,
        "{ movies(first: 1, sort: {field: IMDB, direction: ASC}) { nodes { id } } }",
        json!({}),
    )
    .await;
    let other_movie = json!({ "movie": others["movies"]["nodes"][0]["id"] });
    assert_ne!(other_movie, witness);
    for (query, variables) in [(BYSTANDER, json!({})), (OTHER_MOVIE, other_movie.clone())] {
        read(&app, query, variables.clone()).await;
    }
    for write in writes {
        let token = match write.who {
            Who::User => &user,
            Who::Moderator => &moderator,
            Who::Admin => &admin,
        };
        let data = ok(&app, token, write.mutation, fill(&write.variables, &kept)).await;
        if let Some((name, pointer)) = write.keeps {
            let id = data
                .pointer(pointer)
                .unwrap_or_else(|| panic!("no {pointer} in {data}"));
            kept.insert(name, id.clone());
        }
        let (now, cost) = read(&app, WITNESS, witness.clone()).await;
        assert!(cost > 0, "after {} the kept answer is dropped", write.mutation);
        if write.shows {
            assert_ne!(now, seen, "after {} the witness shows it", write.mutation);
        }
        let (again, cost) = read(&app, WITNESS, witness.clone()).await;
        assert_eq!((again, cost), (now.clone(), 0), "the new answer is kept in turn");
        seen = now;
        for (query, variables) in [(BYSTANDER, json!({})), (OTHER_MOVIE, other_movie.clone())] {
            let (_, cost) = read(&app, query, variables).await;
            if !write.catalog {
                assert_eq!(cost, 0, "after {} a bystander is still kept: {query}", write.mutation);
            }
        }
    }
}

fn sha(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// A GET of a persisted query by its hash alone: (status, headers, body text).
async fn by_hash(app: &TestApp, hash: &str, if_none_match: Option<&str>) -> (u16, reqwest::header::HeaderMap, String) {
    let extensions = json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } }).to_string();
    let mut request = app
        .client
        .get(app.url("/graphql"))
        .query(&[("extensions", extensions.as_str()), ("variables", "{}")]);
    if let Some(tag) = if_none_match {
        request = request.header("if-none-match", tag);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.text().await.unwrap())
}

/// A POST of a persisted query's text with its hash.
async fn register(app: &TestApp, query: &str, hash: &str) -> (u16, Value) {
    let response = app
        .client
        .post(app.url("/graphql"))
        .header("accept", "application/graphql-response+json")
        .json(&json!({ "query": query, "extensions": { "persistedQuery": { "version": 1, "sha256Hash": hash } } }))
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

async fn persisted_queries_stand_for_their_text_and_get_revalidated(backend: Backend) {
    let Cast { app, moderator, .. } = cast(backend).await;
    let query = "{ genres { id name movieCount } }";
    let hash = sha(query);

    // Unknown: the client is told to send the text (a legacy JSON client with 200, as Apollo's clients expect).
    let (status, headers, body) = by_hash(&app, &hash, None).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("PERSISTED_QUERY_NOT_FOUND") && body.contains("PersistedQueryNotFound"));
    assert_eq!(
        headers["cache-control"], "private, no-store",
        "a CDN must not keep the refusal"
    );

    // A text that does not hash to its hash is refused and not kept.
    let (status, body) = register(&app, "{ certifications { name } }", &hash).await;
    assert_eq!(
        (status, body["errors"][0]["extensions"]["code"].clone()),
        (400, json!("PERSISTED_QUERY_HASH_MISMATCH"))
    );
    let (_, _, body) = by_hash(&app, &hash, None).await;
    assert!(body.contains("PERSISTED_QUERY_NOT_FOUND"), "{body}");
    // Nor is a text that does not parse, whatever its hash.
    let broken = "{ genres { name ";
    let (status, body) = register(&app, broken, &sha(broken)).await;
    assert_eq!(
        (status, body["errors"][0]["extensions"]["code"].clone()),
        (400, json!("GRAPHQL_PARSE_FAILED"))
    );
    let (_, _, body) = by_hash(&app, &sha(broken), None).await;
    assert!(body.contains("PERSISTED_QUERY_NOT_FOUND"), "{body}");
    // A malformed extension.
    let (status, body) = register(&app, query, "not-a-hash").await;
    assert_eq!(
        (status, body["errors"][0]["extensions"]["code"].clone()),
        (400, json!("BAD_REQUEST"))
    );

    // Registered with its text, then the hash alone stands for it, by GET, with an entity tag.
    let (status, body) = register(&app, query, &hash).await;
    assert_eq!(status, 200, "{body}");
    let (status, headers, text) = by_hash(&app, &hash, None).await;
    assert_eq!(status, 200, "{text}");
    let answer: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(answer["data"], body["data"]);
    assert_eq!(headers["cache-control"], "public, max-age=10");
    let etag = headers["etag"].to_str().unwrap().to_string();

    // Revalidation: the same tag is 304 without a body, weak or in a list too; another tag gets the answer.
    for tag in [etag.clone(), format!("W/{etag}"), format!("\"other\", {etag}")] {
        let (status, headers, text) = by_hash(&app, &hash, Some(&tag)).await;
        assert_eq!((status, text.as_str()), (304, ""), "{tag}");
        assert_eq!(headers["etag"].to_str().unwrap(), etag);
    }
    let (status, _, _) = by_hash(&app, &hash, Some("\"other\"")).await;
    assert_eq!(status, 200);

    // A change to public content: the tag no longer matches, the answer is the new one.
    let genre = answer["data"]["genres"][0]["id"].clone();
    ok(
        &app,
        &moderator,
        "mutation($id: ID!) { updateGenre(id: $id, name: \"Aaa first genre\") { id } }",
        json!({ "id": genre }),
    )
    .await;
    let (status, headers, text) = by_hash(&app, &hash, Some(&etag)).await;
    assert_eq!(status, 200, "{text}");
    assert_ne!(headers["etag"].to_str().unwrap(), etag);
    assert!(text.contains("Aaa first genre"));

    // A persisted mutation may not run by GET.
    let mutation = "mutation { markNotificationsRead(all: true) }";
    let (status, _) = register(&app, mutation, &sha(mutation)).await;
    assert_eq!(status, 200, "registered (it ran, refused: nobody is signed in)");
    let (status, _, _) = by_hash(&app, &sha(mutation), None).await;
    assert_eq!(status, 405);
}

/// On PostgreSQL, instances on one database share nothing but the database: a change made through instance A
/// reaches instance B's kept answers through LISTEN/NOTIFY, within moments.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_on_one_instance_clears_the_answers_of_another() {
    if !crate::common::postgres_available() {
        return;
    }
    let Cast { app, moderator, .. } = cast(Backend::Postgres).await;
    let DatabaseUrl::Postgres(shared) = app.settings().database.url.clone() else {
        unreachable!("a PostgreSQL app")
    };
    let other = TestApp::start_with(
        Backend::Postgres,
        &[("DATABASE_URL", shared.as_str()), ("RUN_WORKER", "off")],
    )
    .await;
    other.hearing().await;
    let page = "{ movies(first: 1, sort: {field: IMDB, direction: DESC}) { nodes { id name } } }";
    let (kept, _) = read(&other, page, json!({})).await;
    let (again, cost) = read(&other, page, json!({})).await;
    assert_eq!((again, cost), (kept.clone(), 0), "instance B keeps the answer");

    let id = kept["movies"]["nodes"][0]["id"].clone();
    ok(
        &app,
        &moderator,
        "mutation($id: ID!) { updateMovie(id: $id, input: {name: \"Edited on instance A\"}) { id } }",
        json!({ "id": id }),
    )
    .await;
    let started = Instant::now();
    loop {
        let (now, _) = read(&other, page, json!({})).await;
        if now["movies"]["nodes"][0]["name"] == "Edited on instance A" {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "instance B still answers {now} after 2 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// On PostgreSQL an instance's own notice comes back to its listener after the commit that moved its version
/// already; hearing it again would drop the answers kept in between, so it is told apart by the instance's tag.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_ignores_its_own_notices_and_hears_others() {
    if !crate::common::postgres_available() {
        return;
    }
    let app = TestApp::start_with(Backend::Postgres, &[("RUN_WORKER", "off")]).await;
    app.hearing().await;
    let version = app.db().content_version();
    let announce = async |tag: &str| {
        let mut conn = app.conn().await;
        let cinema::db::DbConn::Postgres(pg) = &mut conn else {
            unreachable!("a PostgreSQL app")
        };
        use diesel_async::RunQueryDsl;
        diesel::sql_query("SELECT pg_notify('public_content', $1)")
            .bind::<diesel::sql_types::Text, _>(tag)
            .execute(&mut **pg)
            .await
            .unwrap();
    };
    let before = version.current();
    // A notice names the instance and what changed (here the catalog).
    announce(&format!("{}|c", version.instance())).await;
    announce("another-instance|c").await;
    let started = Instant::now();
    while version.current() == before {
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "the other instance's notice was not heard"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Notices arrive in order: once the second is heard, the first was passed over.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        version.current(),
        before.map(|v| v + 1),
        "heard once: the other's, not its own"
    );
}

/// The catalog keeps every certification and every genre in memory under the public content version (a page
/// names them all the time; the page's statement reads its movies' genre ids): a renamed certification or
/// genre, a genre given to a movie or taken from it, show on the next page. With the response cache off, so
/// that the copies are what is read.
async fn the_catalogs_copies_of_certifications_and_genres_follow_their_changes(backend: Backend) {
    let app = TestApp::counting_statements(backend).await;
    app.signed_in_user_without_worker("admin@example.com").await;
    app.set_role("admin@example.com", Role::Admin).await;
    let admin = app.login("admin@example.com", PASSWORD).await["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    let page = "{ movies(first: 10, sort: {field: IMDB, direction: DESC}) {
        nodes { id certification { id name } genres { id name } } } }";
    let (first, _) = read(&app, page, json!({})).await;
    let (again, cost) = read(&app, page, json!({})).await;
    assert_eq!(again, first);
    assert_eq!(cost, 1, "the page itself; certifications and genres come from memory");
    let movie = first["movies"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|movie| movie["genres"].as_array().unwrap().len() >= 2)
        .expect("a movie with two genres or more")
        .clone();
    let genres = movie["genres"].as_array().unwrap();
    let names: Vec<&str> = genres.iter().map(|g| g["name"].as_str().unwrap()).collect();
    assert!(names.is_sorted(), "a movie's genres are by name: {names:?}");

    let change = async |mutation: &str, variables: Value| {
        ok(&app, &admin, mutation, variables).await;
        let (now, _) = read(&app, page, json!({})).await;
        now["movies"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|node| node["id"] == movie["id"])
            .expect("the movie is still on the page")
            .clone()
    };
    let now = change(
        "mutation($id: ID!) { updateCertification(id: $id, name: \"Renamed rating\") { id } }",
        json!({ "id": movie["certification"]["id"] }),
    )
    .await;
    assert_eq!(now["certification"]["name"], "Renamed rating");
    let now = change(
        "mutation($id: ID!) { updateGenre(id: $id, name: \"Zzz last by name\") { id } }",
        json!({ "id": genres[0]["id"] }),
    )
    .await;
    let last = now["genres"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["id"].clone(), last["name"].clone()),
        (genres[0]["id"].clone(), json!("Zzz last by name")),
        "renamed, and sorted again by its new name"
    );
    let created = ok(
        &app,
        &admin,
        "mutation { createGenre(name: \"Aaa new genre\") { id } }",
        json!({}),
    )
    .await;
    let new_genre = created["createGenre"]["id"].clone();
    let now = change(
        "mutation($id: ID!, $genres: [ID!]) { updateMovie(id: $id, input: {genreIds: $genres}) { id } }",
        json!({ "id": movie["id"], "genres": [new_genre, genres[1]["id"]] }),
    )
    .await;
    let ids: Vec<Value> = now["genres"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["id"].clone())
        .collect();
    assert_eq!(ids, [new_genre, genres[1]["id"].clone()]);
    let now = change(
        "mutation($id: ID!) { updateMovie(id: $id, input: {genreIds: []}) { id } }",
        json!({ "id": movie["id"] }),
    )
    .await;
    assert_eq!(now["genres"], json!([]), "a movie without genres");
}

/// A page names its genres from the catalog's copy. A genre can reach a page before any notice reaches the
/// copy (on PostgreSQL, made through another instance whose notice is on its way; here, written by hand, which
/// announces nothing): the page then reads the genres again, so the genre is named at once. With the response
/// cache off, so that the page runs.
async fn a_genre_the_copy_does_not_know_is_read_at_once(backend: Backend) {
    use diesel_async::RunQueryDsl;
    let app = TestApp::counting_statements(backend).await;
    let page = "{ movies(first: 1, sort: {field: IMDB, direction: DESC}) { nodes { id genres { name } } } }";
    let (before, _) = read(&app, page, json!({})).await;
    let (_, cost) = read(&app, page, json!({})).await;
    assert_eq!(cost, 1, "the genres come from the copy");
    let movie = before["movies"]["nodes"][0]["id"].as_str().unwrap();
    assert!(movie.chars().all(|c| c.is_ascii_hexdigit() || c == '-'), "{movie}");
    let mut conn = app.conn().await;
    for sql in [
        "INSERT INTO genres (name) VALUES ('Written by hand')".to_string(),
        format!(
            "INSERT INTO movie_genres (movie_id, genre_id) SELECT movies.id, genres.id FROM movies, genres \
             WHERE movies.uuid = '{movie}' AND genres.name = 'Written by hand'"
        ),
    ] {
        cinema::per_backend!(&mut conn, |c| diesel::sql_query(&sql).execute(c).await).unwrap();
    }
    let (now, cost) = read(&app, page, json!({})).await;
    let names: Vec<&str> = now["movies"]["nodes"][0]["genres"]
        .as_array()
        .unwrap()
        .iter()
        .map(|genre| genre["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"Written by hand"), "{names:?}");
    assert_eq!(cost, 2, "the page, and the genres read again");
}
