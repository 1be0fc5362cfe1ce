use sea_orm::sea_query::DynIden;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement};
use sea_orm_migration::{MigratorTrait, SchemaManager};
use tracing::info;

use crate::connect::{PoolPurpose, checked_backend, open, pool_options};
use crate::{Backend, DatabaseSettings, Db, DbError, ErrorKind, identifier};

/// Applies every pending migration of `M` to the service's schema, creating the schema first.
///
/// On PostgreSQL the work runs on a pool of exactly one connection, so the session-level
/// `pg_advisory_lock` on a per-service key and the DDL share it: concurrent callers (replicas,
/// a Job and `tenure up`) wait for each other and then find nothing pending. If the process dies
/// the connection closes and the lock goes with it. No `statement_timeout` applies to this pool.
/// On SQLite `M::up` runs directly; SQLite mode has a single process.
///
/// # Errors
///
/// Invalid settings, an unreachable server, or a failing migration, classified.
pub async fn migrate<M: MigratorTrait>(
    settings: &DatabaseSettings,
    service: &str,
) -> Result<(), DbError> {
    let backend = checked_backend(settings)?;
    let options = pool_options(settings, backend, PoolPurpose::Migrating).await?;
    let conn = open(options, settings.connect_timeout_secs).await?;
    let outcome = match backend {
        Backend::Postgres => migrate_postgres::<M>(&conn, &settings.schema, service).await,
        Backend::Sqlite => M::up(&conn, None).await.map_err(DbError::from),
    };
    // Closing also releases the advisory lock when the migration failed half-way.
    let closed = conn.close().await.map_err(DbError::from);
    outcome?;
    closed?;
    info!(service, schema = %settings.schema, "migrations applied");
    Ok(())
}

/// How many migrations of `M` the database has not recorded yet; `tenure serve` stays
/// `NOT_SERVING` until this is 0. Read-only: it never creates the tracking table, so the
/// unprivileged `<svc>_app` role can ask.
///
/// # Errors
///
/// The classified failure of the query, or [`ErrorKind::Other`] when the database records a
/// migration that `M` does not know (a newer release ran against it).
pub async fn pending_migrations<M: MigratorTrait>(db: &Db) -> Result<usize, DbError> {
    let pending = M::get_pending_migrations_read_only(db.conn()).await?;
    Ok(pending.len())
}

/// The readiness of a service's database, for its health probe: the database answers and no
/// migration of `M` is pending. The reason, when not ready, is short and safe to log.
pub async fn readiness<M: MigratorTrait>(db: &Db) -> Result<(), String> {
    db.ping().await.map_err(|error| error.to_string())?;
    match pending_migrations::<M>(db).await {
        Ok(0) => Ok(()),
        Ok(pending) => Err(format!(
            "{pending} migration(s) pending; run `tenure migrate`"
        )),
        Err(error) => Err(error.to_string()),
    }
}

/// Declares a migration, `Migration`, documented by `$doc` and named after the file it is declared in
/// (as sea-orm's `DeriveMigrationName` names it, so recorded histories still match), whose `up` runs
/// `$body` with the schema manager bound to `$manager`. Shipped migrations only ever go forward: a change is a new
/// migration, so there is no `down`.
#[macro_export]
macro_rules! migration {
    ($doc:literal, |$manager:ident| $body:block) => {
        #[doc = $doc]
        pub(crate) struct Migration;

        impl ::sea_orm_migration::MigrationName for Migration {
            fn name(&self) -> &str {
                ::sea_orm_migration::util::get_file_stem(file!())
            }
        }

        #[::sea_orm_migration::async_trait::async_trait]
        #[allow(
            elided_lifetimes_in_paths,
            reason = "the trait elides the manager's lifetime; naming it breaks the async_trait expansion"
        )]
        impl ::sea_orm_migration::MigrationTrait for Migration {
            async fn up(
                &self,
                $manager: &::sea_orm_migration::SchemaManager,
            ) -> Result<(), ::sea_orm_migration::DbErr> $body
        }
    };
}

/// Declares a service's `Migrator`: its migrations in the order they apply, and its own history table
/// `<service>_migrations` ([`migrations_table`]). The shared migrations of this crate (idempotency
/// records, their subjects, rate-limit buckets) take their place in the list like any other.
#[macro_export]
macro_rules! migrator {
    ($service:literal, [$($migration:expr),+ $(,)?]) => {
        #[doc = concat!("Applies this service's migrations; its history lives in `", $service, "_migrations`.")]
        pub(crate) struct Migrator;

        #[::sea_orm_migration::async_trait::async_trait]
        impl ::sea_orm_migration::MigratorTrait for Migrator {
            fn migrations() -> Vec<Box<dyn ::sea_orm_migration::MigrationTrait>> {
                vec![$(Box::new($migration)),+]
            }

            fn migration_table_name() -> ::sea_orm_migration::sea_orm::DynIden {
                $crate::migrations_table($service)
            }
        }
    };
}

/// The tracking-table name for `service`, `<service>_migrations`, for a migrator's
/// `fn migration_table_name() -> DynIden { tenure_db::migrations_table("orders") }`. Separate
/// names per service keep two histories apart even if a `search_path` were wrong.
pub fn migrations_table(service: &str) -> DynIden {
    DynIden::from(format!("{service}_migrations"))
}

/// Whether an index allows two rows with the same key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexKind {
    /// Any number of rows per key.
    Plain,
    /// At most one row per key.
    Unique,
}

/// Creates the index `name` on `columns` of `table`, as every migration writes its indexes.
///
/// # Errors
///
/// The statement's error.
pub async fn create_index(
    manager: &SchemaManager<'_>,
    name: &str,
    table: &str,
    columns: &[&str],
    kind: IndexKind,
) -> Result<(), DbErr> {
    let mut index = sea_orm_migration::prelude::Index::create();
    index.name(name).table(DynIden::from(table.to_owned()));
    for column in columns {
        index.col(DynIden::from((*column).to_owned()));
    }
    if kind == IndexKind::Unique {
        index.unique();
    }
    manager.create_index(index).await
}

/// The PostgreSQL statements that make `table` tenant-scoped (quality.md §1.5): row-level
/// security enabled and forced (so the owner is bound too) and a `tenant_only` policy matching
/// `tenant_id` (a `uuid` column) against the transaction's `app.tenant_id`. The `nullif` turns the
/// empty string a pooled connection reports once it has seen the setting into NULL, which matches
/// nothing instead of failing the cast.
///
/// The table is quoted and resolved through the `search_path`. Run them only on PostgreSQL, e.g.
/// through [`enable_tenant_rls`]. Grants and revokes for roles are the deployment's business.
pub fn tenant_rls_statements(table: &str) -> Vec<String> {
    let table = identifier::quote(table);
    let tenant = "nullif(current_setting('app.tenant_id', true), '')::uuid";
    vec![
        format!("ALTER TABLE {table} ENABLE ROW LEVEL SECURITY"),
        format!("ALTER TABLE {table} FORCE ROW LEVEL SECURITY"),
        format!(
            "CREATE POLICY tenant_only ON {table} \
             USING (tenant_id = {tenant}) WITH CHECK (tenant_id = {tenant})"
        ),
    ]
}

/// Runs [`tenant_rls_statements`] for `table` when the migration runs on PostgreSQL, and does
/// nothing on SQLite (which has no row-level security; only application checks apply there).
///
/// # Errors
///
/// The failing statement's error.
pub async fn enable_tenant_rls(manager: &SchemaManager<'_>, table: &str) -> Result<(), DbErr> {
    let conn = manager.get_connection();
    if conn.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    for sql in tenant_rls_statements(table) {
        conn.execute_raw(Statement::from_string(DbBackend::Postgres, sql))
            .await?;
    }
    Ok(())
}

/// The setting a transaction turns on to read every tenant's rows: [`crate::TenantTx::begin_cross_tenant`].
pub const CROSS_TENANT_SETTING: &str = "app.cross_tenant";

/// Lets transactions that opt in with `setting` (set transaction-locally to `on`) reach every
/// tenant's rows of `table` through a policy named `name`: `FOR SELECT` for operators' and billing's
/// reads, `FOR ALL` for a worker that writes across tenants. Customer-scoped transactions never set
/// it, so a forgotten tenant filter there still returns nothing of another tenant. Does nothing on
/// SQLite.
///
/// # Errors
///
/// The failing statement's error.
pub async fn allow_opted_in(
    manager: &SchemaManager<'_>,
    table: &str,
    name: &str,
    command: PolicyCommand,
    setting: &str,
) -> Result<(), DbErr> {
    let conn = manager.get_connection();
    if conn.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    let opted_in = format!("current_setting('{setting}', true) = 'on'");
    let sql = match command {
        PolicyCommand::Select => format!(
            "CREATE POLICY {name} ON {table} FOR SELECT USING ({opted_in})",
            name = identifier::quote(name),
            table = identifier::quote(table),
        ),
        PolicyCommand::All => format!(
            "CREATE POLICY {name} ON {table} FOR ALL USING ({opted_in}) WITH CHECK ({opted_in})",
            name = identifier::quote(name),
            table = identifier::quote(table),
        ),
    };
    conn.execute_raw(Statement::from_string(DbBackend::Postgres, sql))
        .await?;
    Ok(())
}

/// The read-only cross-tenant policy `cross_tenant_read` on `table` (see [`allow_opted_in`]).
///
/// # Errors
///
/// The failing statement's error.
pub async fn allow_cross_tenant_reads(
    manager: &SchemaManager<'_>,
    table: &str,
) -> Result<(), DbErr> {
    allow_opted_in(
        manager,
        table,
        "cross_tenant_read",
        PolicyCommand::Select,
        CROSS_TENANT_SETTING,
    )
    .await
}

/// What an opted-in policy allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyCommand {
    /// Reads only.
    Select,
    /// Reads and writes.
    All,
}

async fn migrate_postgres<M: MigratorTrait>(
    conn: &DatabaseConnection,
    schema: &str,
    service: &str,
) -> Result<(), DbError> {
    let lock_key = format!("tenure.migrate.{service}");
    conn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT pg_advisory_lock(hashtext($1))",
        [lock_key.clone().into()],
    ))
    .await?;
    // Taken under the lock: concurrent `CREATE SCHEMA IF NOT EXISTS` can still collide on the
    // catalogue's unique index.
    create_schema_if_missing(conn, schema).await?;
    M::up(conn, None).await?;
    conn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT pg_advisory_unlock(hashtext($1))",
        [lock_key.into()],
    ))
    .await?;
    Ok(())
}

/// `CREATE SCHEMA` checks the database-level CREATE privilege before `IF NOT EXISTS`, so asking the
/// catalogue first lets an owner role without that privilege migrate a schema the deployment made.
async fn create_schema_if_missing(conn: &DatabaseConnection, schema: &str) -> Result<(), DbError> {
    let exists = conn
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1) AS present",
            [schema.into()],
        ))
        .await?
        .map(|row| row.try_get::<bool>("", "present"))
        .transpose()?
        .unwrap_or(false);
    if exists {
        return Ok(());
    }
    if !identifier::is_valid(schema) {
        return Err(DbError::new(ErrorKind::Other, "invalid schema name"));
    }
    // Identifiers cannot be bound; the name was validated against identifier::PATTERN.
    let sql = format!("CREATE SCHEMA IF NOT EXISTS {}", identifier::quote(schema));
    conn.execute_raw(Statement::from_string(DbBackend::Postgres, sql))
        .await?;
    Ok(())
}
