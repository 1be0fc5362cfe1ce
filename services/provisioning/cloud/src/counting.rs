//! A [`Cloud`] decorator that counts the calls reaching the backend, per method.
//!
//! Idempotency is proven by what does *not* happen: a replayed operation must answer from its stored
//! result without a second AWS call. Counting at the trait boundary shows that for every backend alike,
//! without reading an emulator's request log.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tenure_domain::AwsAccountId;

use crate::{
    AccountDescription, BackendKind, BillingTransfer, Cloud, CloudResult, CreateAccountStatus,
    Handshake, HandshakeAction, InstanceTargets, StackDeletion, StackDescription, StackInstance,
    StackSetDescription, StackSetOperationStatus, StackSetSpec, StackSpec, TransferInvitation,
};

/// Wraps a backend and counts every call made through it, by method name (`"create_account"`, ...).
/// A call counts whether it succeeds or fails: it reached the backend either way.
#[derive(Debug)]
pub struct CountingCloud<C> {
    inner: C,
    calls: Mutex<BTreeMap<&'static str, u64>>,
}

impl<C: Cloud> CountingCloud<C> {
    /// Starts counting from zero.
    pub fn new(inner: C) -> Self {
        Self {
            inner,
            calls: Mutex::new(BTreeMap::new()),
        }
    }

    /// The wrapped backend (calls made on it directly are not counted).
    pub fn inner(&self) -> &C {
        &self.inner
    }

    /// How many times `method` (the `Cloud` method's name) was called.
    pub fn calls(&self, method: &str) -> u64 {
        self.with_calls(|calls| calls.get(method).copied().unwrap_or(0))
    }

    /// How many calls of any method were made.
    pub fn total(&self) -> u64 {
        self.with_calls(|calls| calls.values().sum())
    }

    /// Every method called at least once, with its count, sorted by name.
    pub fn snapshot(&self) -> Vec<(&'static str, u64)> {
        self.with_calls(|calls| calls.iter().map(|(name, count)| (*name, *count)).collect())
    }

    fn record(&self, method: &'static str) {
        self.with_calls(|calls| *calls.entry(method).or_insert(0) += 1);
    }

    fn with_calls<T>(&self, read: impl FnOnce(&mut BTreeMap<&'static str, u64>) -> T) -> T {
        // A panic while holding the lock cannot leave a half-updated counter, so a poisoned lock is
        // still consistent.
        let mut calls = self
            .calls
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        read(&mut calls)
    }
}

#[async_trait]
impl<C: Cloud> Cloud for CountingCloud<C> {
    fn kind(&self) -> BackendKind {
        self.inner.kind()
    }

    async fn create_account(
        &self,
        acting: &AwsAccountId,
        email: &str,
        account_name: &str,
    ) -> CloudResult<CreateAccountStatus> {
        self.record("create_account");
        self.inner.create_account(acting, email, account_name).await
    }

    async fn describe_create_account_status(
        &self,
        acting: &AwsAccountId,
        request_id: &str,
    ) -> CloudResult<CreateAccountStatus> {
        self.record("describe_create_account_status");
        self.inner
            .describe_create_account_status(acting, request_id)
            .await
    }

    async fn list_create_account_statuses(
        &self,
        acting: &AwsAccountId,
    ) -> CloudResult<Vec<CreateAccountStatus>> {
        self.record("list_create_account_statuses");
        self.inner.list_create_account_statuses(acting).await
    }

    async fn describe_account(
        &self,
        acting: &AwsAccountId,
        account: &AwsAccountId,
    ) -> CloudResult<AccountDescription> {
        self.record("describe_account");
        self.inner.describe_account(acting, account).await
    }

    async fn list_accounts(&self, acting: &AwsAccountId) -> CloudResult<Vec<AccountDescription>> {
        self.record("list_accounts");
        self.inner.list_accounts(acting).await
    }

    async fn remove_account(
        &self,
        acting: &AwsAccountId,
        account: &AwsAccountId,
    ) -> CloudResult<()> {
        self.record("remove_account");
        self.inner.remove_account(acting, account).await
    }

    async fn close_account(
        &self,
        acting: &AwsAccountId,
        account: &AwsAccountId,
    ) -> CloudResult<()> {
        self.record("close_account");
        self.inner.close_account(acting, account).await
    }

    async fn invite_account(
        &self,
        acting: &AwsAccountId,
        target: &AwsAccountId,
        notes: &str,
    ) -> CloudResult<Handshake> {
        self.record("invite_account");
        self.inner.invite_account(acting, target, notes).await
    }

    async fn describe_handshake(
        &self,
        acting: &AwsAccountId,
        handshake_id: &str,
    ) -> CloudResult<Handshake> {
        self.record("describe_handshake");
        self.inner.describe_handshake(acting, handshake_id).await
    }

    async fn list_handshakes(
        &self,
        acting: &AwsAccountId,
        action: HandshakeAction,
    ) -> CloudResult<Vec<Handshake>> {
        self.record("list_handshakes");
        self.inner.list_handshakes(acting, action).await
    }

    async fn cancel_handshake(
        &self,
        acting: &AwsAccountId,
        handshake_id: &str,
    ) -> CloudResult<Handshake> {
        self.record("cancel_handshake");
        self.inner.cancel_handshake(acting, handshake_id).await
    }

    async fn invite_billing_transfer(
        &self,
        acting: &AwsAccountId,
        invitation: &TransferInvitation,
    ) -> CloudResult<Handshake> {
        self.record("invite_billing_transfer");
        self.inner.invite_billing_transfer(acting, invitation).await
    }

    async fn describe_billing_transfer(
        &self,
        acting: &AwsAccountId,
        transfer_id: &str,
    ) -> CloudResult<BillingTransfer> {
        self.record("describe_billing_transfer");
        self.inner
            .describe_billing_transfer(acting, transfer_id)
            .await
    }

    async fn list_inbound_billing_transfers(
        &self,
        acting: &AwsAccountId,
    ) -> CloudResult<Vec<BillingTransfer>> {
        self.record("list_inbound_billing_transfers");
        self.inner.list_inbound_billing_transfers(acting).await
    }

    async fn terminate_billing_transfer(
        &self,
        acting: &AwsAccountId,
        transfer_id: &str,
        end_at: DateTime<Utc>,
    ) -> CloudResult<BillingTransfer> {
        self.record("terminate_billing_transfer");
        self.inner
            .terminate_billing_transfer(acting, transfer_id, end_at)
            .await
    }

    async fn create_stack(
        &self,
        acting: &AwsAccountId,
        stack: &StackSpec,
        token: &str,
    ) -> CloudResult<String> {
        self.record("create_stack");
        self.inner.create_stack(acting, stack, token).await
    }

    async fn describe_stack(
        &self,
        acting: &AwsAccountId,
        name_or_id: &str,
    ) -> CloudResult<Option<StackDescription>> {
        self.record("describe_stack");
        self.inner.describe_stack(acting, name_or_id).await
    }

    async fn delete_stack(
        &self,
        acting: &AwsAccountId,
        name_or_id: &str,
        token: &str,
        deletion: StackDeletion,
    ) -> CloudResult<()> {
        self.record("delete_stack");
        self.inner
            .delete_stack(acting, name_or_id, token, deletion)
            .await
    }

    async fn create_stack_set(
        &self,
        acting: &AwsAccountId,
        stack_set: &StackSetSpec,
        token: &str,
    ) -> CloudResult<String> {
        self.record("create_stack_set");
        self.inner.create_stack_set(acting, stack_set, token).await
    }

    async fn describe_stack_set(
        &self,
        acting: &AwsAccountId,
        name: &str,
    ) -> CloudResult<Option<StackSetDescription>> {
        self.record("describe_stack_set");
        self.inner.describe_stack_set(acting, name).await
    }

    async fn delete_stack_set(&self, acting: &AwsAccountId, name: &str) -> CloudResult<()> {
        self.record("delete_stack_set");
        self.inner.delete_stack_set(acting, name).await
    }

    async fn create_stack_instances(
        &self,
        acting: &AwsAccountId,
        stack_set: &str,
        targets: &InstanceTargets,
        operation_id: &str,
    ) -> CloudResult<String> {
        self.record("create_stack_instances");
        self.inner
            .create_stack_instances(acting, stack_set, targets, operation_id)
            .await
    }

    async fn delete_stack_instances(
        &self,
        acting: &AwsAccountId,
        stack_set: &str,
        targets: &InstanceTargets,
        retain_stacks: bool,
        operation_id: &str,
    ) -> CloudResult<String> {
        self.record("delete_stack_instances");
        self.inner
            .delete_stack_instances(acting, stack_set, targets, retain_stacks, operation_id)
            .await
    }

    async fn describe_stack_set_operation(
        &self,
        acting: &AwsAccountId,
        stack_set: &str,
        operation_id: &str,
    ) -> CloudResult<StackSetOperationStatus> {
        self.record("describe_stack_set_operation");
        self.inner
            .describe_stack_set_operation(acting, stack_set, operation_id)
            .await
    }

    async fn list_stack_instances(
        &self,
        acting: &AwsAccountId,
        stack_set: &str,
    ) -> CloudResult<Vec<StackInstance>> {
        self.record("list_stack_instances");
        self.inner.list_stack_instances(acting, stack_set).await
    }
}
