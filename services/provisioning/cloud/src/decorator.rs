//! A [`Cloud`] decorator that forwards every call to a backend and runs a [`CallHook`] around it:
//! the one place that lists the trait's methods for decorators (call counting, a crash between
//! AWS's effect and the caller seeing it, ...), so a decorator states only what it adds.

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tenure_domain::AwsAccountId;

use crate::{
    AccountDescription, BackendKind, BillingTransfer, Cloud, CloudResult, CreateAccountStatus,
    Handshake, HandshakeAction, InstanceTargets, StackDeletion, StackDescription, StackInstance,
    StackSetDescription, StackSetOperationStatus, StackSetSpec, StackSpec, TransferInvitation,
};

/// What a [`Hooked`] backend does around each call, by the `Cloud` method's name
/// (`"create_account"`, ...).
#[async_trait]
pub trait CallHook: Debug + Send + Sync {
    /// Runs before the call is forwarded.
    async fn before(&self, _method: &'static str) {}

    /// Runs once the backend answered, before the answer is returned: AWS has acted by then.
    async fn after(&self, _method: &'static str) {}
}

/// Wraps a backend and runs `hook` around every call made through it.
#[derive(Debug)]
pub struct Hooked<C, H> {
    inner: C,
    hook: H,
}

impl<C, H> Hooked<C, H> {
    /// `inner`, with `hook` around its calls.
    pub fn with_hook(inner: C, hook: H) -> Self {
        Self { inner, hook }
    }

    /// The wrapped backend (calls made on it directly bypass the hook).
    pub fn inner(&self) -> &C {
        &self.inner
    }

    /// The hook.
    pub fn hook(&self) -> &H {
        &self.hook
    }
}

/// Calls `$then!` with the list of `Cloud`'s methods (all but `kind`), so that each forwarding
/// implementation is generated from one list.
macro_rules! with_cloud_methods {
    ($then:ident) => {
        $then! {
            fn create_account(
                acting: &AwsAccountId,
                email: &str,
                account_name: &str
            ) -> CreateAccountStatus;
            fn describe_create_account_status(
                acting: &AwsAccountId,
                request_id: &str
            ) -> CreateAccountStatus;
            fn list_create_account_statuses(acting: &AwsAccountId) -> Vec<CreateAccountStatus>;
            fn describe_account(
                acting: &AwsAccountId,
                account: &AwsAccountId
            ) -> AccountDescription;
            fn list_accounts(acting: &AwsAccountId) -> Vec<AccountDescription>;
            fn remove_account(acting: &AwsAccountId, account: &AwsAccountId) -> ();
            fn close_account(acting: &AwsAccountId, account: &AwsAccountId) -> ();
            fn invite_account(
                acting: &AwsAccountId,
                target: &AwsAccountId,
                notes: &str
            ) -> Handshake;
            fn describe_handshake(acting: &AwsAccountId, handshake_id: &str) -> Handshake;
            fn list_handshakes(acting: &AwsAccountId, action: HandshakeAction) -> Vec<Handshake>;
            fn cancel_handshake(acting: &AwsAccountId, handshake_id: &str) -> Handshake;
            fn invite_billing_transfer(
                acting: &AwsAccountId,
                invitation: &TransferInvitation
            ) -> Handshake;
            fn describe_billing_transfer(
                acting: &AwsAccountId,
                transfer_id: &str
            ) -> BillingTransfer;
            fn list_inbound_billing_transfers(acting: &AwsAccountId) -> Vec<BillingTransfer>;
            fn terminate_billing_transfer(
                acting: &AwsAccountId,
                transfer_id: &str,
                end_at: DateTime<Utc>
            ) -> BillingTransfer;
            fn create_stack(acting: &AwsAccountId, stack: &StackSpec, token: &str) -> String;
            fn describe_stack(acting: &AwsAccountId, name_or_id: &str) -> Option<StackDescription>;
            fn delete_stack(
                acting: &AwsAccountId,
                name_or_id: &str,
                token: &str,
                deletion: StackDeletion
            ) -> ();
            fn create_stack_set(
                acting: &AwsAccountId,
                stack_set: &StackSetSpec,
                token: &str
            ) -> String;
            fn describe_stack_set(acting: &AwsAccountId, name: &str) -> Option<StackSetDescription>;
            fn delete_stack_set(acting: &AwsAccountId, name: &str) -> ();
            fn create_stack_instances(
                acting: &AwsAccountId,
                stack_set: &str,
                targets: &InstanceTargets,
                operation_id: &str
            ) -> String;
            fn delete_stack_instances(
                acting: &AwsAccountId,
                stack_set: &str,
                targets: &InstanceTargets,
                retain_stacks: bool,
                operation_id: &str
            ) -> String;
            fn describe_stack_set_operation(
                acting: &AwsAccountId,
                stack_set: &str,
                operation_id: &str
            ) -> StackSetOperationStatus;
            fn list_stack_instances(acting: &AwsAccountId, stack_set: &str) -> Vec<StackInstance>;
        }
    };
}

/// Forwards every call to the backend, with the hook around it.
macro_rules! hooked_cloud {
    ($(fn $method:ident($($argument:ident: $type:ty),*) -> $answer:ty;)*) => {
        #[async_trait]
        impl<C: Cloud, H: CallHook> Cloud for Hooked<C, H> {
            fn kind(&self) -> BackendKind {
                self.inner.kind()
            }

            $(
                async fn $method(&self, $($argument: $type),*) -> CloudResult<$answer> {
                    self.hook.before(stringify!($method)).await;
                    let answer = self.inner.$method($($argument),*).await;
                    self.hook.after(stringify!($method)).await;
                    answer
                }
            )*
        }
    };
}

/// A shared backend is a backend, so decorators stack on `Arc<dyn Cloud>` too.
macro_rules! shared_cloud {
    ($(fn $method:ident($($argument:ident: $type:ty),*) -> $answer:ty;)*) => {
        #[async_trait]
        impl<C: Cloud + ?Sized> Cloud for Arc<C> {
            fn kind(&self) -> BackendKind {
                (**self).kind()
            }

            $(
                async fn $method(&self, $($argument: $type),*) -> CloudResult<$answer> {
                    (**self).$method($($argument),*).await
                }
            )*
        }
    };
}

with_cloud_methods!(hooked_cloud);
with_cloud_methods!(shared_cloud);
