//! Data-purge as a data owner of its own records: the worker asks it like every other service, and
//! it holds the subject to the tenant the caller acts for, as every other data owner does.

use uuid::Uuid;

use crate::app::{Call, PurgeApp};
use crate::clients::{Participant, ParticipantCall};
use crate::domain::{DataClass, PurgeError, Scope, TableCount};

impl PurgeApp {
    /// What a purge of `scope` would do to the service's own records.
    pub(crate) async fn own_plan(
        &self,
        call: &Call,
        purge_id: Uuid,
        scope: &Scope,
        classes: &[DataClass],
    ) -> Result<Vec<TableCount>, PurgeError> {
        call.tenant_filter(Some(scope.tenant))?;
        self.records
            .plan(ParticipantCall {
                purge_id,
                scope,
                classes,
            })
            .await
    }

    /// Purges `scope` from the service's own records, once per `idempotency_key`.
    pub(crate) async fn own_execute(
        &self,
        call: &Call,
        purge_id: Uuid,
        scope: &Scope,
        classes: &[DataClass],
        idempotency_key: &str,
    ) -> Result<Vec<TableCount>, PurgeError> {
        call.tenant_filter(Some(scope.tenant))?;
        self.records
            .execute(
                ParticipantCall {
                    purge_id,
                    scope,
                    classes,
                },
                idempotency_key,
            )
            .await
    }

    /// What of `scope` remains in the service's own records.
    pub(crate) async fn own_verify(
        &self,
        call: &Call,
        purge_id: Uuid,
        scope: &Scope,
        classes: &[DataClass],
    ) -> Result<Vec<TableCount>, PurgeError> {
        call.tenant_filter(Some(scope.tenant))?;
        self.records
            .verify(ParticipantCall {
                purge_id,
                scope,
                classes,
            })
            .await
    }
}
