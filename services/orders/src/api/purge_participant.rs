//! `tenure.purge.v1.PurgeParticipant` for orders: what a purge of an account or a tenant would touch,
//! doing it once per key, and verifying that nothing of the subject remains (domain.md §8).

use tenure_db::TenantTx;
use tenure_domain::Problems;
use tenure_domain::purge::ColumnClass;
use tenure_grpc::participant::{self, DataOwner, PurgeTarget, SurveyedTable, purge_target};
use tenure_proto::purge::v1 as pb;
use tonic::{Request, Status};
use uuid::Uuid;

use crate::api::context::{Call, Orders, checked, finish, finish_keyed};
use crate::domain::OrdersError;
use crate::domain::data_class::{PurgeAction, TABLES, action_for, columns};
use crate::store::{self, Reach};

impl Orders {
    /// The target of a participant call and the tenant it works in; a service acting for a tenant
    /// must name the same one.
    fn purge_tenant(
        call: &Call,
        target: Option<PurgeTarget>,
    ) -> Result<(PurgeTarget, Uuid), OrdersError> {
        let target = checked(target)?;
        let tenant = call
            .tenant_filter(Some(target.tenant))?
            .ok_or(OrdersError::ForeignTenant)?;
        Ok((target, tenant))
    }

    async fn subject(
        tx: &TenantTx,
        target: &PurgeTarget,
        tenant: Uuid,
    ) -> Result<store::purge::Subject, OrdersError> {
        store::purge::subject(tx, target.scope, tenant, target.aws_account_id.as_ref()).await
    }

    /// The rows of `target`'s subject in each table, read in a transaction that is rolled back.
    async fn survey(
        &self,
        target: &PurgeTarget,
        tenant: Uuid,
    ) -> Result<Vec<SurveyedTable>, OrdersError> {
        self.read(Reach::Tenant(tenant), async |tx| {
            let subject = Self::subject(tx, target, tenant).await?;
            let mut survey = Vec::with_capacity(TABLES.len());
            for entry in TABLES {
                survey.push(SurveyedTable {
                    entry,
                    action: action_for(target.scope, &target.classes, entry),
                    keys: store::purge::row_keys(tx, &subject, entry).await?,
                });
            }
            Ok(survey)
        })
        .await
    }
}

#[tonic::async_trait]
impl DataOwner for Orders {
    const SERVICE: &'static str = "orders";
    type Call = Call;
    type Error = OrdersError;

    fn columns(&self) -> Vec<ColumnClass> {
        columns().collect()
    }

    fn authorize<T>(&self, request: &Request<T>, method: &'static str) -> Result<Call, Status> {
        self.call(request, method)
    }

    async fn plan(
        &self,
        call: &Call,
        request: pb::PlanRequest,
    ) -> Result<pb::PlanResponse, OrdersError> {
        let mut problems = Problems::new();
        let target = purge_target(&mut problems, &request);
        finish(problems, || ())?;
        let (target, tenant) = Self::purge_tenant(call, target)?;
        Ok(participant::plan_answer(
            Self::SERVICE,
            &self.survey(&target, tenant).await?,
        ))
    }

    async fn execute(
        &self,
        call: &Call,
        request: pb::ExecuteRequest,
    ) -> Result<pb::ExecuteResponse, OrdersError> {
        let mut problems = Problems::new();
        let target = purge_target(&mut problems, &request);
        finish_keyed(problems, &request)?;
        let (target, tenant) = Self::purge_tenant(call, target)?;
        self.mutate(call, &request, async |tx, _now| {
            let subject = Self::subject(tx, &target, tenant).await?;
            let mut entries = Vec::new();
            for entry in TABLES {
                let action = action_for(target.scope, &target.classes, entry);
                if action == PurgeAction::Keep {
                    continue;
                }
                let keys = store::purge::row_keys(tx, &subject, entry).await?;
                let affected = store::purge::purge_rows(tx, &subject, entry, action).await?;
                entries.push(participant::table_count(
                    Self::SERVICE,
                    entry,
                    action,
                    &keys,
                    affected,
                ));
            }
            Ok((
                pb::ExecuteResponse {
                    service: Self::SERVICE.to_owned(),
                    entries,
                },
                None,
            ))
        })
        .await
    }

    async fn verify(
        &self,
        call: &Call,
        request: pb::VerifyRequest,
    ) -> Result<pb::VerifyResponse, OrdersError> {
        let mut problems = Problems::new();
        let target = purge_target(&mut problems, &request);
        finish(problems, || ())?;
        let (target, tenant) = Self::purge_tenant(call, target)?;
        Ok(participant::verify_answer(
            Self::SERVICE,
            &self.survey(&target, tenant).await?,
        ))
    }
}
