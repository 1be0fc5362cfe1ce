use std::borrow::Cow;
use std::fmt;

use sea_orm::sqlx;
use sea_orm::{DbErr, RuntimeErr, SqlxPostgresError, SqlxSqliteError};

/// What a caller can do about a failed database operation; services map it to their own outcome
/// (`UNAVAILABLE`, `ABORTED`, a retry, ...) without looking at driver errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The database could not be reached, the pool was exhausted, or the server cancelled the
    /// statement (timeouts, shutdown). Retrying later may succeed.
    Unavailable,
    /// A unique constraint rejected the write (PostgreSQL 23505, SQLite constraint unique or
    /// primary key).
    Conflict,
    /// The transaction lost a race (PostgreSQL 40001 serialization failure, 40P01 deadlock, 55P03
    /// lock not available; SQLite busy or locked). Retrying the whole transaction may succeed.
    Serialization,
    /// The row the operation needed does not exist.
    NotFound,
    /// Anything else: a bug, a schema mismatch, a refused permission. Not worth retrying.
    Other,
}

impl ErrorKind {
    /// Whether retrying the whole transaction later can succeed.
    pub fn is_transient(self) -> bool {
        matches!(self, Self::Unavailable | Self::Serialization)
    }

    fn describe(self) -> &'static str {
        match self {
            Self::Unavailable => "database unavailable",
            Self::Conflict => "unique constraint violated",
            Self::Serialization => "transaction conflicted with a concurrent one",
            Self::NotFound => "row not found",
            Self::Other => "database error",
        }
    }
}

/// A classified database failure.
///
/// `Display` is a fixed, lowercase description (or the context given to [`DbError::new`]) and
/// never carries SQL text or bound values; the driver error stays reachable as the `source` for
/// logs of the cause chain. `Debug` shows the source's `Display` only, because driver `Debug`
/// output can include row values from constraint details.
#[derive(thiserror::Error)]
#[error("{message}")]
pub struct DbError {
    kind: ErrorKind,
    message: Cow<'static, str>,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl DbError {
    /// An error decided by code rather than by the driver, e.g. a missing schema or a fenced write
    /// that lost its lease. `message` must be fixed text: no values, no SQL.
    pub fn new(kind: ErrorKind, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// Like [`DbError::new`], keeping `source` as the cause.
    pub fn with_source(
        kind: ErrorKind,
        message: impl Into<Cow<'static, str>>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self {
            kind,
            message: message.into(),
            source: Some(Box::new(source)),
        }
    }

    /// The classification callers branch on.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// Shorthand for `self.kind().is_transient()`.
    pub fn is_transient(&self) -> bool {
        self.kind.is_transient()
    }
}

impl fmt::Debug for DbError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = formatter.debug_struct("DbError");
        debug
            .field("kind", &self.kind)
            .field("message", &self.message);
        if let Some(source) = &self.source {
            debug.field("source", &format_args!("{source}"));
        }
        debug.finish()
    }
}

impl From<DbErr> for DbError {
    fn from(error: DbErr) -> Self {
        let kind = classify(&error);
        Self::with_source(kind, kind.describe(), error)
    }
}

fn classify(error: &DbErr) -> ErrorKind {
    match error {
        DbErr::ConnectionAcquire(_) => ErrorKind::Unavailable,
        DbErr::Conn(runtime) => classify_runtime(runtime).unwrap_or(ErrorKind::Unavailable),
        DbErr::Exec(runtime) | DbErr::Query(runtime) => {
            classify_runtime(runtime).unwrap_or(ErrorKind::Other)
        }
        DbErr::RecordNotFound(_) | DbErr::RecordNotUpdated => ErrorKind::NotFound,
        _ => ErrorKind::Other,
    }
}

fn classify_runtime(runtime: &RuntimeErr) -> Option<ErrorKind> {
    let RuntimeErr::SqlxError(error) = runtime else {
        return None;
    };
    match error.as_ref() {
        sqlx::Error::Database(database_error) => {
            let code = database_error.code()?;
            if database_error
                .try_downcast_ref::<SqlxPostgresError>()
                .is_some()
            {
                Some(classify_postgres_code(&code))
            } else if database_error
                .try_downcast_ref::<SqlxSqliteError>()
                .is_some()
            {
                Some(classify_sqlite_code(&code))
            } else {
                None
            }
        }
        sqlx::Error::RowNotFound => Some(ErrorKind::NotFound),
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => Some(ErrorKind::Unavailable),
        _ => None,
    }
}

/// Maps a PostgreSQL SQLSTATE.
fn classify_postgres_code(code: &str) -> ErrorKind {
    match code {
        "23505" => ErrorKind::Conflict,
        // serialization_failure, deadlock_detected, lock_not_available.
        "40001" | "40P01" | "55P03" => ErrorKind::Serialization,
        // query_canceled (statement_timeout), idle_in_transaction_session_timeout, the server
        // shutting down or starting up; classes 08 (connection) and 53 (insufficient resources).
        "57014" | "25P03" | "57P01" | "57P02" | "57P03" => ErrorKind::Unavailable,
        _ if code.starts_with("08") || code.starts_with("53") => ErrorKind::Unavailable,
        _ => ErrorKind::Other,
    }
}

/// Maps a SQLite extended result code.
fn classify_sqlite_code(code: &str) -> ErrorKind {
    match code {
        // SQLITE_CONSTRAINT_PRIMARYKEY, SQLITE_CONSTRAINT_UNIQUE.
        "1555" | "2067" => ErrorKind::Conflict,
        // SQLITE_BUSY and SQLITE_LOCKED with their extended codes: busy_timeout has already waited.
        "5" | "261" | "517" | "773" | "6" | "262" => ErrorKind::Serialization,
        _ => ErrorKind::Other,
    }
}
