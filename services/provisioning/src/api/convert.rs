//! Proto ↔ domain conversions.

use chrono::{DateTime, Utc};
use prost_types::Timestamp;
use tenure_proto::provisioning::v1 as pb;

use crate::domain::billing;
use crate::domain::operation::{
    AccountSnapshot, HandshakeSnapshot, Operation, OperationKind, OperationState, StackSnapshot,
    TransferSnapshot,
};

pub(crate) fn timestamp(at: DateTime<Utc>) -> Timestamp {
    Timestamp {
        seconds: at.timestamp(),
        nanos: i32::try_from(at.timestamp_subsec_nanos()).unwrap_or_default(),
    }
}

pub(crate) fn kind_to_pb(kind: OperationKind) -> pb::OperationKind {
    match kind {
        OperationKind::CreateAccount => pb::OperationKind::CreateAccount,
        OperationKind::RemoveAccount => pb::OperationKind::RemoveAccount,
        OperationKind::CloseAccount => pb::OperationKind::CloseAccount,
        OperationKind::InviteAccount => pb::OperationKind::InviteAccount,
        OperationKind::CancelHandshake => pb::OperationKind::CancelHandshake,
        OperationKind::InviteBillingTransfer => pb::OperationKind::InviteBillingTransfer,
        OperationKind::EndBillingTransfer => pb::OperationKind::EndBillingTransfer,
        OperationKind::WithdrawBillingTransfer => pb::OperationKind::WithdrawBillingTransfer,
        OperationKind::DeployBootstrapStack => pb::OperationKind::DeployBootstrapStack,
        OperationKind::DeleteBootstrapStack => pb::OperationKind::DeleteBootstrapStack,
        OperationKind::CreateStackSet => pb::OperationKind::CreateStackSet,
        OperationKind::DeleteStackSet => pb::OperationKind::DeleteStackSet,
        OperationKind::CreateStackInstances => pb::OperationKind::CreateStackInstances,
        OperationKind::DeleteStackInstances => pb::OperationKind::DeleteStackInstances,
    }
}

/// The domain kind of a proto kind; `None` for UNSPECIFIED.
pub(crate) fn kind_from_pb(kind: pb::OperationKind) -> Option<OperationKind> {
    OperationKind::ALL
        .into_iter()
        .find(|candidate| kind_to_pb(*candidate) == kind)
}

pub(crate) fn state_to_pb(state: OperationState) -> pb::OperationState {
    match state {
        OperationState::InProgress => pb::OperationState::InProgress,
        OperationState::Succeeded => pb::OperationState::Succeeded,
        OperationState::Failed => pb::OperationState::Failed,
        OperationState::CustomerActionRequired => pb::OperationState::CustomerActionRequired,
        OperationState::Deferred => pb::OperationState::Deferred,
    }
}

/// The domain state of a proto state; `None` for UNSPECIFIED.
pub(crate) fn state_from_pb(state: pb::OperationState) -> Option<OperationState> {
    OperationState::ALL
        .into_iter()
        .find(|candidate| state_to_pb(*candidate) == state)
}

pub(crate) fn account_to_pb(account: &AccountSnapshot) -> pb::AccountResult {
    let state = match account.state.as_str() {
        "PENDING_ACTIVATION" => pb::AwsAccountState::PendingActivation,
        "ACTIVE" => pb::AwsAccountState::Active,
        "PENDING_CLOSURE" => pb::AwsAccountState::PendingClosure,
        "SUSPENDED" => pb::AwsAccountState::Suspended,
        "CLOSED" => pb::AwsAccountState::Closed,
        _ => pb::AwsAccountState::NotInOrganization,
    };
    pb::AccountResult {
        aws_account_id: account.account_id.clone(),
        state: state.into(),
        joined_method: account.joined_method.clone().unwrap_or_default(),
        joined_at: account.joined_at.map(timestamp),
    }
}

pub(crate) fn handshake_to_pb(handshake: &HandshakeSnapshot) -> pb::Handshake {
    let state = match handshake.state.as_str() {
        "OPEN" => pb::HandshakeState::Open,
        "ACCEPTED" => pb::HandshakeState::Accepted,
        "DECLINED" => pb::HandshakeState::Declined,
        "CANCELED" => pb::HandshakeState::Canceled,
        "EXPIRED" => pb::HandshakeState::Expired,
        _ => pb::HandshakeState::Requested,
    };
    let action = if handshake.action == "INVITE" {
        pb::HandshakeAction::Invite
    } else {
        pb::HandshakeAction::TransferResponsibility
    };
    pb::Handshake {
        id: handshake.id.clone(),
        state: state.into(),
        action: action.into(),
        target_account_id: handshake.target.clone(),
        requested_at: Some(timestamp(handshake.requested_at)),
        expires_at: Some(timestamp(handshake.expires_at)),
    }
}

pub(crate) fn transfer_to_pb(transfer: &TransferSnapshot) -> pb::BillingTransfer {
    let status = match transfer.status.as_str() {
        "ACCEPTED" => pb::BillingTransferStatus::Accepted,
        "DECLINED" => pb::BillingTransferStatus::Declined,
        "CANCELED" => pb::BillingTransferStatus::Canceled,
        "EXPIRED" => pb::BillingTransferStatus::Expired,
        "WITHDRAWN" => pb::BillingTransferStatus::Withdrawn,
        _ => pb::BillingTransferStatus::Requested,
    };
    pb::BillingTransfer {
        id: transfer.id.clone(),
        handshake_id: transfer.handshake_id.clone().unwrap_or_default(),
        status: status.into(),
        source_management_account_id: transfer.source.clone(),
        start_at: Some(timestamp(transfer.start_at)),
        accept_by: Some(timestamp(billing::accept_by(transfer.start_at))),
        expires_at: transfer.expires_at.map(timestamp),
        end_at: transfer.end_at.map(timestamp),
    }
}

pub(crate) fn stack_to_pb(stack: &StackSnapshot) -> pb::Stack {
    pb::Stack {
        name: stack.name.clone(),
        stack_id: stack.stack_id.clone().unwrap_or_default(),
        status: stack.status.clone(),
        aws_account_id: stack.account.clone(),
    }
}

fn result(operation: &Operation) -> Option<pb::operation::Result> {
    use pb::operation::Result as R;
    let progress = &operation.progress;
    match operation.kind() {
        OperationKind::CreateAccount => {
            let request_id = progress.create_request_id.clone()?;
            Some(R::CreateAccount(pb::CreateAccountResult {
                request_id,
                status: progress.create_status.clone().unwrap_or_default(),
                aws_account_id: operation.aws_account_id.clone().unwrap_or_default(),
                failure_reason: progress.failure_reason.clone().unwrap_or_default(),
            }))
        }
        OperationKind::RemoveAccount | OperationKind::CloseAccount => progress
            .account
            .as_ref()
            .map(|account| R::Account(account_to_pb(account))),
        OperationKind::InviteAccount | OperationKind::CancelHandshake => progress
            .handshake
            .as_ref()
            .map(|handshake| R::Handshake(handshake_to_pb(handshake))),
        OperationKind::InviteBillingTransfer
        | OperationKind::EndBillingTransfer
        | OperationKind::WithdrawBillingTransfer => progress
            .transfer
            .as_ref()
            .map(|transfer| R::BillingTransfer(transfer_to_pb(transfer))),
        OperationKind::DeployBootstrapStack | OperationKind::DeleteBootstrapStack => progress
            .stack
            .as_ref()
            .map(|stack| R::Stack(stack_to_pb(stack))),
        OperationKind::CreateStackSet
        | OperationKind::DeleteStackSet
        | OperationKind::CreateStackInstances
        | OperationKind::DeleteStackInstances => progress.stack_set.as_ref().map(|set| {
            R::StackSet(pb::StackSetResult {
                name: set.name.clone(),
                stack_set_id: set.stack_set_id.clone().unwrap_or_default(),
                operation_id: set.operation_id.clone().unwrap_or_default(),
                operation_status: set.operation_status.clone().unwrap_or_default(),
                aws_account_ids: set.accounts.clone(),
            })
        }),
    }
}

pub(crate) fn operation_to_pb(operation: &Operation) -> pb::Operation {
    let retry_after = match (operation.state, operation.next_check_at) {
        (OperationState::Deferred, Some(next)) => prost_types::Duration::try_from(
            (next - operation.updated_at)
                .max(chrono::Duration::zero())
                .to_std()
                .unwrap_or_default(),
        )
        .ok(),
        _ => None,
    };
    pb::Operation {
        id: operation.id.to_string(),
        kind: kind_to_pb(operation.kind()).into(),
        state: state_to_pb(operation.state).into(),
        aws_account_id: operation.aws_account_id.clone().unwrap_or_default(),
        created_at: Some(timestamp(operation.created_at)),
        updated_at: Some(timestamp(operation.updated_at)),
        next_check_at: operation.next_check_at.map(timestamp),
        error: operation.error.as_ref().map(|error| pb::OperationError {
            code: error.code.clone().unwrap_or_default(),
            aws_code: error.aws_code.clone().unwrap_or_default(),
            message: error.message.clone(),
            retry_after,
        }),
        aws_calls: operation.aws_calls,
        result: result(operation),
    }
}
