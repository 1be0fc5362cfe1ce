//! Provisioning as a data owner: the columns it declares, and the counting, purging and verifying of a
//! subject's rows, each held to the tenant data-purge acts for.

use tenure_db::idempotency::IdempotencyScope;
use tenure_domain::purge::{ColumnClass, DataClass};
use uuid::Uuid;

use crate::app::{Answer, Call, Idempotent, Provisioning};
use crate::domain::error::ProvisioningError;
use crate::domain::purge::{PurgeCount, PurgeSubject};
use crate::store::{
    CONCERN_COLUMNS, CONCERN_TABLE, Executed, OPERATION_COLUMNS, REFERENCE_COLUMNS,
    REFERENCE_TABLE, SANDBOX_TABLES,
};

/// Every persisted column of provisioning with its data class and owner key (domain.md §8.1). The
/// operation journal, the accounts each operation concerns and the reference owners hold AWS-fetched
/// data about accounts; leases and
/// idempotency records are operational; the sandbox tables are the simulated AWS itself.
const COLUMNS: &[(&str, &[&str], DataClass, &str)] = &[
    (
        "operation",
        &OPERATION_COLUMNS,
        DataClass::AwsFetched,
        "tenant_id, concerned_account.aws_account_id",
    ),
    (
        CONCERN_TABLE,
        &CONCERN_COLUMNS,
        DataClass::AwsFetched,
        "tenant_id, aws_account_id",
    ),
    (
        REFERENCE_TABLE,
        &REFERENCE_COLUMNS,
        DataClass::AwsFetched,
        "tenant_id, reference, aws_account_id",
    ),
    (
        "operation_lease",
        &["lock_key", "operation_id", "expires_at"],
        DataClass::Operational,
        "operation_id",
    ),
    (
        "idempotency_record",
        &[
            "tenant_id",
            "method",
            "key",
            "caller",
            "request_hash",
            "state",
            "grpc_code",
            "response",
            "created_at",
            "expires_at",
        ],
        DataClass::Operational,
        "tenant_id",
    ),
    (
        "sandbox_clock",
        &["id", "offset_ms"],
        DataClass::Operational,
        "id",
    ),
    (
        "rate_limit_bucket",
        &tenure_domain::purge::RATE_LIMIT_BUCKET_COLUMNS,
        DataClass::Operational,
        "bucket",
    ),
];

const SANDBOX_COLUMNS: [&str; 3] = ["id", "scope", "body"];

/// The method whose keys Execute records. It names the keys' scope in the stored records, so it stays
/// as it was for keys stored before to keep replaying.
const EXECUTE_METHOD: &str = "/tenure.purge.v1.PurgeParticipant/Execute";

/// What one Execute did: the rows the subject held per table and, when purged, how many went.
#[derive(Debug, Clone)]
pub(crate) struct Execution {
    pub(crate) counts: Vec<PurgeCount>,
    pub(crate) deleted: Vec<(&'static str, u64)>,
    /// Whether provisioning's class was among those purged.
    pub(crate) purged: bool,
}

/// Data-purge acts for one tenant at a time (`x-tenure-tenant`, quality.md §1.4); a subject in another
/// tenant is refused, as every other data owner refuses it, before anything is counted.
fn acting_for(subject: &PurgeSubject, tenant: Option<Uuid>) -> Result<(), ProvisioningError> {
    let (PurgeSubject::Account { tenant_id, .. } | PurgeSubject::Tenant { tenant_id }) = subject;
    if tenant == Some(*tenant_id) {
        Ok(())
    } else {
        Err(ProvisioningError::ForeignTenant)
    }
}

impl Provisioning {
    /// Every persisted column, in declaration order, the sandbox's tables last.
    pub(crate) fn data_classes(&self) -> Vec<ColumnClass> {
        let mut columns = Vec::new();
        for (table, names, class, owner_key) in COLUMNS {
            for column in *names {
                columns.push(ColumnClass {
                    table,
                    column,
                    class: *class,
                    owner_key,
                });
            }
        }
        for table in SANDBOX_TABLES {
            for column in SANDBOX_COLUMNS {
                columns.push(ColumnClass {
                    table,
                    column,
                    class: DataClass::Operational,
                    owner_key: "scope",
                });
            }
        }
        columns
    }

    /// The rows `subject` holds per table.
    pub(crate) async fn purge_counts(
        &self,
        call: &Call,
        subject: &PurgeSubject,
    ) -> Result<Vec<PurgeCount>, ProvisioningError> {
        acting_for(subject, call.tenant_id)?;
        Ok(self.purge.count(subject).await?)
    }

    /// The tables that still hold rows of `subject` after a purge; nothing when provisioning's class
    /// was not purged, since then its rows are meant to stay.
    pub(crate) async fn purge_residue(
        &self,
        call: &Call,
        subject: &PurgeSubject,
        purged: bool,
    ) -> Result<Vec<PurgeCount>, ProvisioningError> {
        acting_for(subject, call.tenant_id)?;
        if !purged {
            return Ok(Vec::new());
        }
        let mut counts = self.purge.count(subject).await?;
        counts.retain(|count| count.rows > 0);
        Ok(counts)
    }

    /// Counts `subject`'s rows and, when `purged`, deletes them, once per idempotency key: the claim of
    /// the key, the counts, the deletion and the stored reply commit together.
    pub(crate) async fn execute_purge(
        &self,
        call: &Call,
        subject: &PurgeSubject,
        purged: bool,
        idempotent: Idempotent<'_, Execution>,
    ) -> Result<Answer<Execution>, ProvisioningError> {
        acting_for(subject, call.tenant_id)?;
        let scope = IdempotencyScope {
            // The subject's tenant, the one data-purge acts for, is part of the request hash.
            tenant_id: String::new(),
            method: EXECUTE_METHOD.to_owned(),
            key: idempotent.key.as_str().to_owned(),
            caller: call.caller.clone(),
        };
        let mut fresh = None;
        let executed = self
            .purge
            .execute_once(
                &scope,
                &idempotent.request_hash,
                self.clock.now(),
                subject,
                purged,
                |counts, deleted| {
                    let execution = Execution {
                        counts: counts.to_vec(),
                        deleted: deleted.to_vec(),
                        purged,
                    };
                    let encoded = (idempotent.encode)(&execution);
                    fresh = Some(execution);
                    encoded
                },
            )
            .await
            .map_err(ProvisioningError::from)?;
        match (executed, fresh) {
            // The reply was produced by this call and committed with the deletion.
            (Executed::Response(_), Some(execution)) => Ok(Answer::Fresh(execution)),
            (Executed::Response(stored), None) => Ok(Answer::Replay(stored)),
            (Executed::KeyReused, _) => Err(ProvisioningError::KeyReused),
            (Executed::InFlight, _) => Err(ProvisioningError::KeyInFlight),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subject_in_another_tenant_is_refused() {
        let (own, other) = (Uuid::new_v4(), Uuid::new_v4());
        let subject = PurgeSubject::Tenant { tenant_id: other };
        assert!(matches!(
            acting_for(&subject, Some(own)),
            Err(ProvisioningError::ForeignTenant)
        ));
        assert!(matches!(
            acting_for(&subject, None),
            Err(ProvisioningError::ForeignTenant)
        ));
        assert!(acting_for(&subject, Some(other)).is_ok());
    }
}
