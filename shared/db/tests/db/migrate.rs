use tenure_db::{Backend, ErrorKind};
use tenure_testkit::{TestDatabase, TestSqlite};

use crate::support::{Migrator, SERVICE, connect, migrated_postgres, query_one};

async fn recorded_migrations(db: &tenure_db::Db) -> i64 {
    let row = query_one(db.conn(), "SELECT count(*) AS n FROM widgets_migrations")
        .await
        .unwrap();
    row.try_get("", "n").unwrap()
}

#[tokio::test]
async fn migrate_creates_the_tables_inside_the_service_schema() {
    let (_database, settings) = migrated_postgres().await;
    let db = connect(&settings).await;

    let row = query_one(
        db.conn(),
        "SELECT string_agg(table_schema || '.' || table_name, ',' ORDER BY table_name) AS tables \
         FROM information_schema.tables \
         WHERE table_name IN ('widget', 'idempotency_record', 'widgets_migrations')",
    )
    .await
    .unwrap();
    let tables: String = row.try_get("", "tables").unwrap();
    assert_eq!(
        tables,
        "widgets.idempotency_record,widgets.widget,widgets.widgets_migrations"
    );
    assert_eq!(recorded_migrations(&db).await, 2);
    assert_eq!(db.schema(), SERVICE);
    assert_eq!(db.backend(), Backend::Postgres);
}

#[tokio::test]
async fn a_second_migrate_is_a_no_op() {
    let (_database, settings) = migrated_postgres().await;

    tenure_db::migrate::<Migrator>(&settings, SERVICE)
        .await
        .unwrap();

    let db = connect(&settings).await;
    assert_eq!(recorded_migrations(&db).await, 2);
    assert_eq!(
        tenure_db::pending_migrations::<Migrator>(&db)
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn concurrent_migrations_of_one_service_both_succeed() {
    let database = TestDatabase::create().await.unwrap();
    let settings = database.settings(SERVICE);

    let (first, second) = tokio::join!(
        tenure_db::migrate::<Migrator>(&settings, SERVICE),
        tenure_db::migrate::<Migrator>(&settings, SERVICE),
    );

    first.unwrap();
    second.unwrap();
    let db = connect(&settings).await;
    assert_eq!(recorded_migrations(&db).await, 2);
}

#[tokio::test]
async fn pending_migrations_counts_what_the_schema_lacks_without_creating_anything() {
    let database = TestDatabase::create().await.unwrap();
    let db = connect(&database.settings("public")).await;

    assert_eq!(
        tenure_db::pending_migrations::<Migrator>(&db)
            .await
            .unwrap(),
        2
    );

    let tracking = query_one(
        db.conn(),
        "SELECT to_regclass('widgets_migrations') IS NULL AS absent",
    )
    .await
    .unwrap();
    assert!(tracking.try_get::<bool>("", "absent").unwrap());
}

#[tokio::test]
async fn connect_names_the_fix_when_the_schema_is_missing() {
    let database = TestDatabase::create().await.unwrap();

    let error = tenure_db::connect(&database.settings("never_migrated"))
        .await
        .unwrap_err();

    assert_eq!(error.kind(), ErrorKind::Other);
    let message = error.to_string();
    assert!(message.contains("never_migrated"), "{message}");
    assert!(message.contains("run `tenure migrate`"), "{message}");
}

#[tokio::test]
async fn connect_reports_an_unreachable_server_as_unavailable() {
    let mut settings = tenure_db::DatabaseSettings {
        url: tenure_db::DatabaseUrl::new("postgres://nobody:secret@127.0.0.1:1/none"),
        schema: "orders".to_owned(),
        ..tenure_db::DatabaseSettings::default()
    };
    settings.connect_timeout_secs = 2;
    settings.acquire_timeout_secs = 2;

    let error = tenure_db::connect(&settings).await.unwrap_err();

    assert_eq!(error.kind(), ErrorKind::Unavailable);
    assert!(!format!("{error} {error:?}").contains("secret"));
}

#[tokio::test]
async fn sqlite_migrates_into_a_file_with_wal_full_sync_and_foreign_keys() {
    let files = TestSqlite::create().unwrap();
    let settings = files.settings(SERVICE);

    tenure_db::migrate::<Migrator>(&settings, SERVICE)
        .await
        .unwrap();
    tenure_db::migrate::<Migrator>(&settings, SERVICE)
        .await
        .unwrap();

    assert!(files.path(SERVICE).exists());
    let db = connect(&settings).await;
    assert_eq!(db.backend(), Backend::Sqlite);
    assert_eq!(recorded_migrations(&db).await, 2);
    assert_eq!(
        tenure_db::pending_migrations::<Migrator>(&db)
            .await
            .unwrap(),
        0
    );
    let journal = query_one(db.conn(), "PRAGMA journal_mode").await.unwrap();
    assert_eq!(
        journal.try_get::<String>("", "journal_mode").unwrap(),
        "wal"
    );
    let synchronous = query_one(db.conn(), "PRAGMA synchronous").await.unwrap();
    assert_eq!(synchronous.try_get::<i32>("", "synchronous").unwrap(), 2);
    let foreign_keys = query_one(db.conn(), "PRAGMA foreign_keys").await.unwrap();
    assert_eq!(foreign_keys.try_get::<i32>("", "foreign_keys").unwrap(), 1);
    db.ping().await.unwrap();
}

#[tokio::test]
async fn sqlite_creates_the_directory_of_its_file() {
    let files = TestSqlite::create().unwrap();
    let nested = files
        .directory()
        .join("nested")
        .join("deeper")
        .join("svc.db");
    let settings = tenure_db::DatabaseSettings {
        url: tenure_db::DatabaseUrl::new(format!("sqlite://{}", nested.display())),
        schema: "svc".to_owned(),
        ..tenure_db::DatabaseSettings::default()
    };

    connect(&settings).await.ping().await.unwrap();

    assert!(nested.exists());
}

#[tokio::test]
async fn every_pooled_connection_gets_the_schema_and_timeouts() {
    let (_database, settings) = migrated_postgres().await;
    let db = connect(&settings).await;

    let row = query_one(
        db.conn(),
        "SELECT current_setting('search_path') AS search_path, \
                current_setting('statement_timeout') AS statement_timeout, \
                current_setting('idle_in_transaction_session_timeout') AS idle_timeout, \
                current_setting('application_name') AS application_name",
    )
    .await
    .unwrap();

    let setting = |name: &str| row.try_get::<String>("", name).unwrap();
    assert_eq!(setting("search_path"), "widgets");
    assert_eq!(setting("statement_timeout"), "30s");
    assert_eq!(setting("idle_timeout"), "1min");
    assert_eq!(setting("application_name"), "tenure-widgets");
}

#[tokio::test]
async fn the_leftover_sweep_keeps_fresh_test_databases() {
    let database = TestDatabase::create().await.unwrap();
    let admin_url = tenure_testkit::db::postgres_admin_url().unwrap();

    tenure_testkit::db::sweep_leftovers(&admin_url)
        .await
        .unwrap();

    connect(&database.settings("public"))
        .await
        .ping()
        .await
        .unwrap();
}
