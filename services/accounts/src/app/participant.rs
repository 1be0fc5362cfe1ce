//! The purge participant's use cases: surveying the rows of a purge subject for a plan or a
//! verification, and executing a purge once per idempotency key.

use chrono::{DateTime, Utc};
use tenure_db::TenantTx;
use tenure_domain::AwsAccountId;
use uuid::Uuid;

use crate::app::{Accounts, Answer, Call, Idempotent, Target};
use crate::domain::{
    AccountsError, DataClass, PurgeAction, PurgeScope, ResponseSubject, TABLES, TableClass,
    action_for,
};
use crate::store;

/// What a purge covers, as the purge service named it.
#[derive(Debug, Clone)]
pub(crate) struct PurgeSubject {
    pub(crate) purge_id: Uuid,
    pub(crate) scope: PurgeScope,
    pub(crate) aws_account_id: Option<AwsAccountId>,
    pub(crate) classes: Vec<DataClass>,
}

/// The rows of a purge subject still in place in one table, and what the purge does there.
#[derive(Debug, Clone)]
pub(crate) struct SurveyedRows {
    pub(crate) entry: &'static TableClass,
    pub(crate) action: PurgeAction,
    pub(crate) keys: Vec<String>,
}

/// What an execution did to one table: the keys of the rows it found and how many it changed.
#[derive(Debug, Clone)]
pub(crate) struct ExecutedTable {
    pub(crate) entry: &'static TableClass,
    pub(crate) action: PurgeAction,
    pub(crate) keys: Vec<String>,
    pub(crate) affected: u64,
}

impl Accounts {
    /// The rows of `target`'s subject in each table, read in a transaction that is rolled back:
    /// planning and verifying change nothing.
    pub(crate) async fn survey(
        &self,
        target: &PurgeSubject,
        tenant: Uuid,
    ) -> Result<Vec<SurveyedRows>, AccountsError> {
        let tx = TenantTx::begin(&self.db, tenant).await?;
        let subject = purge_subject(&tx, target, tenant).await?;
        let mut survey = Vec::with_capacity(TABLES.len());
        for entry in TABLES {
            survey.push(SurveyedRows {
                entry,
                action: action_for(target.scope, &target.classes, entry),
                keys: store::purge::row_keys(&tx, &subject, entry).await?,
            });
        }
        tx.rollback().await?;
        Ok(survey)
    }

    /// Deletes or pseudonymises the rows of `target`'s subject in every table the purge does not
    /// keep, and notes a removal's purge as run.
    pub(crate) async fn execute_purge(
        &self,
        call: &Call,
        idempotent: Idempotent<'_, Vec<ExecutedTable>>,
        target: &PurgeSubject,
        tenant: Uuid,
    ) -> Result<Answer<Vec<ExecutedTable>>, AccountsError> {
        self.mutate(
            call,
            idempotent,
            tenant,
            Target::new("purge", target.purge_id),
            async |tx, now: DateTime<Utc>| {
                let subject = purge_subject(tx, target, tenant).await?;
                let mut entries = Vec::new();
                for entry in TABLES {
                    let action = action_for(target.scope, &target.classes, entry);
                    if action == PurgeAction::Keep {
                        continue;
                    }
                    let keys = store::purge::row_keys(tx, &subject, entry).await?;
                    let affected = store::purge::purge_rows(tx, &subject, entry, action).await?;
                    entries.push(ExecutedTable {
                        entry,
                        action,
                        keys,
                        affected,
                    });
                }
                store::purge::note_removal_purged(tx, &subject, target.purge_id, now).await?;
                // The response holds table names, counts and key hashes only, so the record is
                // filed under no subject and no later purge of this tenant removes it.
                Ok((entries, ResponseSubject::Nothing))
            },
        )
        .await
    }
}

/// The subject whose rows a purge of `target` looks for.
async fn purge_subject(
    tx: &TenantTx,
    target: &PurgeSubject,
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
