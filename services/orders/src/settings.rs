use serde::{Deserialize, Serialize};
use tenure_db::DatabaseSettings;

/// Settings of the orders service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OrdersSettings {
    /// Where the service keeps its data: the `orders` schema of a PostgreSQL database, or its own
    /// SQLite file.
    pub database: DatabaseSettings,
}

impl Default for OrdersSettings {
    fn default() -> Self {
        Self {
            database: DatabaseSettings::embedded("orders"),
        }
    }
}

impl OrdersSettings {
    /// Every problem with these settings, at once.
    pub fn problems(&self) -> Vec<String> {
        self.database
            .validate()
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|problem| format!("orders.database: {problem}"))
            .collect()
    }
}
