//! The AWS primitives every provisioning operation is built from: the `Cloud` trait, its vocabulary, and
//! the `aws` backend. A crate of its own so that the AWS SDK, the heaviest build in the workspace, is
//! compiled once and not again on every change to the provisioning service.
//!
//! Two backends implement [`Cloud`]: `aws` (Organizations and CloudFormation through the official SDK,
//! in this crate) and `sandbox` (an in-process simulation persisted in provisioning's own database, the
//! embedded default of `tenure up`). Both speak AWS's own vocabulary: the same exception codes, reasons,
//! states and identifier formats. That is deliberate: one reaction table decides what each answer means,
//! and one contract suite runs against both, so the sandbox cannot drift into a friendlier AWS than the
//! real one.
//!
//! Every call names the account whose credentials it runs with (`acting`): the platform organization's
//! management account for Organizations calls, or the account that holds the stacks for CloudFormation.
//! The `aws` backend turns it into a role assumption (or, against an emulator, the emulator's account
//! header); the sandbox keeps one simulated organization per management account.

use std::fmt;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tenure_domain::AwsAccountId;

mod aws;
#[cfg(feature = "contract")]
pub mod contract;
mod counting;
mod decorator;
mod names;
#[cfg(feature = "contract")]
pub mod testing;

pub use aws::{AwsCloud, AwsSettings, https_client};
pub use counting::{CallCounter, CountingCloud};
pub use decorator::{CallHook, Hooked};
pub use names::UnknownAwsValue;

/// The prefix of a CreateAccount request id (`car-...`).
pub const CREATE_ACCOUNT_REQUEST_PREFIX: &str = "car-";
/// The prefix of a handshake id (`h-...`).
pub const HANDSHAKE_PREFIX: &str = "h-";
/// The prefix of a responsibility (billing) transfer id (`rt-...`).
pub const TRANSFER_PREFIX: &str = "rt-";

/// True when `id` is `prefix` followed by 8 to 32 lower-case letters or digits: the shape domain.md §6.2
/// requires of CreateAccount request, handshake and transfer ids (see the `*_PREFIX` constants).
pub fn is_valid_aws_id(id: &str, prefix: &str) -> bool {
    id.strip_prefix(prefix).is_some_and(|rest| {
        (8..=32).contains(&rest.len())
            && rest
                .bytes()
                .all(|byte| byte.is_ascii_digit() || byte.is_ascii_lowercase())
    })
}

/// What a backend call returns.
pub type CloudResult<T> = Result<T, CloudError>;

/// Which implementation of [`Cloud`] a process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    /// The real AWS APIs (or an emulator behind an endpoint override).
    Aws,
    /// The in-process simulation.
    Sandbox,
}

/// An AWS answer that is not a success, in AWS's own words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudError {
    /// The exception name, e.g. `ConstraintViolationException`; `None` when the response carried none
    /// (an HTML 500 from an emulator) or when no response arrived at all.
    pub code: Option<String>,
    /// The reason AWS gives inside the exception, e.g. `CLOSE_ACCOUNT_QUOTA_EXCEEDED`.
    pub reason: Option<String>,
    /// The HTTP status, when a response arrived.
    pub http_status: Option<u16>,
    /// True when the request may have reached AWS but no usable answer came back (timeout, connection
    /// reset after sending, an unreadable or invalid response, a 5xx server error): the effect may or
    /// may not exist, so the caller reconciles before re-sending.
    pub ambiguous: bool,
    /// AWS's message, for logs; it may hold identifiers but never goes into a user-facing answer.
    pub message: String,
}

impl CloudError {
    /// An error response with an exception code and, optionally, a reason.
    pub fn service(
        code: &str,
        reason: Option<&str>,
        http_status: u16,
        message: impl Into<String>,
    ) -> Self {
        Self {
            code: Some(code.to_owned()),
            reason: reason.map(str::to_owned),
            http_status: Some(http_status),
            ambiguous: false,
            message: message.into(),
        }
    }

    /// No answer arrived after the request may have been sent.
    pub fn no_response(message: impl Into<String>) -> Self {
        Self {
            code: None,
            reason: None,
            http_status: None,
            ambiguous: true,
            message: message.into(),
        }
    }

    /// True when the exception code is `code`.
    pub fn is(&self, code: &str) -> bool {
        self.code.as_deref() == Some(code)
    }

    /// True when the reason is `reason`.
    pub fn has_reason(&self, reason: &str) -> bool {
        self.reason.as_deref() == Some(reason)
    }
}

impl fmt::Display for CloudError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.code, &self.reason) {
            (Some(code), Some(reason)) => write!(f, "{code} ({reason}): {}", self.message),
            (Some(code), None) => write!(f, "{code}: {}", self.message),
            (None, _) if self.ambiguous => write!(f, "no response: {}", self.message),
            (None, _) => write!(
                f,
                "HTTP {:?} without an error code: {}",
                self.http_status, self.message
            ),
        }
    }
}

impl std::error::Error for CloudError {}

/// `CreateAccountStatus.State`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreateAccountState {
    InProgress,
    Succeeded,
    Failed,
}

/// `CreateAccountStatus`, as DescribeCreateAccountStatus and ListCreateAccountStatus report it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateAccountStatus {
    /// `car-...`.
    pub request_id: String,
    pub account_name: String,
    pub state: CreateAccountState,
    pub requested_at: DateTime<Utc>,
    /// Set once AWS created the account.
    pub account_id: Option<AwsAccountId>,
    /// Set when FAILED, e.g. `EMAIL_ALREADY_EXISTS`.
    pub failure_reason: Option<String>,
}

/// `Account.State` as DescribeAccount reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountState {
    PendingActivation,
    Active,
    PendingClosure,
    Suspended,
    Closed,
}

/// `Account.JoinedMethod`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinedMethod {
    Created,
    Invited,
}

/// An account of an organization, as DescribeAccount and ListAccounts report it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountDescription {
    pub id: AwsAccountId,
    pub name: String,
    pub email: String,
    pub state: AccountState,
    pub joined_method: JoinedMethod,
    pub joined_at: DateTime<Utc>,
}

/// `Handshake.Action` for the two kinds Tenure sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandshakeAction {
    Invite,
    TransferResponsibility,
}

/// `Handshake.State`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandshakeState {
    Requested,
    Open,
    Accepted,
    Declined,
    Canceled,
    Expired,
}

impl HandshakeState {
    /// True once the handshake can no longer change.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Self::Accepted | Self::Declined | Self::Canceled | Self::Expired
        )
    }
}

/// A handshake, with the ids its resources carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handshake {
    /// `h-...`.
    pub id: String,
    pub action: HandshakeAction,
    pub state: HandshakeState,
    /// The invited account (the `ACCOUNT` party).
    pub target: AwsAccountId,
    pub requested_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// For TRANSFER_RESPONSIBILITY: the `rt-...` transfer the handshake carries.
    pub transfer_id: Option<String>,
    /// The `NOTES` resource (Tenure puts only the order id there).
    pub notes: Option<String>,
}

/// What InviteOrganizationToTransferResponsibility is given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferInvitation {
    /// The customer's management account (the handshake target).
    pub source_management_account: AwsAccountId,
    /// 00:00:00 UTC on the 1st of a month.
    pub start_at: DateTime<Utc>,
    /// 1 to 128 printable ASCII characters.
    pub source_name: String,
    /// At most 1024 characters; the order id only.
    pub notes: String,
}

/// `ResponsibilityTransferStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferStatus {
    Requested,
    Accepted,
    Declined,
    Canceled,
    Expired,
    Withdrawn,
}

/// A billing (responsibility) transfer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BillingTransfer {
    /// `rt-...`.
    pub id: String,
    pub status: TransferStatus,
    pub source_management_account: AwsAccountId,
    pub start_at: DateTime<Utc>,
    pub end_at: Option<DateTime<Utc>>,
    /// The handshake still awaiting an answer, if any.
    pub active_handshake_id: Option<String>,
}

/// A stack the platform deploys into one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackSpec {
    /// Generated by the platform, `tenure-...`.
    pub name: String,
    /// The template body (from `deploy/cloudformation/`).
    pub template_body: String,
    /// Tags that mark the stack as Tenure's, so an `AlreadyExistsException` can adopt it safely.
    pub tags: Vec<(String, String)>,
}

/// A stack as DescribeStacks reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackDescription {
    /// The ARN.
    pub stack_id: String,
    pub name: String,
    pub status: StackStatus,
    pub tags: Vec<(String, String)>,
}

/// `StackStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StackStatus {
    CreateInProgress,
    CreateFailed,
    CreateComplete,
    RollbackInProgress,
    RollbackFailed,
    RollbackComplete,
    DeleteInProgress,
    DeleteFailed,
    DeleteComplete,
    UpdateInProgress,
    UpdateCompleteCleanupInProgress,
    UpdateComplete,
    UpdateFailed,
    UpdateRollbackInProgress,
    UpdateRollbackFailed,
    UpdateRollbackCompleteCleanupInProgress,
    UpdateRollbackComplete,
    ReviewInProgress,
    ImportInProgress,
    ImportComplete,
    ImportRollbackInProgress,
    ImportRollbackFailed,
    ImportRollbackComplete,
}

impl StackStatus {
    /// True when the stack's resources stand as its template says (created, or updated since).
    pub fn is_deployed(self) -> bool {
        matches!(self, Self::CreateComplete | Self::UpdateComplete)
    }

    /// True while CloudFormation is still working on the stack, so its status will change.
    pub fn is_in_progress(self) -> bool {
        matches!(
            self,
            Self::CreateInProgress
                | Self::RollbackInProgress
                | Self::DeleteInProgress
                | Self::UpdateInProgress
                | Self::UpdateCompleteCleanupInProgress
                | Self::UpdateRollbackInProgress
                | Self::UpdateRollbackCompleteCleanupInProgress
                | Self::ReviewInProgress
                | Self::ImportInProgress
                | Self::ImportRollbackInProgress
        )
    }
}

/// `StackSetStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StackSetStatus {
    Active,
    Deleted,
}

/// `StackInstanceDetailedStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StackInstanceStatus {
    Pending,
    Running,
    Succeeded,
    Failed,
    Cancelled,
    Inoperable,
    SkippedSuspendedAccount,
    FailedImport,
}

/// A self-managed StackSet the platform creates in a management account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackSetSpec {
    pub name: String,
    pub template_body: String,
    pub tags: Vec<(String, String)>,
}

/// How DeleteStack treats resources that cannot be deleted (`DeletionMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StackDeletion {
    /// Stop at the first resource that cannot be deleted: the stack ends `DELETE_FAILED`.
    Standard,
    /// `FORCE_DELETE_STACK`: keep what cannot be deleted and finish. AWS accepts it only for a stack in
    /// `DELETE_FAILED`.
    Force,
}

/// A StackSet as DescribeStackSet reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackSetDescription {
    pub stack_set_id: String,
    pub name: String,
    pub status: StackSetStatus,
    pub tags: Vec<(String, String)>,
}

/// The accounts and regions of a StackSet instance operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceTargets {
    pub accounts: Vec<AwsAccountId>,
    pub regions: Vec<String>,
}

/// `StackSetOperationStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StackSetOperationStatus {
    Queued,
    Running,
    Stopping,
    Succeeded,
    Failed,
    Stopped,
}

impl StackSetOperationStatus {
    /// True once the operation can no longer change.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::Stopped)
    }
}

/// One StackSet instance, as ListStackInstances reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackInstance {
    pub account: AwsAccountId,
    pub region: String,
    pub detailed_status: StackInstanceStatus,
}

/// The AWS primitives provisioning composes into operations. Each method is one AWS API call (list calls
/// follow `NextToken` to the end); none retries on its own beyond what the SDK does, because retrying,
/// deferring and reconciling are decisions of the operation engine.
#[async_trait]
pub trait Cloud: Send + Sync + fmt::Debug {
    /// Which backend this is.
    fn kind(&self) -> BackendKind;

    // Organizations, run as the organization's management account `acting`.

    /// CreateAccount.
    async fn create_account(
        &self,
        acting: &AwsAccountId,
        email: &str,
        account_name: &str,
    ) -> CloudResult<CreateAccountStatus>;
    /// DescribeCreateAccountStatus.
    async fn describe_create_account_status(
        &self,
        acting: &AwsAccountId,
        request_id: &str,
    ) -> CloudResult<CreateAccountStatus>;
    /// ListCreateAccountStatus, every state, every page.
    async fn list_create_account_statuses(
        &self,
        acting: &AwsAccountId,
    ) -> CloudResult<Vec<CreateAccountStatus>>;
    /// DescribeAccount.
    async fn describe_account(
        &self,
        acting: &AwsAccountId,
        account: &AwsAccountId,
    ) -> CloudResult<AccountDescription>;
    /// ListAccounts, every page.
    async fn list_accounts(&self, acting: &AwsAccountId) -> CloudResult<Vec<AccountDescription>>;
    /// RemoveAccountFromOrganization.
    async fn remove_account(
        &self,
        acting: &AwsAccountId,
        account: &AwsAccountId,
    ) -> CloudResult<()>;
    /// CloseAccount.
    async fn close_account(&self, acting: &AwsAccountId, account: &AwsAccountId)
    -> CloudResult<()>;
    /// InviteAccountToOrganization.
    async fn invite_account(
        &self,
        acting: &AwsAccountId,
        target: &AwsAccountId,
        notes: &str,
    ) -> CloudResult<Handshake>;
    /// DescribeHandshake.
    async fn describe_handshake(
        &self,
        acting: &AwsAccountId,
        handshake_id: &str,
    ) -> CloudResult<Handshake>;
    /// ListHandshakesForOrganization filtered by action, every page.
    async fn list_handshakes(
        &self,
        acting: &AwsAccountId,
        action: HandshakeAction,
    ) -> CloudResult<Vec<Handshake>>;
    /// CancelHandshake.
    async fn cancel_handshake(
        &self,
        acting: &AwsAccountId,
        handshake_id: &str,
    ) -> CloudResult<Handshake>;
    /// InviteOrganizationToTransferResponsibility (type BILLING).
    async fn invite_billing_transfer(
        &self,
        acting: &AwsAccountId,
        invitation: &TransferInvitation,
    ) -> CloudResult<Handshake>;
    /// DescribeResponsibilityTransfer.
    async fn describe_billing_transfer(
        &self,
        acting: &AwsAccountId,
        transfer_id: &str,
    ) -> CloudResult<BillingTransfer>;
    /// ListInboundResponsibilityTransfers (type BILLING), every page.
    async fn list_inbound_billing_transfers(
        &self,
        acting: &AwsAccountId,
    ) -> CloudResult<Vec<BillingTransfer>>;
    /// TerminateResponsibilityTransfer with the given end.
    async fn terminate_billing_transfer(
        &self,
        acting: &AwsAccountId,
        transfer_id: &str,
        end_at: DateTime<Utc>,
    ) -> CloudResult<BillingTransfer>;

    // CloudFormation, run in the account `acting` that holds the stacks.

    /// CreateStack with `CAPABILITY_NAMED_IAM` and the ClientRequestToken `token`; returns the stack id.
    async fn create_stack(
        &self,
        acting: &AwsAccountId,
        stack: &StackSpec,
        token: &str,
    ) -> CloudResult<String>;
    /// DescribeStacks for one stack by name or id; `None` when it does not exist.
    async fn describe_stack(
        &self,
        acting: &AwsAccountId,
        name_or_id: &str,
    ) -> CloudResult<Option<StackDescription>>;
    /// DeleteStack with the ClientRequestToken `token`.
    async fn delete_stack(
        &self,
        acting: &AwsAccountId,
        name_or_id: &str,
        token: &str,
        deletion: StackDeletion,
    ) -> CloudResult<()>;
    /// CreateStackSet (self-managed) with the ClientRequestToken `token`; returns the StackSet id.
    async fn create_stack_set(
        &self,
        acting: &AwsAccountId,
        stack_set: &StackSetSpec,
        token: &str,
    ) -> CloudResult<String>;
    /// DescribeStackSet; `None` when it does not exist.
    async fn describe_stack_set(
        &self,
        acting: &AwsAccountId,
        name: &str,
    ) -> CloudResult<Option<StackSetDescription>>;
    /// DeleteStackSet.
    async fn delete_stack_set(&self, acting: &AwsAccountId, name: &str) -> CloudResult<()>;
    /// CreateStackInstances with OperationId `operation_id`; returns the operation id AWS used.
    async fn create_stack_instances(
        &self,
        acting: &AwsAccountId,
        stack_set: &str,
        targets: &InstanceTargets,
        operation_id: &str,
    ) -> CloudResult<String>;
    /// DeleteStackInstances with OperationId `operation_id`; returns the operation id AWS used.
    async fn delete_stack_instances(
        &self,
        acting: &AwsAccountId,
        stack_set: &str,
        targets: &InstanceTargets,
        retain_stacks: bool,
        operation_id: &str,
    ) -> CloudResult<String>;
    /// DescribeStackSetOperation.
    async fn describe_stack_set_operation(
        &self,
        acting: &AwsAccountId,
        stack_set: &str,
        operation_id: &str,
    ) -> CloudResult<StackSetOperationStatus>;
    /// ListStackInstances, every page.
    async fn list_stack_instances(
        &self,
        acting: &AwsAccountId,
        stack_set: &str,
    ) -> CloudResult<Vec<StackInstance>>;
}
