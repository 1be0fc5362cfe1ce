//! Persistence: the only module that imports sea-orm. Entities carry no schema name; the connection's
//! `search_path` decides, so the same code runs on PostgreSQL, SQLite and test databases.

mod migrations;

use tenure_db::{DatabaseSettings, Db};

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
