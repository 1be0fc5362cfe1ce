//! Provisioning as a data owner: the columns it declares, and the counting, purging and verifying of a
//! subject's rows, each held to the tenant data-purge acts for.

use tenure_db::idempotency::IdempotencyScope;
use tenure_domain::purge::{
    ColumnClass, DataClass, ErasedTable, PurgeAction, PurgeTarget, SurveyedTable, TableClass,
    action_for,
};
use uuid::Uuid;

use crate::app::{Answer, Call, Idempotent, Provisioning};
use crate::domain::error::ProvisioningError;
use crate::domain::purge::{PURGED_TABLES, PurgeSubject, TableKeys};
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
        &tenure_domain::purge::IDEMPOTENCY_RECORD_COLUMNS,
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

/// Data-purge acts for one tenant at a time (`x-tenure-tenant`, quality.md §1.4); a subject in another
/// tenant is refused, as every other data owner refuses it, before anything is read.
fn acting_for(subject: &PurgeSubject, tenant: Option<Uuid>) -> Result<(), ProvisioningError> {
    if tenant == Some(subject.tenant_id()) {
        Ok(())
    } else {
        Err(ProvisioningError::ForeignTenant)
    }
}

/// The registry entry of one of provisioning's purged tables.
fn entry_of(table: &str) -> Result<&'static TableClass, ProvisioningError> {
    PURGED_TABLES
        .iter()
        .find(|entry| entry.table == table)
        .ok_or_else(|| ProvisioningError::internal("a purged table is not registered"))
}

/// The survey of `tables` for `target`: every table, with what its purge does.
fn surveyed(
    tables: Vec<TableKeys>,
    target: &PurgeTarget,
) -> Result<Vec<SurveyedTable>, ProvisioningError> {
    tables
        .into_iter()
        .map(|table| {
            let entry = entry_of(table.table)?;
            Ok(SurveyedTable {
                entry,
                action: action_for(target.scope, &target.classes, entry),
                keys: table.keys,
            })
        })
        .collect()
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

    /// The subject's rows per table, with what a purge of `target`'s classes does to each.
    pub(crate) async fn purge_survey(
        &self,
        call: &Call,
        target: &PurgeTarget,
    ) -> Result<Vec<SurveyedTable>, ProvisioningError> {
        let subject = PurgeSubject::of(target);
        acting_for(&subject, call.tenant_id)?;
        surveyed(self.purge.keys(&subject).await?, target)
    }

    /// Reads the subject's rows and deletes those the purge does not keep, once per idempotency key:
    /// the claim of the key, the reading, the deletion and the stored reply commit together.
    pub(crate) async fn purge_execute(
        &self,
        call: &Call,
        target: &PurgeTarget,
        idempotent: Idempotent<'_, Vec<ErasedTable>>,
    ) -> Result<Answer<Vec<ErasedTable>>, ProvisioningError> {
        let subject = PurgeSubject::of(target);
        acting_for(&subject, call.tenant_id)?;
        let purged = PURGED_TABLES
            .iter()
            .any(|entry| action_for(target.scope, &target.classes, entry) != PurgeAction::Keep);
        let scope = IdempotencyScope {
            // The subject's tenant, the one data-purge acts for, is part of the request hash.
            tenant_id: String::new(),
            method: EXECUTE_METHOD.to_owned(),
            key: idempotent.key.as_str().to_owned(),
            caller: call.caller.clone(),
        };
        let mut fresh = None;
        let mut failed = None;
        let executed = self
            .purge
            .execute_once(
                &scope,
                &idempotent.request_hash,
                self.clock.now(),
                &subject,
                purged,
                |tables, deleted| {
                    let erased = erased(tables, deleted, target);
                    let encoded = match &erased {
                        Ok(erased) => (idempotent.encode)(erased),
                        Err(_) => Vec::new(),
                    };
                    match erased {
                        Ok(erased) => fresh = Some(erased),
                        Err(error) => failed = Some(error),
                    }
                    encoded
                },
            )
            .await
            .map_err(ProvisioningError::from)?;
        if let Some(error) = failed {
            return Err(error);
        }
        match (executed, fresh) {
            // The reply was produced by this call and committed with the deletion.
            (Executed::Response(_), Some(erased)) => Ok(Answer::Fresh(erased)),
            (Executed::Response(stored), None) => Ok(Answer::Replay(stored)),
            (Executed::KeyReused, _) => Err(ProvisioningError::KeyReused),
            (Executed::InFlight, _) => Err(ProvisioningError::KeyInFlight),
        }
    }
}

/// What an execution did per table the purge does not keep: the keys it read and the rows deleted.
fn erased(
    tables: &[TableKeys],
    deleted: &[(&'static str, u64)],
    target: &PurgeTarget,
) -> Result<Vec<ErasedTable>, ProvisioningError> {
    let mut erased = Vec::new();
    for table in tables {
        let entry = entry_of(table.table)?;
        let action = action_for(target.scope, &target.classes, entry);
        if action == PurgeAction::Keep {
            continue;
        }
        let affected = deleted
            .iter()
            .find(|(name, _)| *name == table.table)
            .map_or(0, |(_, rows)| *rows);
        erased.push(ErasedTable {
            entry,
            action,
            keys: table.keys.clone(),
            affected,
        });
    }
    Ok(erased)
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
