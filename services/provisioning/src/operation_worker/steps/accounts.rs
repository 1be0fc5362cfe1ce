//! Account steps: CreateAccount and its reconciliation after a lost call, RemoveAccount and
//! CloseAccount, and how AWS's account descriptions are recorded on the operation.

use chrono::Duration;
use tenure_domain::AwsAccountId;

use super::{
    MAX_TURNS, OperationWorker, Outcome, RECONCILE_SKEW, StepResult, counted, error_outcome,
    lookup_failed,
};
use crate::domain::aws_values::AwsAccountState;
use crate::domain::cloud::{
    AccountDescription, AccountState, CloudError, CreateAccountState, CreateAccountStatus,
    JoinedMethod,
};
use crate::domain::error::ProvisioningError;
use crate::domain::operation::{AccountSnapshot, Operation, Phase};
use crate::domain::reaction::{Api, Reaction, react, react_to_create_failure};

pub(crate) fn account_snapshot(description: &AccountDescription) -> AccountSnapshot {
    AccountSnapshot {
        account_id: description.id.clone(),
        state: description.state.into(),
        joined_method: Some(description.joined_method),
        joined_at: Some(description.joined_at),
    }
}

pub(crate) fn not_in_organization(account_id: &AwsAccountId) -> AccountSnapshot {
    AccountSnapshot {
        account_id: account_id.clone(),
        state: AwsAccountState::NotInOrganization,
        joined_method: None,
        joined_at: None,
    }
}

pub(super) async fn create_account(
    engine: &OperationWorker,
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
        if operation.progress.create_status == Some(CreateAccountState::InProgress) {
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
        match operation.progress.create_status {
            Some(CreateAccountState::Succeeded) => {
                return finish_created_account(engine, operation, management).await;
            }
            Some(CreateAccountState::Failed) => {
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
            Some(CreateAccountState::InProgress) | None => {
                return Ok(Outcome::Wait(engine.poll()));
            }
        }
    }
    Ok(Outcome::Wait(engine.poll()))
}

fn record_create_status(operation: &mut Operation, status: &CreateAccountStatus) {
    operation.progress.create_request_id = Some(status.request_id.clone());
    operation.progress.create_status = Some(status.state);
    operation.progress.failure_reason = status.failure_reason.clone();
    if let Some(created) = &status.account_id {
        operation.aws_account_id = Some(created.clone());
    }
}

/// After a lost CreateAccount: adopts a request with the same name made since the intent, or an
/// account with the same email that joined since the intent.
async fn adopt_created_account(
    engine: &OperationWorker,
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
        return Err(lookup_failed());
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
                    return Err(lookup_failed());
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
    engine: &OperationWorker,
    operation: &mut Operation,
    management: &AwsAccountId,
    email: &str,
) -> Result<bool, ProvisioningError> {
    let since = operation.created_at;
    let answer = counted(operation, engine.cloud().list_accounts(management).await);
    let Ok(accounts) = answer else {
        return Err(lookup_failed());
    };
    let wanted = email.to_ascii_lowercase();
    let Some(found) = accounts.iter().find(|candidate| {
        candidate.email.to_ascii_lowercase() == wanted
            && candidate.joined_method == JoinedMethod::Created
            && candidate.joined_at >= since
    }) else {
        return Ok(false);
    };
    operation.aws_account_id = Some(found.id.clone());
    operation.progress.create_status = Some(CreateAccountState::Succeeded);
    operation.progress.failure_reason = None;
    operation.progress.account = Some(account_snapshot(found));
    engine.referenced(operation).await?;
    Ok(true)
}

async fn finish_created_account(
    engine: &OperationWorker,
    operation: &mut Operation,
    management: &AwsAccountId,
) -> StepResult {
    let created = operation
        .aws_account_id
        .clone()
        .ok_or_else(|| ProvisioningError::internal("stored account id"))?;
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

pub(super) async fn remove_account(
    engine: &OperationWorker,
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
    operation.progress.account = Some(not_in_organization(member));
    Ok(Outcome::Succeeded)
}

pub(super) async fn close_account(
    engine: &OperationWorker,
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
