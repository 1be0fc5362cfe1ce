use serde::{Deserialize, Serialize};
use tenure_db::DatabaseSettings;

/// Settings of the provisioning service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProvisioningSettings {
    /// Where the service keeps its data: the `provisioning` schema of a PostgreSQL database, or its own
    /// SQLite file.
    pub database: DatabaseSettings,
}

impl Default for ProvisioningSettings {
    fn default() -> Self {
        Self {
            database: DatabaseSettings::embedded("provisioning"),
        }
    }
}

impl ProvisioningSettings {
    /// Every problem with these settings, at once.
    pub fn problems(&self) -> Vec<String> {
        self.database
            .validate()
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|problem| format!("provisioning.database: {problem}"))
            .collect()
    }
}
