use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use tenure_db::DatabaseSettings;

/// The policy's outer bound: no purge may run later than this many days after its trigger
/// (domain.md §8.2, seed 004).
pub const MAX_PURGE_DAYS: u32 = 30;

/// Settings of the data-purge service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DataPurgeSettings {
    /// Where the service keeps its data: the `purge` schema of a PostgreSQL database, or its own
    /// SQLite file.
    pub database: DatabaseSettings,
    /// When purges fall due.
    pub schedule: ScheduleSettings,
    /// The worker that fires due purges.
    pub worker: WorkerSettings,
    /// How receipts are signed.
    pub receipts: ReceiptSettings,
}

/// When purges fall due, counted from their trigger (removal or unsubscribe).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScheduleSettings {
    /// Days from an account's removal to the purge of its AWS-fetched and cost data, 1 to 30.
    pub account_purge_days: u32,
    /// Days from a tenant's unsubscribe to the purge of the whole tenant, 1 to 30.
    pub tenant_purge_days: u32,
}

impl Default for ScheduleSettings {
    fn default() -> Self {
        Self {
            account_purge_days: MAX_PURGE_DAYS,
            tenant_purge_days: MAX_PURGE_DAYS,
        }
    }
}

/// The purge worker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorkerSettings {
    /// How often it looks for due purges, in milliseconds.
    pub interval_ms: u64,
    /// How many purges one pass claims at most.
    pub batch: u64,
    /// How long a claim lasts, in real seconds, before another replica may take the purge over.
    pub lease_secs: u64,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        Self {
            interval_ms: 1_000,
            batch: 16,
            lease_secs: 60,
        }
    }
}

/// The key that signs receipts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReceiptSettings {
    /// An Ed25519 PKCS#8 PEM private key, mounted from a secret. `tenure up` creates one in its data
    /// directory.
    pub signing_key_file: Option<PathBuf>,
    /// The id receipts name the key by, so the chain still verifies after a rotation.
    pub key_id: String,
}

impl Default for ReceiptSettings {
    fn default() -> Self {
        Self {
            signing_key_file: None,
            key_id: "receipts-1".to_owned(),
        }
    }
}

impl Default for DataPurgeSettings {
    fn default() -> Self {
        Self {
            database: DatabaseSettings::embedded("purge"),
            schedule: ScheduleSettings::default(),
            worker: WorkerSettings::default(),
            receipts: ReceiptSettings::default(),
        }
    }
}

impl DataPurgeSettings {
    /// Every problem with these settings, at once.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = self.database.problems("purge.database");
        for (name, days) in [
            ("account_purge_days", self.schedule.account_purge_days),
            ("tenant_purge_days", self.schedule.tenant_purge_days),
        ] {
            if !(1..=MAX_PURGE_DAYS).contains(&days) {
                problems.push(format!(
                    "purge.schedule.{name}: {days} is outside 1..={MAX_PURGE_DAYS}; the policy \
                     promises deletion within {MAX_PURGE_DAYS} days"
                ));
            }
        }
        if self.worker.interval_ms == 0 || self.worker.batch == 0 || self.worker.lease_secs == 0 {
            problems.push(
                "purge.worker: interval_ms, batch and lease_secs must all be above 0".to_owned(),
            );
        }
        if self.receipts.key_id.trim().is_empty() {
            problems.push("purge.receipts.key_id: must not be empty".to_owned());
        }
        problems
    }
}
