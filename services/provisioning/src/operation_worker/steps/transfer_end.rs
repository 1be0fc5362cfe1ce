//! Ending an accepted billing transfer (TerminateResponsibilityTransfer), for EndBillingTransfer and for
//! the withdrawal of a transfer the customer accepted meanwhile.
//!
//! AWS ends a transfer at the last millisecond of a month, and starts one on the 1st of a month, so a
//! transfer accepted in December for 1 January and ended in December ends before it starts: it never
//! moved the bill. Both backends report such a transfer WITHDRAWN with its end at its start (zero
//! length), never an end before the start, and the engine never moves its end past the start on its own.

use chrono::{DateTime, Duration, Utc};
use tenure_domain::AwsAccountId;

use super::{OperationWorker, Outcome, StepResult, counted, error_outcome, transfer_snapshot};
use crate::domain::billing;
use crate::domain::cloud::{BillingTransfer, CloudError, TransferStatus};
use crate::domain::error::ProvisioningError;
use crate::domain::operation::{Operation, TransferSnapshot};
use crate::domain::reaction::{Api, Reaction, react};

/// The transfer as the operation reports it once ended: an end AWS reports before the start is the
/// start itself (see [`billing::reported_end`]).
fn ended_snapshot(transfer: &BillingTransfer) -> TransferSnapshot {
    let mut snapshot = transfer_snapshot(transfer, None);
    snapshot.end_at = transfer
        .end_at
        .map(|end_at| billing::reported_end(transfer.start_at, end_at));
    snapshot
}

/// The transfer's start: from what the operation already read, or from DescribeResponsibilityTransfer.
async fn start_of(
    engine: &OperationWorker,
    operation: &mut Operation,
    management: &AwsAccountId,
    transfer_id: &str,
) -> Result<DateTime<Utc>, Outcome> {
    if let Some(known) = operation
        .progress
        .transfer
        .as_ref()
        .filter(|known| known.id == transfer_id)
    {
        return Ok(known.start_at);
    }
    let answer = counted(
        operation,
        engine
            .cloud()
            .describe_billing_transfer(management, transfer_id)
            .await,
    );
    match answer {
        Ok(transfer) => {
            operation.progress.transfer = Some(transfer_snapshot(&transfer, None));
            Ok(transfer.start_at)
        }
        Err(error) => Err(error_outcome(
            Api::DescribeBillingTransfer,
            operation,
            error,
        )),
    }
}

/// TerminateResponsibilityTransfer at the end of the current month, the earliest end AWS accepts and,
/// for a transfer that has not started, one before its start. `Ok(None)` when the transfer ended.
///
/// AWS documents END_DATE_TOO_EARLY only as "too early for the transfer to end", and domain.md §6.3
/// answers it by moving the end to the next month's end, once: right when the month turned between
/// computing the end and AWS reading it. That stays AWS-faithful only where the move bills nothing the
/// customer did not already incur: a transfer that started (it bills either way), or one whose start
/// still lies after the moved end. For a transfer that has not started and whose start the moved end
/// would pass, the refusal means AWS will not end it before it starts (or, in a month's last instant,
/// that AWS's clock already passed the start); moving would silently bill the month the customer
/// withdrew before, so the operation stops for operations instead (TNR902), who settle the end with
/// AWS. An end AWS accepts before the start is reported as the start.
async fn terminate(
    engine: &OperationWorker,
    operation: &mut Operation,
    management: &AwsAccountId,
    transfer_id: &str,
) -> Result<Option<Outcome>, ProvisioningError> {
    for _ in 0..2 {
        let end_at = operation
            .progress
            .requested_date
            .unwrap_or_else(|| billing::end_of_month(engine.now()));
        operation.progress.requested_date = Some(end_at);
        let answer = counted(
            operation,
            engine
                .cloud()
                .terminate_billing_transfer(management, transfer_id, end_at)
                .await,
        );
        let error = match answer {
            Ok(transfer) => {
                operation.progress.transfer = Some(ended_snapshot(&transfer));
                return Ok(None);
            }
            Err(error) => error,
        };
        match react(
            Api::TerminateBillingTransfer,
            &error,
            operation.progress.transient_attempts,
        ) {
            Reaction::MoveDate if !operation.progress.date_moved => {
                let moved = billing::next_month_end(end_at);
                let start_at = match start_of(engine, operation, management, transfer_id).await {
                    Ok(start_at) => start_at,
                    Err(outcome) => return Ok(Some(outcome)),
                };
                if !billing::may_move_end(start_at, moved, engine.now()) {
                    return Ok(Some(Outcome::React(
                        Reaction::Fail {
                            code: Some("TNR902"),
                        },
                        error,
                    )));
                }
                operation.progress.date_moved = true;
                operation.progress.requested_date = Some(moved);
            }
            Reaction::Done | Reaction::Reconcile => {
                let answer = counted(
                    operation,
                    engine
                        .cloud()
                        .describe_billing_transfer(management, transfer_id)
                        .await,
                );
                return match answer {
                    Ok(transfer) => {
                        let withdrawn = transfer.status == TransferStatus::Withdrawn;
                        operation.progress.transfer = Some(ended_snapshot(&transfer));
                        if withdrawn {
                            Ok(None)
                        } else {
                            Ok(Some(Outcome::React(Reaction::Fail { code: None }, error)))
                        }
                    }
                    Err(described) => Ok(Some(error_outcome(
                        Api::DescribeBillingTransfer,
                        operation,
                        described,
                    ))),
                };
            }
            reaction => return Ok(Some(Outcome::React(reaction, error))),
        }
    }
    Ok(Some(Outcome::React(
        Reaction::Fail {
            code: Some("TNR903"),
        },
        CloudError::service(
            "InvalidInputException",
            Some("END_DATE_TOO_EARLY"),
            400,
            "twice",
        ),
    )))
}

pub(super) async fn end_billing_transfer(
    engine: &OperationWorker,
    operation: &mut Operation,
    management: &AwsAccountId,
    transfer_id: &str,
) -> StepResult {
    match terminate(engine, operation, management, transfer_id).await? {
        None => Ok(Outcome::Succeeded),
        Some(outcome) => Ok(outcome),
    }
}

pub(super) async fn withdraw_billing_transfer(
    engine: &OperationWorker,
    operation: &mut Operation,
    management: &AwsAccountId,
    transfer_id: &str,
) -> StepResult {
    let answer = counted(
        operation,
        engine
            .cloud()
            .describe_billing_transfer(management, transfer_id)
            .await,
    );
    let transfer = match answer {
        Ok(transfer) => transfer,
        Err(error) => {
            return Ok(error_outcome(
                Api::DescribeBillingTransfer,
                operation,
                error,
            ));
        }
    };
    operation.progress.transfer = Some(transfer_snapshot(&transfer, None));
    match transfer.status {
        TransferStatus::Requested => {
            operation.progress.withdraw_by = Some("CancelHandshake".to_owned());
            let handshake_id = transfer.active_handshake_id.clone().unwrap_or_default();
            let answer = counted(
                operation,
                engine
                    .cloud()
                    .cancel_handshake(management, &handshake_id)
                    .await,
            );
            if let Err(error) = answer {
                let reaction = react(
                    Api::CancelHandshake,
                    &error,
                    operation.progress.transient_attempts,
                );
                if !matches!(reaction, Reaction::Done | Reaction::Reconcile) {
                    return Ok(Outcome::React(reaction, error));
                }
                // The customer answered meanwhile: look again on the next step.
                return Ok(Outcome::Wait(Duration::zero()));
            }
            let answer = counted(
                operation,
                engine
                    .cloud()
                    .describe_billing_transfer(management, transfer_id)
                    .await,
            );
            if let Ok(transfer) = answer {
                operation.progress.transfer = Some(transfer_snapshot(&transfer, None));
            }
            Ok(Outcome::Succeeded)
        }
        TransferStatus::Accepted => {
            operation.progress.withdraw_by = Some("TerminateResponsibilityTransfer".to_owned());
            end_billing_transfer(engine, operation, management, transfer_id).await
        }
        // Nothing left to withdraw.
        TransferStatus::Declined
        | TransferStatus::Canceled
        | TransferStatus::Expired
        | TransferStatus::Withdrawn => Ok(Outcome::Succeeded),
    }
}
