use prost::Message as _;
use tenure_domain::Problems;
use tenure_domain::purge::ColumnClass;
use tenure_grpc::participant::{self, DataOwner, PurgeTarget, SurveyedTable, purge_target};
use tenure_proto::purge::v1 as pb;
use tonic::{Request, Status};
use uuid::Uuid;

use crate::api::context::{checked, finish, finish_keyed, idempotent, reply};
use crate::app::{Accounts, Call, ExecutedTable, PurgeSubject, SurveyedRows};
use crate::domain::{AccountsError, columns};

/// The target of a participant call and the tenant it works in: the scope's, which a service acting
/// for a tenant must match.
fn purge_tenant(
    call: &Call,
    target: Option<PurgeTarget>,
) -> Result<(PurgeSubject, Uuid), AccountsError> {
    let target = checked(target)?;
    let tenant = call
        .access
        .tenant_filter(Some(target.tenant))?
        .ok_or(AccountsError::TenantRequired)?;
    Ok((
        PurgeSubject {
            purge_id: target.purge_id,
            scope: target.scope,
            aws_account_id: target.aws_account_id,
            classes: target.classes,
        },
        tenant,
    ))
}

fn surveyed(survey: Vec<SurveyedRows>) -> Vec<SurveyedTable> {
    survey
        .into_iter()
        .map(|rows| SurveyedTable {
            entry: rows.entry,
            action: rows.action,
            keys: rows.keys,
        })
        .collect()
}

fn executed(entries: &[ExecutedTable]) -> pb::ExecuteResponse {
    pb::ExecuteResponse {
        service: <Accounts as DataOwner>::SERVICE.to_owned(),
        entries: entries
            .iter()
            .map(|table| {
                participant::table_count(
                    <Accounts as DataOwner>::SERVICE,
                    table.entry,
                    table.action,
                    &table.keys,
                    table.affected,
                )
            })
            .collect(),
    }
}

#[tonic::async_trait]
impl DataOwner for Accounts {
    const SERVICE: &'static str = "accounts";
    type Call = Call;
    type Error = AccountsError;

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
    ) -> Result<pb::PlanResponse, AccountsError> {
        let mut problems = Problems::new();
        let target = purge_target(&mut problems, &request);
        finish(problems, || ())?;
        let (target, tenant) = purge_tenant(call, target)?;
        Ok(participant::plan_answer(
            Self::SERVICE,
            &surveyed(self.survey(&target, tenant).await?),
        ))
    }

    async fn execute(
        &self,
        call: &Call,
        request: pb::ExecuteRequest,
    ) -> Result<pb::ExecuteResponse, AccountsError> {
        let mut problems = Problems::new();
        let target = purge_target(&mut problems, &request);
        finish_keyed(problems, &request)?;
        let (target, tenant) = purge_tenant(call, target)?;
        let encode = |entries: &Vec<ExecutedTable>| executed(entries).encode_to_vec();
        let answer = self
            .execute_purge(call, idempotent(&request, &encode)?, &target, tenant)
            .await?;
        reply(answer, |entries: &Vec<ExecutedTable>| executed(entries))
    }

    async fn verify(
        &self,
        call: &Call,
        request: pb::VerifyRequest,
    ) -> Result<pb::VerifyResponse, AccountsError> {
        let mut problems = Problems::new();
        let target = purge_target(&mut problems, &request);
        finish(problems, || ())?;
        let (target, tenant) = purge_tenant(call, target)?;
        // What the purge keeps may stay; anything else still in place is residual.
        Ok(participant::verify_answer(
            Self::SERVICE,
            &surveyed(self.survey(&target, tenant).await?),
        ))
    }
}
