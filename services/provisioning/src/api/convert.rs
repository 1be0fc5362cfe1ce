//! Proto ↔ domain conversions.

use chrono::{DateTime, Utc};
use prost_types::Timestamp;
use tenure_proto::provisioning::v1 as pb;

use crate::domain::aws_values::AwsAccountState;
use crate::domain::billing;
use crate::domain::cloud::{AccountState, HandshakeAction, HandshakeState, TransferStatus};
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
    let state = match account.state {
        AwsAccountState::Member(AccountState::PendingActivation) => {
            pb::AwsAccountState::PendingActivation
        }
        AwsAccountState::Member(AccountState::Active) => pb::AwsAccountState::Active,
        AwsAccountState::Member(AccountState::PendingClosure) => {
            pb::AwsAccountState::PendingClosure
        }
        AwsAccountState::Member(AccountState::Suspended) => pb::AwsAccountState::Suspended,
        AwsAccountState::Member(AccountState::Closed) => pb::AwsAccountState::Closed,
        AwsAccountState::NotInOrganization => pb::AwsAccountState::NotInOrganization,
    };
    pb::AccountResult {
        aws_account_id: account.account_id.to_string(),
        state: state.into(),
        joined_method: account
            .joined_method
            .map(|method| method.as_str().to_owned())
            .unwrap_or_default(),
        joined_at: account.joined_at.map(timestamp),
    }
}

pub(crate) fn handshake_to_pb(handshake: &HandshakeSnapshot) -> pb::Handshake {
    let state = match handshake.state {
        HandshakeState::Requested => pb::HandshakeState::Requested,
        HandshakeState::Open => pb::HandshakeState::Open,
        HandshakeState::Accepted => pb::HandshakeState::Accepted,
        HandshakeState::Declined => pb::HandshakeState::Declined,
        HandshakeState::Canceled => pb::HandshakeState::Canceled,
        HandshakeState::Expired => pb::HandshakeState::Expired,
    };
    let action = match handshake.action {
        HandshakeAction::Invite => pb::HandshakeAction::Invite,
        HandshakeAction::TransferResponsibility => pb::HandshakeAction::TransferResponsibility,
    };
    pb::Handshake {
        id: handshake.id.clone(),
        state: state.into(),
        action: action.into(),
        target_account_id: handshake.target.to_string(),
        requested_at: Some(timestamp(handshake.requested_at)),
        expires_at: Some(timestamp(handshake.expires_at)),
    }
}

pub(crate) fn transfer_to_pb(transfer: &TransferSnapshot) -> pb::BillingTransfer {
    let status = match transfer.status {
        TransferStatus::Requested => pb::BillingTransferStatus::Requested,
        TransferStatus::Accepted => pb::BillingTransferStatus::Accepted,
        TransferStatus::Declined => pb::BillingTransferStatus::Declined,
        TransferStatus::Canceled => pb::BillingTransferStatus::Canceled,
        TransferStatus::Expired => pb::BillingTransferStatus::Expired,
        TransferStatus::Withdrawn => pb::BillingTransferStatus::Withdrawn,
    };
    pb::BillingTransfer {
        id: transfer.id.clone(),
        handshake_id: transfer.handshake_id.clone().unwrap_or_default(),
        status: status.into(),
        source_management_account_id: transfer.source.to_string(),
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
        status: stack.status.as_str().to_owned(),
        aws_account_id: stack.account.to_string(),
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
                status: progress
                    .create_status
                    .map(|status| status.as_str().to_owned())
                    .unwrap_or_default(),
                aws_account_id: operation
                    .aws_account_id
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
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
                operation_status: set
                    .operation_status
                    .map(|status| status.as_str().to_owned())
                    .unwrap_or_default(),
                aws_account_ids: set.accounts.iter().map(ToString::to_string).collect(),
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
        aws_account_id: operation
            .aws_account_id
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
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
