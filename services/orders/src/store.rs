//! Persistence: the only module that imports sea-orm. Entities carry no schema name; the connection's
//! `search_path` decides, so the same code runs on PostgreSQL, SQLite and test databases.

mod migrations;

use tenure_db::{DatabaseSettings, Db};

pub(crate) use migrations::Migrator;

/// Applies the migrations under the per-service lock.
pub(crate) async fn migrate(settings: &DatabaseSettings) -> anyhow::Result<()> {
    tenure_db::migrate::<Migrator>(settings, "orders").await?;
    Ok(())
}

/// Ready when the database answers and no migration is pending.
pub(crate) async fn ready(db: &Db) -> Result<(), String> {
    db.ping().await.map_err(|error| error.to_string())?;
    match tenure_db::pending_migrations::<Migrator>(db).await {
        Ok(0) => Ok(()),
        Ok(pending) => Err(format!(
            "{pending} migration(s) pending; run `tenure migrate`"
        )),
        Err(error) => Err(error.to_string()),
    }
}
