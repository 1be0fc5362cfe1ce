//! `tenure.purge.v1.PurgeParticipant` for orders: what a purge of an account or a tenant would touch,
//! doing it once per key, and verifying that nothing of the subject remains (domain.md §8).

use tenure_db::TenantTx;
use tenure_domain::Problems;
use tenure_grpc::Limits;
use tenure_grpc::participant::{self, PurgeTarget, purge_target};
use tenure_proto::purge::v1 as pb;
use tenure_proto::purge::v1::purge_participant_server::{PurgeParticipant, PurgeParticipantServer};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::api::context::{Call, Orders, checked, finish, finish_keyed};
use crate::domain::OrdersError;
use crate::domain::data_class::{PurgeAction, TABLES, TableClass, action_for, columns};
use crate::store::{self, Reach};

/// The name this service answers with.
const SERVICE: &str = "orders";

/// The full path of a `PurgeParticipant` method.
macro_rules! path {
    ($method:literal) => {
        concat!("/tenure.purge.v1.PurgeParticipant/", $method)
    };
}

/// Serves `tenure.purge.v1.PurgeParticipant` on data-purge's behalf.
#[derive(Debug, Clone)]
pub(crate) struct PurgeParticipantHandler {
    app: Orders,
}

impl PurgeParticipantHandler {
    pub(crate) fn new(app: Orders) -> Self {
        Self { app }
    }

    /// The generated server with the process's message-size limits applied.
    pub(crate) fn into_server(self, limits: &Limits) -> PurgeParticipantServer<Self> {
        tenure_grpc::limited!(PurgeParticipantServer::new(self), limits)
    }
}

fn count(entry: &TableClass, action: PurgeAction, keys: &[String], rows: u64) -> pb::TableCount {
    participant::table_count(SERVICE, entry, action, rows, tenure_db::row_key_hash(keys))
}

fn count_of_keys(entry: &TableClass, action: PurgeAction, keys: &[String]) -> pb::TableCount {
    count(
        entry,
        action,
        keys,
        u64::try_from(keys.len()).unwrap_or(u64::MAX),
    )
}

/// Each table entry with what the purge does there and the keys of the subject's rows in it.
type Survey = Vec<(&'static TableClass, PurgeAction, Vec<String>)>;

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
        store::purge::subject(
            tx,
            target.scope,
            tenant,
            target
                .aws_account_id
                .as_ref()
                .map(tenure_domain::AwsAccountId::as_str),
        )
        .await
    }

    /// The rows of `target`'s subject in each table, read in a transaction that is rolled back.
    async fn survey(&self, target: &PurgeTarget, tenant: Uuid) -> Result<Survey, OrdersError> {
        self.read(Reach::Tenant(tenant), async |tx| {
            let subject = Self::subject(tx, target, tenant).await?;
            let mut survey = Vec::with_capacity(TABLES.len());
            for entry in TABLES {
                let keys = store::purge::row_keys(tx, &subject, entry).await?;
                survey.push((
                    entry,
                    action_for(target.scope, &target.classes, entry),
                    keys,
                ));
            }
            Ok(survey)
        })
        .await
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
        Ok(pb::PlanResponse {
            service: SERVICE.to_owned(),
            entries: self
                .survey(&target, tenant)
                .await?
                .iter()
                .map(|(entry, action, keys)| count_of_keys(entry, *action, keys))
                .collect(),
        })
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
                entries.push(count(entry, action, &keys, affected));
            }
            Ok((
                pb::ExecuteResponse {
                    service: SERVICE.to_owned(),
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
        Ok(pb::VerifyResponse {
            service: SERVICE.to_owned(),
            residual: self
                .survey(&target, tenant)
                .await?
                .iter()
                .filter(|(_, action, keys)| *action != PurgeAction::Keep && !keys.is_empty())
                .map(|(entry, action, keys)| count_of_keys(entry, *action, keys))
                .collect(),
        })
    }
}

#[tonic::async_trait]
impl PurgeParticipant for PurgeParticipantHandler {
    async fn describe_data_classes(
        &self,
        request: Request<pb::DescribeDataClassesRequest>,
    ) -> Result<Response<pb::DescribeDataClassesResponse>, Status> {
        self.app.call(&request, path!("DescribeDataClasses"))?;
        Ok(Response::new(participant::describe(SERVICE, columns())))
    }

    async fn plan(
        &self,
        request: Request<pb::PlanRequest>,
    ) -> Result<Response<pb::PlanResponse>, Status> {
        let call = self.app.call(&request, path!("Plan"))?;
        Ok(Response::new(
            self.app.plan(&call, request.into_inner()).await?,
        ))
    }

    async fn execute(
        &self,
        request: Request<pb::ExecuteRequest>,
    ) -> Result<Response<pb::ExecuteResponse>, Status> {
        let call = self.app.call(&request, path!("Execute"))?;
        Ok(Response::new(
            self.app.execute(&call, request.into_inner()).await?,
        ))
    }

    async fn verify(
        &self,
        request: Request<pb::VerifyRequest>,
    ) -> Result<Response<pb::VerifyResponse>, Status> {
        let call = self.app.call(&request, path!("Verify"))?;
        Ok(Response::new(
            self.app.verify(&call, request.into_inner()).await?,
        ))
    }
}
