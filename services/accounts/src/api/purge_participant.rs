//! Accounts' part of `tenure.purge.v1.PurgeParticipant`: its columns, who may call, and the use cases
//! that survey and erase a purge subject. The contract itself is served by `tenure_participant`.

use tenure_db::idempotency::{Answer, Idempotent};
use tenure_domain::purge::{ColumnClass, ErasedTable, PurgeTarget, SurveyedTable};
use tenure_participant::PurgeData;
use tonic::{Request, Status};

use crate::app::{Accounts, Call};
use crate::domain::{AccountsError, columns};

#[tonic::async_trait]
impl PurgeData for Accounts {
    const SERVICE: &'static str = "accounts";
    type Call = Call;
    type Error = AccountsError;

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
    ) -> Result<Vec<SurveyedTable>, AccountsError> {
        self.purge_survey(call, target).await
    }

    async fn erase(
        &self,
        call: &Call,
        target: &PurgeTarget,
        claim: Idempotent<'_, Vec<ErasedTable>>,
    ) -> Result<Answer<Vec<ErasedTable>>, AccountsError> {
        self.execute_purge(call, claim, target).await
    }
}
