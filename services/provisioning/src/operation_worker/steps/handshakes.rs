//! Handshake steps: the invitation to join an organization, the invitation to take over the bill
//! (which AWS also sends as a handshake), their reconciliation after a lost call, and cancellation.
//! Ending an accepted transfer is in `transfer_end`.

use chrono::{DateTime, Duration, Utc};
use tenure_domain::AwsAccountId;

use super::{
    MAX_TURNS, OperationWorker, Outcome, StepResult, counted, error_outcome, lookup_failed,
};
use crate::domain::billing;
use crate::domain::cloud::{
    BillingTransfer, Handshake, HandshakeAction, HandshakeState, TransferInvitation, TransferStatus,
};
use crate::domain::error::ProvisioningError;
use crate::domain::operation::{HandshakeSnapshot, Operation, Phase, TransferSnapshot};
use crate::domain::reaction::{Api, Reaction, react};

pub(crate) fn handshake_snapshot(handshake: &Handshake) -> HandshakeSnapshot {
    HandshakeSnapshot {
        id: handshake.id.clone(),
        action: handshake.action,
        state: handshake.state,
        target: handshake.target.clone(),
        requested_at: handshake.requested_at,
        expires_at: handshake.expires_at,
        transfer_id: handshake.transfer_id.clone(),
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
        status: transfer.status,
        source: transfer.source_management_account.clone(),
        start_at: transfer.start_at,
        expires_at: handshake.map(|handshake| handshake.expires_at),
        end_at: transfer.end_at,
    }
}

pub(super) async fn invite_account(
    engine: &OperationWorker,
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
    engine: &OperationWorker,
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
    engine: &OperationWorker,
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
        return Err(lookup_failed());
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

pub(super) async fn cancel_handshake(
    engine: &OperationWorker,
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

pub(super) async fn invite_billing_transfer(
    engine: &OperationWorker,
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
    engine: &OperationWorker,
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
            status: TransferStatus::Requested,
            source: source.clone(),
            start_at,
            expires_at: Some(handshake.expires_at),
            end_at: None,
        });
    }
    operation.progress.handshake = Some(snapshot);
    engine.referenced(operation).await
}
