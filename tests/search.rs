//! Issue 25: search people can use — relevance order, the typo fallback, suggestions as you type — on both
//! backends, and every plan paging through every match once in every sort.

use crate::common::{TestApp, names, ok};
use cinema::catalog::seed::{CatalogEntry, insert_catalog};
use cinema::db::Backend;
use serde_json::{Value, json};

backend_tests!(
    relevance_ranks_titles_then_people_then_descriptions,
    relevance_pages_through_every_match_once,
    a_search_page_costs_a_bounded_number_of_statements,
    a_typo_falls_back_to_the_closest_title_or_name,
    suggestions_offer_movies_then_people,
    quick_reads_find_what_the_search_indexes_find,
    the_title_word_index_is_what_its_migration_writes,
    every_plan_pages_through_every_match_once_in_every_sort,
);

fn entry(name: &str, stars: &[&str], description: &str) -> CatalogEntry {
    CatalogEntry {
        name: name.into(),
        year: 2001,
        duration: 100,
        certification: "PG".into(),
        genres: vec!["Drama".into()],
        directors: vec![],
        stars: stars.iter().map(|s| s.to_string()).collect(),
        imdb: 7.0,
        votes: 10,
        meta: None,
        gross: None,
        price: 499,
        description: description.into(),
    }
}

const SEARCH: &str = "query($s: String, $o: MovieSort, $n: Int, $a: String) {
  movies(search: $s, sort: $o, first: $n, after: $a) {
    totalCount pageInfo { hasNextPage endCursor } nodes { id name } } }";

/// Every name of a search walked in pages of `first`, and whether any page repeated a movie.
async fn walk(app: &TestApp, search: &str, sort: Value, first: i64) -> Vec<String> {
    let mut after = Value::Null;
    let mut seen = Vec::new();
    loop {
        let page = app
            .query_ok(SEARCH, json!({ "s": search, "o": sort, "n": first, "a": after }))
            .await["movies"]
            .clone();
        seen.extend(names(&page));
        if page["pageInfo"]["hasNextPage"] != true {
            return seen;
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
}

/// Issue 25, relevance: for "zephyrine" the exact title comes first, then the titles that start with it (the
/// more popular first, a like deciding), then titles containing it, then a star's name, then a description;
/// it is the default with a search, the same whatever the direction, and pages in ones give the same order
/// across ranks. The other sorts stay available with a search, over the same movies.
async fn relevance_ranks_titles_then_people_then_descriptions(backend: Backend) {
    let app = TestApp::start(backend).await;
    insert_catalog(
        app.db(),
        &[
            entry("Night Train", &[], "A zephyrine wind over the plains."),
            entry("Cold Open", &["Ada Zephyrine"], "Nothing to see."),
            entry("The Last Zephyrine", &[], "Nothing to see."),
            entry("Zephyrine Rising", &[], "Nothing to see."),
            entry("Zephyrine Returns", &[], "Nothing to see."),
            entry("Zephyrine", &[], "Nothing to see."),
        ],
    )
    .await
    .unwrap();
    let fan = app.signed_in_user("fan@example.com").await;
    let token = fan["accessToken"].as_str().unwrap();
    let rising = app.query_ok(SEARCH, json!({ "s": "zephyrine rising" })).await["movies"]["nodes"][0]["id"].clone();
    ok(
        &app,
        token,
        "mutation($m: ID!) { setReaction(movieId: $m, reaction: LIKE) { likes } }",
        json!({ "m": rising }),
    )
    .await;

    let expected = [
        "Zephyrine",
        "Zephyrine Rising",
        "Zephyrine Returns",
        "The Last Zephyrine",
        "Cold Open",
        "Night Train",
    ];
    let page = app.query_ok(SEARCH, json!({ "s": "  ZEPHYRINE " })).await["movies"].clone();
    assert_eq!(names(&page), expected, "relevance is the default with a search");
    assert_eq!(page["totalCount"], 6);
    for direction in ["ASC", "DESC"] {
        let sort = json!({ "field": "RELEVANCE", "direction": direction });
        assert_eq!(
            walk(&app, "zephyrine", sort.clone(), 1).await,
            expected,
            "{direction}, in ones"
        );
        assert_eq!(
            walk(&app, "zephyrine", sort, 4).await,
            expected,
            "{direction}, in fours"
        );
    }
    // Another sort with a search: the same movies in its order.
    let by_name = walk(&app, "zephyrine", json!({ "field": "NAME", "direction": "ASC" }), 2).await;
    let mut sorted = expected.map(String::from).to_vec();
    sorted.sort();
    assert_eq!(by_name, sorted);
    // Without a search, relevance is popularity: the liked movie first.
    let popular = app
        .query_ok(SEARCH, json!({ "o": { "field": "RELEVANCE" }, "n": 1 }))
        .await["movies"]
        .clone();
    assert_eq!(names(&popular), ["Zephyrine Rising"]);
    // A relevance cursor is refused by another sort, and another sort's by relevance.
    let end = page["pageInfo"]["endCursor"].clone();
    let (_, code) = app
        .error_code(SEARCH, json!({ "s": "zephyrine", "a": end, "o": { "field": "NAME" } }))
        .await;
    assert_eq!(code, "BAD_USER_INPUT");
}

/// Issue 25: by relevance, a common word (more than a search counts, walked in popularity order rank by rank),
/// a rarer one (listed by id) and a text too short for the index each page through every match exactly once,
/// the same movies as the name sort finds.
async fn relevance_pages_through_every_match_once(backend: Backend) {
    let app = TestApp::start(backend).await;
    cinema::catalog::seed::seed_synthetic(app.db(), 1_200).await.unwrap();
    let relevance = json!({ "field": "RELEVANCE" });
    let by_name = json!({ "field": "NAME" });
    for (text, first) in [
        ("generated", 100),
        ("wild", 7),
        ("crimson tide", 3),
        ("No. 11", 5),
        ("x", 100),
    ] {
        let ranked = walk(&app, text, relevance.clone(), first).await;
        let mut once = ranked.clone();
        once.sort();
        once.dedup();
        assert_eq!(once.len(), ranked.len(), "{text}: a movie repeated");
        let mut named = walk(&app, text, by_name.clone(), 100).await;
        named.sort();
        assert_eq!(once, named, "{text}: the same movies as by name");
        assert!(!ranked.is_empty(), "{text}");
        // Titles containing the text come before the movies found only by a person or a description.
        let lowered = text.to_lowercase();
        let in_title: Vec<bool> = ranked.iter().map(|n| n.to_lowercase().contains(&lowered)).collect();
        assert!(in_title.windows(2).all(|w| w[0] || !w[1]), "{text}: titles first");
    }
}

/// Issue 25: a search page by relevance costs a bounded number of statements, however the search is served:
/// the probe (three on PostgreSQL: titles, behind the titles' word starts in the same statement; descriptions;
/// people; on SQLite, in-process, the word starts are a statement of their own), one per rank read (fewer when a
/// field matched nothing), and the page's relations. A search that finds nothing (no synthetic person is called
/// Maya Rossi at this size) costs its probe, one statement per corrected word (at most three) and the corrected
/// text's probe.
async fn a_search_page_costs_a_bounded_number_of_statements(backend: Backend) {
    let app = TestApp::counting_statements(backend).await;
    cinema::catalog::seed::seed_synthetic(app.db(), 1_200).await.unwrap();
    let query = "query($s: String) { movies(first: 20, search: $s) {
        totalCount nodes { name genres { name } directors { name } } } }";
    let probe = match backend {
        Backend::Postgres => 3,
        Backend::Sqlite => 4,
    };
    let (found, corrected) = (probe + 4, probe + 3 + probe);
    for (text, bound) in [
        ("generated", found),
        ("wild", found),
        ("Maya Rossi", corrected),
        ("No. 1100", found),
        ("the wild", found),
        ("nothing at all", corrected),
    ] {
        app.query_ok(query, json!({ "s": text })).await;
        let before = app.statements();
        app.query_ok(query, json!({ "s": text })).await;
        let cost = app.statements() - before;
        assert!(cost <= bound, "{text}: {cost} statements");
    }
}

const FALLBACK: &str = "query($s: String, $a: String, $f: MovieFilter, $n: Int) {
  movies(search: $s, after: $a, filter: $f, first: $n) {
    didYouMean totalCount pageInfo { hasNextPage endCursor } nodes { name } } }";

/// Issue 25, typos: a search that finds nothing falls back to the corrected text's matches and says so in
/// `didYouMean` ("godfater" finds The Godfather, a misspelt star's name finds their movies); its next page is
/// asked for with the text as typed. A search that finds something, or whose correction finds nothing (here
/// because of a filter), or with nothing close, is not corrected.
async fn a_typo_falls_back_to_the_closest_title_or_name(backend: Backend) {
    let app = TestApp::start(backend).await;
    let page = app.query_ok(FALLBACK, json!({ "s": "godfater" })).await["movies"].clone();
    assert_eq!(page["didYouMean"], "godfather");
    let mut both = names(&page);
    both.sort();
    assert_eq!(both, ["The Godfather", "The Godfather Part II"]);
    assert_eq!(page["totalCount"], 2);

    let first = app.query_ok(FALLBACK, json!({ "s": "Godfater", "n": 1 })).await["movies"].clone();
    let next = app
        .query_ok(
            FALLBACK,
            json!({ "s": "Godfater", "n": 1, "a": first["pageInfo"]["endCursor"] }),
        )
        .await["movies"]
        .clone();
    assert_eq!(
        [names(&first), names(&next)].concat(),
        names(&page),
        "the same two, one per page"
    );
    assert_eq!(next["didYouMean"], "godfather");

    let star = app.query_ok(FALLBACK, json!({ "s": "morgan freman" })).await["movies"].clone();
    assert_eq!(star["didYouMean"], "morgan freeman");
    assert!(names(&star).contains(&"The Shawshank Redemption".to_string()), "{star}");

    for (text, filter) in [
        ("godfather", Value::Null),
        ("qxzvw kjqpd", Value::Null),
        ("godfater", json!({ "yearMin": 2020 })),
    ] {
        let page = app.query_ok(FALLBACK, json!({ "s": text, "f": filter })).await["movies"].clone();
        assert!(page["didYouMean"].is_null(), "{text}: {page}");
    }
    let none = app.query_ok(FALLBACK, json!({ "s": "qxzvw kjqpd" })).await["movies"].clone();
    assert_eq!(none["totalCount"], 0);
    assert_eq!(names(&none), Vec::<String>::new());
}

const SUGGEST: &str = "query($t: String!, $n: Int) {
  searchSuggestions(text: $t, first: $n) { __typename ... on Movie { name } ... on Person { name } } }";

/// Issue 25, suggestions: movies whose title contains the text (the titles starting with it first) then
/// people whose name contains it; at most `first`, which runs from 1 to 20; blank text suggests nothing.
async fn suggestions_offer_movies_then_people(backend: Backend) {
    let app = TestApp::start(backend).await;
    let suggest = |text: &'static str, first: Option<i64>| {
        let app = &app;
        async move {
            app.query_ok(SUGGEST, json!({ "t": text, "n": first })).await["searchSuggestions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| {
                    (
                        s["__typename"].as_str().unwrap().to_string(),
                        s["name"].as_str().unwrap().to_string(),
                    )
                })
                .collect::<Vec<_>>()
        }
    };
    let godfather = suggest("GODF", None).await;
    let mut titles: Vec<String> = godfather
        .iter()
        .map(|(kind, name)| {
            assert_eq!(kind, "Movie");
            name.clone()
        })
        .collect();
    titles.sort();
    assert_eq!(titles, ["The Godfather", "The Godfather Part II"]);
    let starts = suggest("the", Some(5)).await;
    assert_eq!(starts.len(), 5);
    // Two movies to one person (rounded for the people): the titles all start with the text.
    let kinds: Vec<&str> = starts.iter().map(|(kind, _)| kind.as_str()).collect();
    assert_eq!(kinds, ["Movie", "Movie", "Movie", "Person", "Person"], "{starts:?}");
    assert!(
        starts[..3]
            .iter()
            .all(|(_, name)| name.to_lowercase().starts_with("the")),
        "{starts:?}"
    );
    let freeman = suggest("freeman", None).await;
    assert!(
        freeman.contains(&("Person".to_string(), "Morgan Freeman".to_string())),
        "{freeman:?}"
    );
    assert!(
        freeman.iter().all(|(kind, _)| kind == "Person"),
        "no title says freeman: {freeman:?}"
    );
    // Both kinds: a text in titles and names; movies first, people after.
    let both = suggest("an", Some(6)).await;
    assert_eq!(both.len(), 6);
    let kinds: Vec<&str> = both.iter().map(|(kind, _)| kind.as_str()).collect();
    assert_eq!(kinds, ["Movie", "Movie", "Movie", "Movie", "Person", "Person"]);
    assert!(
        both.iter().all(|(_, name)| name.to_lowercase().contains("an")),
        "{both:?}"
    );
    assert!(suggest("   ", None).await.is_empty());
    for first in [0, 21] {
        let (_, code) = app.error_code(SUGGEST, json!({ "t": "the", "n": first })).await;
        assert_eq!(code, "BAD_USER_INPUT", "first: {first}");
    }
}

const FILTERED: &str = "query($s: String, $o: MovieSort, $n: Int, $a: String, $f: MovieFilter) {
  movies(search: $s, sort: $o, first: $n, after: $a, filter: $f) {
    totalCount totalCountCapped pageInfo { hasNextPage endCursor } nodes { name } } }";

/// Every name of a search within `filter`, walked in pages of `first`, and the first page's count.
async fn walk_within(app: &TestApp, search: &str, sort: &Value, filter: &Value) -> (Vec<String>, Value) {
    let mut after = Value::Null;
    let mut seen = Vec::new();
    let mut count = Value::Null;
    loop {
        let variables = json!({ "s": search, "o": sort, "n": 100, "a": after, "f": filter });
        let page = app.query_ok(FILTERED, variables).await["movies"].clone();
        if count.is_null() {
            count = json!([page["totalCount"], page["totalCountCapped"]]);
        }
        seen.extend(names(&page));
        if page["pageInfo"]["hasNextPage"] != true {
            return (seen, count);
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
}

/// Issue 25: where nothing but the search filters the catalog, the probe first reads the titles' word starts
/// (a common title text) and the cast's and crew's indexes (a person's movies). The movies found, their order
/// and their count are the same as through the search indexes alone, which a filter that keeps every movie
/// (any price) still takes: for a text starting every title's word, one inside words, a person's name, a
/// number, a description's word, and nothing.
async fn quick_reads_find_what_the_search_indexes_find(backend: Backend) {
    let app = TestApp::start(backend).await;
    cinema::catalog::seed::seed_synthetic(app.db(), 1_200).await.unwrap();
    let every_price = json!({ "priceMin": 0 });
    for text in [
        "the",
        "THE WILD",
        "wild",
        "he wi",
        "Maya Rossi",
        "rossi",
        "No. 11",
        "generated",
        "qqqq",
    ] {
        for sort in [json!({ "field": "RELEVANCE" }), json!({ "field": "NAME" })] {
            let quick = walk_within(&app, text, &sort, &Value::Null).await;
            let indexed = walk_within(&app, text, &sort, &every_price).await;
            assert_eq!(quick, indexed, "{text} by {sort}");
        }
    }
    // "the" starts every synthetic title: more than a search counts, known from the word starts alone.
    let (all, count) = walk_within(&app, "the", &json!({ "field": "NAME" }), &Value::Null).await;
    assert_eq!(count, json!([1000, true]));
    assert!(all.len() >= 1_200, "{}", all.len());

    // Suggestions for a text in more titles than a search counts, none starting with it: the titles holding
    // it from a word's start, as many as asked for.
    let suggested = app.query_ok(SUGGEST, json!({ "t": "no.", "n": 5 })).await["searchSuggestions"].clone();
    let suggested: Vec<&str> = suggested
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(suggested.len(), 5, "{suggested:?}");
    assert!(suggested.iter().all(|name| name.contains(" No. ")), "{suggested:?}");
}

/// Issue 25: migration 000018 fills the titles' word index from the titles already there with the same entries
/// the application writes beside each title (`catalog::words`): punctuation, digits, letters outside ASCII, a
/// title longer than an entry keeps.
async fn the_title_word_index_is_what_its_migration_writes(backend: Backend) {
    use diesel_async::RunQueryDsl;
    let app = TestApp::start(backend).await;
    let long = format!("The {} End", "Very ".repeat(20));
    let odd: Vec<CatalogEntry> = [
        "(500) Days of Summer",
        "Spider-Man: No Way Home",
        "Élan Vital",
        "WALL·E",
        "  Two  Spaces ",
        "M*A*S*H",
        long.as_str(),
    ]
    .iter()
    .map(|name| entry(name, &[], "odd"))
    .collect();
    insert_catalog(app.db(), &odd).await.unwrap();
    let (stored, expected) = app.title_words().await;
    assert_eq!(stored, expected, "written beside each title");
    assert!(stored.iter().any(|(suffix, _)| suffix == "no way home"), "{stored:?}");

    let migration = match backend {
        Backend::Postgres => include_str!("../migrations/postgres/2026-12-05-000018_title_words/up.sql"),
        Backend::Sqlite => include_str!("../migrations/sqlite/2026-12-05-000018_title_words/up.sql"),
    };
    let fill = &migration[migration.find("INSERT").unwrap()..];
    let mut conn = app.conn().await;
    cinema::per_backend!(&mut conn, |c| {
        diesel::sql_query("DELETE FROM movie_title_words")
            .execute(c)
            .await
            .unwrap();
        diesel::sql_query(fill).execute(c).await.unwrap();
    });
    let (filled, _) = app.title_words().await;
    assert_eq!(filled, expected, "filled by the migration");
}

/// Issue 25: every way a search is served — a text more titles hold than a search counts (walked, the word
/// starts deciding), a description's word (walked), a rarer title word and a person's name (listed by id), a
/// text too short for the index (walked without a probe) — pages through every match exactly once in every
/// sort and direction, the same movies each time.
async fn every_plan_pages_through_every_match_once_in_every_sort(backend: Backend) {
    let app = TestApp::start(backend).await;
    cinema::catalog::seed::seed_synthetic(app.db(), 1_200).await.unwrap();
    let sorts = [
        "NAME",
        "YEAR",
        "IMDB",
        "PRICE",
        "POPULARITY",
        "RATING",
        "ADDED",
        "RELEVANCE",
    ];
    for text in ["the wild", "generated", "wild", "Ava Abbott", "x"] {
        let mut expected = walk(&app, text, json!({ "field": "NAME" }), 100).await;
        expected.sort();
        assert!(!expected.is_empty(), "{text}");
        for field in sorts {
            for direction in ["ASC", "DESC"] {
                let sort = json!({ "field": field, "direction": direction });
                let mut seen = walk(&app, text, sort, 97).await;
                let walked = seen.len();
                seen.sort();
                seen.dedup();
                assert_eq!(seen.len(), walked, "{text} by {field} {direction}: a movie repeated");
                assert_eq!(seen, expected, "{text} by {field} {direction}: the same movies");
            }
        }
    }
}
