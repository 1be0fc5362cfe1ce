use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement,
};

use crate::{Backend, DatabaseSettings, DbError, ErrorKind};

/// SQLite waits this long for another connection's write lock before reporting busy.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// A connection pool bound to one service's schema (PostgreSQL) or file (SQLite).
///
/// Cheap to clone: clones share the pool. Tenant-owned work goes through [`crate::TenantTx`].
#[derive(Clone, Debug)]
pub struct Db {
    conn: DatabaseConnection,
    backend: Backend,
    schema: Arc<str>,
}

/// What the connected PostgreSQL role is allowed to do that row-level security cannot restrain
/// (quality.md §1.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleCheck {
    /// The role the pool logs in as (`current_user`); empty on SQLite.
    pub role: String,
    /// `rolsuper`: superusers skip row-level security even under `FORCE`.
    pub is_superuser: bool,
    /// `rolbypassrls`: skips row-level security.
    pub bypasses_rls: bool,
    /// The role owns (or inherits ownership of) a table in the schema, so it could disable the
    /// policies.
    pub owns_tables: bool,
}

impl RoleCheck {
    /// Whether row-level security binds this role, i.e. it may serve traffic in production.
    pub fn is_restricted(&self) -> bool {
        !(self.is_superuser || self.bypasses_rls || self.owns_tables)
    }
}

impl Db {
    /// The sea-orm pool, for `store/` code and migrations.
    pub fn conn(&self) -> &DatabaseConnection {
        &self.conn
    }

    /// Which engine the pool talks to.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The configured schema (the `search_path` on PostgreSQL).
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// One round trip, for readiness checks.
    ///
    /// # Errors
    ///
    /// The classified failure, typically [`ErrorKind::Unavailable`].
    pub async fn ping(&self) -> Result<(), DbError> {
        self.conn.ping().await.map_err(DbError::from)
    }

    /// Closes every pooled connection; later queries through clones fail as unavailable.
    ///
    /// # Errors
    ///
    /// The driver's failure to close cleanly.
    pub async fn close(&self) -> Result<(), DbError> {
        self.conn.close_by_ref().await.map_err(DbError::from)
    }
}

/// Opens the pool described by `settings` and checks that it is usable.
///
/// On PostgreSQL every physical connection gets `search_path` set to the schema (sea-orm does this
/// once per connection, so a pooled connection can never carry another schema), plus
/// `statement_timeout` and `idle_in_transaction_session_timeout`. The schema must already exist:
/// migrations create it. On SQLite the file and its directory are created, with WAL,
/// `synchronous=FULL`, foreign keys and a busy timeout.
///
/// # Errors
///
/// [`ErrorKind::Other`] for invalid settings or a schema that is missing or not usable by the
/// role (the message says to run `tenure migrate`); [`ErrorKind::Unavailable`] when the server
/// cannot be reached within `connect_timeout_secs`.
pub async fn connect(settings: &DatabaseSettings) -> Result<Db, DbError> {
    let backend = checked_backend(settings)?;
    let options = pool_options(settings, backend, PoolPurpose::Serving).await?;
    let conn = open(options, settings.connect_timeout_secs).await?;
    let db = Db {
        conn,
        backend,
        schema: Arc::from(settings.schema.as_str()),
    };
    if backend == Backend::Postgres {
        ensure_schema_is_current(&db).await?;
    }
    Ok(db)
}

/// Reports the privileges of the role the pool logs in as. Production start-up refuses to serve
/// unless [`RoleCheck::is_restricted`] holds; SQLite has no roles and answers with every flag
/// false and an empty role name.
///
/// # Errors
///
/// The classified failure of the catalogue query.
pub async fn role_check(db: &Db) -> Result<RoleCheck, DbError> {
    if db.backend == Backend::Sqlite {
        return Ok(RoleCheck {
            role: String::new(),
            is_superuser: false,
            bypasses_rls: false,
            owns_tables: false,
        });
    }
    let sql = "SELECT current_user::text AS role, r.rolsuper AS is_superuser, \
               r.rolbypassrls AS bypasses_rls, \
               EXISTS (SELECT 1 FROM pg_class c \
                       WHERE c.relnamespace = current_schema()::regnamespace \
                         AND c.relkind IN ('r', 'p') \
                         AND pg_has_role(c.relowner, 'USAGE')) AS owns_tables \
               FROM pg_roles r WHERE r.rolname = current_user";
    let row = db
        .conn
        .query_one_raw(Statement::from_string(DbBackend::Postgres, sql))
        .await?
        .ok_or_else(|| DbError::new(ErrorKind::Other, "current role missing from pg_roles"))?;
    Ok(RoleCheck {
        role: row.try_get("", "role")?,
        is_superuser: row.try_get("", "is_superuser")?,
        bypasses_rls: row.try_get("", "bypasses_rls")?,
        owns_tables: row.try_get("", "owns_tables")?,
    })
}

/// Validates the settings and names the engine, so nothing below sees an unchecked schema name.
pub(crate) fn checked_backend(settings: &DatabaseSettings) -> Result<Backend, DbError> {
    if let Err(problems) = settings.validate() {
        return Err(DbError::new(
            ErrorKind::Other,
            format!("invalid database settings: {}", problems.join("; ")),
        ));
    }
    settings.url.backend().ok_or_else(|| {
        DbError::new(
            ErrorKind::Other,
            "database.url must start with postgres:// or sqlite:",
        )
    })
}

/// What a pool is opened for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PoolPurpose {
    /// Traffic: the configured size and timeouts.
    Serving,
    /// Migrations: one connection that lives as long as the pool, because the session-level
    /// advisory lock would silently go with a recycled connection, and no `statement_timeout`,
    /// because waiting for another migrator and rewriting a large table both take time.
    Migrating,
}

/// sea-orm options for a pool opened for `purpose`.
pub(crate) async fn pool_options(
    settings: &DatabaseSettings,
    backend: Backend,
    purpose: PoolPurpose,
) -> Result<ConnectOptions, DbError> {
    let mut options = ConnectOptions::new(settings.url.expose());
    options
        .connect_timeout(Duration::from_secs(settings.connect_timeout_secs))
        .acquire_timeout(Duration::from_secs(settings.acquire_timeout_secs))
        // Statement logs would repeat SQL per request at info level; spans already time queries.
        .sqlx_logging(false);
    match purpose {
        PoolPurpose::Serving => {
            options
                .max_connections(settings.max_connections)
                .min_connections(settings.min_connections);
        }
        PoolPurpose::Migrating => {
            options
                .max_connections(1)
                .min_connections(0)
                .idle_timeout(None)
                .max_lifetime(None);
        }
    }
    match backend {
        Backend::Postgres => {
            options
                .set_schema_search_path(settings.schema.as_str())
                .set_application_name(format!("tenure-{}", settings.schema));
            if purpose == PoolPurpose::Serving && settings.statement_timeout_ms > 0 {
                options.statement_timeout(Duration::from_millis(settings.statement_timeout_ms));
            }
            let idle_in_transaction_ms = settings.idle_in_transaction_timeout_ms;
            options.map_sqlx_postgres_opts(move |pg| {
                pg.options([(
                    "idle_in_transaction_session_timeout",
                    idle_in_transaction_ms,
                )])
            });
        }
        Backend::Sqlite => {
            create_parent_directory(settings.url.expose()).await?;
            options.map_sqlx_sqlite_opts(|sqlite| {
                sqlite
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    // A committed transition must survive power loss (sagas.md §3.5).
                    .synchronous(SqliteSynchronous::Full)
                    .foreign_keys(true)
                    .busy_timeout(SQLITE_BUSY_TIMEOUT)
            });
        }
    }
    Ok(options)
}

/// Connects, bounding the whole pool start-up by the connect timeout.
pub(crate) async fn open(
    options: ConnectOptions,
    connect_timeout_secs: u64,
) -> Result<DatabaseConnection, DbError> {
    let timeout = Duration::from_secs(connect_timeout_secs);
    match tokio::time::timeout(timeout, Database::connect(options)).await {
        Ok(result) => result.map_err(DbError::from),
        Err(elapsed) => Err(DbError::with_source(
            ErrorKind::Unavailable,
            "database connect timed out",
            elapsed,
        )),
    }
}

/// Creates the directory holding a SQLite file, since SQLite creates files but not directories.
async fn create_parent_directory(url: &str) -> Result<(), DbError> {
    let options: SqliteConnectOptions = url.parse().map_err(|error| {
        DbError::with_source(
            ErrorKind::Other,
            "database.url is not a valid SQLite URL",
            error,
        )
    })?;
    let Some(parent) = Path::new(options.get_filename()).parent() else {
        return Ok(());
    };
    if parent.as_os_str().is_empty() {
        return Ok(());
    }
    tokio::fs::create_dir_all(parent).await.map_err(|error| {
        DbError::with_source(
            ErrorKind::Other,
            "cannot create the directory of the SQLite file",
            error,
        )
    })
}

/// `current_schema()` is the first schema on the `search_path` that exists and the role may use;
/// NULL means the configured one is neither.
async fn ensure_schema_is_current(db: &Db) -> Result<(), DbError> {
    let row = db
        .conn
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT current_schema() AS schema",
        ))
        .await?;
    let current: Option<String> = match row {
        Some(row) => row.try_get("", "schema")?,
        None => None,
    };
    if current.as_deref() == Some(db.schema()) {
        return Ok(());
    }
    Err(DbError::new(
        ErrorKind::Other,
        format!(
            "schema \"{}\" is missing or not usable by this role; run `tenure migrate`",
            db.schema()
        ),
    ))
}
