//! The provisioning peer: the operations it runs in AWS and how a step follows them, and the steps
//! of an account's life there (creating, closing, removing it). Its StackSets, billing transfers and
//! organization invitations have modules of their own.
//!
//! Every step that starts an operation takes the same shape, [`PeerPort::run_operation`]: start (or
//! replay) it under the step's key, read it fresh, remember its id where an undo needs it, and turn
//! its state into the step's outcome.

mod baseline;
mod billing;
mod invitations;

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tenure_domain::AwsAccountId;
use tenure_grpc::PeerChannel;
use tenure_proto::provisioning::v1 as prov;
use tenure_proto::provisioning::v1::provisioning_service_client::ProvisioningServiceClient;
use uuid::Uuid;

use super::actions::{done, management_account, terminate_facts, with_fields};
use super::status::{answered, broken};
use super::{PeerPort, Step, instant, request};
use crate::domain::order::{InputField, OrderDetails};
use crate::domain::saga::advance::StepOutcome;
use crate::domain::saga::port::StepCall;
use crate::domain::saga::state::SagaState;

/// A provisioning answer to a call that starts (or replays) an operation.
trait StartsOperation {
    fn into_operation(self) -> Option<prov::Operation>;
}

macro_rules! starts_operation {
    ($($response:ident),* $(,)?) => {
        $(
            impl StartsOperation for prov::$response {
                fn into_operation(self) -> Option<prov::Operation> {
                    self.operation
                }
            }
        )*
    };
}

starts_operation!(
    CreateAccountResponse,
    CloseAccountResponse,
    RemoveAccountResponse,
    InviteAccountResponse,
    CancelHandshakeResponse,
    InviteBillingTransferResponse,
    WithdrawBillingTransferResponse,
    EndBillingTransferResponse,
    DeleteBootstrapStackResponse,
    CreateStackSetResponse,
    DeleteStackSetResponse,
    CreateStackInstancesResponse,
    DeleteStackInstancesResponse,
);

/// Whether a step keeps the id of the operation it started for its node: an undo that finds the
/// step's output missing reads the operation to learn what the step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Remember {
    Operation,
    Nothing,
}

impl PeerPort {
    fn provisioning(&self) -> ProvisioningServiceClient<PeerChannel> {
        ProvisioningServiceClient::new(self.peers.provisioning.clone())
    }

    /// Starts (or replays) an operation with `start`, then reads it fresh: a replay answers with the
    /// operation as stored, and GetOperation steps it when its next check is due.
    async fn follow<R: StartsOperation>(
        &self,
        call: &StepCall,
        started: Result<tonic::Response<R>, tonic::Status>,
    ) -> Result<prov::Operation, StepOutcome> {
        let operation = answered(started)?
            .into_operation()
            .ok_or_else(|| broken("provisioning answered no operation"))?;
        // A replay answers with the operation as it was; a deferred one is tried again once its
        // wait is over, so it is read fresh like one in progress.
        if operation.state == prov::OperationState::InProgress as i32
            || operation.state == prov::OperationState::Deferred as i32
        {
            let fresh = self
                .provisioning()
                .get_operation(request(
                    call,
                    None,
                    prov::GetOperationRequest {
                        operation_id: operation.id.clone(),
                    },
                ))
                .await;
            if let Ok(fresh) = fresh
                && let Some(fresh) = fresh.into_inner().operation
            {
                return Ok(fresh);
            }
        }
        Ok(operation)
    }

    /// A step's operation started, followed, remembered when `remember` says so, and turned into
    /// the step's outcome; `succeeded` builds the output of a succeeded one. `Err` when the start
    /// was refused or went unanswered.
    async fn run_operation<R: StartsOperation>(
        &self,
        call: &StepCall,
        started: Result<tonic::Response<R>, tonic::Status>,
        remember: Remember,
        succeeded: impl FnOnce(&prov::Operation) -> StepOutcome,
    ) -> Step {
        let operation = self.follow(call, started).await?;
        let patch = match remember {
            Remember::Operation => Self::remembered(call, &operation),
            Remember::Nothing => SagaState::default(),
        };
        Ok(operation_outcome(&operation, patch, succeeded, call.now))
    }

    /// A started operation followed to an outcome whose only output is that it completed.
    async fn completion<R: StartsOperation>(
        &self,
        call: &StepCall,
        started: Result<tonic::Response<R>, tonic::Status>,
    ) -> Step {
        self.run_operation(call, started, Remember::Nothing, |_| {
            done(SagaState::default())
        })
        .await
    }

    /// Reads an operation by id.
    async fn read_operation(
        &self,
        call: &StepCall,
        id: Uuid,
    ) -> Result<prov::Operation, StepOutcome> {
        answered(
            self.provisioning()
                .get_operation(request(
                    call,
                    None,
                    prov::GetOperationRequest {
                        operation_id: id.to_string(),
                    },
                ))
                .await,
        )?
        .operation
        .ok_or_else(|| broken("provisioning answered no operation"))
    }

    /// The operation's id as a patch that remembers it for this node.
    fn remembered(call: &StepCall, operation: &prov::Operation) -> SagaState {
        let mut patch = SagaState::default();
        if let Ok(id) = operation.id.parse::<Uuid>() {
            patch.operations = BTreeMap::from([(call.effect.node.to_string(), id)]);
        }
        patch
    }

    fn create_request(
        call: &StepCall,
        key: Uuid,
    ) -> Result<prov::CreateAccountRequest, StepOutcome> {
        let OrderDetails::NewAccount {
            root_email,
            account_name,
            ..
        } = &call.input.details
        else {
            return Err(broken("only new-account orders create accounts"));
        };
        Ok(prov::CreateAccountRequest {
            idempotency_key: key.to_string(),
            management_account_id: call
                .state
                .management_account_id
                .as_ref()
                .map(|id| id.as_str().to_owned())
                .ok_or_else(|| broken("no platform organization was assigned"))?,
            email: root_email
                .as_ref()
                .map(|email| email.as_str().to_owned())
                .unwrap_or_default(),
            account_name: account_name.clone(),
        })
    }

    pub(super) async fn create_account(&self, call: &StepCall) -> Step {
        let message = Self::create_request(call, call.effect.key)?;
        let started = self
            .provisioning()
            .create_account(request(call, Some(call.effect.key), message))
            .await;
        let outcome = self
            .run_operation(
                call,
                started,
                Remember::Operation,
                |operation| match &operation.result {
                    Some(prov::operation::Result::CreateAccount(created))
                        if !created.aws_account_id.is_empty() =>
                    {
                        match AwsAccountId::parse(&created.aws_account_id) {
                            Ok(id) => done(SagaState {
                                aws_account_id: Some(id),
                                ..SagaState::default()
                            }),
                            Err(_) => broken("a created account has a malformed id"),
                        }
                    }
                    _ => broken("a created account has no id"),
                },
            )
            .await
            .unwrap_or_else(|outcome| outcome);
        Ok(with_fields(outcome, &[InputField::RootEmail], Vec::new()))
    }

    pub(super) async fn close_created_account(&self, call: &StepCall) -> Step {
        let created = match &call.state.aws_account_id {
            Some(id) => Some(id.as_str().to_owned()),
            None => {
                let Some(operation_id) = call.state.operations.get(&call.effect.node.to_string())
                else {
                    // The creation never started: nothing exists to close.
                    return Ok(done(SagaState::default()));
                };
                let operation = self.read_operation(call, *operation_id).await?;
                match prov::OperationState::try_from(operation.state) {
                    Ok(prov::OperationState::InProgress | prov::OperationState::Deferred) => {
                        return Ok(StepOutcome::Pending {
                            detail: "waiting for the creation to end before closing".to_owned(),
                            patch: SagaState::default(),
                        });
                    }
                    Ok(prov::OperationState::Succeeded) => match operation.result {
                        Some(prov::operation::Result::CreateAccount(created)) => {
                            Some(created.aws_account_id)
                        }
                        _ => None,
                    },
                    _ => None,
                }
            }
        };
        let Some(created) = created.filter(|id| !id.is_empty()) else {
            return Ok(done(SagaState::default()));
        };
        let started = self
            .provisioning()
            .close_account(request(
                call,
                Some(call.effect.key),
                prov::CloseAccountRequest {
                    idempotency_key: call.effect.key.to_string(),
                    aws_account_id: created,
                },
            ))
            .await;
        // AWS accepted the closure once the operation exists; it finishes on its own.
        self.follow(call, started).await?;
        Ok(done(SagaState::default()))
    }

    pub(super) async fn check_bootstrap_role(&self, call: &StepCall) -> Step {
        let management = management_account(call).ok_or_else(|| broken("no management account"))?;
        let checked = answered(
            self.provisioning()
                .check_bootstrap_role(request(
                    call,
                    None,
                    prov::CheckBootstrapRoleRequest {
                        aws_account_id: management.as_str().to_owned(),
                    },
                ))
                .await,
        )?;
        Ok(if checked.deployed {
            done(SagaState::default())
        } else {
            StepOutcome::Query {
                code: "TNR209".to_owned(),
                fields: Vec::new(),
                items: Vec::new(),
            }
        })
    }

    pub(super) async fn close_account(&self, call: &StepCall) -> Step {
        let (aws_account_id, ..) = terminate_facts(call)?;
        let started = self
            .provisioning()
            .close_account(request(
                call,
                Some(call.effect.key),
                prov::CloseAccountRequest {
                    idempotency_key: call.effect.key.to_string(),
                    aws_account_id: aws_account_id.as_str().to_owned(),
                },
            ))
            .await;
        let operation = self.follow(call, started).await?;
        let accepted = SagaState {
            close_operation_id: operation.id.parse().ok(),
            ..SagaState::default()
        };
        // Accepted as soon as AWS shows the account closing; the wait that follows sees it closed.
        Ok(match prov::OperationState::try_from(operation.state) {
            Ok(prov::OperationState::InProgress | prov::OperationState::Succeeded) => {
                done(accepted)
            }
            _ => operation_outcome(
                &operation,
                SagaState::default(),
                |_| done(SagaState::default()),
                call.now,
            ),
        })
    }

    pub(super) async fn remove_account(&self, call: &StepCall) -> Step {
        let (aws_account_id, ..) = terminate_facts(call)?;
        let started = self
            .provisioning()
            .remove_account(request(
                call,
                Some(call.effect.key),
                prov::RemoveAccountRequest {
                    idempotency_key: call.effect.key.to_string(),
                    aws_account_id: aws_account_id.as_str().to_owned(),
                },
            ))
            .await;
        let now = call.now;
        self.run_operation(call, started, Remember::Nothing, |_| {
            done(SagaState {
                removed_at: Some(now),
                ..SagaState::default()
            })
        })
        .await
    }

    pub(super) async fn check_closure(&self, call: &StepCall) -> Step {
        let operation_id = call
            .state
            .close_operation_id
            .ok_or_else(|| broken("no closure to follow"))?;
        let operation = self.read_operation(call, operation_id).await?;
        let now = call.now;
        Ok(operation_outcome(
            &operation,
            SagaState::default(),
            |_| {
                done(SagaState {
                    closed_at: Some(now),
                    ..SagaState::default()
                })
            },
            now,
        ))
    }
}

/// An operation's state as a step outcome; `done` builds the output of a succeeded one.
fn operation_outcome(
    operation: &prov::Operation,
    patch: SagaState,
    done: impl FnOnce(&prov::Operation) -> StepOutcome,
    now: DateTime<Utc>,
) -> StepOutcome {
    let error = operation.error.clone().unwrap_or_default();
    match prov::OperationState::try_from(operation.state) {
        Ok(prov::OperationState::Succeeded) => done(operation),
        Ok(prov::OperationState::InProgress) => StepOutcome::Pending {
            detail: "aws_operation".to_owned(),
            patch,
        },
        // Provisioning tries a deferred call again once its wait is over; until its worker has, the
        // step looks again soon rather than deferring a second time.
        Ok(prov::OperationState::Deferred)
            if instant(operation.next_check_at.as_ref()).is_some_and(|at| at <= now) =>
        {
            StepOutcome::Pending {
                detail: "aws_operation".to_owned(),
                patch,
            }
        }
        // The operation's own next attempt is absolute; its retry delay counts from when it was
        // deferred, which may lie in the past.
        Ok(prov::OperationState::Deferred) => StepOutcome::Deferred {
            after: instant(operation.next_check_at.as_ref())
                .and_then(|at| (at - now).to_std().ok())
                .or_else(|| {
                    error
                        .retry_after
                        .and_then(|delay| Duration::try_from(delay).ok())
                })
                .unwrap_or(Duration::from_secs(60)),
            notice: (!error.code.is_empty()).then_some(error.code),
            detail: error.aws_code,
        },
        Ok(prov::OperationState::CustomerActionRequired) => StepOutcome::Query {
            code: error.code,
            fields: Vec::new(),
            items: Vec::new(),
        },
        _ => StepOutcome::Fail {
            code: if error.code.is_empty() {
                "TNR903".to_owned()
            } else {
                error.code
            },
            message: if error.message.is_empty() {
                error.aws_code
            } else {
                error.message
            },
        },
    }
}
