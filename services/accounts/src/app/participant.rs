//! The purge participant's use cases: surveying the rows of a purge subject for a plan or a
//! verification, and executing a purge once per idempotency key.

use chrono::{DateTime, Utc};
use tenure_db::TenantTx;
use tenure_domain::AwsAccountId;
use tenure_domain::purge::{self, ErasedTable, PurgeTarget, SurveyedTable};
use uuid::Uuid;

use crate::app::{Accounts, Answer, Call, Idempotent, Target};
use crate::domain::{AccountsError, ResponseSubject, TABLES};
use crate::store;

impl Accounts {
    /// The rows of `target`'s subject in each table, read in a transaction that is rolled back:
    /// planning and verifying change nothing.
    pub(crate) async fn purge_survey(
        &self,
        call: &Call,
        target: &PurgeTarget,
    ) -> Result<Vec<SurveyedTable>, AccountsError> {
        let tenant = purge_tenant(call, target)?;
        let tx = TenantTx::begin(&self.db, tenant).await?;
        let subject = purge_subject(&tx, target, tenant).await?;
        let survey = purge::survey(TABLES, target, |entry| {
            store::purge::row_keys(&tx, &subject, entry)
        })
        .await?;
        tx.rollback().await?;
        Ok(survey)
    }

    /// Deletes or pseudonymises the rows of `target`'s subject in every table the purge does not
    /// keep, and notes a removal's purge as run.
    pub(crate) async fn execute_purge(
        &self,
        call: &Call,
        idempotent: Idempotent<'_, Vec<ErasedTable>>,
        target: &PurgeTarget,
    ) -> Result<Answer<Vec<ErasedTable>>, AccountsError> {
        let tenant = purge_tenant(call, target)?;
        self.mutate(
            call,
            idempotent,
            tenant,
            Target::new("purge", target.purge_id),
            async |tx, now: DateTime<Utc>| {
                let subject = &purge_subject(tx, target, tenant).await?;
                let entries = purge::erase(TABLES, target, |entry, action| async move {
                    let keys = store::purge::row_keys(tx, subject, entry).await?;
                    let affected = store::purge::purge_rows(tx, subject, entry, action).await?;
                    Ok::<_, AccountsError>((keys, affected))
                })
                .await?;
                store::purge::note_removal_purged(tx, subject, target.purge_id, now).await?;
                // The response holds table names, counts and key hashes only, so the record is
                // filed under no subject and no later purge of this tenant removes it.
                Ok((entries, ResponseSubject::Nothing))
            },
        )
        .await
    }
}

/// The tenant a participant call works in: the target's, which a service acting for a tenant must
/// match.
fn purge_tenant(call: &Call, target: &PurgeTarget) -> Result<Uuid, AccountsError> {
    call.access
        .tenant_filter(Some(target.tenant))?
        .ok_or(AccountsError::TenantRequired)
}

/// The subject whose rows a purge of `target` looks for.
async fn purge_subject(
    tx: &TenantTx,
    target: &PurgeTarget,
    tenant: Uuid,
) -> Result<store::purge::Subject, AccountsError> {
    store::purge::subject(
        tx,
        target.scope,
        tenant,
        target.aws_account_id.as_ref().map(AwsAccountId::as_str),
    )
    .await
}
