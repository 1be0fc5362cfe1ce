//! Persistence: the only module that imports sea-orm. Entities carry no schema name; the connection's
//! `search_path` decides, so the same code runs on PostgreSQL, SQLite and test databases.

mod migrations;
mod operation_store;
mod purge_store;
mod sandbox_store;

use tenure_db::{DatabaseSettings, Db};

pub(crate) use migrations::{Migrator, SANDBOX_TABLES};
pub(crate) use operation_store::{
    CONCERN_COLUMNS, CONCERN_TABLE, Intent, OPERATION_COLUMNS, OperationFilter, OperationStore,
    REFERENCE_COLUMNS, REFERENCE_TABLE, Saved,
};
pub(crate) use purge_store::{Executed, PurgeStore};
pub(crate) use sandbox_store::{SandboxStore, SandboxTable};

/// Applies the migrations under the per-service lock.
pub(crate) async fn migrate(settings: &DatabaseSettings) -> anyhow::Result<()> {
    tenure_db::migrate::<Migrator>(settings, "provisioning").await?;
    Ok(())
}

/// Ready when the database answers and no migration is pending.
pub(crate) async fn ready(db: &Db) -> Result<(), String> {
    tenure_db::readiness::<Migrator>(db).await
}

impl From<tenure_db::DbError> for crate::domain::error::ProvisioningError {
    fn from(error: tenure_db::DbError) -> Self {
        if error.is_transient() {
            Self::Unavailable(Box::new(error))
        } else {
            Self::Internal(Box::new(error))
        }
    }
}
