//! Rate-limit buckets in a service's own schema, shared by all its replicas (quality.md §1.7).
//!
//! One row per bucket and class holds the GCRA theoretical arrival time (`tenure_domain::rate`) in
//! microseconds since the Unix epoch. A check is one statement, atomic on both engines:
//!
//! ```sql
//! INSERT INTO rate_limit_bucket (bucket, class, tat_micros) VALUES ($bucket, $class, $now + T)
//! ON CONFLICT (bucket, class) DO UPDATE
//!   SET tat_micros = max(tat_micros, $now) + T
//!   WHERE tat_micros <= $now + τ
//! RETURNING tat_micros
//! ```
//!
//! A row comes back when the call is admitted. None comes back when it is not, and nothing was
//! written, so a flood of refused calls costs no row versions; only then is the row read again, to
//! say when the next call would pass. On PostgreSQL the conflicting row is locked, so racing checks
//! of one bucket decide one after the other on the latest TAT; SQLite writes one at a time.
//!
//! Time is a parameter from the caller's real clock: the database clock is never read, so the SQL
//! is the same on both engines and replicas with slightly different clocks still agree closely.
//!
//! The table is `operational`: a bucket is `tenant:<id>` or `subject:<digest>`, never a login
//! identity, and it holds no customer data. It needs no clean-up: it has one row per caller and class,
//! and an idle row means the same as a missing one.

use sea_orm::sea_query::{ColumnDef, Index, Table};
use sea_orm::{ConnectionTrait, DbBackend, DbErr, DeriveIden, Statement, Value};
use sea_orm_migration::{MigrationName, MigrationTrait, SchemaManager, async_trait};
use tenure_domain::rate::{Admission, AdmitFuture, Quota, RateKey, RateLimitStore, gcra};

use crate::{Db, DbError, ErrorKind};

#[derive(DeriveIden)]
enum RateLimitBucket {
    Table,
    Bucket,
    Class,
    TatMicros,
}

/// The migration creating `rate_limit_bucket`, ready for a service's [`migrator!`](crate::migrator)
/// list after its existing migrations: buckets per tenant, shared by every replica (quality.md §1.7).
#[derive(Debug, Clone, Copy, Default)]
pub struct CreateRateLimitBucket;

impl MigrationName for CreateRateLimitBucket {
    fn name(&self) -> &str {
        "tenure_db_0003_rate_limit_bucket"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for CreateRateLimitBucket {
    #[allow(
        elided_lifetimes_in_paths,
        reason = "async_trait needs the trait's late-bound elided lifetime; a named one is refused"
    )]
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(RateLimitBucket::Table)
                    .col(ColumnDef::new(RateLimitBucket::Bucket).text().not_null())
                    .col(ColumnDef::new(RateLimitBucket::Class).text().not_null())
                    .col(
                        ColumnDef::new(RateLimitBucket::TatMicros)
                            .big_integer()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(RateLimitBucket::Bucket)
                            .col(RateLimitBucket::Class),
                    )
                    .to_owned(),
            )
            .await
    }
}

/// The upsert of the module documentation, after its first row: $3 now, $4 now + T, $5 T, $6 now + τ.
const ADMIT_CONFLICT: &str = "ON CONFLICT (bucket, class) DO UPDATE SET tat_micros = CASE \
     WHEN rate_limit_bucket.tat_micros > $3 THEN rate_limit_bucket.tat_micros + $5 ELSE $4 END \
     WHERE rate_limit_bucket.tat_micros <= $6 \
     RETURNING tat_micros";

/// The row on PostgreSQL ($1 bucket, $2 class, $4 now + T), selected through `set_config`, which
/// turns `synchronous_commit` off for this statement's own transaction: the move commits without
/// waiting for its WAL flush. A crash can lose the last few milliseconds of moves, which forgives a
/// handful of calls; waiting for the flush would put a disk write on the path of every call, reads
/// included.
const ADMIT_ROW_POSTGRES: &str = "INSERT INTO rate_limit_bucket (bucket, class, tat_micros) \
     SELECT $1, $2, $4 FROM (SELECT set_config('synchronous_commit', 'off', true)) AS async_commit ";

/// The row on SQLite, whose commits are its own file's business.
const ADMIT_ROW_SQLITE: &str =
    "INSERT INTO rate_limit_bucket (bucket, class, tat_micros) VALUES ($1, $2, $4) ";

const READ_TAT: &str = "SELECT tat_micros FROM rate_limit_bucket WHERE bucket = $1 AND class = $2";

/// `$n` placeholders as each engine reads them (SQLite numbers them `?n`).
fn statement(backend: DbBackend, sql: &str, values: Vec<Value>) -> Statement {
    let sql = match backend {
        DbBackend::Sqlite => sql.replace('$', "?"),
        _ => sql.to_owned(),
    };
    Statement::from_sql_and_values(backend, sql, values)
}

/// Decides one call of `key` under `quota` at `now` (µs since the Unix epoch), as described in the
/// module documentation. Run it on the pool, outside any transaction: the decision must commit at
/// once whatever the call does next.
///
/// # Errors
///
/// The classified database failure.
pub async fn admit(
    conn: &impl ConnectionTrait,
    key: &RateKey,
    quota: Quota,
    now: i64,
) -> Result<Admission, DbError> {
    let backend = conn.get_database_backend();
    let interval = quota.emission_interval_micros();
    let values = vec![
        key.bucket.as_str().into(),
        key.class.into(),
        now.into(),
        now.saturating_add(interval).into(),
        interval.into(),
        now.saturating_add(quota.tolerance_micros()).into(),
    ];
    let row = match backend {
        DbBackend::Postgres => ADMIT_ROW_POSTGRES,
        _ => ADMIT_ROW_SQLITE,
    };
    if conn
        .query_one_raw(statement(
            backend,
            &format!("{row}{ADMIT_CONFLICT}"),
            values,
        ))
        .await?
        .is_some()
    {
        return Ok(Admission::Allowed);
    }
    let row = conn
        .query_one_raw(statement(
            backend,
            READ_TAT,
            vec![key.bucket.as_str().into(), key.class.into()],
        ))
        .await?
        .ok_or_else(|| DbError::new(ErrorKind::NotFound, "a refused rate bucket has no row"))?;
    let tat: i64 = row.try_get("", "tat_micros")?;
    // The row may have moved since the refusal; the advice is for the bucket as it is now, and never
    // less than a millisecond (a zero delay would invite an immediate, equally refused retry).
    let retry_after = match gcra(quota, Some(tat), now) {
        Ok(_) => std::time::Duration::from_millis(1),
        Err(wait) => wait,
    };
    Ok(Admission::Refused { retry_after })
}

/// A service's buckets in its own schema (PostgreSQL) or file (SQLite), for its server builder.
#[derive(Debug, Clone)]
pub struct DbRateLimiter {
    db: Db,
}

impl DbRateLimiter {
    /// Buckets on `db`'s pool; the service must have run [`CreateRateLimitBucket`].
    pub fn new(db: Db) -> Self {
        Self { db }
    }
}

impl RateLimitStore for DbRateLimiter {
    fn admit<'a>(&'a self, key: &'a RateKey, quota: Quota, now: i64) -> AdmitFuture<'a> {
        Box::pin(async move {
            admit(self.db.conn(), key, quota, now)
                .await
                .map_err(Into::into)
        })
    }
}
