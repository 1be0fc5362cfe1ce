//! The crash test: the host dies after AWS executed CreateAccount but before the engine stored the
//! `car-…` reference. A new app on the same database finds the operation in flight without a reference,
//! reconciles (ListCreateAccountStatus by name) instead of re-sending, and completes it exactly once.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tenure_domain::AwsAccountId;
use tenure_proto::provisioning::v1 as pb;
use tenure_provisioning::cloud::{
    AccountDescription, BackendKind, BillingTransfer, Cloud, CloudResult, CreateAccountStatus,
    Handshake, HandshakeAction, InstanceTargets, StackDeletion, StackDescription, StackInstance,
    StackSetDescription, StackSetOperationStatus, StackSetSpec, StackSpec, TransferInvitation,
};

use crate::support::{key, serve_sandbox, settle, test_settings};

/// A backend whose CreateAccount reaches AWS and then never answers while armed: the process is
/// "killed" between the AWS effect and the persisted reference.
#[derive(Debug)]
struct DiesAfterCreateAccount {
    inner: Arc<dyn Cloud>,
    armed: AtomicBool,
}

#[async_trait]
impl Cloud for DiesAfterCreateAccount {
    fn kind(&self) -> BackendKind {
        self.inner.kind()
    }
    async fn create_account(
        &self,
        acting: &AwsAccountId,
        email: &str,
        account_name: &str,
    ) -> CloudResult<CreateAccountStatus> {
        let answer = self.inner.create_account(acting, email, account_name).await;
        if self.armed.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        answer
    }
    async fn describe_create_account_status(
        &self,
        acting: &AwsAccountId,
        request_id: &str,
    ) -> CloudResult<CreateAccountStatus> {
        self.inner
            .describe_create_account_status(acting, request_id)
            .await
    }
    async fn list_create_account_statuses(
        &self,
        acting: &AwsAccountId,
    ) -> CloudResult<Vec<CreateAccountStatus>> {
        self.inner.list_create_account_statuses(acting).await
    }
    async fn describe_account(
        &self,
        acting: &AwsAccountId,
        account: &AwsAccountId,
    ) -> CloudResult<AccountDescription> {
        self.inner.describe_account(acting, account).await
    }
    async fn list_accounts(&self, acting: &AwsAccountId) -> CloudResult<Vec<AccountDescription>> {
        self.inner.list_accounts(acting).await
    }
    async fn remove_account(
        &self,
        acting: &AwsAccountId,
        account: &AwsAccountId,
    ) -> CloudResult<()> {
        self.inner.remove_account(acting, account).await
    }
    async fn close_account(
        &self,
        acting: &AwsAccountId,
        account: &AwsAccountId,
    ) -> CloudResult<()> {
        self.inner.close_account(acting, account).await
    }
    async fn invite_account(
        &self,
        acting: &AwsAccountId,
        target: &AwsAccountId,
        notes: &str,
    ) -> CloudResult<Handshake> {
        self.inner.invite_account(acting, target, notes).await
    }
    async fn describe_handshake(&self, acting: &AwsAccountId, id: &str) -> CloudResult<Handshake> {
        self.inner.describe_handshake(acting, id).await
    }
    async fn list_handshakes(
        &self,
        acting: &AwsAccountId,
        action: HandshakeAction,
    ) -> CloudResult<Vec<Handshake>> {
        self.inner.list_handshakes(acting, action).await
    }
    async fn cancel_handshake(&self, acting: &AwsAccountId, id: &str) -> CloudResult<Handshake> {
        self.inner.cancel_handshake(acting, id).await
    }
    async fn invite_billing_transfer(
        &self,
        acting: &AwsAccountId,
        invitation: &TransferInvitation,
    ) -> CloudResult<Handshake> {
        self.inner.invite_billing_transfer(acting, invitation).await
    }
    async fn describe_billing_transfer(
        &self,
        acting: &AwsAccountId,
        id: &str,
    ) -> CloudResult<BillingTransfer> {
        self.inner.describe_billing_transfer(acting, id).await
    }
    async fn list_inbound_billing_transfers(
        &self,
        acting: &AwsAccountId,
    ) -> CloudResult<Vec<BillingTransfer>> {
        self.inner.list_inbound_billing_transfers(acting).await
    }
    async fn terminate_billing_transfer(
        &self,
        acting: &AwsAccountId,
        id: &str,
        end_at: DateTime<Utc>,
    ) -> CloudResult<BillingTransfer> {
        self.inner
            .terminate_billing_transfer(acting, id, end_at)
            .await
    }
    async fn create_stack(
        &self,
        acting: &AwsAccountId,
        stack: &StackSpec,
        token: &str,
    ) -> CloudResult<String> {
        self.inner.create_stack(acting, stack, token).await
    }
    async fn describe_stack(
        &self,
        acting: &AwsAccountId,
        name: &str,
    ) -> CloudResult<Option<StackDescription>> {
        self.inner.describe_stack(acting, name).await
    }
    async fn delete_stack(
        &self,
        acting: &AwsAccountId,
        name: &str,
        token: &str,
        deletion: StackDeletion,
    ) -> CloudResult<()> {
        self.inner.delete_stack(acting, name, token, deletion).await
    }
    async fn create_stack_set(
        &self,
        acting: &AwsAccountId,
        set: &StackSetSpec,
        token: &str,
    ) -> CloudResult<String> {
        self.inner.create_stack_set(acting, set, token).await
    }
    async fn describe_stack_set(
        &self,
        acting: &AwsAccountId,
        name: &str,
    ) -> CloudResult<Option<StackSetDescription>> {
        self.inner.describe_stack_set(acting, name).await
    }
    async fn delete_stack_set(&self, acting: &AwsAccountId, name: &str) -> CloudResult<()> {
        self.inner.delete_stack_set(acting, name).await
    }
    async fn create_stack_instances(
        &self,
        acting: &AwsAccountId,
        set: &str,
        targets: &InstanceTargets,
        operation_id: &str,
    ) -> CloudResult<String> {
        self.inner
            .create_stack_instances(acting, set, targets, operation_id)
            .await
    }
    async fn delete_stack_instances(
        &self,
        acting: &AwsAccountId,
        set: &str,
        targets: &InstanceTargets,
        retain: bool,
        operation_id: &str,
    ) -> CloudResult<String> {
        self.inner
            .delete_stack_instances(acting, set, targets, retain, operation_id)
            .await
    }
    async fn describe_stack_set_operation(
        &self,
        acting: &AwsAccountId,
        set: &str,
        operation_id: &str,
    ) -> CloudResult<StackSetOperationStatus> {
        self.inner
            .describe_stack_set_operation(acting, set, operation_id)
            .await
    }
    async fn list_stack_instances(
        &self,
        acting: &AwsAccountId,
        set: &str,
    ) -> CloudResult<Vec<StackInstance>> {
        self.inner.list_stack_instances(acting, set).await
    }
}

#[tokio::test]
async fn an_operation_interrupted_after_aws_acted_completes_exactly_once_after_a_restart() {
    let database = tenure_testkit::TestDatabase::create().await.expect("db");
    let settings = test_settings(&database);

    // First life: CreateAccount reaches the sandbox, then the process "dies" before the answer.
    let first = serve_sandbox(&settings, |counting| {
        Arc::new(DiesAfterCreateAccount {
            inner: counting,
            armed: AtomicBool::new(true),
        })
    })
    .await;
    let management = first.sandbox.create_organization().await.expect("org");
    let request = pb::CreateAccountRequest {
        idempotency_key: key(),
        management_account_id: management.to_string(),
        email: "crash.survivor@example.com".to_owned(),
        account_name: "Crash survivor".to_owned(),
    };
    let mut client = first.orders();
    let call = tokio::time::timeout(
        Duration::from_secs(2),
        client.create_account(request.clone()),
    )
    .await;
    assert!(
        call.is_err(),
        "the call should hang after AWS acted: {call:?}"
    );
    assert_eq!(first.counting.calls("create_account"), 1);
    first.host.shutdown().await;
    drop(first);

    // Second life on the same database, with a plain sandbox.
    let second = serve_sandbox(&settings, |counting| counting).await;
    // The first life's claim on the operation must lapse before anyone takes it over.
    second.advance(Duration::from_secs(120)).await;
    let in_flight = second
        .orders()
        .list_operations(pb::ListOperationsRequest::default())
        .await
        .expect("list")
        .into_inner()
        .operations;
    assert_eq!(in_flight.len(), 1);
    assert_eq!(in_flight[0].state, pb::OperationState::InProgress as i32);
    let done = settle(&second, &in_flight[0].id, Duration::from_secs(60)).await;
    assert_eq!(done.state, pb::OperationState::Succeeded as i32, "{done:?}");
    assert_eq!(
        second.counting.calls("create_account"),
        0,
        "the restarted engine re-sent CreateAccount instead of reconciling"
    );
    assert!(second.counting.calls("list_create_account_statuses") >= 1);

    // Exactly one creation request and one new account exist at the backend.
    let requests = second
        .sandbox
        .list_create_account_statuses(&management)
        .await
        .expect("requests");
    assert_eq!(requests.len(), 1);
    let accounts = second
        .sandbox
        .list_accounts(&management)
        .await
        .expect("accounts");
    let created: Vec<_> = accounts
        .iter()
        .filter(|account| account.email == "crash.survivor@example.com")
        .collect();
    assert_eq!(created.len(), 1);
    assert_eq!(created[0].id.as_str(), done.aws_account_id);

    // A retry of the original request replays the completed operation.
    let replay = second
        .orders()
        .create_account(request)
        .await
        .expect("replay")
        .into_inner()
        .operation
        .expect("operation");
    assert_eq!(replay.id, done.id);
    assert_eq!(second.counting.calls("create_account"), 0);
    second.host.shutdown().await;
}
