//! One step of each kind of operation: which AWS call comes next, given what the operation already
//! learned, and how AWS's answer moves it on. References are persisted the moment a call returns.
//!
//! The steps live by AWS area (`accounts`, `handshakes` with `transfer_end`, `cloudformation`); this
//! module routes a request to its step and holds what every step shares.

use chrono::Duration;
use tenure_domain::AwsAccountId;

mod accounts;
mod cloudformation;
mod handshakes;
mod transfer_end;

pub(crate) use accounts::{account_snapshot, not_in_organization};
pub(crate) use handshakes::{handshake_snapshot, transfer_snapshot};

use super::{OperationWorker, Outcome};
use crate::domain::cloud::{CloudError, InstanceTargets};
use crate::domain::error::ProvisioningError;
use crate::domain::operation::{Operation, OperationRequest, Phase};
use crate::domain::reaction::{Api, react};

type StepResult = Result<Outcome, ProvisioningError>;

/// How far before the intent a reconciliation still looks, for clock skew between Tenure and AWS. Kept
/// small: an older request or account with the same name or email is someone else's, and adopting it
/// would be worse than the duplicate the lookup prevents.
const RECONCILE_SKEW: Duration = Duration::seconds(5);

/// Reconciliations and re-sends one step may chain before it yields (a guard against AWS contradicting
/// itself forever).
const MAX_TURNS: usize = 4;

impl OperationWorker {
    fn poll(&self) -> Duration {
        Duration::seconds(i64::try_from(self.settings().poll_secs).unwrap_or(60))
    }

    /// Marks that a call without a native token is about to leave, so a restarted engine reconciles
    /// before sending it again.
    async fn mark_sent(&self, operation: &mut Operation) -> Result<(), ProvisioningError> {
        operation.progress.phase = Phase::Sent;
        operation.updated_at = self.now();
        self.checkpoint(operation).await
    }

    /// Persists what a call just returned.
    async fn referenced(&self, operation: &mut Operation) -> Result<(), ProvisioningError> {
        operation.progress.phase = Phase::Referenced;
        operation.updated_at = self.now();
        self.checkpoint(operation).await
    }

    async fn remember_owner(
        &self,
        operation: &Operation,
        reference: &str,
        management: &AwsAccountId,
    ) -> Result<(), ProvisioningError> {
        self.store()
            .record_reference(
                reference,
                management.as_str(),
                operation.tenant_id,
                // Every reference an operation records is about the account it reports: the member
                // itself, the invited account's handshake, the transferring account's transfer.
                operation.aws_account_id.as_ref().map(AwsAccountId::as_str),
                self.now(),
            )
            .await?;
        Ok(())
    }
}

/// Counts one AWS call and hands its answer back.
fn counted<T>(operation: &mut Operation, answer: Result<T, CloudError>) -> Result<T, CloudError> {
    operation.aws_calls = operation.aws_calls.saturating_add(1);
    answer
}

/// Advances `operation` by one step.
pub(super) async fn advance(engine: &OperationWorker, operation: &mut Operation) -> StepResult {
    let request = operation.request.clone();
    let acting = &request.acting().clone();
    match request {
        OperationRequest::CreateAccount {
            email,
            account_name,
            ..
        } => accounts::create_account(engine, operation, acting, &email, &account_name).await,
        OperationRequest::RemoveAccount {
            account: member, ..
        } => accounts::remove_account(engine, operation, acting, &member).await,
        OperationRequest::CloseAccount {
            account: member, ..
        } => accounts::close_account(engine, operation, acting, &member).await,
        OperationRequest::InviteAccount {
            target, order_id, ..
        } => handshakes::invite_account(engine, operation, acting, &target, &order_id).await,
        OperationRequest::CancelHandshake { handshake_id, .. } => {
            handshakes::cancel_handshake(engine, operation, acting, &handshake_id).await
        }
        OperationRequest::InviteBillingTransfer {
            source,
            source_name,
            order_id,
            ..
        } => {
            handshakes::invite_billing_transfer(
                engine,
                operation,
                acting,
                &source,
                &source_name,
                &order_id,
            )
            .await
        }
        OperationRequest::EndBillingTransfer { transfer_id, .. } => {
            transfer_end::end_billing_transfer(engine, operation, acting, &transfer_id).await
        }
        OperationRequest::WithdrawBillingTransfer { transfer_id, .. } => {
            transfer_end::withdraw_billing_transfer(engine, operation, acting, &transfer_id).await
        }
        OperationRequest::DeployBootstrapStack { .. } => {
            cloudformation::deploy_bootstrap_stack(engine, operation, acting).await
        }
        OperationRequest::DeleteBootstrapStack { .. } => {
            cloudformation::delete_bootstrap_stack(engine, operation, acting).await
        }
        OperationRequest::CreateStackSet { .. } => {
            cloudformation::create_stack_set(engine, operation, acting).await
        }
        OperationRequest::DeleteStackSet { .. } => {
            cloudformation::delete_stack_set(engine, operation, acting).await
        }
        OperationRequest::CreateStackInstances {
            accounts, regions, ..
        } => {
            let targets = targets(accounts, regions);
            cloudformation::stack_instances(engine, operation, acting, &targets, None).await
        }
        OperationRequest::DeleteStackInstances {
            accounts,
            regions,
            retain_stacks,
            ..
        } => {
            let targets = targets(accounts, regions);
            cloudformation::stack_instances(
                engine,
                operation,
                acting,
                &targets,
                Some(retain_stacks),
            )
            .await
        }
    }
}

fn targets(accounts: Vec<AwsAccountId>, regions: Vec<String>) -> InstanceTargets {
    InstanceTargets { accounts, regions }
}

fn error_outcome(api: Api, operation: &Operation, error: CloudError) -> Outcome {
    let reaction = react(api, &error, operation.progress.transient_attempts);
    Outcome::React(reaction, error)
}

/// A reconciliation could not read what AWS holds; the operation stays in Sent and looks again.
fn lookup_failed() -> ProvisioningError {
    ProvisioningError::Unavailable("reconciliation lookup failed".into())
}
