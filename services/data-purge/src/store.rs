//! Persistence: the only module that imports sea-orm. Tables carry no schema name; the connection's
//! `search_path` decides, so the same code runs on PostgreSQL, SQLite and test databases.
//!
//! Nearly every path here is cross-tenant (the worker, operators, billing's stream), so the service
//! filters by tenant in each customer read rather than through row-level security; the API tests
//! check that a customer sees only its own tenant.

pub(crate) mod events;
pub(crate) mod holds;
mod migrations;
pub(crate) mod purges;
pub(crate) mod receipts;
pub(crate) mod subject;

use chrono::{DateTime, Utc};
use sea_orm::{DbErr, QueryResult, TryGetable};
use tenure_db::{DatabaseSettings, Db, DbError, ErrorKind, TenantTx};

use crate::domain::PurgeError;

pub(crate) use migrations::Migrator;

/// Applies the migrations under the per-service lock.
pub(crate) async fn migrate(settings: &DatabaseSettings) -> anyhow::Result<()> {
    tenure_db::migrate::<Migrator>(settings, "purge").await?;
    Ok(())
}

/// Ready when the database answers and no migration is pending.
pub(crate) async fn ready(db: &Db) -> Result<(), String> {
    tenure_db::readiness::<Migrator>(db).await
}

/// One transaction of the service.
pub(crate) async fn begin(db: &Db) -> Result<TenantTx, PurgeError> {
    Ok(TenantTx::begin_unscoped(db).await?)
}

impl From<DbError> for PurgeError {
    fn from(error: DbError) -> Self {
        match error.kind() {
            ErrorKind::Unavailable => PurgeError::Unavailable(Box::new(error)),
            // A lost race or a second pending purge for the same scope: the caller retries the whole
            // call and then finds the winner's row.
            ErrorKind::Serialization | ErrorKind::Conflict => PurgeError::Concurrent,
            ErrorKind::NotFound | ErrorKind::Other => PurgeError::Internal(Box::new(error)),
        }
    }
}

impl From<tenure_db::idempotency::ClaimRefused> for PurgeError {
    fn from(refused: tenure_db::idempotency::ClaimRefused) -> Self {
        use tenure_db::idempotency::ClaimRefused;
        match refused {
            ClaimRefused::KeyReused => PurgeError::KeyReused,
            ClaimRefused::KeyInFlight => PurgeError::KeyInFlight,
            ClaimRefused::StoredFailure => PurgeError::Internal(Box::new(refused)),
        }
    }
}

impl From<DbErr> for PurgeError {
    fn from(error: DbErr) -> Self {
        PurgeError::from(DbError::from(error))
    }
}

/// Inserts one row of `columns` with `values` into `table`.
pub(crate) async fn insert_row<C, V>(
    conn: &impl sea_orm::ConnectionTrait,
    table: &'static str,
    columns: C,
    values: V,
) -> Result<(), PurgeError>
where
    C: IntoIterator,
    C::Item: sea_orm::sea_query::IntoIden,
    V: IntoIterator<Item = sea_orm::sea_query::SimpleExpr>,
{
    let insert = sea_orm::sea_query::Query::insert()
        .into_table(table)
        .columns(columns)
        .values(values)
        .map_err(|error| PurgeError::Internal(Box::new(error)))?
        .to_owned();
    conn.execute(&insert).await?;
    Ok(())
}

/// Every row `select` finds, each read by `read`.
pub(crate) async fn all_rows<T>(
    conn: &impl sea_orm::ConnectionTrait,
    select: &sea_orm::sea_query::SelectStatement,
    read: impl Fn(&QueryResult) -> Result<T, PurgeError>,
) -> Result<Vec<T>, PurgeError> {
    conn.query_all(select).await?.iter().map(read).collect()
}

/// A column of a result row.
pub(crate) fn column<T: TryGetable>(row: &QueryResult, name: &str) -> Result<T, PurgeError> {
    Ok(row.try_get::<T>("", name)?)
}

/// An optional AWS account id column; a stored value that is not an account id is a broken row.
pub(crate) fn account_column(
    row: &QueryResult,
    name: &str,
) -> Result<Option<tenure_domain::AwsAccountId>, PurgeError> {
    column::<Option<String>>(row, name)?
        .map(|raw| {
            tenure_domain::AwsAccountId::parse(&raw)
                .map_err(|_| PurgeError::internal("a stored account id is malformed"))
        })
        .transpose()
}

/// A stored JSON column.
pub(crate) fn json<T: serde::de::DeserializeOwned>(raw: &str) -> Result<T, PurgeError> {
    serde_json::from_str(raw).map_err(|error| PurgeError::Internal(Box::new(error)))
}

/// The JSON text of a value.
pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> Result<String, PurgeError> {
    serde_json::to_string(value).map_err(|error| PurgeError::Internal(Box::new(error)))
}

/// A time column that may be null.
pub(crate) fn optional_time(
    row: &QueryResult,
    name: &str,
) -> Result<Option<DateTime<Utc>>, PurgeError> {
    column(row, name)
}
