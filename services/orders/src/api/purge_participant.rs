//! Orders' part of `tenure.purge.v1.PurgeParticipant`: its columns, who may call, and the use cases
//! that survey and erase a purge subject. The contract itself is served by `tenure_participant`.

use tenure_db::idempotency::{Answer, Idempotent};
use tenure_domain::purge::{ColumnClass, ErasedTable, PurgeTarget, SurveyedTable};
use tenure_participant::PurgeData;
use tonic::{Request, Status};

use crate::api::context::{Call, Orders};
use crate::app;
use crate::domain::OrdersError;
use crate::domain::data_class::columns;

#[tonic::async_trait]
impl PurgeData for Orders {
    const SERVICE: &'static str = "orders";
    type Call = Call;
    type Error = OrdersError;

    fn columns(&self) -> Vec<ColumnClass> {
        columns().collect()
    }

    fn authorize<T>(&self, request: &Request<T>, method: &'static str) -> Result<Call, Status> {
        self.call(request, method)
    }

    async fn survey(
        &self,
        call: &Call,
        target: &PurgeTarget,
    ) -> Result<Vec<SurveyedTable>, OrdersError> {
        self.purge_survey(call, target).await
    }

    async fn erase(
        &self,
        call: &Call,
        target: &PurgeTarget,
        claim: Idempotent<'_, Vec<ErasedTable>>,
    ) -> Result<Answer<Vec<ErasedTable>>, OrdersError> {
        let encode = |erased: &Vec<ErasedTable>| Ok((claim.encode)(erased));
        let idempotent = app::Idempotent {
            key: claim.key,
            request_hash: claim.request_hash,
            encode: &encode,
        };
        self.purge_execute(call, idempotent, target).await
    }
}
