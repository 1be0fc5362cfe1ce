use tenure_domain::purge::ColumnClass;
use tenure_domain::{AwsAccountId, Problems};
use tenure_grpc::participant::{self, DataOwner, PurgeTarget, SurveyedTable, purge_target};
use tenure_proto::purge::v1 as pb;
use tonic::{Request, Status};
use uuid::Uuid;

use crate::api::context::{Accounts, Call, Target, checked, finish, finish_keyed};
use crate::domain::{AccountsError, PurgeAction, ResponseSubject, TABLES, action_for, columns};
use crate::store;

impl Accounts {
    /// The target of a participant call and the tenant it works in: the scope's, which a service
    /// acting for a tenant must match.
    fn purge_tenant(
        call: &Call,
        target: Option<PurgeTarget>,
    ) -> Result<(PurgeTarget, Uuid), AccountsError> {
        let target = checked(target)?;
        let tenant = call
            .access
            .tenant_filter(Some(target.tenant))?
            .ok_or(AccountsError::TenantRequired)?;
        Ok((target, tenant))
    }

    /// The rows of `target`'s subject in each table, read in a transaction that is rolled back:
    /// planning and verifying change nothing.
    async fn survey(
        &self,
        target: &PurgeTarget,
        tenant: Uuid,
    ) -> Result<Vec<SurveyedTable>, AccountsError> {
        let tx = tenure_db::TenantTx::begin(&self.db, tenant).await?;
        let subject = purge_subject(&tx, target, tenant).await?;
        let mut survey = Vec::with_capacity(TABLES.len());
        for entry in TABLES {
            survey.push(SurveyedTable {
                entry,
                action: action_for(target.scope, &target.classes, entry),
                keys: store::purge::row_keys(&tx, &subject, entry).await?,
            });
        }
        tx.rollback().await?;
        Ok(survey)
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
    ) -> Result<pb::ExecuteResponse, AccountsError> {
        let mut problems = Problems::new();
        let target = purge_target(&mut problems, &request);
        finish_keyed(problems, &request)?;
        let (target, tenant) = Self::purge_tenant(call, target)?;
        self.mutate(
            call,
            &request,
            tenant,
            Target::new("purge", target.purge_id),
            async |tx, now| {
                let subject = purge_subject(tx, &target, tenant).await?;
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
                store::purge::note_removal_purged(tx, &subject, target.purge_id, now).await?;
                // The response holds table names, counts and key hashes only, so the record is
                // filed under no subject and no later purge of this tenant removes it.
                Ok((
                    pb::ExecuteResponse {
                        service: Self::SERVICE.to_owned(),
                        entries,
                    },
                    ResponseSubject::Nothing,
                ))
            },
        )
        .await
    }

    async fn verify(
        &self,
        call: &Call,
        request: pb::VerifyRequest,
    ) -> Result<pb::VerifyResponse, AccountsError> {
        let mut problems = Problems::new();
        let target = purge_target(&mut problems, &request);
        finish(problems, || ())?;
        let (target, tenant) = Self::purge_tenant(call, target)?;
        // What the purge keeps may stay; anything else still in place is residual.
        Ok(participant::verify_answer(
            Self::SERVICE,
            &self.survey(&target, tenant).await?,
        ))
    }
}

/// The subject whose rows a purge of `target` looks for.
async fn purge_subject(
    tx: &tenure_db::TenantTx,
    target: &PurgeTarget,
    tenant: Uuid,
) -> Result<store::purge::Subject, AccountsError> {
    store::purge::subject(
        tx,
        target.scope,
        tenant,
        target.aws_account_id.as_ref().map(AwsAccountId::as_str),
    )
    .await
}
