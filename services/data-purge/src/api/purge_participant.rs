//! Data-purge's part of `tenure.purge.v1.PurgeParticipant`, so that its own tables are declared and
//! counted like every other service's: its columns, who may call, and the use cases over its own
//! records. The contract itself is served by `tenure_participant`.

use tenure_db::idempotency::{Answer, Idempotent};
use tenure_domain::purge::{ColumnClass, ErasedTable, PurgeTarget, SurveyedTable};
use tenure_participant::PurgeData;
use tonic::{Request, Status};

use crate::api::context::call;
use crate::app::{Call, PurgeApp};
use crate::domain::PurgeError;
use crate::own_data::{OWN_TABLES, SERVICE};

#[tonic::async_trait]
impl PurgeData for PurgeApp {
    const SERVICE: &'static str = SERVICE;
    type Call = Call;
    type Error = PurgeError;

    fn columns(&self) -> Vec<ColumnClass> {
        OWN_TABLES
            .iter()
            .flat_map(|table| {
                table.columns.iter().map(|column| ColumnClass {
                    table: table.entry.table,
                    column,
                    class: table.entry.class,
                    owner_key: table.owner_key,
                })
            })
            .collect()
    }

    fn authorize<T>(&self, request: &Request<T>, method: &'static str) -> Result<Call, Status> {
        call(request, method)
    }

    async fn survey(
        &self,
        call: &Call,
        target: &PurgeTarget,
    ) -> Result<Vec<SurveyedTable>, PurgeError> {
        self.own_survey(call, target).await
    }

    async fn erase(
        &self,
        call: &Call,
        target: &PurgeTarget,
        _claim: Idempotent<'_, Vec<ErasedTable>>,
    ) -> Result<Answer<Vec<ErasedTable>>, PurgeError> {
        self.own_erase(call, target).map(Answer::Fresh)
    }
}
