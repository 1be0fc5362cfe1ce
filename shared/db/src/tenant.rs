use std::ops::Deref;

use sea_orm::{
    ConnectionTrait, DatabaseTransaction, DbBackend, SqliteTransactionMode, Statement,
    TransactionOptions, TransactionTrait,
};
use uuid::Uuid;

use crate::{Backend, Db, DbError};

/// A transaction whose tenant context is explicit: set to one tenant, or deliberately absent.
///
/// This is the only way `store/` code should open a transaction (quality.md §1.5). On PostgreSQL
/// the first statement is `SELECT set_config('app.tenant_id', $1, true)`: transaction-local, so it
/// ends at commit or rollback and can never leak to the next user of the pooled connection, and
/// bound, so nothing is spliced into SQL. Row-level security policies read it.
///
/// On SQLite the transaction starts with `BEGIN IMMEDIATE`: every `TenantTx` may write, and a
/// deferred transaction that reads first can fail its later upgrade to a writer without waiting
/// for the busy timeout.
///
/// Run queries through `Deref` (`&*tx` is a `&DatabaseTransaction`). Dropping it without
/// [`TenantTx::commit`] rolls back.
#[derive(Debug)]
pub struct TenantTx {
    transaction: DatabaseTransaction,
    tenant_id: Option<Uuid>,
}

impl TenantTx {
    /// Opens a transaction scoped to `tenant_id`.
    ///
    /// # Errors
    ///
    /// The classified failure of `BEGIN` or of setting the tenant.
    pub async fn begin(db: &Db, tenant_id: Uuid) -> Result<Self, DbError> {
        let transaction = begin_transaction(db).await?;
        if db.backend() == Backend::Postgres {
            transaction
                .execute_raw(Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    "SELECT set_config('app.tenant_id', $1, true)",
                    [tenant_id.to_string().into()],
                ))
                .await?;
        }
        Ok(Self {
            transaction,
            tenant_id: Some(tenant_id),
        })
    }

    /// Opens a transaction with no tenant, for work that is not tenant-owned: the idempotency
    /// records of calls without a tenant, saga claiming, outbox relays, purge bookkeeping. Under
    /// row-level security it sees no tenant-owned rows at all, so it cannot be used to bypass the
    /// policies; a worker that acts for a tenant opens [`TenantTx::begin`] with the tenant read
    /// from its row.
    ///
    /// # Errors
    ///
    /// The classified failure of `BEGIN`.
    pub async fn begin_unscoped(db: &Db) -> Result<Self, DbError> {
        Ok(Self {
            transaction: begin_transaction(db).await?,
            tenant_id: None,
        })
    }

    /// Opens a transaction with no tenant that opts into `setting` (transaction-locally `on`),
    /// which policies made by [`crate::allow_opted_in`] read: a cross-tenant read for operators and
    /// billing ([`crate::CROSS_TENANT_SETTING`]), or a worker's own setting for writes across
    /// tenants. On SQLite the setting is moot (no row-level security).
    ///
    /// # Errors
    ///
    /// The classified failure of `BEGIN` or of the setting.
    pub async fn begin_opted_in(db: &Db, setting: &'static str) -> Result<Self, DbError> {
        let tx = Self::begin_unscoped(db).await?;
        if db.backend() == Backend::Postgres {
            // The tenant setting is emptied for the transaction in the same statement, at no extra
            // round trip: a cross-tenant transaction never inherits a tenant a session-level SET
            // might have left on the pooled connection (the code scan forbids one; this makes the
            // opt-in transactions safe even so).
            tx.execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT set_config($1, 'on', true), set_config('app.tenant_id', '', true)",
                [setting.into()],
            ))
            .await?;
        }
        Ok(tx)
    }

    /// The transaction operators', billing's and timers' cross-tenant reads run in: every tenant's
    /// rows are visible through the `cross_tenant_read` policies, and none can be written.
    ///
    /// # Errors
    ///
    /// As [`TenantTx::begin_opted_in`].
    pub async fn begin_cross_tenant(db: &Db) -> Result<Self, DbError> {
        Self::begin_opted_in(db, crate::CROSS_TENANT_SETTING).await
    }

    /// The tenant this transaction is scoped to, or `None` for [`TenantTx::begin_unscoped`].
    pub fn tenant_id(&self) -> Option<Uuid> {
        self.tenant_id
    }

    /// Commits.
    ///
    /// # Errors
    ///
    /// The classified failure; [`crate::ErrorKind::Serialization`] means the whole transaction may
    /// be retried.
    pub async fn commit(self) -> Result<(), DbError> {
        self.transaction.commit().await.map_err(DbError::from)
    }

    /// Rolls back explicitly (dropping does the same, without reporting errors).
    ///
    /// # Errors
    ///
    /// The classified failure of `ROLLBACK`.
    pub async fn rollback(self) -> Result<(), DbError> {
        self.transaction.rollback().await.map_err(DbError::from)
    }
}

impl Deref for TenantTx {
    type Target = DatabaseTransaction;

    fn deref(&self) -> &DatabaseTransaction {
        &self.transaction
    }
}

async fn begin_transaction(db: &Db) -> Result<DatabaseTransaction, DbError> {
    let options = TransactionOptions {
        sqlite_transaction_mode: (db.backend() == Backend::Sqlite)
            .then_some(SqliteTransactionMode::Immediate),
        ..TransactionOptions::default()
    };
    db.conn()
        .begin_with_options(options)
        .await
        .map_err(DbError::from)
}
