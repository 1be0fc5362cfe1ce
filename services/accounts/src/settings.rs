use serde::{Deserialize, Serialize};
use tenure_db::DatabaseSettings;

/// Settings of the accounts service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AccountsSettings {
    /// Where the service keeps its data: the `accounts` schema of a PostgreSQL database, or its own
    /// SQLite file.
    pub database: DatabaseSettings,
    /// How often the lifecycle timers (the end of a reopen window, the end of a billing transfer)
    /// look for due records, in milliseconds.
    pub lifecycle_timer_interval_ms: u64,
}

impl Default for AccountsSettings {
    fn default() -> Self {
        Self {
            database: DatabaseSettings::embedded("accounts"),
            lifecycle_timer_interval_ms: 60_000,
        }
    }
}

impl AccountsSettings {
    /// Every problem with these settings, at once.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = self.database.problems("accounts.database");
        if self.lifecycle_timer_interval_ms == 0 {
            problems.push("accounts.lifecycle_timer_interval_ms: at least 1".to_owned());
        }
        problems
    }
}
