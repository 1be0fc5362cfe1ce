//! Persistence: the only module that imports sea-orm. Entities carry no schema name; the connection's
//! `search_path` decides, so the same code runs on PostgreSQL, SQLite and test databases.
//!
//! Every repository function runs on a [`TenantTx`]: scoped to one tenant for customer work (row-level
//! security then hides every other tenant's rows), or opened by [`begin_cross_tenant`] for the reads
//! operators, billing and the lifecycle timers make across tenants.

pub(crate) mod accounts;
pub(crate) mod audit;
pub(crate) mod balances;
pub(crate) mod entity;
mod migrations;
pub(crate) mod purge;
mod rows;
pub(crate) mod tenants;

use sea_orm::{ConnectionTrait as _, DbBackend, DbErr, Statement};
use tenure_db::{DatabaseSettings, Db, DbError, ErrorKind, TenantTx};
use uuid::Uuid;

use crate::domain::AccountsError;

pub(crate) use migrations::Migrator;

/// Applies the migrations under the per-service lock.
pub(crate) async fn migrate(settings: &DatabaseSettings) -> anyhow::Result<()> {
    tenure_db::migrate::<Migrator>(settings, "accounts").await?;
    Ok(())
}

/// Ready when the database answers and no migration is pending.
pub(crate) async fn ready(db: &Db) -> Result<(), String> {
    tenure_db::readiness::<Migrator>(db).await
}

/// A transaction scoped to `tenant`, or the cross-tenant read transaction when `tenant` is `None`.
pub(crate) async fn begin(db: &Db, tenant: Option<Uuid>) -> Result<TenantTx, AccountsError> {
    match tenant {
        Some(tenant) => Ok(TenantTx::begin(db, tenant).await?),
        None => begin_cross_tenant(db).await,
    }
}

/// A transaction that may read every tenant's rows (the `cross_tenant_read` policy) and write none of
/// them. Only operator, billing, unscoped service and timer paths open it.
pub(crate) async fn begin_cross_tenant(db: &Db) -> Result<TenantTx, AccountsError> {
    Ok(TenantTx::begin_cross_tenant(db).await?)
}

/// Runs `read` inside `tx` with every tenant's rows visible, for the checks a tenant's change must make
/// across tenants before it writes (a root email or an AWS account id another tenant holds). It widens
/// reads only: the `cross_tenant_read` policies are `FOR SELECT`, so writes stay confined to the
/// transaction's tenant. The same transaction is used rather than a second one because SQLite has one
/// writer at a time and the tenant's transaction already holds it.
pub(crate) async fn read_across_tenants<R>(
    tx: &TenantTx,
    read: impl AsyncFnOnce(&TenantTx) -> Result<R, AccountsError>,
) -> Result<R, AccountsError> {
    cross_tenant_reads(tx, true).await?;
    let result = read(tx).await;
    // Back off whatever the read answered. After a failed query PostgreSQL refuses this too, but the
    // transaction is then aborted and the read's own error is the one to report.
    let reset = cross_tenant_reads(tx, false).await;
    let value = result?;
    reset?;
    Ok(value)
}

async fn cross_tenant_reads(tx: &TenantTx, on: bool) -> Result<(), AccountsError> {
    if tx.get_database_backend() != DbBackend::Postgres {
        // SQLite has no row-level security: the application's own filters are the only scope.
        return Ok(());
    }
    tx.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT set_config($1, $2, true)",
        [
            tenure_db::CROSS_TENANT_SETTING.into(),
            if on { "on" } else { "off" }.into(),
        ],
    ))
    .await?;
    Ok(())
}

/// The transaction of a billing report: it reads every tenant's records and updates their open
/// balances (the `open_balance_*` policies of m0002), and claims the report's idempotency key.
pub(crate) async fn begin_open_balance_writer(db: &Db) -> Result<TenantTx, AccountsError> {
    Ok(TenantTx::begin_opted_in(db, migrations::OPEN_BALANCE_SETTING).await?)
}

impl From<DbError> for AccountsError {
    fn from(error: DbError) -> Self {
        match error.kind() {
            ErrorKind::Unavailable | ErrorKind::Serialization => {
                AccountsError::Unavailable(Box::new(error))
            }
            // Only the live-uniqueness indexes can conflict: the same AWS account id or root email is
            // live elsewhere, possibly in another tenant, so the answer stays generic.
            ErrorKind::Conflict => AccountsError::NotEligible,
            ErrorKind::NotFound | ErrorKind::Other => AccountsError::Internal(Box::new(error)),
        }
    }
}

impl From<tenure_db::idempotency::ClaimRefused> for AccountsError {
    fn from(refused: tenure_db::idempotency::ClaimRefused) -> Self {
        use tenure_db::idempotency::ClaimRefused;
        match refused {
            ClaimRefused::KeyReused => AccountsError::KeyReused,
            ClaimRefused::KeyInFlight => AccountsError::KeyInFlight,
            ClaimRefused::StoredFailure => AccountsError::Internal(Box::new(refused)),
        }
    }
}

impl From<DbErr> for AccountsError {
    fn from(error: DbErr) -> Self {
        DbError::from(error).into()
    }
}

/// Reads a stored vocabulary value; an unknown name means the row was written by something else.
pub(crate) fn stored<T>(parsed: Option<T>) -> Result<T, AccountsError> {
    parsed.ok_or_else(|| AccountsError::internal("stored value outside its vocabulary"))
}
