//! The `sandbox` backend: AWS Organizations and CloudFormation simulated in provisioning's own database,
//! with a movable clock. It is the embedded default of `tenure up` and the second backend of the contract
//! suite, so it answers with AWS's own states, exception codes and reasons (domain.md §6.3, §6.4):
//! asynchronous creation, close quota and waiting periods, post-closure states, handshake expiry,
//! billing-transfer date rules and StackSet operation ordering. Time-driven transitions (a creation
//! finishing, a closure reaching SUSPENDED, a handshake expiring) are settled whenever an object is read,
//! from the timestamps it carries, so advancing the clock by 90 days moves every object at once.
//!
//! Every account the platform acts as is the management account of an all-features organization; the
//! simulation creates that organization on first use, as operations staff would have before.

mod clock;
mod cloudformation;
mod customers;
mod handshakes;
mod objects;
mod organizations;
mod transfers;

use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tenure_domain::{AwsAccountId, Clock, SharedClock};
use tenure_provisioning_cloud::{
    AccountDescription, BackendKind, BillingTransfer, Cloud, CloudError, CloudResult,
    CreateAccountStatus, Handshake, HandshakeAction, InstanceTargets, StackDeletion,
    StackDescription, StackInstance, StackSetDescription, StackSetOperationStatus, StackSetSpec,
    StackSpec, TransferInvitation,
};
use tokio::sync::Mutex;
use uuid::Uuid;

pub use clock::SandboxClock;
pub(crate) use customers::EMAIL_ALREADY_EXISTS;

use crate::store::{SandboxStore, SandboxTable};

/// AWS facts the simulation reproduces (domain.md §6.4).
const HANDSHAKE_LIFETIME: Duration = Duration::days(15);
const REMOVAL_WAIT_PERIOD: Duration = Duration::days(4);
const POST_CLOSURE_PERIOD: Duration = Duration::days(90);
const CLOSE_QUOTA_WINDOW: Duration = Duration::days(30);
/// How long AWS lists and describes a handshake after it ended (domain.md §6.4).
const TERMINAL_HANDSHAKE_VISIBILITY: Duration = Duration::days(30);
/// AWS refuses transfer starts more than about a year ahead.
const LATEST_TRANSFER_START: Duration = Duration::days(366);

/// How long the simulated AWS takes for its asynchronous processes, in simulated seconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SandboxSettings {
    /// CreateAccount: IN_PROGRESS until this long after the request.
    pub create_account_delay_secs: u64,
    /// CloseAccount: PENDING_CLOSURE until this long after the request, then SUSPENDED.
    pub close_account_delay_secs: u64,
    /// Stack creation and deletion, and StackSet operations (QUEUED, RUNNING, then SUCCEEDED).
    pub cloudformation_delay_secs: u64,
    /// Closures allowed per organization in a rolling 30 days; unset means AWS's current rule (the higher
    /// of 250 and 20 % of the members, at most 1,000).
    pub close_quota: Option<u32>,
}

impl Default for SandboxSettings {
    fn default() -> Self {
        Self {
            create_account_delay_secs: 30,
            close_account_delay_secs: 60,
            cloudformation_delay_secs: 10,
            close_quota: None,
        }
    }
}

/// The simulation; see the module documentation. Clones share the same simulated AWS.
#[derive(Debug, Clone)]
pub struct SandboxCloud {
    store: SandboxStore,
    clock: Arc<SandboxClock>,
    settings: Arc<SandboxSettings>,
    /// One simulated call at a time: each reads and writes several objects, and the simulation runs in
    /// one process (`tenure up`), so a process-wide lock is the whole concurrency story.
    serial: Arc<Mutex<()>>,
}

fn storage(error: tenure_db::DbError) -> CloudError {
    tracing::warn!(error = %error, "sandbox storage failed");
    CloudError::service("ServiceException", None, 500, "sandbox storage unavailable")
}

fn rejected(code: &str, reason: Option<&str>, message: &str) -> CloudError {
    CloudError::service(code, reason, 400, message)
}

fn handshake_not_found() -> CloudError {
    rejected(
        "HandshakeNotFoundException",
        None,
        "no handshake with this id",
    )
}

fn transfer_not_found() -> CloudError {
    rejected(
        "ResponsibilityTransferNotFoundException",
        None,
        "no responsibility transfer with this id",
    )
}

fn fresh_id(prefix: &str) -> String {
    format!("{prefix}{}", Uuid::new_v4().simple())
}

fn fresh_account_id() -> String {
    let mut rng = rand::thread_rng();
    (0..12)
        .map(|_| char::from(b'0' + rng.gen_range(0..10)))
        .collect()
}

fn account_id(raw: &str) -> CloudResult<AwsAccountId> {
    AwsAccountId::parse(raw)
        .map_err(|_| CloudError::service("ServiceException", None, 500, "stored account id"))
}

fn stack_key(acting: &AwsAccountId, name: &str) -> String {
    format!("{acting}/{name}")
}

impl SandboxCloud {
    /// The simulation over `store`, reading its persisted clock offset on top of `base`.
    pub(crate) async fn open(
        store: SandboxStore,
        base: SharedClock,
        settings: SandboxSettings,
    ) -> Result<Self, tenure_db::DbError> {
        let offset_ms = store.clock_offset_ms().await?;
        Ok(Self {
            store,
            clock: Arc::new(SandboxClock::new(base, offset_ms)),
            settings: Arc::new(settings),
            serial: Arc::new(Mutex::new(())),
        })
    }

    /// The simulated clock, which the engine also reads.
    pub fn clock(&self) -> Arc<SandboxClock> {
        Arc::clone(&self.clock)
    }

    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    fn delay(secs: u64) -> Duration {
        Duration::seconds(i64::try_from(secs).unwrap_or(i64::MAX / 1_000_000))
    }

    /// Moves the simulated clock forward by `by` and persists it; returns the new time.
    pub async fn advance_clock(&self, by: Duration) -> Result<DateTime<Utc>, tenure_db::DbError> {
        let _serial = self.serial.lock().await;
        let offset_ms = self.clock.offset().num_milliseconds() + by.num_milliseconds().max(0);
        self.store.set_clock_offset_ms(offset_ms).await?;
        self.clock.advance(by);
        Ok(self.now())
    }

    /// The rows of `table` in `scope`, each brought up to date at the simulated now by `settle`, which
    /// also converts it and drops the rows a caller does not see (`None`). Every listing settles what
    /// it returns, since time-driven transitions only happen when an object is read.
    async fn list_settled<T, U, F, Fut>(
        &self,
        table: SandboxTable,
        scope: &str,
        mut settle: F,
    ) -> CloudResult<Vec<U>>
    where
        T: DeserializeOwned,
        F: FnMut(T) -> Fut,
        Fut: Future<Output = CloudResult<Option<U>>>,
    {
        let rows: Vec<T> = self.store.list(table, scope).await.map_err(storage)?;
        let mut settled = Vec::with_capacity(rows.len());
        for row in rows {
            if let Some(item) = settle(row).await? {
                settled.push(item);
            }
        }
        Ok(settled)
    }
}

// Each call is implemented next to the objects it touches (organizations, handshakes, transfers,
// cloudformation); the trait only routes.
#[async_trait]
impl Cloud for SandboxCloud {
    fn kind(&self) -> BackendKind {
        BackendKind::Sandbox
    }

    async fn create_account(
        &self,
        acting: &AwsAccountId,
        email: &str,
        account_name: &str,
    ) -> CloudResult<CreateAccountStatus> {
        self.request_account(acting, email, account_name).await
    }

    async fn describe_create_account_status(
        &self,
        acting: &AwsAccountId,
        request_id: &str,
    ) -> CloudResult<CreateAccountStatus> {
        self.create_request_status(acting, request_id).await
    }

    async fn list_create_account_statuses(
        &self,
        acting: &AwsAccountId,
    ) -> CloudResult<Vec<CreateAccountStatus>> {
        self.create_request_statuses(acting).await
    }

    async fn describe_account(
        &self,
        acting: &AwsAccountId,
        account: &AwsAccountId,
    ) -> CloudResult<AccountDescription> {
        self.describe_member(acting, account).await
    }

    async fn list_accounts(&self, acting: &AwsAccountId) -> CloudResult<Vec<AccountDescription>> {
        self.list_members(acting).await
    }

    async fn remove_account(
        &self,
        acting: &AwsAccountId,
        account: &AwsAccountId,
    ) -> CloudResult<()> {
        self.remove_member(acting, account).await
    }

    async fn close_account(
        &self,
        acting: &AwsAccountId,
        account: &AwsAccountId,
    ) -> CloudResult<()> {
        self.close_member(acting, account).await
    }

    async fn invite_account(
        &self,
        acting: &AwsAccountId,
        target: &AwsAccountId,
        notes: &str,
    ) -> CloudResult<Handshake> {
        self.invite_member(acting, target, notes).await
    }

    async fn describe_handshake(
        &self,
        acting: &AwsAccountId,
        handshake_id: &str,
    ) -> CloudResult<Handshake> {
        self.describe_handshake_as(acting, handshake_id).await
    }

    async fn list_handshakes(
        &self,
        acting: &AwsAccountId,
        action: HandshakeAction,
    ) -> CloudResult<Vec<Handshake>> {
        self.visible_handshakes(acting, action).await
    }

    async fn cancel_handshake(
        &self,
        acting: &AwsAccountId,
        handshake_id: &str,
    ) -> CloudResult<Handshake> {
        self.cancel_open_handshake(acting, handshake_id).await
    }

    async fn invite_billing_transfer(
        &self,
        acting: &AwsAccountId,
        invitation: &TransferInvitation,
    ) -> CloudResult<Handshake> {
        self.invite_transfer(acting, invitation).await
    }

    async fn describe_billing_transfer(
        &self,
        acting: &AwsAccountId,
        transfer_id: &str,
    ) -> CloudResult<BillingTransfer> {
        self.describe_transfer(acting, transfer_id).await
    }

    async fn list_inbound_billing_transfers(
        &self,
        acting: &AwsAccountId,
    ) -> CloudResult<Vec<BillingTransfer>> {
        self.inbound_transfers(acting).await
    }

    async fn terminate_billing_transfer(
        &self,
        acting: &AwsAccountId,
        transfer_id: &str,
        end_at: DateTime<Utc>,
    ) -> CloudResult<BillingTransfer> {
        self.terminate_transfer(acting, transfer_id, end_at).await
    }

    async fn create_stack(
        &self,
        acting: &AwsAccountId,
        stack: &StackSpec,
        token: &str,
    ) -> CloudResult<String> {
        self.start_stack(acting, stack, token).await
    }

    async fn describe_stack(
        &self,
        acting: &AwsAccountId,
        name_or_id: &str,
    ) -> CloudResult<Option<StackDescription>> {
        self.stack_description(acting, name_or_id).await
    }

    async fn delete_stack(
        &self,
        acting: &AwsAccountId,
        name_or_id: &str,
        token: &str,
        deletion: StackDeletion,
    ) -> CloudResult<()> {
        self.start_stack_deletion(acting, name_or_id, token, deletion)
            .await
    }

    async fn create_stack_set(
        &self,
        acting: &AwsAccountId,
        stack_set: &StackSetSpec,
        token: &str,
    ) -> CloudResult<String> {
        self.create_set(acting, stack_set, token).await
    }

    async fn describe_stack_set(
        &self,
        acting: &AwsAccountId,
        name: &str,
    ) -> CloudResult<Option<StackSetDescription>> {
        self.describe_set(acting, name).await
    }

    async fn delete_stack_set(&self, acting: &AwsAccountId, name: &str) -> CloudResult<()> {
        self.delete_set(acting, name).await
    }

    async fn create_stack_instances(
        &self,
        acting: &AwsAccountId,
        stack_set: &str,
        targets: &InstanceTargets,
        operation_id: &str,
    ) -> CloudResult<String> {
        self.create_instances(acting, stack_set, targets, operation_id)
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
        self.delete_instances(acting, stack_set, targets, retain_stacks, operation_id)
            .await
    }

    async fn describe_stack_set_operation(
        &self,
        acting: &AwsAccountId,
        stack_set: &str,
        operation_id: &str,
    ) -> CloudResult<StackSetOperationStatus> {
        self.operation_status(acting, stack_set, operation_id).await
    }

    async fn list_stack_instances(
        &self,
        acting: &AwsAccountId,
        stack_set: &str,
    ) -> CloudResult<Vec<StackInstance>> {
        self.instances(acting, stack_set).await
    }
}
