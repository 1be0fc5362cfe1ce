//! Fresh databases for tests: a PostgreSQL database per test on the server `tests/run.sh` hands
//! over in `TENURE_TEST_PG_URL`, or a SQLite file per service in a temporary directory.
//!
//! A [`TestDatabase`] is named `t_<uuid>` and dropped `WITH (FORCE)` when the value is dropped,
//! together with any login roles it created; `tests/run.sh` and [`sweep_leftovers`] remove what a
//! killed test left behind.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::thread;

use anyhow::{Context as _, bail};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement,
};
use tempfile::TempDir;
use tenure_db::{DatabaseSettings, DatabaseUrl};
use uuid::Uuid;

/// The variable through which `tests/run.sh` hands over the PostgreSQL server.
const PG_URL_VARIABLE: &str = "TENURE_TEST_PG_URL";

/// Pool size of the settings handed to tests: parallel tests, each with several services, must
/// stay well under the server's `max_connections`.
const TEST_POOL_SIZE: u32 = 4;

/// A test database older than this is a leftover: no test runs that long.
const LEFTOVER_AGE: &str = "1 hour";

/// A PostgreSQL database of its own for one test, dropped with this value.
#[derive(Debug)]
pub struct TestDatabase {
    name: String,
    url: DatabaseUrl,
    admin_url: DatabaseUrl,
    /// Login roles created for this database; dropped with it.
    roles: Mutex<Vec<String>>,
}

impl TestDatabase {
    /// Creates an empty database `t_<uuid>` on the server named by `TENURE_TEST_PG_URL`.
    ///
    /// # Errors
    ///
    /// The variable is unset (the message names the command to run) or the server refuses.
    pub async fn create() -> anyhow::Result<Self> {
        let admin_url = DatabaseUrl::new(postgres_admin_url()?);
        let name = format!("t_{}", Uuid::new_v4().simple());
        let admin = admin_connection(&admin_url).await?;
        let created = execute(&admin, &format!("CREATE DATABASE \"{name}\"")).await;
        admin.close().await.ok();
        created.with_context(|| format!("create test database {name}"))?;
        Ok(Self {
            url: admin_url.with_database(&name),
            name,
            admin_url,
            roles: Mutex::new(Vec::new()),
        })
    }

    /// The database's name, `t_<uuid>`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The URL of this database, logged in as the server's admin role (a superuser in tests, so
    /// row-level security does not apply to it).
    pub fn url(&self) -> &DatabaseUrl {
        &self.url
    }

    /// Ready settings for `schema` in this database, with a small pool.
    pub fn settings(&self, schema: &str) -> DatabaseSettings {
        DatabaseSettings {
            url: self.url.clone(),
            schema: schema.to_owned(),
            max_connections: TEST_POOL_SIZE,
            ..DatabaseSettings::default()
        }
    }

    /// The tables of `schema` in this database, sorted.
    ///
    /// # Errors
    ///
    /// The server refuses the connection or the catalogue query.
    pub async fn tables(&self, schema: &str) -> anyhow::Result<Vec<String>> {
        let conn = admin_connection(&self.url).await?;
        let rows = conn
            .query_all_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT table_name::text AS name FROM information_schema.tables \
                 WHERE table_schema = $1 ORDER BY table_name",
                [schema.into()],
            ))
            .await;
        conn.close().await.ok();
        let mut tables = Vec::new();
        for row in rows.context("listing tables")? {
            tables.push(row.try_get::<String>("", "name")?);
        }
        Ok(tables)
    }

    /// Every (table, column) of `schema` but its migrations table, which is where G1 checks that each
    /// persisted column is registered with a data class.
    ///
    /// # Errors
    ///
    /// The server refuses the connection or the catalogue query.
    pub async fn columns(&self, schema: &str) -> anyhow::Result<BTreeSet<(String, String)>> {
        let conn = admin_connection(&self.url).await?;
        let rows = conn
            .query_all_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT table_name::text AS t, column_name::text AS c FROM information_schema.columns \
                 WHERE table_schema = $1 AND table_name <> $2",
                [schema.into(), format!("{schema}_migrations").into()],
            ))
            .await;
        conn.close().await.ok();
        let mut columns = BTreeSet::new();
        for row in rows.context("listing columns")? {
            columns.insert((
                row.try_get::<String>("", "t")?,
                row.try_get::<String>("", "c")?,
            ));
        }
        Ok(columns)
    }

    /// Creates a login role `<database>_<suffix>` that is neither superuser nor `BYPASSRLS`, with
    /// this database's URL logged in as it. The role is cluster-wide, so it is dropped with
    /// the database; privileges inside the database (schema usage, table grants) are the test's to
    /// give.
    ///
    /// # Errors
    ///
    /// `suffix` is not lowercase letters, digits and underscores, or the server refuses.
    pub async fn create_login_role(&self, suffix: &str) -> anyhow::Result<TestRole> {
        let valid_suffix = !suffix.is_empty()
            && suffix.len() <= 20
            && suffix
                .bytes()
                .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_');
        if !valid_suffix {
            bail!("role suffix {suffix:?} must be 1-20 of [a-z0-9_]");
        }
        let role = format!("{}_{suffix}", self.name);
        let password = Uuid::new_v4().simple().to_string();
        let admin = admin_connection(&self.admin_url).await?;
        let created = async {
            execute(
                &admin,
                &format!(
                    "CREATE ROLE \"{role}\" LOGIN PASSWORD '{password}' \
                     NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE"
                ),
            )
            .await?;
            self.roles
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(role.clone());
            execute(
                &admin,
                &format!("GRANT CONNECT ON DATABASE \"{}\" TO \"{role}\"", self.name),
            )
            .await
        }
        .await;
        admin.close().await.ok();
        created.with_context(|| format!("create login role {role}"))?;
        Ok(TestRole {
            url: self.url.with_credentials(&role, &password),
            name: role,
        })
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let name = std::mem::take(&mut self.name);
        let roles = std::mem::take(self.roles.get_mut().unwrap_or_else(PoisonError::into_inner));
        let admin_url = self.admin_url.clone();
        // Drop may run outside any runtime, or inside a current-thread one that must not be
        // blocked on itself, so the work gets a thread and a runtime of its own.
        let worker = thread::Builder::new()
            .name("tenure-test-db-drop".to_owned())
            .spawn(move || -> anyhow::Result<()> {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .context("start a runtime to drop the test database")?;
                runtime.block_on(drop_database(&admin_url, &name, &roles))
            });
        let outcome = match worker {
            Ok(handle) => handle
                .join()
                .unwrap_or_else(|_| Err(anyhow::anyhow!("the drop thread panicked"))),
            Err(error) => Err(error.into()),
        };
        if let Err(error) = outcome {
            tracing::warn!(error = %format!("{error:#}"), "test database left behind");
        }
    }
}

/// A login role made by [`TestDatabase::create_login_role`].
#[derive(Debug, Clone)]
pub struct TestRole {
    /// The role's name, for `GRANT … TO`; a plain identifier.
    pub name: String,
    /// The test database's URL, logged in as this role.
    pub url: DatabaseUrl,
}

/// One SQLite file per service in a temporary directory, removed with this value.
#[derive(Debug)]
pub struct TestSqlite {
    directory: TempDir,
}

impl TestSqlite {
    /// Creates the temporary directory; the files appear when services connect.
    ///
    /// # Errors
    ///
    /// The directory cannot be created.
    pub fn create() -> anyhow::Result<Self> {
        let directory = tempfile::Builder::new()
            .prefix("tenure-sqlite-")
            .tempdir()
            .context("create a temporary directory for SQLite files")?;
        Ok(Self { directory })
    }

    /// The temporary directory holding the files.
    pub fn directory(&self) -> &Path {
        self.directory.path()
    }

    /// The file `<dir>/<service>.db`.
    pub fn path(&self, service: &str) -> PathBuf {
        self.directory.path().join(format!("{service}.db"))
    }

    /// Settings for `service` (also its schema name) pointing at [`TestSqlite::path`].
    pub fn settings(&self, service: &str) -> DatabaseSettings {
        DatabaseSettings {
            url: DatabaseUrl::new(sqlite_url(&self.path(service))),
            schema: service.to_owned(),
            max_connections: TEST_POOL_SIZE,
            ..DatabaseSettings::default()
        }
    }
}

/// The admin URL `tests/run.sh` hands over: a role that may create databases and roles.
///
/// # Errors
///
/// The variable is unset or empty; the message names the command to run.
#[allow(
    clippy::disallowed_methods,
    reason = "the test handoff from tests/run.sh is the one place the testkit reads the environment"
)]
pub fn postgres_admin_url() -> anyhow::Result<String> {
    match std::env::var(PG_URL_VARIABLE) {
        Ok(value) if !value.trim().is_empty() => Ok(value),
        _ => bail!("set {PG_URL_VARIABLE} or run tests/run.sh"),
    }
}

/// Drops `t_*` databases older than an hour that nobody is connected to, then the login roles
/// whose database is gone, and returns how many databases went. A database someone connects to
/// meanwhile stays. Database ages come from `pg_stat_file`, which needs a superuser (as in tests).
///
/// # Errors
///
/// The server cannot be reached or the age query is refused.
pub async fn sweep_leftovers(admin_url: &str) -> anyhow::Result<usize> {
    let admin = admin_connection(&DatabaseUrl::new(admin_url)).await?;
    let outcome = sweep(&admin).await;
    admin.close().await.ok();
    outcome
}

async fn sweep(admin: &DatabaseConnection) -> anyhow::Result<usize> {
    let stale_databases = names(
        admin,
        &format!(
            "SELECT d.datname AS name FROM pg_database d \
             WHERE d.datname ~ '^t_[0-9a-f]{{32}}$' \
               AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.datid = d.oid) \
               AND (pg_stat_file('base/' || d.oid || '/PG_VERSION', true)).modification \
                   < now() - interval '{LEFTOVER_AGE}'"
        ),
    )
    .await
    .context("list leftover test databases")?;
    let mut dropped = 0;
    for name in stale_databases {
        if execute(admin, &format!("DROP DATABASE IF EXISTS \"{name}\""))
            .await
            .is_ok()
        {
            dropped += 1;
        }
    }
    let orphan_roles = names(
        admin,
        "SELECT r.rolname AS name FROM pg_roles r \
         WHERE r.rolname ~ '^t_[0-9a-f]{32}_' \
           AND NOT EXISTS (SELECT 1 FROM pg_database d \
                           WHERE d.datname = substring(r.rolname from 1 for 34))",
    )
    .await
    .context("list leftover test roles")?;
    for role in orphan_roles {
        // A role still referenced somewhere stays; the next sweep tries again.
        execute(admin, &format!("DROP ROLE IF EXISTS \"{role}\""))
            .await
            .ok();
    }
    Ok(dropped)
}

async fn drop_database(
    admin_url: &DatabaseUrl,
    name: &str,
    roles: &[String],
) -> anyhow::Result<()> {
    let admin = admin_connection(admin_url).await?;
    let outcome = async {
        execute(
            &admin,
            &format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
        )
        .await
        .with_context(|| format!("drop test database {name}"))?;
        for role in roles {
            execute(&admin, &format!("DROP ROLE IF EXISTS \"{role}\""))
                .await
                .with_context(|| format!("drop test role {role}"))?;
        }
        anyhow::Ok(())
    }
    .await;
    admin.close().await.ok();
    outcome
}

/// One connection to the admin database; test set-up never needs more.
async fn admin_connection(admin_url: &DatabaseUrl) -> anyhow::Result<DatabaseConnection> {
    let mut options = ConnectOptions::new(admin_url.expose());
    options.max_connections(1).sqlx_logging(false);
    Database::connect(options)
        .await
        .with_context(|| format!("connect to the test PostgreSQL server at {admin_url}"))
}

/// Runs a statement whose identifiers were generated here (`t_<uuid>` and role names built from
/// it), since PostgreSQL cannot bind identifiers.
async fn execute(conn: &DatabaseConnection, sql: &str) -> anyhow::Result<()> {
    conn.execute_raw(Statement::from_string(DbBackend::Postgres, sql))
        .await?;
    Ok(())
}

async fn names(conn: &DatabaseConnection, sql: &str) -> anyhow::Result<Vec<String>> {
    let rows = conn
        .query_all_raw(Statement::from_string(DbBackend::Postgres, sql))
        .await?;
    let mut names = Vec::with_capacity(rows.len());
    for row in rows {
        names.push(row.try_get::<String>("", "name")?);
    }
    Ok(names)
}

fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}
