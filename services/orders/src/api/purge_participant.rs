//! `tenure.purge.v1.PurgeParticipant` for orders: what a purge of an account or a tenant would touch,
//! doing it once per key, and verifying that nothing of the subject remains (domain.md §8).

use prost::Message as _;
use tenure_domain::Problems;
use tenure_domain::purge::ColumnClass;
use tenure_grpc::participant::{self, DataOwner, PurgeTarget, SurveyedTable, purge_target};
use tenure_proto::purge::v1 as pb;
use tonic::{Request, Status};

use crate::api::context::{Call, Orders, checked, finish, finish_keyed, idempotent, reply};
use crate::app::{PurgeOf, TableRows};
use crate::domain::OrdersError;
use crate::domain::data_class::columns;

/// The subject a checked participant request names.
fn purge_of(target: &PurgeTarget) -> PurgeOf<'_> {
    PurgeOf {
        scope: target.scope,
        tenant: target.tenant,
        aws_account_id: target.aws_account_id.as_ref(),
        classes: &target.classes,
    }
}

/// A table of a survey, as the participant answers share it.
fn surveyed(rows: TableRows) -> SurveyedTable {
    SurveyedTable {
        entry: rows.entry,
        action: rows.action,
        keys: rows.keys,
    }
}

/// What a survey found, in the shape the participant answers share.
fn survey(rows: Vec<TableRows>) -> Vec<SurveyedTable> {
    rows.into_iter().map(surveyed).collect()
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
        let target = checked(target)?;
        Ok(participant::plan_answer(
            Self::SERVICE,
            &survey(self.purge_survey(call, purge_of(&target)).await?),
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
        let target = checked(target)?;
        let to = |rows: &Vec<TableRows>| {
            Ok(pb::ExecuteResponse {
                service: Self::SERVICE.to_owned(),
                entries: rows
                    .iter()
                    .map(|rows| {
                        participant::table_count(
                            Self::SERVICE,
                            rows.entry,
                            rows.action,
                            &rows.keys,
                            rows.affected,
                        )
                    })
                    .collect(),
            })
        };
        let encode = |rows: &Vec<TableRows>| to(rows).map(|response| response.encode_to_vec());
        let answer = self
            .purge_execute(call, idempotent(&request, &encode)?, purge_of(&target))
            .await?;
        reply(answer, to)
    }

    async fn verify(
        &self,
        call: &Call,
        request: pb::VerifyRequest,
    ) -> Result<pb::VerifyResponse, OrdersError> {
        let mut problems = Problems::new();
        let target = purge_target(&mut problems, &request);
        finish(problems, || ())?;
        let target = checked(target)?;
        Ok(participant::verify_answer(
            Self::SERVICE,
            &survey(self.purge_survey(call, purge_of(&target)).await?),
        ))
    }
}
