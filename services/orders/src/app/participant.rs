//! Orders as a data owner: what a purge of an account or a tenant would touch, doing it once per
//! key, and verifying that nothing of the subject remains (domain.md §8). The subject is held to the
//! tenant the caller acts for.

use tenure_db::TenantTx;
use tenure_domain::AwsAccountId;
use tenure_domain::purge::{DataClass, PurgeAction, PurgeScope, TableClass};
use uuid::Uuid;

use crate::app::{Answer, Call, Idempotent, Orders};
use crate::domain::OrdersError;
use crate::domain::data_class::{TABLES, action_for};
use crate::domain::records::Reach;
use crate::store;

/// The subject of a purge and the classes it removes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PurgeOf<'a> {
    pub(crate) scope: PurgeScope,
    pub(crate) tenant: Uuid,
    pub(crate) aws_account_id: Option<&'a AwsAccountId>,
    pub(crate) classes: &'a [DataClass],
}

/// The subject's rows in one table and what the purge does to them; `affected` counts the rows a
/// purge changed (none for a survey).
#[derive(Debug, Clone)]
pub(crate) struct TableRows {
    pub(crate) entry: &'static TableClass,
    pub(crate) action: PurgeAction,
    pub(crate) keys: Vec<String>,
    pub(crate) affected: u64,
}

impl Orders {
    /// The tenant a participant call works in; a service acting for a tenant must name the same one.
    fn purge_tenant(call: &Call, target: &PurgeOf<'_>) -> Result<Uuid, OrdersError> {
        call.tenant_filter(Some(target.tenant))?
            .ok_or(OrdersError::ForeignTenant)
    }

    async fn purge_subject(
        tx: &TenantTx,
        target: &PurgeOf<'_>,
        tenant: Uuid,
    ) -> Result<store::purge::Subject, OrdersError> {
        store::purge::subject(tx, target.scope, tenant, target.aws_account_id).await
    }

    /// The rows of `target`'s subject in each table, read in a transaction that is rolled back.
    pub(crate) async fn purge_survey(
        &self,
        call: &Call,
        target: PurgeOf<'_>,
    ) -> Result<Vec<TableRows>, OrdersError> {
        let tenant = Self::purge_tenant(call, &target)?;
        self.read(Reach::Tenant(tenant), async |tx| {
            let subject = Self::purge_subject(tx, &target, tenant).await?;
            let mut survey = Vec::with_capacity(TABLES.len());
            for entry in TABLES {
                survey.push(TableRows {
                    entry,
                    action: action_for(target.scope, target.classes, entry),
                    keys: store::purge::row_keys(tx, &subject, entry).await?,
                    affected: 0,
                });
            }
            Ok(survey)
        })
        .await
    }

    /// Purges `target`'s subject from every table the purge does not keep, once per key.
    pub(crate) async fn purge_execute(
        &self,
        call: &Call,
        idempotent: Idempotent<'_, Vec<TableRows>>,
        target: PurgeOf<'_>,
    ) -> Result<Answer<Vec<TableRows>>, OrdersError> {
        let tenant = Self::purge_tenant(call, &target)?;
        self.mutate(call, idempotent, async |tx, _now| {
            let subject = Self::purge_subject(tx, &target, tenant).await?;
            let mut entries = Vec::new();
            for entry in TABLES {
                let action = action_for(target.scope, target.classes, entry);
                if action == PurgeAction::Keep {
                    continue;
                }
                let keys = store::purge::row_keys(tx, &subject, entry).await?;
                let affected = store::purge::purge_rows(tx, &subject, entry, action).await?;
                entries.push(TableRows {
                    entry,
                    action,
                    keys,
                    affected,
                });
            }
            Ok((entries, None))
        })
        .await
    }
}
