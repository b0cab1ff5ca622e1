//! The PostgreSQL and SQLite migration trees create the same tables and columns, with the same (mapped) types
//! and nullability, the same indexes and foreign keys, and the same versions (docs/architecture.md, "Storage").

use std::collections::BTreeMap;

use cinema::db::{DatabaseUrl, Db, PoolOptions, migrate};
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Text};
use diesel_async::RunQueryDsl;

#[derive(QueryableByName)]
struct Column {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
    #[diesel(sql_type = Text)]
    data_type: String,
    #[diesel(sql_type = BigInt)]
    not_null: i64,
    #[diesel(sql_type = BigInt)]
    pk: i64,
}

type Shape = BTreeMap<(String, String), (String, bool)>;

fn mapped(data_type: &str, pk: bool) -> String {
    match data_type.to_ascii_lowercase().as_str() {
        "bigint" => "BigInt",
        // SQLite's rowid alias must be declared INTEGER; it holds 64-bit values like PostgreSQL's BIGINT.
        "integer" if pk => "BigInt",
        "integer" => "Integer",
        "text" => "Text",
        "boolean" => "Bool",
        "timestamp" | "timestamp without time zone" => "Timestamp",
        "date" => "Date",
        "double" | "double precision" => "Double",
        other => panic!("type {other} is outside the common subset of types (docs/architecture.md)"),
    }
    .to_string()
}

async fn shape(db: &Db, sql: &'static str) -> Shape {
    let mut conn = db.conn().await.map_err(|e| e.public_message()).unwrap();
    let columns: Vec<Column> = cinema::per_backend!(&mut conn, |c| diesel::sql_query(sql).load(c).await).unwrap();
    columns
        .into_iter()
        .map(|c| {
            let pk = c.pk > 0;
            (
                (c.table_name, c.column_name),
                (
                    mapped(&c.data_type, pk && c.data_type.eq_ignore_ascii_case("integer")),
                    c.not_null > 0 || pk,
                ),
            )
        })
        .collect()
}

const POSTGRES_COLUMNS: &str = "
    SELECT c.table_name::text AS table_name, c.column_name::text AS column_name, c.data_type::text AS data_type,
           (CASE WHEN c.is_nullable = 'NO' THEN 1 ELSE 0 END)::bigint AS not_null, 0::bigint AS pk
    FROM information_schema.columns c
    WHERE c.table_schema = 'public' AND c.table_name <> '__diesel_schema_migrations'";

/// `table_xinfo`, not `table_info`: generated columns (hidden 2 and 3) are columns; a virtual table's hidden
/// columns (1) are not. The FTS5 search tables (`*_fts` and their shadow tables) are SQLite's index for what
/// PostgreSQL's trigram indexes do (migration 000010), so they are not part of the shared model.
const SQLITE_COLUMNS: &str = "
    SELECT m.name AS table_name, p.name AS column_name, p.type AS data_type,
           CAST(p.\"notnull\" AS BIGINT) AS not_null, CAST(p.pk AS BIGINT) AS pk
    FROM sqlite_master m, pragma_table_xinfo(m.name) p
    WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> '__diesel_schema_migrations'
      AND m.name NOT GLOB '*_fts' AND m.name NOT GLOB '*_fts_*'
      AND p.hidden <> 1";

#[derive(QueryableByName)]
struct Rule {
    #[diesel(sql_type = Text)]
    rule: String,
}

/// One text line per rule, so a difference reads plainly in the assertion message.
async fn rules(db: &Db, sql: &'static str) -> std::collections::BTreeSet<String> {
    let mut conn = db.conn().await.map_err(|e| e.public_message()).unwrap();
    let rows: Vec<Rule> = cinema::per_backend!(&mut conn, |c| diesel::sql_query(sql).load(c).await).unwrap();
    rows.into_iter().map(|r| r.rule).collect()
}

/// Every non-primary-key index as `table(col,col) unique|index`.
const POSTGRES_INDEXES: &str = "
    SELECT t.relname || '(' || string_agg(a.attname, ',' ORDER BY k.ordinality) || ') '
           || CASE WHEN ix.indisunique THEN 'unique' ELSE 'index' END AS rule
    FROM pg_index ix
    JOIN pg_class t ON t.oid = ix.indrelid
    JOIN pg_class i ON i.oid = ix.indexrelid
    JOIN pg_namespace n ON n.oid = t.relnamespace
    CROSS JOIN LATERAL unnest(ix.indkey) WITH ORDINALITY AS k(attnum, ordinality)
    JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
    WHERE n.nspname = 'public' AND NOT ix.indisprimary AND t.relname <> '__diesel_schema_migrations'
    GROUP BY t.relname, i.relname, ix.indisunique";

const SQLITE_INDEXES: &str = "
    SELECT m.name || '(' || (SELECT group_concat(name, ',') FROM
             (SELECT ii.name FROM pragma_index_info(il.name) ii ORDER BY ii.seqno)) || ') '
           || CASE WHEN il.\"unique\" THEN 'unique' ELSE 'index' END AS rule
    FROM sqlite_master m, pragma_index_list(m.name) il
    WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> '__diesel_schema_migrations'
      AND m.name NOT GLOB '*_fts' AND m.name NOT GLOB '*_fts_*'
      AND il.origin <> 'pk'
      AND NOT EXISTS (SELECT 1 FROM pragma_index_info(il.name) ii WHERE ii.name IS NULL)";

/// Every foreign key as `table(col) -> table RULE`.
const POSTGRES_FOREIGN_KEYS: &str = "
    SELECT tc.relname || '(' || a.attname || ') -> ' || rc.relname || ' ' ||
           CASE c.confdeltype WHEN 'c' THEN 'CASCADE' WHEN 'r' THEN 'RESTRICT' WHEN 'n' THEN 'SET NULL'
                              WHEN 'a' THEN 'NO ACTION' ELSE 'SET DEFAULT' END AS rule
    FROM pg_constraint c
    JOIN pg_class tc ON tc.oid = c.conrelid
    JOIN pg_class rc ON rc.oid = c.confrelid
    JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
    JOIN pg_namespace n ON n.oid = tc.relnamespace
    WHERE c.contype = 'f' AND n.nspname = 'public'";

const SQLITE_FOREIGN_KEYS: &str = "
    SELECT m.name || '(' || fk.\"from\" || ') -> ' || fk.\"table\" || ' ' || fk.on_delete AS rule
    FROM sqlite_master m, pragma_foreign_key_list(m.name) fk
    WHERE m.type = 'table'";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_trees_give_the_same_tables_columns_types_and_nullability() {
    if !crate::common::postgres_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sqlite = Db::connect(&DatabaseUrl::Sqlite(dir.path().join("c.db")), &PoolOptions::default()).unwrap();
    migrate::run_pending(&sqlite).await.unwrap();
    let (url, admin_url, name) = crate::common::postgres::fresh_database().await;
    let postgres = Db::connect(&DatabaseUrl::parse(&url).unwrap(), &PoolOptions::default()).unwrap();

    assert_eq!(
        migrate::embedded_versions(sqlite.backend()),
        migrate::embedded_versions(postgres.backend()),
        "same versions"
    );
    let sqlite_shape = shape(&sqlite, SQLITE_COLUMNS).await;
    let postgres_shape = shape(&postgres, POSTGRES_COLUMNS).await;
    let sqlite_indexes = rules(&sqlite, SQLITE_INDEXES).await;
    let postgres_indexes = rules(&postgres, POSTGRES_INDEXES).await;
    let sqlite_keys = rules(&sqlite, SQLITE_FOREIGN_KEYS).await;
    let postgres_keys = rules(&postgres, POSTGRES_FOREIGN_KEYS).await;
    postgres.close();
    crate::common::postgres::drop_database(&admin_url, &name).await;

    // Unique and plain indexes (by table, columns in order, uniqueness), and foreign keys (with their delete
    // rule): the rules the data relies on hold on both backends.
    assert_eq!(sqlite_indexes, postgres_indexes, "same indexes");
    assert!(
        sqlite_indexes.contains("movies(name,year,duration_minutes) unique"),
        "{sqlite_indexes:#?}"
    );
    assert!(
        sqlite_indexes.contains("cart_items(cart_id,movie_id) unique"),
        "{sqlite_indexes:#?}"
    );
    assert!(sqlite_indexes.contains("carts(user_id) unique"), "{sqlite_indexes:#?}");
    assert_eq!(sqlite_keys, postgres_keys, "same foreign keys");
    assert!(
        sqlite_keys.contains("purchases(movie_id) -> movies RESTRICT"),
        "{sqlite_keys:#?}"
    );

    assert!(
        sqlite_shape.len() > 100,
        "the whole data model: {} columns",
        sqlite_shape.len()
    );
    for (column, pg) in &postgres_shape {
        assert_eq!(sqlite_shape.get(column), Some(pg), "{column:?}");
    }
    assert_eq!(sqlite_shape.len(), postgres_shape.len(), "same columns");
}

/// Issue 23: two instances starting at once on an empty PostgreSQL database (two replicas of a first
/// deployment) both come up: the migrations run once, under an advisory lock, and the demo catalog is seeded
/// once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_starting_at_once_on_an_empty_database_both_come_up() {
    if !crate::common::postgres_available() {
        return;
    }
    let (url, admin_url, name) = crate::common::postgres::empty_database().await;
    let vars = [("DATABASE_URL", url.as_str()), ("SEED_DEMO", "on")];
    let (a, b) = tokio::join!(
        crate::common::TestApp::start_with(cinema::db::Backend::Postgres, &vars),
        crate::common::TestApp::start_with(cinema::db::Backend::Postgres, &vars),
    );
    for app in [&a, &b] {
        assert_eq!(app.get("/health/ready").await.status(), 200);
    }
    let mut conn = a.conn().await;
    let cinema::db::DbConn::Postgres(pg) = &mut conn else {
        unreachable!("a PostgreSQL app")
    };
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let applied: Count = diesel::sql_query("SELECT COUNT(*) AS n FROM __diesel_schema_migrations")
        .get_result(&mut **pg)
        .await
        .unwrap();
    let known = migrate::embedded_versions(cinema::db::Backend::Postgres).len() as i64;
    assert_eq!(applied.n, known);
    let movies: Count = diesel::sql_query("SELECT COUNT(*) AS n FROM movies")
        .get_result(&mut **pg)
        .await
        .unwrap();
    assert_eq!(movies.n, 116, "the demo catalog, once");
    drop(conn);
    drop(a);
    drop(b);
    crate::common::postgres::drop_database(&admin_url, &name).await;
}
