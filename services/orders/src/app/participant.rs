//! Orders as a data owner: what a purge of an account or a tenant would touch, doing it once per
//! key, and verifying that nothing of the subject remains (domain.md §8). The subject is held to the
//! tenant the caller acts for.

use tenure_db::TenantTx;
use tenure_domain::purge::{self, ErasedTable, PurgeTarget, SurveyedTable};
use uuid::Uuid;

use crate::app::{Answer, Call, Idempotent, Orders};
use crate::domain::OrdersError;
use crate::domain::data_class::TABLES;
use crate::domain::records::Reach;
use crate::store;

impl Orders {
    /// The tenant a participant call works in; a service acting for a tenant must name the same one.
    fn purge_tenant(call: &Call, target: &PurgeTarget) -> Result<Uuid, OrdersError> {
        call.tenant_filter(Some(target.tenant))?
            .ok_or(OrdersError::ForeignTenant)
    }

    async fn purge_subject(
        tx: &TenantTx,
        target: &PurgeTarget,
        tenant: Uuid,
    ) -> Result<store::purge::Subject, OrdersError> {
        store::purge::subject(tx, target.scope, tenant, target.aws_account_id.as_ref()).await
    }

    /// The rows of `target`'s subject in each table, read in a transaction that is rolled back.
    pub(crate) async fn purge_survey(
        &self,
        call: &Call,
        target: &PurgeTarget,
    ) -> Result<Vec<SurveyedTable>, OrdersError> {
        let tenant = Self::purge_tenant(call, target)?;
        self.read(Reach::Tenant(tenant), async |tx| {
            let subject = Self::purge_subject(tx, target, tenant).await?;
            purge::survey(TABLES, target, |entry| {
                store::purge::row_keys(tx, &subject, entry)
            })
            .await
        })
        .await
    }

    /// Purges `target`'s subject from every table the purge does not keep, once per key.
    pub(crate) async fn purge_execute(
        &self,
        call: &Call,
        idempotent: Idempotent<'_, Vec<ErasedTable>>,
        target: &PurgeTarget,
    ) -> Result<Answer<Vec<ErasedTable>>, OrdersError> {
        let tenant = Self::purge_tenant(call, target)?;
        self.mutate(call, idempotent, async |tx, _now| {
            let subject = &Self::purge_subject(tx, target, tenant).await?;
            let erased = purge::erase(TABLES, target, |entry, action| async move {
                let keys = store::purge::row_keys(tx, subject, entry).await?;
                let affected = store::purge::purge_rows(tx, subject, entry, action).await?;
                Ok::<_, OrdersError>((keys, affected))
            })
            .await?;
            Ok((erased, None))
        })
        .await
    }
}
