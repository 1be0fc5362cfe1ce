//! What a purge asks of provisioning's records: the subject it names and the rows each table holds of it.

use tenure_domain::AwsAccountId;
use uuid::Uuid;

/// The subject of a purge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PurgeSubject {
    /// One AWS account of a tenant.
    Account {
        tenant_id: Uuid,
        account: AwsAccountId,
    },
    /// A whole tenant.
    Tenant { tenant_id: Uuid },
}

/// The rows of one table that hold data of the subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PurgeCount {
    pub(crate) table: &'static str,
    pub(crate) rows: u64,
    /// SHA-256 over the sorted row keys, hex.
    pub(crate) key_hash: String,
}
