//! The requests the tests send, built from what differs between them: each carries a fresh
//! idempotency key where it takes one.

use std::fmt::Display;

use tenure_proto::provisioning::v1 as pb;

use super::key;

pub(crate) fn create_account(
    management: impl Display,
    email: &str,
    account_name: &str,
) -> pb::CreateAccountRequest {
    pb::CreateAccountRequest {
        idempotency_key: key(),
        management_account_id: management.to_string(),
        email: email.to_owned(),
        account_name: account_name.to_owned(),
    }
}

pub(crate) fn close_account(account: impl Display) -> pb::CloseAccountRequest {
    pb::CloseAccountRequest {
        idempotency_key: key(),
        aws_account_id: account.to_string(),
    }
}

pub(crate) fn remove_account(account: impl Display) -> pb::RemoveAccountRequest {
    pb::RemoveAccountRequest {
        idempotency_key: key(),
        aws_account_id: account.to_string(),
    }
}

/// An invitation of `target` into `management`'s organization, for a fresh order.
pub(crate) fn invite_account(
    management: impl Display,
    target: impl Display,
) -> pb::InviteAccountRequest {
    pb::InviteAccountRequest {
        idempotency_key: key(),
        management_account_id: management.to_string(),
        target_account_id: target.to_string(),
        order_id: uuid::Uuid::new_v4().to_string(),
    }
}

pub(crate) fn cancel_handshake(handshake_id: &str) -> pb::CancelHandshakeRequest {
    pb::CancelHandshakeRequest {
        idempotency_key: key(),
        handshake_id: handshake_id.to_owned(),
    }
}

/// A billing transfer from the organization `source` manages, named "Tenant Ltd", for a fresh order.
pub(crate) fn invite_billing_transfer(source: impl Display) -> pb::InviteBillingTransferRequest {
    pb::InviteBillingTransferRequest {
        idempotency_key: key(),
        source_management_account_id: source.to_string(),
        source_name: "Tenant Ltd".to_owned(),
        order_id: uuid::Uuid::new_v4().to_string(),
    }
}

pub(crate) fn end_billing_transfer(transfer_id: &str) -> pb::EndBillingTransferRequest {
    pb::EndBillingTransferRequest {
        idempotency_key: key(),
        transfer_id: transfer_id.to_owned(),
    }
}

pub(crate) fn withdraw_billing_transfer(transfer_id: &str) -> pb::WithdrawBillingTransferRequest {
    pb::WithdrawBillingTransferRequest {
        idempotency_key: key(),
        transfer_id: transfer_id.to_owned(),
    }
}

pub(crate) fn deploy_bootstrap_stack(account: impl Display) -> pb::DeployBootstrapStackRequest {
    pb::DeployBootstrapStackRequest {
        idempotency_key: key(),
        aws_account_id: account.to_string(),
    }
}

pub(crate) fn delete_bootstrap_stack(account: impl Display) -> pb::DeleteBootstrapStackRequest {
    pb::DeleteBootstrapStackRequest {
        idempotency_key: key(),
        aws_account_id: account.to_string(),
    }
}

pub(crate) fn create_stack_set(
    management: impl Display,
    template: i32,
) -> pb::CreateStackSetRequest {
    pb::CreateStackSetRequest {
        idempotency_key: key(),
        management_account_id: management.to_string(),
        template,
    }
}

pub(crate) fn delete_stack_set(
    management: impl Display,
    template: i32,
) -> pb::DeleteStackSetRequest {
    pb::DeleteStackSetRequest {
        idempotency_key: key(),
        management_account_id: management.to_string(),
        template,
    }
}

/// Instances of `template`'s StackSet in `accounts`, in one region.
pub(crate) fn create_stack_instances(
    management: impl Display,
    template: i32,
    accounts: &[&str],
    region: &str,
) -> pb::CreateStackInstancesRequest {
    pb::CreateStackInstancesRequest {
        idempotency_key: key(),
        management_account_id: management.to_string(),
        template,
        aws_account_ids: accounts.iter().map(|&account| account.to_owned()).collect(),
        regions: vec![region.to_owned()],
    }
}

/// A non-retaining deletion of `template`'s instances in `accounts`, in one region.
pub(crate) fn delete_stack_instances(
    management: impl Display,
    template: i32,
    accounts: &[&str],
    region: &str,
) -> pb::DeleteStackInstancesRequest {
    pb::DeleteStackInstancesRequest {
        idempotency_key: key(),
        management_account_id: management.to_string(),
        template,
        aws_account_ids: accounts.iter().map(|&account| account.to_owned()).collect(),
        regions: vec![region.to_owned()],
        retain_stacks: false,
    }
}

pub(crate) fn get_operation(operation_id: &str) -> pb::GetOperationRequest {
    pb::GetOperationRequest {
        operation_id: operation_id.to_owned(),
    }
}

pub(crate) fn describe_account(account: impl Display) -> pb::DescribeAccountRequest {
    pb::DescribeAccountRequest {
        aws_account_id: account.to_string(),
    }
}

pub(crate) fn describe_handshake(handshake_id: &str) -> pb::DescribeHandshakeRequest {
    pb::DescribeHandshakeRequest {
        handshake_id: handshake_id.to_owned(),
    }
}

/// The operations in `state`.
pub(crate) fn operations_in(state: pb::OperationState) -> pb::ListOperationsRequest {
    pb::ListOperationsRequest {
        state: state as i32,
        ..pb::ListOperationsRequest::default()
    }
}

/// The operations of `kind`.
pub(crate) fn operations_of(kind: pb::OperationKind) -> pb::ListOperationsRequest {
    pb::ListOperationsRequest {
        kind: kind as i32,
        ..pb::ListOperationsRequest::default()
    }
}
