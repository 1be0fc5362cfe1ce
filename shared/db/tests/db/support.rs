//! A small service schema for the tests: one tenant-owned table plus the shared idempotency table.

use chrono::{DateTime, TimeZone as _, Utc};
use sea_orm::sea_query::{ColumnDef, DynIden, Table};
use sea_orm::{ConnectionTrait, DbBackend, DbErr, QueryResult, Statement};
use sea_orm_migration::{MigrationName, MigrationTrait, MigratorTrait, SchemaManager, async_trait};
use tenure_db::idempotency::{AddIdempotencySubject, CreateIdempotencyRecord};
use tenure_db::{DatabaseSettings, Db};
use tenure_testkit::TestDatabase;
use uuid::Uuid;

pub(crate) const SERVICE: &str = "widgets";

pub(crate) struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(CreateWidget), Box::new(CreateIdempotencyRecord)]
    }

    fn migration_table_name() -> DynIden {
        tenure_db::migrations_table(SERVICE)
    }
}

/// [`Migrator`] upgraded with the idempotency subject, as a service adopting it ships it: the same
/// history, one migration more.
pub(crate) struct SubjectMigrator;

#[async_trait::async_trait]
impl MigratorTrait for SubjectMigrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        let mut migrations = Migrator::migrations();
        migrations.push(Box::new(AddIdempotencySubject));
        migrations
    }

    fn migration_table_name() -> DynIden {
        Migrator::migration_table_name()
    }
}

struct CreateWidget;

impl MigrationName for CreateWidget {
    fn name(&self) -> &str {
        "m0001_widget"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for CreateWidget {
    #[allow(
        elided_lifetimes_in_paths,
        reason = "async_trait needs the trait's late-bound elided lifetime"
    )]
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("widget")
                    .col(ColumnDef::new("name").text().not_null().primary_key())
                    .col(ColumnDef::new("tenant_id").uuid().not_null())
                    .to_owned(),
            )
            .await?;
        tenure_db::enable_tenant_rls(manager, "widget").await
    }
}

/// A fresh PostgreSQL database with the test schema migrated, and settings for it.
pub(crate) async fn migrated_postgres() -> (TestDatabase, DatabaseSettings) {
    let database = TestDatabase::create().await.unwrap();
    let settings = database.settings(SERVICE);
    tenure_db::migrate::<Migrator>(&settings, SERVICE)
        .await
        .unwrap();
    (database, settings)
}

/// A fixed instant; the crate never reads the clock, so tests choose time.
pub(crate) fn noon() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2030, 1, 1, 12, 0, 0).unwrap()
}

pub(crate) async fn query_one(conn: &impl ConnectionTrait, sql: &str) -> Option<QueryResult> {
    let backend = conn.get_database_backend();
    conn.query_one_raw(Statement::from_string(backend, sql))
        .await
        .unwrap()
}

pub(crate) async fn execute(conn: &impl ConnectionTrait, sql: &str) {
    let backend = conn.get_database_backend();
    conn.execute_raw(Statement::from_string(backend, sql))
        .await
        .unwrap();
}

/// Inserts a widget, returning the raw outcome so tests can look at failures.
pub(crate) async fn insert_widget(
    conn: &impl ConnectionTrait,
    name: &str,
    tenant_id: Uuid,
) -> Result<(), tenure_db::DbError> {
    let backend = conn.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => "INSERT INTO widget (name, tenant_id) VALUES ($1, $2)",
        _ => "INSERT INTO widget (name, tenant_id) VALUES (?, ?)",
    };
    conn.execute_raw(Statement::from_sql_and_values(
        backend,
        sql,
        [name.into(), tenant_id.into()],
    ))
    .await?;
    Ok(())
}

pub(crate) async fn widget_names(conn: &impl ConnectionTrait) -> Vec<String> {
    let backend = conn.get_database_backend();
    let rows = conn
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT name FROM widget ORDER BY name",
        ))
        .await
        .unwrap();
    rows.iter()
        .map(|row| row.try_get::<String>("", "name").unwrap())
        .collect()
}

pub(crate) async fn connect(settings: &DatabaseSettings) -> Db {
    tenure_db::connect(settings).await.unwrap()
}
