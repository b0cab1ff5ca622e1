//! DESIGN.md §3: the PostgreSQL and SQLite migration trees create the same tables and columns, with the same
//! (mapped) types and nullability, and the same versions.

mod common;

use std::collections::BTreeMap;

use cinema::db::{DatabaseUrl, Db, PoolOptions, migrate};
use cinema::error::AppError;
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
        other => panic!("type {other} is outside the common subset of DESIGN.md §3"),
    }
    .to_string()
}

async fn shape(db: &Db, sql: &'static str) -> Shape {
    let columns: Result<Vec<Column>, AppError> = async {
        cinema::db_run!(db, |conn| diesel::sql_query(sql)
            .load(conn)
            .await
            .map_err(AppError::from))
    }
    .await;
    columns
        .map_err(|e| e.public_message())
        .unwrap()
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

const SQLITE_COLUMNS: &str = "
    SELECT m.name AS table_name, p.name AS column_name, p.type AS data_type,
           CAST(p.\"notnull\" AS BIGINT) AS not_null, CAST(p.pk AS BIGINT) AS pk
    FROM sqlite_master m, pragma_table_info(m.name) p
    WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> '__diesel_schema_migrations'";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_trees_give_the_same_tables_columns_types_and_nullability() {
    if !common::postgres_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sqlite = Db::connect(&DatabaseUrl::Sqlite(dir.path().join("c.db")), &PoolOptions::default()).unwrap();
    migrate::run_pending(&sqlite).await.unwrap();
    let (url, admin_url, name) = common::postgres::fresh_database().await;
    let postgres = Db::connect(&DatabaseUrl::parse(&url).unwrap(), &PoolOptions::default()).unwrap();

    assert_eq!(
        migrate::embedded_versions(&sqlite),
        migrate::embedded_versions(&postgres),
        "same versions"
    );
    let sqlite_shape = shape(&sqlite, SQLITE_COLUMNS).await;
    let postgres_shape = shape(&postgres, POSTGRES_COLUMNS).await;
    postgres.close();
    common::postgres::drop_database(&admin_url, &name).await;

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
