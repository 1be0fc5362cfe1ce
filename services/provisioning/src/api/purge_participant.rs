//! Provisioning's part of `tenure.purge.v1.PurgeParticipant`: its columns, who may call, and the use
//! cases that survey and erase a purge subject. The contract itself is served by `tenure_participant`.

use tenure_db::idempotency::{Answer, Idempotent};
use tenure_domain::purge::{ColumnClass, ErasedTable, PurgeTarget, SurveyedTable};
use tenure_participant::PurgeData;
use tonic::{Request, Status};

use super::context::call_of;
use crate::app::{Call, Provisioning};
use crate::domain::error::ProvisioningError;

#[tonic::async_trait]
impl PurgeData for Provisioning {
    const SERVICE: &'static str = "provisioning";
    type Call = Call;
    type Error = ProvisioningError;

    fn columns(&self) -> Vec<ColumnClass> {
        self.data_classes()
    }

    fn authorize<T>(&self, request: &Request<T>, _method: &'static str) -> Result<Call, Status> {
        call_of(request)
    }

    async fn survey(
        &self,
        call: &Call,
        target: &PurgeTarget,
    ) -> Result<Vec<SurveyedTable>, ProvisioningError> {
        self.purge_survey(call, target).await
    }

    async fn erase(
        &self,
        call: &Call,
        target: &PurgeTarget,
        claim: Idempotent<'_, Vec<ErasedTable>>,
    ) -> Result<Answer<Vec<ErasedTable>>, ProvisioningError> {
        self.purge_execute(call, target, claim).await
    }
}
