//! Persistence: the only module that imports sea-orm. Tables carry no schema name; the connection's
//! `search_path` decides, so the same code runs on PostgreSQL, SQLite and test databases.
//!
//! Orders and their manual tasks are tenant-owned and carry row-level security: customer work runs in
//! a transaction scoped to the tenant, operators' and billing's reads opt into the read-only
//! cross-tenant policy, and the saga engine's transactions opt into its own policy, since one worker
//! acts for every tenant. The engine's tables (sagas, steps, locks, the outbox) hold ids and
//! machine state; the queries that serve customers from them filter by tenant.

pub(crate) mod audit;
pub(crate) mod events;
mod migrations;
pub(crate) mod orders;
pub(crate) mod purge;
pub(crate) mod sagas;
pub(crate) mod tasks;
mod transition;

use chrono::{DateTime, Utc};
use sea_orm::{DbBackend, DbErr, QueryResult, Statement, TryGetable, Value};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tenure_db::{DatabaseSettings, Db, DbError, ErrorKind, TenantTx};

use crate::domain::OrdersError;
use crate::domain::records::Reach;

pub(crate) use migrations::Migrator;

/// Applies the migrations under the per-service lock.
pub(crate) async fn migrate(settings: &DatabaseSettings) -> anyhow::Result<()> {
    tenure_db::migrate::<Migrator>(settings, "orders").await?;
    Ok(())
}

/// Ready when the database answers and no migration is pending.
pub(crate) async fn ready(db: &Db) -> Result<(), String> {
    tenure_db::readiness::<Migrator>(db).await
}

/// A transaction for `reach`.
pub(crate) async fn begin(db: &Db, reach: Reach) -> Result<TenantTx, OrdersError> {
    Ok(match reach {
        Reach::Tenant(tenant) => TenantTx::begin(db, tenant).await?,
        Reach::AllTenants => TenantTx::begin_cross_tenant(db).await?,
    })
}

/// A transaction of the saga engine, which reads and writes every tenant's orders and tasks.
pub(crate) async fn begin_engine(db: &Db) -> Result<TenantTx, OrdersError> {
    Ok(TenantTx::begin_opted_in(db, migrations::ENGINE_SETTING).await?)
}

impl From<DbError> for OrdersError {
    fn from(error: DbError) -> Self {
        match error.kind() {
            ErrorKind::Unavailable | ErrorKind::Serialization => {
                OrdersError::Unavailable(Box::new(error))
            }
            ErrorKind::Conflict => OrdersError::Busy,
            ErrorKind::NotFound | ErrorKind::Other => OrdersError::Internal(Box::new(error)),
        }
    }
}

impl From<DbErr> for OrdersError {
    fn from(error: DbErr) -> Self {
        OrdersError::from(DbError::from(error))
    }
}

impl From<tenure_db::idempotency::ClaimRefused> for OrdersError {
    fn from(refused: tenure_db::idempotency::ClaimRefused) -> Self {
        use tenure_db::idempotency::ClaimRefused;
        match refused {
            ClaimRefused::KeyReused => OrdersError::KeyReused,
            ClaimRefused::KeyInFlight => OrdersError::KeyInFlight,
            ClaimRefused::StoredFailure => OrdersError::Internal(Box::new(refused)),
        }
    }
}

/// A column of a result row.
pub(crate) fn column<T: TryGetable>(row: &QueryResult, name: &str) -> Result<T, OrdersError> {
    Ok(row.try_get::<T>("", name)?)
}

/// A JSON column read into its type.
pub(crate) fn json_column<T: DeserializeOwned>(
    row: &QueryResult,
    name: &str,
) -> Result<T, OrdersError> {
    let value: serde_json::Value = column(row, name)?;
    serde_json::from_value(value).map_err(|error| OrdersError::Internal(Box::new(error)))
}

/// An optional JSON column read into its type.
pub(crate) fn optional_json_column<T: DeserializeOwned>(
    row: &QueryResult,
    name: &str,
) -> Result<Option<T>, OrdersError> {
    let value: Option<serde_json::Value> = column(row, name)?;
    value
        .map(|value| {
            serde_json::from_value(value).map_err(|error| OrdersError::Internal(Box::new(error)))
        })
        .transpose()
}

/// The JSON value of `value`, for a JSON column.
pub(crate) fn to_json<T: Serialize>(value: &T) -> Result<serde_json::Value, OrdersError> {
    serde_json::to_value(value).map_err(|error| OrdersError::Internal(Box::new(error)))
}

/// A stored name read back into its closed vocabulary.
pub(crate) fn stored<T>(parsed: Option<T>) -> Result<T, OrdersError> {
    parsed.ok_or(OrdersError::internal(
        "a stored name is not in its vocabulary",
    ))
}

/// A nullable AWS account id column; a stored value that is not an id is a broken row, not a
/// missing one.
pub(crate) fn account_column(
    row: &QueryResult,
    name: &str,
) -> Result<Option<tenure_domain::AwsAccountId>, OrdersError> {
    column::<Option<String>>(row, name)?
        .map(|raw| tenure_domain::AwsAccountId::parse(&raw))
        .transpose()
        .map_err(|_| OrdersError::internal("a stored AWS account id is malformed"))
}

/// A time column.
pub(crate) fn time(row: &QueryResult, name: &str) -> Result<DateTime<Utc>, OrdersError> {
    column(row, name)
}

/// A non-negative count or number stored as a signed integer.
pub(crate) fn unsigned<T: TryFrom<i64>>(value: i64) -> Result<T, OrdersError> {
    T::try_from(value).map_err(|_| OrdersError::internal("a stored number is out of range"))
}

/// A statement written with PostgreSQL's `$n` placeholders, for either backend: SQLite reads the
/// same numbers as `?n`. Each value binds to its number, whatever the order of use.
pub(crate) fn statement(backend: DbBackend, sql: &str, values: Vec<Value>) -> Statement {
    let sql = match backend {
        DbBackend::Sqlite => sql.replace('$', "?"),
        _ => sql.to_owned(),
    };
    Statement::from_sql_and_values(backend, sql, values)
}

/// `$first, $first+1, …` for `count` values of an `IN (…)` list.
pub(crate) fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|index| format!("${index}"))
        .collect::<Vec<_>>()
        .join(", ")
}
