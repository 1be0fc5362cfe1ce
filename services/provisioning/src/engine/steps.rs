//! One step of each kind of operation: which AWS call comes next, given what the operation already
//! learned, and how AWS's answer moves it on. References are persisted the moment a call returns.

use chrono::{DateTime, Duration, Utc};
use tenure_domain::AwsAccountId;

mod transfer_end;

use transfer_end::{end_billing_transfer, withdraw_billing_transfer};

use super::templates::{
    BOOTSTRAP_STACK_NAME, ESSENTIALS_STACK_SET_NAME, bootstrap_stack, essentials_stack_set,
    is_tenure_owned,
};
use super::{Engine, Outcome};
use crate::domain::billing;
use crate::domain::cloud::{
    AccountDescription, AccountState, BillingTransfer, CloudError, CreateAccountState,
    CreateAccountStatus, Handshake, HandshakeAction, HandshakeState, InstanceTargets, JoinedMethod,
    StackDeletion, StackSetOperationStatus, TransferInvitation, TransferStatus,
};
use crate::domain::error::ProvisioningError;
use crate::domain::operation::{
    AccountSnapshot, HandshakeSnapshot, Operation, OperationRequest, Phase, StackSetSnapshot,
    StackSnapshot, TransferSnapshot,
};
use crate::domain::reaction::{
    Api, LeftInstances, Reaction, judge_left_instances, react, react_to_create_failure,
};

type StepResult = Result<Outcome, ProvisioningError>;

/// How far before the intent a reconciliation still looks, for clock skew between Tenure and AWS. Kept
/// small: an older request or account with the same name or email is someone else's, and adopting it
/// would be worse than the duplicate the lookup prevents.
const RECONCILE_SKEW: Duration = Duration::seconds(5);

/// Reconciliations and re-sends one step may chain before it yields (a guard against AWS contradicting
/// itself forever).
const MAX_TURNS: usize = 4;

fn account(raw: &str) -> Result<AwsAccountId, ProvisioningError> {
    AwsAccountId::parse(raw).map_err(|_| ProvisioningError::internal("stored account id"))
}

pub(crate) fn account_state(state: AccountState) -> &'static str {
    match state {
        AccountState::PendingActivation => "PENDING_ACTIVATION",
        AccountState::Active => "ACTIVE",
        AccountState::PendingClosure => "PENDING_CLOSURE",
        AccountState::Suspended => "SUSPENDED",
        AccountState::Closed => "CLOSED",
    }
}

pub(crate) fn account_snapshot(description: &AccountDescription) -> AccountSnapshot {
    AccountSnapshot {
        account_id: description.id.to_string(),
        state: account_state(description.state).to_owned(),
        joined_method: Some(
            match description.joined_method {
                JoinedMethod::Created => "CREATED",
                JoinedMethod::Invited => "INVITED",
            }
            .to_owned(),
        ),
        joined_at: Some(description.joined_at),
    }
}

fn not_in_organization(account_id: &str) -> AccountSnapshot {
    AccountSnapshot {
        account_id: account_id.to_owned(),
        state: "NOT_IN_ORGANIZATION".to_owned(),
        joined_method: None,
        joined_at: None,
    }
}

pub(crate) fn handshake_state(state: HandshakeState) -> &'static str {
    match state {
        HandshakeState::Requested => "REQUESTED",
        HandshakeState::Open => "OPEN",
        HandshakeState::Accepted => "ACCEPTED",
        HandshakeState::Declined => "DECLINED",
        HandshakeState::Canceled => "CANCELED",
        HandshakeState::Expired => "EXPIRED",
    }
}

pub(crate) fn handshake_snapshot(handshake: &Handshake) -> HandshakeSnapshot {
    HandshakeSnapshot {
        id: handshake.id.clone(),
        action: match handshake.action {
            HandshakeAction::Invite => "INVITE",
            HandshakeAction::TransferResponsibility => "TRANSFER_RESPONSIBILITY",
        }
        .to_owned(),
        state: handshake_state(handshake.state).to_owned(),
        target: handshake.target.to_string(),
        requested_at: handshake.requested_at,
        expires_at: handshake.expires_at,
        transfer_id: handshake.transfer_id.clone(),
    }
}

pub(crate) fn transfer_status(status: TransferStatus) -> &'static str {
    match status {
        TransferStatus::Requested => "REQUESTED",
        TransferStatus::Accepted => "ACCEPTED",
        TransferStatus::Declined => "DECLINED",
        TransferStatus::Canceled => "CANCELED",
        TransferStatus::Expired => "EXPIRED",
        TransferStatus::Withdrawn => "WITHDRAWN",
    }
}

pub(crate) fn transfer_snapshot(
    transfer: &BillingTransfer,
    handshake: Option<&HandshakeSnapshot>,
) -> TransferSnapshot {
    TransferSnapshot {
        id: transfer.id.clone(),
        handshake_id: transfer
            .active_handshake_id
            .clone()
            .or_else(|| handshake.map(|handshake| handshake.id.clone())),
        status: transfer_status(transfer.status).to_owned(),
        source: transfer.source_management_account.to_string(),
        start_at: transfer.start_at,
        expires_at: handshake.map(|handshake| handshake.expires_at),
        end_at: transfer.end_at,
    }
}

fn operation_status(status: StackSetOperationStatus) -> &'static str {
    match status {
        StackSetOperationStatus::Queued => "QUEUED",
        StackSetOperationStatus::Running => "RUNNING",
        StackSetOperationStatus::Stopping => "STOPPING",
        StackSetOperationStatus::Succeeded => "SUCCEEDED",
        StackSetOperationStatus::Failed => "FAILED",
        StackSetOperationStatus::Stopped => "STOPPED",
    }
}

fn create_state(state: CreateAccountState) -> &'static str {
    match state {
        CreateAccountState::InProgress => "IN_PROGRESS",
        CreateAccountState::Succeeded => "SUCCEEDED",
        CreateAccountState::Failed => "FAILED",
    }
}

impl Engine {
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
                operation.aws_account_id.as_deref(),
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
pub(super) async fn advance(engine: &Engine, operation: &mut Operation) -> StepResult {
    match operation.request.clone() {
        OperationRequest::CreateAccount {
            management_account,
            email,
            account_name,
        } => {
            create_account(
                engine,
                operation,
                &account(&management_account)?,
                &email,
                &account_name,
            )
            .await
        }
        OperationRequest::RemoveAccount {
            management_account,
            account: member,
        } => {
            remove_account(
                engine,
                operation,
                &account(&management_account)?,
                &account(&member)?,
            )
            .await
        }
        OperationRequest::CloseAccount {
            management_account,
            account: member,
        } => {
            close_account(
                engine,
                operation,
                &account(&management_account)?,
                &account(&member)?,
            )
            .await
        }
        OperationRequest::InviteAccount {
            management_account,
            target,
            order_id,
        } => {
            invite_account(
                engine,
                operation,
                &account(&management_account)?,
                &account(&target)?,
                &order_id,
            )
            .await
        }
        OperationRequest::CancelHandshake {
            management_account,
            handshake_id,
        } => {
            cancel_handshake(
                engine,
                operation,
                &account(&management_account)?,
                &handshake_id,
            )
            .await
        }
        OperationRequest::InviteBillingTransfer {
            management_account,
            source,
            source_name,
            order_id,
        } => {
            invite_billing_transfer(
                engine,
                operation,
                &account(&management_account)?,
                &account(&source)?,
                &source_name,
                &order_id,
            )
            .await
        }
        OperationRequest::EndBillingTransfer {
            management_account,
            transfer_id,
        } => {
            end_billing_transfer(
                engine,
                operation,
                &account(&management_account)?,
                &transfer_id,
            )
            .await
        }
        OperationRequest::WithdrawBillingTransfer {
            management_account,
            transfer_id,
        } => {
            withdraw_billing_transfer(
                engine,
                operation,
                &account(&management_account)?,
                &transfer_id,
            )
            .await
        }
        OperationRequest::DeployBootstrapStack { account: holder } => {
            deploy_bootstrap_stack(engine, operation, &account(&holder)?).await
        }
        OperationRequest::DeleteBootstrapStack { account: holder } => {
            delete_bootstrap_stack(engine, operation, &account(&holder)?).await
        }
        OperationRequest::CreateStackSet {
            management_account, ..
        } => create_stack_set(engine, operation, &account(&management_account)?).await,
        OperationRequest::DeleteStackSet {
            management_account, ..
        } => delete_stack_set(engine, operation, &account(&management_account)?).await,
        OperationRequest::CreateStackInstances {
            management_account,
            accounts,
            regions,
            ..
        } => {
            stack_instances(
                engine,
                operation,
                &account(&management_account)?,
                &targets(&accounts, regions)?,
                None,
            )
            .await
        }
        OperationRequest::DeleteStackInstances {
            management_account,
            accounts,
            regions,
            retain_stacks,
            ..
        } => {
            stack_instances(
                engine,
                operation,
                &account(&management_account)?,
                &targets(&accounts, regions)?,
                Some(retain_stacks),
            )
            .await
        }
    }
}

fn targets(
    accounts: &[String],
    regions: Vec<String>,
) -> Result<InstanceTargets, ProvisioningError> {
    Ok(InstanceTargets {
        accounts: accounts
            .iter()
            .map(|raw| account(raw))
            .collect::<Result<_, _>>()?,
        regions,
    })
}

fn error_outcome(api: Api, operation: &Operation, error: CloudError) -> Outcome {
    let reaction = react(api, &error, operation.progress.transient_attempts);
    Outcome::React(reaction, error)
}

async fn create_account(
    engine: &Engine,
    operation: &mut Operation,
    management: &AwsAccountId,
    email: &str,
    account_name: &str,
) -> StepResult {
    for _ in 0..MAX_TURNS {
        match operation.progress.phase {
            Phase::Fresh => {
                engine.mark_sent(operation).await?;
                let answer = counted(
                    operation,
                    engine
                        .cloud()
                        .create_account(management, email, account_name)
                        .await,
                );
                match answer {
                    Ok(status) => {
                        record_create_status(operation, &status);
                        engine.referenced(operation).await?;
                    }
                    Err(error) => return Ok(error_outcome(Api::CreateAccount, operation, error)),
                }
            }
            Phase::Sent => {
                // CreateAccount has no idempotency token: look for the request the lost call may have
                // made before sending another (domain.md §6.5).
                if !adopt_created_account(engine, operation, management, email, account_name)
                    .await?
                {
                    operation.progress.phase = Phase::Fresh;
                }
                continue;
            }
            Phase::Referenced => {}
        }
        if operation.progress.create_status.as_deref() == Some("IN_PROGRESS") {
            let request_id = operation
                .progress
                .create_request_id
                .clone()
                .unwrap_or_default();
            let answer = counted(
                operation,
                engine
                    .cloud()
                    .describe_create_account_status(management, &request_id)
                    .await,
            );
            match answer {
                Ok(status) => record_create_status(operation, &status),
                Err(error) => {
                    let reaction = react(Api::DescribeCreateAccountStatus, &error, 0);
                    if reaction == Reaction::Reconcile {
                        operation.progress.phase = Phase::Sent;
                        continue;
                    }
                    return Ok(Outcome::React(reaction, error));
                }
            }
        }
        match operation.progress.create_status.as_deref() {
            Some("SUCCEEDED") => {
                return finish_created_account(engine, operation, management).await;
            }
            Some("FAILED") => {
                let reason = operation
                    .progress
                    .failure_reason
                    .clone()
                    .unwrap_or_default();
                if reason == "EMAIL_ALREADY_EXISTS"
                    && adopt_by_email(engine, operation, management, email).await?
                {
                    return finish_created_account(engine, operation, management).await;
                }
                let reaction = react_to_create_failure(&reason, operation.progress.repeats);
                if matches!(reaction, Reaction::Retry { .. } | Reaction::Defer { .. }) {
                    // A repeat is a new CreateAccount. The engine keeps the phase at Sent (reconcile
                    // first) only for an ambiguous failure such as CONCURRENT_ACCOUNT_MODIFICATION,
                    // which may be our own duplicate.
                    operation.progress.repeats += 1;
                    operation.progress.phase = Phase::Sent;
                    operation.progress.create_status = None;
                }
                return Ok(Outcome::React(
                    reaction,
                    CloudError::service(
                        "CreateAccountStatus",
                        Some(&reason),
                        200,
                        "creation failed",
                    ),
                ));
            }
            _ => return Ok(Outcome::Wait(engine.poll())),
        }
    }
    Ok(Outcome::Wait(engine.poll()))
}

fn record_create_status(operation: &mut Operation, status: &CreateAccountStatus) {
    operation.progress.create_request_id = Some(status.request_id.clone());
    operation.progress.create_status = Some(create_state(status.state).to_owned());
    operation.progress.failure_reason = status.failure_reason.clone();
    if let Some(created) = &status.account_id {
        operation.aws_account_id = Some(created.to_string());
    }
}

/// After a lost CreateAccount: adopts a request with the same name made since the intent, or an
/// account with the same email that joined since the intent.
async fn adopt_created_account(
    engine: &Engine,
    operation: &mut Operation,
    management: &AwsAccountId,
    email: &str,
    account_name: &str,
) -> Result<bool, ProvisioningError> {
    let since = operation.created_at - RECONCILE_SKEW;
    let answer = counted(
        operation,
        engine
            .cloud()
            .list_create_account_statuses(management)
            .await,
    );
    let Ok(statuses) = answer else {
        // Unable to look: stay in Sent so the next step looks again rather than re-sending.
        return Err(ProvisioningError::Unavailable(
            "reconciliation lookup failed".into(),
        ));
    };
    let mut candidates: Vec<&CreateAccountStatus> = statuses
        .iter()
        .filter(|status| status.account_name == account_name && status.requested_at >= since)
        .collect();
    candidates.sort_by_key(|status| std::cmp::Reverse(status.requested_at));
    for status in candidates {
        // A finished request names its account: confirm it carries our email before adopting it.
        if let Some(created) = &status.account_id {
            let described = counted(
                operation,
                engine.cloud().describe_account(management, created).await,
            );
            match described {
                Ok(description) if description.email.eq_ignore_ascii_case(email) => {}
                Ok(_) => continue,
                Err(_) => {
                    return Err(ProvisioningError::Unavailable(
                        "reconciliation lookup failed".into(),
                    ));
                }
            }
        }
        record_create_status(operation, status);
        engine.referenced(operation).await?;
        return Ok(true);
    }
    adopt_by_email(engine, operation, management, email).await
}

/// Adopts an account of the organization with `email` that joined after the intent (a crashed earlier
/// attempt succeeded). No skew here: an account with our email that joined before our intent is
/// someone else's, and erring means asking the customer, which is safe.
async fn adopt_by_email(
    engine: &Engine,
    operation: &mut Operation,
    management: &AwsAccountId,
    email: &str,
) -> Result<bool, ProvisioningError> {
    let since = operation.created_at;
    let answer = counted(operation, engine.cloud().list_accounts(management).await);
    let Ok(accounts) = answer else {
        return Err(ProvisioningError::Unavailable(
            "reconciliation lookup failed".into(),
        ));
    };
    let wanted = email.to_ascii_lowercase();
    let Some(found) = accounts.iter().find(|candidate| {
        candidate.email.to_ascii_lowercase() == wanted
            && candidate.joined_method == JoinedMethod::Created
            && candidate.joined_at >= since
    }) else {
        return Ok(false);
    };
    operation.aws_account_id = Some(found.id.to_string());
    operation.progress.create_status = Some("SUCCEEDED".to_owned());
    operation.progress.failure_reason = None;
    operation.progress.account = Some(account_snapshot(found));
    engine.referenced(operation).await?;
    Ok(true)
}

async fn finish_created_account(
    engine: &Engine,
    operation: &mut Operation,
    management: &AwsAccountId,
) -> StepResult {
    let created = account(operation.aws_account_id.as_deref().unwrap_or_default())?;
    engine
        .remember_owner(operation, created.as_str(), management)
        .await?;
    let answer = counted(
        operation,
        engine.cloud().describe_account(management, &created).await,
    );
    match answer {
        Ok(description) => {
            operation.progress.account = Some(account_snapshot(&description));
            if description.state == AccountState::PendingActivation {
                Ok(Outcome::Wait(engine.poll()))
            } else {
                Ok(Outcome::Succeeded)
            }
        }
        Err(error) => Ok(error_outcome(Api::DescribeAccount, operation, error)),
    }
}

async fn remove_account(
    engine: &Engine,
    operation: &mut Operation,
    management: &AwsAccountId,
    member: &AwsAccountId,
) -> StepResult {
    let answer = counted(
        operation,
        engine.cloud().remove_account(management, member).await,
    );
    if let Err(error) = answer {
        match react(
            Api::RemoveAccount,
            &error,
            operation.progress.transient_attempts,
        ) {
            Reaction::Done => {}
            Reaction::Defer { after, code } if error.has_reason("WAIT_PERIOD_ACTIVE") => {
                // The wait ends 4 days after JoinedTimestamp; then retry daily (domain.md §6.3).
                let joined = counted(
                    operation,
                    engine.cloud().describe_account(management, member).await,
                );
                let after = match joined {
                    Ok(description) => {
                        let ends = description.joined_at + Duration::days(4) - engine.now();
                        ends.max(Duration::minutes(1))
                    }
                    Err(_) => after,
                };
                return Ok(Outcome::React(Reaction::Defer { after, code }, error));
            }
            reaction => return Ok(Outcome::React(reaction, error)),
        }
    }
    operation.progress.account = Some(not_in_organization(member.as_str()));
    Ok(Outcome::Succeeded)
}

async fn close_account(
    engine: &Engine,
    operation: &mut Operation,
    management: &AwsAccountId,
    member: &AwsAccountId,
) -> StepResult {
    if operation.progress.phase != Phase::Referenced {
        let answer = counted(
            operation,
            engine.cloud().close_account(management, member).await,
        );
        if let Err(error) = answer {
            match react(
                Api::CloseAccount,
                &error,
                operation.progress.transient_attempts,
            ) {
                // AccountAlreadyClosedException: a repeat after a lost answer, or closed before.
                Reaction::Done => {}
                // ConflictException: re-read the state and decide.
                Reaction::Reconcile => {}
                reaction => return Ok(Outcome::React(reaction, error)),
            }
        }
        engine.referenced(operation).await?;
    }
    let answer = counted(
        operation,
        engine.cloud().describe_account(management, member).await,
    );
    match answer {
        Ok(description) => {
            operation.progress.account = Some(account_snapshot(&description));
            match description.state {
                AccountState::Suspended | AccountState::Closed => Ok(Outcome::Succeeded),
                AccountState::PendingClosure => Ok(Outcome::Wait(engine.poll())),
                // Still ACTIVE after a conflict: the close did not happen; send it again.
                AccountState::Active | AccountState::PendingActivation => {
                    operation.progress.phase = Phase::Fresh;
                    Ok(Outcome::Wait(engine.poll()))
                }
            }
        }
        Err(error) if error.is("AccountNotFoundException") => Ok(Outcome::React(
            Reaction::Fail {
                code: Some("TNR410"),
            },
            error,
        )),
        Err(error) => Ok(error_outcome(Api::DescribeAccount, operation, error)),
    }
}

async fn invite_account(
    engine: &Engine,
    operation: &mut Operation,
    management: &AwsAccountId,
    target: &AwsAccountId,
    order_id: &str,
) -> StepResult {
    for _ in 0..MAX_TURNS {
        match invitation_turn(
            engine,
            operation,
            management,
            target,
            HandshakeAction::Invite,
        )
        .await?
        {
            Turn::Done(outcome) => return Ok(outcome),
            Turn::Next => {}
            Turn::Send => {
                engine.mark_sent(operation).await?;
                let answer = counted(
                    operation,
                    engine
                        .cloud()
                        .invite_account(management, target, order_id)
                        .await,
                );
                match answer {
                    Ok(handshake) => {
                        engine
                            .remember_owner(operation, &handshake.id, management)
                            .await?;
                        operation.progress.handshake = Some(handshake_snapshot(&handshake));
                        engine.referenced(operation).await?;
                    }
                    Err(error) => {
                        let reaction = react(
                            Api::InviteAccount,
                            &error,
                            operation.progress.transient_attempts,
                        );
                        if reaction != Reaction::Reconcile {
                            return Ok(Outcome::React(reaction, error));
                        }
                        // DuplicateHandshakeException: the invitation exists; adopt it.
                        if !adopt_open_handshake(
                            engine,
                            operation,
                            management,
                            target,
                            HandshakeAction::Invite,
                        )
                        .await?
                        {
                            return Ok(Outcome::React(
                                Reaction::Retry {
                                    backoff: Duration::seconds(5),
                                    ambiguous: false,
                                },
                                error,
                            ));
                        }
                    }
                }
            }
        }
    }
    Ok(Outcome::Wait(engine.poll()))
}

/// Where an invitation (to join, or to take over the bill) stands at the start of a turn.
enum Turn {
    Done(Outcome),
    /// Look again.
    Next,
    /// Nothing was sent, or nothing came of it: send the invitation.
    Send,
}

/// The phases both invitations share. Once AWS answered, the invited account is recorded as the
/// organization's, so calls that later name only the member (DescribeAccount, RemoveAccount) run as
/// the organization that invited it. After a send that may have been lost, the open handshake is
/// adopted, or the invitation is sent again.
async fn invitation_turn(
    engine: &Engine,
    operation: &mut Operation,
    management: &AwsAccountId,
    invited: &AwsAccountId,
    action: HandshakeAction,
) -> Result<Turn, ProvisioningError> {
    match operation.progress.phase {
        Phase::Referenced => {
            engine
                .remember_owner(operation, invited.as_str(), management)
                .await?;
            Ok(Turn::Done(Outcome::Succeeded))
        }
        Phase::Sent => {
            if !adopt_open_handshake(engine, operation, management, invited, action).await? {
                operation.progress.phase = Phase::Fresh;
            }
            Ok(Turn::Next)
        }
        Phase::Fresh => Ok(Turn::Send),
    }
}

/// Adopts an open handshake of `action` to `target` (after a lost invitation, or a duplicate).
async fn adopt_open_handshake(
    engine: &Engine,
    operation: &mut Operation,
    management: &AwsAccountId,
    target: &AwsAccountId,
    action: HandshakeAction,
) -> Result<bool, ProvisioningError> {
    let answer = counted(
        operation,
        engine.cloud().list_handshakes(management, action).await,
    );
    let Ok(handshakes) = answer else {
        return Err(ProvisioningError::Unavailable(
            "reconciliation lookup failed".into(),
        ));
    };
    let Some(found) = handshakes.iter().find(|handshake| {
        handshake.target == *target
            && matches!(
                handshake.state,
                HandshakeState::Requested | HandshakeState::Open
            )
    }) else {
        return Ok(false);
    };
    engine
        .remember_owner(operation, &found.id, management)
        .await?;
    let snapshot = handshake_snapshot(found);
    if let Some(transfer_id) = &found.transfer_id {
        engine
            .remember_owner(operation, transfer_id, management)
            .await?;
        let answer = counted(
            operation,
            engine
                .cloud()
                .describe_billing_transfer(management, transfer_id)
                .await,
        );
        if let Ok(transfer) = answer {
            operation.progress.transfer = Some(transfer_snapshot(&transfer, Some(&snapshot)));
        }
    }
    operation.progress.handshake = Some(snapshot);
    engine.referenced(operation).await?;
    Ok(true)
}

async fn cancel_handshake(
    engine: &Engine,
    operation: &mut Operation,
    management: &AwsAccountId,
    handshake_id: &str,
) -> StepResult {
    let answer = counted(
        operation,
        engine
            .cloud()
            .cancel_handshake(management, handshake_id)
            .await,
    );
    let error = match answer {
        Ok(handshake) => {
            operation.progress.handshake = Some(handshake_snapshot(&handshake));
            return Ok(Outcome::Succeeded);
        }
        Err(error) => error,
    };
    let reaction = react(
        Api::CancelHandshake,
        &error,
        operation.progress.transient_attempts,
    );
    if !matches!(reaction, Reaction::Done | Reaction::Reconcile) {
        return Ok(Outcome::React(reaction, error));
    }
    let answer = counted(
        operation,
        engine
            .cloud()
            .describe_handshake(management, handshake_id)
            .await,
    );
    match answer {
        Ok(handshake) => {
            operation.progress.handshake = Some(handshake_snapshot(&handshake));
            if handshake.state == HandshakeState::Accepted {
                // Too late to cancel: the saga escalates to removal or withdrawal.
                Ok(Outcome::React(Reaction::Fail { code: None }, error))
            } else {
                Ok(Outcome::Succeeded)
            }
        }
        Err(described) => Ok(error_outcome(Api::DescribeHandshake, operation, described)),
    }
}

async fn invite_billing_transfer(
    engine: &Engine,
    operation: &mut Operation,
    management: &AwsAccountId,
    source: &AwsAccountId,
    source_name: &str,
    order_id: &str,
) -> StepResult {
    for _ in 0..MAX_TURNS {
        let action = HandshakeAction::TransferResponsibility;
        match invitation_turn(engine, operation, management, source, action).await? {
            Turn::Done(outcome) => return Ok(outcome),
            Turn::Next => {}
            Turn::Send => {
                let start_at = match operation.progress.requested_date {
                    Some(start) => start,
                    None => {
                        let window = Duration::hours(
                            i64::try_from(engine.settings().billing_transfer_min_acceptance_hours)
                                .unwrap_or(72),
                        );
                        billing::transfer_start(engine.now(), window)
                    }
                };
                operation.progress.requested_date = Some(start_at);
                engine.mark_sent(operation).await?;
                let invitation = TransferInvitation {
                    source_management_account: source.clone(),
                    start_at,
                    source_name: source_name.to_owned(),
                    notes: order_id.to_owned(),
                };
                let answer = counted(
                    operation,
                    engine
                        .cloud()
                        .invite_billing_transfer(management, &invitation)
                        .await,
                );
                match answer {
                    Ok(handshake) => {
                        record_transfer_invitation(
                            engine, operation, management, &handshake, source, start_at,
                        )
                        .await?;
                    }
                    Err(error) => {
                        match react(
                            Api::InviteBillingTransfer,
                            &error,
                            operation.progress.transient_attempts,
                        ) {
                            Reaction::MoveDate if !operation.progress.date_moved => {
                                operation.progress.date_moved = true;
                                operation.progress.requested_date =
                                    Some(billing::next_month_start(start_at));
                                operation.progress.phase = Phase::Fresh;
                            }
                            Reaction::MoveDate => {
                                return Ok(Outcome::React(
                                    Reaction::Fail {
                                        code: Some("TNR902"),
                                    },
                                    error,
                                ));
                            }
                            Reaction::Reconcile => {
                                if !adopt_open_handshake(
                                    engine,
                                    operation,
                                    management,
                                    source,
                                    HandshakeAction::TransferResponsibility,
                                )
                                .await?
                                {
                                    // RESPONSIBILITY_TRANSFER_ALREADY_EXISTS with none of ours: another
                                    // partner holds the bill.
                                    return Ok(Outcome::React(
                                        Reaction::CustomerAction { code: "TNR207" },
                                        error,
                                    ));
                                }
                            }
                            reaction => return Ok(Outcome::React(reaction, error)),
                        }
                    }
                }
            }
        }
    }
    Ok(Outcome::Wait(engine.poll()))
}

async fn record_transfer_invitation(
    engine: &Engine,
    operation: &mut Operation,
    management: &AwsAccountId,
    handshake: &Handshake,
    source: &AwsAccountId,
    start_at: DateTime<Utc>,
) -> Result<(), ProvisioningError> {
    let snapshot = handshake_snapshot(handshake);
    engine
        .remember_owner(operation, &handshake.id, management)
        .await?;
    if let Some(transfer_id) = &handshake.transfer_id {
        engine
            .remember_owner(operation, transfer_id, management)
            .await?;
        operation.progress.transfer = Some(TransferSnapshot {
            id: transfer_id.clone(),
            handshake_id: Some(handshake.id.clone()),
            status: "REQUESTED".to_owned(),
            source: source.to_string(),
            start_at,
            expires_at: Some(handshake.expires_at),
            end_at: None,
        });
    }
    operation.progress.handshake = Some(snapshot);
    engine.referenced(operation).await
}

async fn deploy_bootstrap_stack(
    engine: &Engine,
    operation: &mut Operation,
    holder: &AwsAccountId,
) -> StepResult {
    if operation.progress.phase != Phase::Referenced {
        let token = operation.aws_token("create-stack");
        let answer = counted(
            operation,
            engine
                .cloud()
                .create_stack(holder, &bootstrap_stack(), &token)
                .await,
        );
        let stack_id = match answer {
            Ok(stack_id) => Some(stack_id),
            Err(error) => match react(
                Api::CreateStack,
                &error,
                operation.progress.transient_attempts,
            ) {
                // TokenAlreadyExistsException: our own request; AlreadyExistsException: adopt if Tenure's.
                Reaction::Done | Reaction::Reconcile => {
                    let answer = counted(
                        operation,
                        engine
                            .cloud()
                            .describe_stack(holder, BOOTSTRAP_STACK_NAME)
                            .await,
                    );
                    match answer {
                        Ok(Some(found)) if is_tenure_owned(&found.tags) => Some(found.stack_id),
                        Ok(_) => return Ok(Outcome::React(Reaction::Fail { code: None }, error)),
                        Err(described) => {
                            return Ok(error_outcome(Api::DescribeStack, operation, described));
                        }
                    }
                }
                reaction => return Ok(Outcome::React(reaction, error)),
            },
        };
        operation.progress.stack = Some(StackSnapshot {
            name: BOOTSTRAP_STACK_NAME.to_owned(),
            stack_id,
            status: "CREATE_IN_PROGRESS".to_owned(),
            account: holder.to_string(),
        });
        engine.referenced(operation).await?;
    }
    let name_or_id = operation
        .progress
        .stack
        .as_ref()
        .and_then(|stack| stack.stack_id.clone())
        .unwrap_or_else(|| BOOTSTRAP_STACK_NAME.to_owned());
    let answer = counted(
        operation,
        engine.cloud().describe_stack(holder, &name_or_id).await,
    );
    match answer {
        Ok(Some(found)) => {
            let status = found.status.clone();
            if let Some(stack) = &mut operation.progress.stack {
                stack.status = status.clone();
                stack.stack_id = Some(found.stack_id);
            }
            match status.as_str() {
                "CREATE_COMPLETE" | "UPDATE_COMPLETE" => Ok(Outcome::Succeeded),
                _ if status.ends_with("_IN_PROGRESS") => Ok(Outcome::Wait(engine.poll())),
                _ => Ok(Outcome::React(
                    Reaction::Fail { code: None },
                    CloudError::service(&status, None, 200, "the stack did not complete"),
                )),
            }
        }
        // Not visible yet (eventual consistency): send the same token again on the next step.
        Ok(None) => {
            operation.progress.phase = Phase::Fresh;
            Ok(Outcome::Wait(engine.poll()))
        }
        Err(error) => Ok(error_outcome(Api::DescribeStack, operation, error)),
    }
}

async fn delete_bootstrap_stack(
    engine: &Engine,
    operation: &mut Operation,
    holder: &AwsAccountId,
) -> StepResult {
    if operation.progress.phase != Phase::Referenced {
        let found = counted(
            operation,
            engine
                .cloud()
                .describe_stack(holder, BOOTSTRAP_STACK_NAME)
                .await,
        );
        let stack_id = match found {
            Ok(Some(found)) => Some(found.stack_id),
            Ok(None) => None,
            Err(error) => return Ok(error_outcome(Api::DescribeStack, operation, error)),
        };
        operation.progress.stack = Some(StackSnapshot {
            name: BOOTSTRAP_STACK_NAME.to_owned(),
            stack_id: stack_id.clone(),
            status: "DELETE_IN_PROGRESS".to_owned(),
            account: holder.to_string(),
        });
        let Some(stack_id) = stack_id else {
            if let Some(stack) = &mut operation.progress.stack {
                stack.status = "DELETE_COMPLETE".to_owned();
            }
            return Ok(Outcome::Succeeded);
        };
        let token = operation.aws_token("delete-stack");
        let answer = counted(
            operation,
            engine
                .cloud()
                .delete_stack(holder, &stack_id, &token, StackDeletion::Standard)
                .await,
        );
        if let Err(error) = answer {
            return Ok(error_outcome(Api::DeleteStack, operation, error));
        }
        engine.referenced(operation).await?;
    }
    let stack_id = operation
        .progress
        .stack
        .as_ref()
        .and_then(|stack| stack.stack_id.clone())
        .unwrap_or_else(|| BOOTSTRAP_STACK_NAME.to_owned());
    let answer = counted(
        operation,
        engine.cloud().describe_stack(holder, &stack_id).await,
    );
    let status = match answer {
        Ok(Some(found)) => found.status,
        Ok(None) => "DELETE_COMPLETE".to_owned(),
        Err(error) => return Ok(error_outcome(Api::DescribeStack, operation, error)),
    };
    if let Some(stack) = &mut operation.progress.stack {
        stack.status = status.clone();
    }
    match status.as_str() {
        "DELETE_COMPLETE" => Ok(Outcome::Succeeded),
        "DELETE_IN_PROGRESS" => Ok(Outcome::Wait(engine.poll())),
        // A resource would not go (domain.md §6.3): force once, keeping what cannot be deleted; a
        // forced deletion that fails too is for operations.
        "DELETE_FAILED" if !operation.progress.force_deleted => {
            let token = operation.aws_token("force-delete-stack");
            let answer = counted(
                operation,
                engine
                    .cloud()
                    .delete_stack(holder, &stack_id, &token, StackDeletion::Force)
                    .await,
            );
            if let Err(error) = answer {
                return Ok(error_outcome(Api::DeleteStack, operation, error));
            }
            operation.progress.force_deleted = true;
            Ok(Outcome::Wait(engine.poll()))
        }
        _ => Ok(Outcome::React(
            Reaction::Fail { code: None },
            CloudError::service(&status, None, 200, "the stack was not deleted"),
        )),
    }
}

fn stack_set_snapshot(stack_set_id: Option<String>) -> StackSetSnapshot {
    StackSetSnapshot {
        name: ESSENTIALS_STACK_SET_NAME.to_owned(),
        stack_set_id,
        operation_id: None,
        operation_status: None,
        accounts: Vec::new(),
    }
}

async fn create_stack_set(
    engine: &Engine,
    operation: &mut Operation,
    management: &AwsAccountId,
) -> StepResult {
    let token = operation.aws_token("create-stack-set");
    let answer = counted(
        operation,
        engine
            .cloud()
            .create_stack_set(management, &essentials_stack_set(), &token)
            .await,
    );
    let stack_set_id = match answer {
        Ok(id) => id,
        Err(error) => match react(
            Api::CreateStackSet,
            &error,
            operation.progress.transient_attempts,
        ) {
            Reaction::Reconcile => {
                let answer = counted(
                    operation,
                    engine
                        .cloud()
                        .describe_stack_set(management, ESSENTIALS_STACK_SET_NAME)
                        .await,
                );
                match answer {
                    Ok(Some(found)) if is_tenure_owned(&found.tags) => found.stack_set_id,
                    Ok(_) => return Ok(Outcome::React(Reaction::Fail { code: None }, error)),
                    Err(described) => return Ok(error_outcome(Api::List, operation, described)),
                }
            }
            reaction => return Ok(Outcome::React(reaction, error)),
        },
    };
    operation.progress.stack_set = Some(stack_set_snapshot(Some(stack_set_id)));
    Ok(Outcome::Succeeded)
}

async fn delete_stack_set(
    engine: &Engine,
    operation: &mut Operation,
    management: &AwsAccountId,
) -> StepResult {
    let answer = counted(
        operation,
        engine
            .cloud()
            .delete_stack_set(management, ESSENTIALS_STACK_SET_NAME)
            .await,
    );
    if let Err(error) = answer {
        match react(
            Api::DeleteStackSet,
            &error,
            operation.progress.transient_attempts,
        ) {
            Reaction::Done => {}
            reaction => return Ok(Outcome::React(reaction, error)),
        }
    }
    operation.progress.stack_set = Some(stack_set_snapshot(None));
    Ok(Outcome::Succeeded)
}

/// CreateStackInstances (`retain` = None) or DeleteStackInstances, then the StackSet operation until it
/// ends. The OperationId derives from the idempotency key, so a repeat names the same operation; the
/// one retaining repeat of a deletion that left instances INOPERABLE derives its own the same way.
async fn stack_instances(
    engine: &Engine,
    operation: &mut Operation,
    management: &AwsAccountId,
    targets: &InstanceTargets,
    retain: Option<bool>,
) -> StepResult {
    let api = if retain.is_some() {
        Api::DeleteStackInstances
    } else {
        Api::CreateStackInstances
    };
    for _ in 0..MAX_TURNS {
        let retaining = operation.progress.retained_inoperable;
        let operation_id = operation.aws_token(if retaining {
            "stack-instances-retain"
        } else {
            "stack-instances"
        });
        if operation.progress.phase != Phase::Referenced {
            let answer = match retain {
                None => {
                    engine
                        .cloud()
                        .create_stack_instances(
                            management,
                            ESSENTIALS_STACK_SET_NAME,
                            targets,
                            &operation_id,
                        )
                        .await
                }
                Some(retain_stacks) => {
                    engine
                        .cloud()
                        .delete_stack_instances(
                            management,
                            ESSENTIALS_STACK_SET_NAME,
                            targets,
                            retain_stacks || retaining,
                            &operation_id,
                        )
                        .await
                }
            };
            let answer = counted(operation, answer);
            let aws_operation_id = match answer {
                Ok(id) => id,
                Err(error) => match react(api, &error, operation.progress.transient_attempts) {
                    // OperationIdAlreadyExistsException: ours; poll it.
                    Reaction::Done if error.is("OperationIdAlreadyExistsException") => {
                        operation_id.clone()
                    }
                    // StackSetNotFoundException on a delete: nothing left to delete.
                    Reaction::Done => {
                        operation.progress.stack_set = Some(stack_set_snapshot(None));
                        return Ok(Outcome::Succeeded);
                    }
                    Reaction::Reconcile => {
                        return Ok(Outcome::React(
                            Reaction::Retry {
                                backoff: Duration::seconds(5),
                                ambiguous: false,
                            },
                            error,
                        ));
                    }
                    reaction => return Ok(Outcome::React(reaction, error)),
                },
            };
            let mut snapshot = stack_set_snapshot(None);
            snapshot.operation_id = Some(aws_operation_id);
            snapshot.operation_status = Some("QUEUED".to_owned());
            snapshot.accounts = targets.accounts.iter().map(ToString::to_string).collect();
            operation.progress.stack_set = Some(snapshot);
            engine.referenced(operation).await?;
        }
        // Poll the id AWS answered with: AWS echoes ours, but an emulator may assign its own, and the
        // answer is the authority on which operation runs.
        let polled_id = operation
            .progress
            .stack_set
            .as_ref()
            .and_then(|snapshot| snapshot.operation_id.clone())
            .unwrap_or_else(|| operation_id.clone());
        let answer = counted(
            operation,
            engine
                .cloud()
                .describe_stack_set_operation(management, ESSENTIALS_STACK_SET_NAME, &polled_id)
                .await,
        );
        let status = match answer {
            Ok(status) => status,
            Err(error) => {
                let reaction = react(
                    Api::DescribeStackSetOperation,
                    &error,
                    operation.progress.transient_attempts,
                );
                if reaction == Reaction::Reconcile {
                    // OperationNotFoundException: the call never landed; repeat it with the same id.
                    operation.progress.phase = Phase::Fresh;
                    continue;
                }
                return Ok(Outcome::React(reaction, error));
            }
        };
        if let Some(snapshot) = &mut operation.progress.stack_set {
            snapshot.operation_status = Some(operation_status(status).to_owned());
        }
        if retain.is_some() && status.is_terminal() {
            // What the instances were left in, not only the operation's status, decides (domain.md
            // §6.3, T4).
            let left = counted(
                operation,
                engine
                    .cloud()
                    .list_stack_instances(management, ESSENTIALS_STACK_SET_NAME)
                    .await,
            );
            let instances = match left {
                Ok(instances) => instances,
                Err(error) => return Ok(error_outcome(Api::List, operation, error)),
            };
            let failed = matches!(
                status,
                StackSetOperationStatus::Failed | StackSetOperationStatus::Stopped
            );
            let targeted = instances.iter().filter(|instance| {
                targets.accounts.contains(&instance.account)
                    && targets.regions.contains(&instance.region)
            });
            match judge_left_instances(
                failed,
                retaining,
                targeted.map(|instance| instance.detailed_status.as_str()),
            ) {
                LeftInstances::Settled => {}
                LeftInstances::Retain => {
                    operation.progress.retained_inoperable = true;
                    operation.progress.phase = Phase::Fresh;
                    continue;
                }
                LeftInstances::Operations(left_status) => {
                    return Ok(Outcome::React(
                        Reaction::Fail {
                            code: Some("TNR408"),
                        },
                        CloudError::service(
                            left_status,
                            None,
                            200,
                            "stack instances are left that only operations can remove",
                        ),
                    ));
                }
            }
        }
        return Ok(match status {
            StackSetOperationStatus::Succeeded => Outcome::Succeeded,
            StackSetOperationStatus::Failed | StackSetOperationStatus::Stopped => Outcome::React(
                Reaction::Fail { code: None },
                CloudError::service(operation_status(status), None, 200, "the operation ended"),
            ),
            _ => Outcome::Wait(engine.poll()),
        });
    }
    Ok(Outcome::Wait(engine.poll()))
}
