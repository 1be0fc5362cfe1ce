use serde::{Deserialize, Serialize};
use tenure_db::DatabaseSettings;

/// Settings of the data-purge service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DataPurgeSettings {
    /// Where the service keeps its data: the `purge` schema of a PostgreSQL database, or its own
    /// SQLite file.
    pub database: DatabaseSettings,
}

impl Default for DataPurgeSettings {
    fn default() -> Self {
        Self {
            database: DatabaseSettings::embedded("purge"),
        }
    }
}

impl DataPurgeSettings {
    /// Every problem with these settings, at once.
    pub fn problems(&self) -> Vec<String> {
        self.database
            .validate()
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|problem| format!("purge.database: {problem}"))
            .collect()
    }
}
