use serde::{Deserialize, Serialize};
use tenure_db::DatabaseSettings;

/// Settings of the accounts service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AccountsSettings {
    /// Where the service keeps its data: the `accounts` schema of a PostgreSQL database, or its own
    /// SQLite file.
    pub database: DatabaseSettings,
}

impl Default for AccountsSettings {
    fn default() -> Self {
        Self {
            database: DatabaseSettings::embedded("accounts"),
        }
    }
}

impl AccountsSettings {
    /// Every problem with these settings, at once.
    pub fn problems(&self) -> Vec<String> {
        self.database
            .validate()
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|problem| format!("accounts.database: {problem}"))
            .collect()
    }
}
