use serde::{Deserialize, Serialize};
use tenure_db::DatabaseSettings;
use tenure_domain::AwsAccountId;
use tenure_provisioning_cloud::AwsSettings;

use crate::sandbox::SandboxSettings;

/// Settings of the provisioning service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProvisioningSettings {
    /// Where the service keeps its data: the `provisioning` schema of a PostgreSQL database, or its own
    /// SQLite file.
    pub database: DatabaseSettings,
    /// Which AWS the service talks to.
    pub backend: BackendSettings,
    /// The platform organization's management account used for calls whose request names only a member
    /// account, a handshake or a transfer, when Tenure did not record which organization created or
    /// invited it (accounts that predate Tenure). 12 digits; unset means such calls answer NOT_FOUND.
    pub default_management_account_id: Option<String>,
    /// How operations are stepped.
    pub engine: EngineSettings,
}

impl Default for ProvisioningSettings {
    fn default() -> Self {
        Self {
            database: DatabaseSettings::embedded("provisioning"),
            backend: BackendSettings::default(),
            default_management_account_id: None,
            engine: EngineSettings::default(),
        }
    }
}

/// The backend choice.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackendChoice {
    /// The in-process simulation persisted in the service's database (`tenure up`'s default).
    #[default]
    Sandbox,
    /// AWS Organizations and CloudFormation through the official SDK.
    Aws,
}

/// The backend and its settings; only the chosen one's section is read.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BackendSettings {
    /// `sandbox` (default) or `aws`.
    pub kind: BackendChoice,
    /// The simulation's timings.
    pub sandbox: SandboxSettings,
    /// Region, endpoint override, role assumption and retries of the `aws` backend.
    pub aws: AwsSettings,
}

/// How the operation engine steps operations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EngineSettings {
    /// How often the worker looks for due operations, in milliseconds.
    pub worker_interval_ms: u64,
    /// Due operations the worker steps per round.
    pub worker_batch: u64,
    /// How long, in real seconds, one step may hold an operation before another engine may take it
    /// over (after a crash). Real time even on the sandbox, whose simulated clock may jump ahead.
    pub claim_secs: u64,
    /// How long, in real seconds, a per-account lease lasts; a crashed holder blocks the account at
    /// most this long.
    pub lease_secs: u64,
    /// How often an asynchronous AWS process is polled, in seconds.
    pub poll_secs: u64,
    /// The least time, in hours, a billing-transfer invitation leaves the customer before its
    /// acceptance cut-off (start − 24 h). 72 h is domain.md §3.2's default: an order placed on 28 March
    /// then starts on 1 May, not 1 April.
    pub billing_transfer_min_acceptance_hours: u64,
}

impl Default for EngineSettings {
    fn default() -> Self {
        Self {
            worker_interval_ms: 1_000,
            worker_batch: 20,
            claim_secs: 60,
            lease_secs: 60,
            poll_secs: 10,
            billing_transfer_min_acceptance_hours: 72,
        }
    }
}

impl ProvisioningSettings {
    /// Every problem with these settings, at once.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = self.database.problems("provisioning.database");
        if self.backend.kind == BackendChoice::Aws {
            problems.extend(
                self.backend
                    .aws
                    .problems()
                    .into_iter()
                    .map(|problem| format!("provisioning.backend.{problem}")),
            );
        }
        if let Some(account) = &self.default_management_account_id
            && AwsAccountId::parse(account).is_err()
        {
            problems.push(
                "provisioning.default_management_account_id: an AWS account id is exactly 12 digits"
                    .to_owned(),
            );
        }
        if self.engine.claim_secs == 0 || self.engine.lease_secs == 0 {
            problems
                .push("provisioning.engine: claim_secs and lease_secs must be positive".to_owned());
        }
        problems
    }
}
