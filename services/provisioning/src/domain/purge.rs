//! What a purge asks of provisioning's records: the subject it names and the rows each table holds of it.

use tenure_domain::AwsAccountId;
use tenure_domain::purge::{
    DataClass, PurgeAction, PurgeScope, PurgeTarget, TableClass, table_class,
};
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

/// The subject's rows of one table: the keys that name them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TableKeys {
    pub(crate) table: &'static str,
    pub(crate) keys: Vec<String>,
}

/// The tables that hold `aws_fetched` data of a subject, and what purging that class does to them:
/// the rows go.
pub(crate) const PURGED_TABLES: [TableClass; 3] = [
    table_class("operation", DataClass::AwsFetched, PurgeAction::Delete),
    table_class(
        "concerned_account",
        DataClass::AwsFetched,
        PurgeAction::Delete,
    ),
    table_class("aws_reference", DataClass::AwsFetched, PurgeAction::Delete),
];

impl PurgeSubject {
    /// The subject a purge target names.
    pub(crate) fn of(target: &PurgeTarget) -> Self {
        match (target.scope, &target.aws_account_id) {
            (PurgeScope::Account, Some(account)) => Self::Account {
                tenant_id: target.tenant,
                account: account.clone(),
            },
            _ => Self::Tenant {
                tenant_id: target.tenant,
            },
        }
    }

    pub(crate) fn tenant_id(&self) -> Uuid {
        let (Self::Account { tenant_id, .. } | Self::Tenant { tenant_id }) = self;
        *tenant_id
    }
}
