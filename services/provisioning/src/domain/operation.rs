//! The operation: one AWS interaction persisted under its idempotency key, with what was asked, how far
//! it got (the AWS references) and how it ended.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tenure_domain::AwsAccountId;
use uuid::Uuid;

use crate::domain::aws_values::{AwsAccountState, account_id, account_ids};
use crate::domain::cloud::{
    CreateAccountState, HandshakeAction, HandshakeState, JoinedMethod, StackSetOperationStatus,
    StackStatus, TransferStatus,
};

/// What an operation does (one per mutating RPC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum OperationKind {
    CreateAccount,
    RemoveAccount,
    CloseAccount,
    InviteAccount,
    CancelHandshake,
    InviteBillingTransfer,
    EndBillingTransfer,
    WithdrawBillingTransfer,
    DeployBootstrapStack,
    DeleteBootstrapStack,
    CreateStackSet,
    DeleteStackSet,
    CreateStackInstances,
    DeleteStackInstances,
}

impl OperationKind {
    /// Every kind, for parsing.
    pub(crate) const ALL: [Self; 14] = [
        Self::CreateAccount,
        Self::RemoveAccount,
        Self::CloseAccount,
        Self::InviteAccount,
        Self::CancelHandshake,
        Self::InviteBillingTransfer,
        Self::EndBillingTransfer,
        Self::WithdrawBillingTransfer,
        Self::DeployBootstrapStack,
        Self::DeleteBootstrapStack,
        Self::CreateStackSet,
        Self::DeleteStackSet,
        Self::CreateStackInstances,
        Self::DeleteStackInstances,
    ];

    /// The stored spelling.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::CreateAccount => "CREATE_ACCOUNT",
            Self::RemoveAccount => "REMOVE_ACCOUNT",
            Self::CloseAccount => "CLOSE_ACCOUNT",
            Self::InviteAccount => "INVITE_ACCOUNT",
            Self::CancelHandshake => "CANCEL_HANDSHAKE",
            Self::InviteBillingTransfer => "INVITE_BILLING_TRANSFER",
            Self::EndBillingTransfer => "END_BILLING_TRANSFER",
            Self::WithdrawBillingTransfer => "WITHDRAW_BILLING_TRANSFER",
            Self::DeployBootstrapStack => "DEPLOY_BOOTSTRAP_STACK",
            Self::DeleteBootstrapStack => "DELETE_BOOTSTRAP_STACK",
            Self::CreateStackSet => "CREATE_STACK_SET",
            Self::DeleteStackSet => "DELETE_STACK_SET",
            Self::CreateStackInstances => "CREATE_STACK_INSTANCES",
            Self::DeleteStackInstances => "DELETE_STACK_INSTANCES",
        }
    }
}

/// Where an operation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum OperationState {
    /// AWS is working, or the engine will call it at `next_check_at`.
    InProgress,
    Succeeded,
    Failed,
    /// The customer must act in AWS; the saga asks them and starts a new operation afterwards, so this
    /// state is final for the operation.
    CustomerActionRequired,
    /// A quota or waiting period: the engine calls again at `next_check_at`.
    Deferred,
}

impl OperationState {
    /// Every state, for parsing.
    pub(crate) const ALL: [Self; 5] = [
        Self::InProgress,
        Self::Succeeded,
        Self::Failed,
        Self::CustomerActionRequired,
        Self::Deferred,
    ];

    /// The stored spelling.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::InProgress => "IN_PROGRESS",
            Self::Succeeded => "SUCCEEDED",
            Self::Failed => "FAILED",
            Self::CustomerActionRequired => "CUSTOMER_ACTION_REQUIRED",
            Self::Deferred => "DEFERRED",
        }
    }

    /// The state stored as `raw`.
    pub(crate) fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|state| state.as_str() == raw)
    }

    /// True once the engine never looks at the operation again.
    pub(crate) fn is_final(self) -> bool {
        matches!(
            self,
            Self::Succeeded | Self::Failed | Self::CustomerActionRequired
        )
    }
}

/// The StackSet templates the platform deploys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum StackSetTemplate {
    Essentials,
}

/// What was asked, with every account resolved, so that a restarted engine repeats exactly the same
/// calls. Account ids are stored as validated 12-digit strings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum OperationRequest {
    CreateAccount {
        #[serde(with = "account_id")]
        management_account: AwsAccountId,
        email: String,
        account_name: String,
    },
    RemoveAccount {
        #[serde(with = "account_id")]
        management_account: AwsAccountId,
        #[serde(with = "account_id")]
        account: AwsAccountId,
    },
    CloseAccount {
        #[serde(with = "account_id")]
        management_account: AwsAccountId,
        #[serde(with = "account_id")]
        account: AwsAccountId,
    },
    InviteAccount {
        #[serde(with = "account_id")]
        management_account: AwsAccountId,
        #[serde(with = "account_id")]
        target: AwsAccountId,
        order_id: String,
    },
    CancelHandshake {
        #[serde(with = "account_id")]
        management_account: AwsAccountId,
        handshake_id: String,
    },
    InviteBillingTransfer {
        #[serde(with = "account_id")]
        management_account: AwsAccountId,
        #[serde(with = "account_id")]
        source: AwsAccountId,
        source_name: String,
        order_id: String,
    },
    EndBillingTransfer {
        #[serde(with = "account_id")]
        management_account: AwsAccountId,
        transfer_id: String,
    },
    WithdrawBillingTransfer {
        #[serde(with = "account_id")]
        management_account: AwsAccountId,
        transfer_id: String,
    },
    DeployBootstrapStack {
        #[serde(with = "account_id")]
        account: AwsAccountId,
    },
    DeleteBootstrapStack {
        #[serde(with = "account_id")]
        account: AwsAccountId,
    },
    CreateStackSet {
        #[serde(with = "account_id")]
        management_account: AwsAccountId,
        template: StackSetTemplate,
    },
    DeleteStackSet {
        #[serde(with = "account_id")]
        management_account: AwsAccountId,
        template: StackSetTemplate,
    },
    CreateStackInstances {
        #[serde(with = "account_id")]
        management_account: AwsAccountId,
        template: StackSetTemplate,
        #[serde(with = "account_ids")]
        accounts: Vec<AwsAccountId>,
        regions: Vec<String>,
    },
    DeleteStackInstances {
        #[serde(with = "account_id")]
        management_account: AwsAccountId,
        template: StackSetTemplate,
        #[serde(with = "account_ids")]
        accounts: Vec<AwsAccountId>,
        regions: Vec<String>,
        retain_stacks: bool,
    },
}

impl OperationRequest {
    /// The kind of operation this request starts.
    pub(crate) fn kind(&self) -> OperationKind {
        match self {
            Self::CreateAccount { .. } => OperationKind::CreateAccount,
            Self::RemoveAccount { .. } => OperationKind::RemoveAccount,
            Self::CloseAccount { .. } => OperationKind::CloseAccount,
            Self::InviteAccount { .. } => OperationKind::InviteAccount,
            Self::CancelHandshake { .. } => OperationKind::CancelHandshake,
            Self::InviteBillingTransfer { .. } => OperationKind::InviteBillingTransfer,
            Self::EndBillingTransfer { .. } => OperationKind::EndBillingTransfer,
            Self::WithdrawBillingTransfer { .. } => OperationKind::WithdrawBillingTransfer,
            Self::DeployBootstrapStack { .. } => OperationKind::DeployBootstrapStack,
            Self::DeleteBootstrapStack { .. } => OperationKind::DeleteBootstrapStack,
            Self::CreateStackSet { .. } => OperationKind::CreateStackSet,
            Self::DeleteStackSet { .. } => OperationKind::DeleteStackSet,
            Self::CreateStackInstances { .. } => OperationKind::CreateStackInstances,
            Self::DeleteStackInstances { .. } => OperationKind::DeleteStackInstances,
        }
    }

    /// The account whose credentials run the calls.
    pub(crate) fn acting(&self) -> &AwsAccountId {
        match self {
            Self::DeployBootstrapStack { account } | Self::DeleteBootstrapStack { account } => {
                account
            }
            Self::CreateAccount {
                management_account, ..
            }
            | Self::RemoveAccount {
                management_account, ..
            }
            | Self::CloseAccount {
                management_account, ..
            }
            | Self::InviteAccount {
                management_account, ..
            }
            | Self::CancelHandshake {
                management_account, ..
            }
            | Self::InviteBillingTransfer {
                management_account, ..
            }
            | Self::EndBillingTransfer {
                management_account, ..
            }
            | Self::WithdrawBillingTransfer {
                management_account, ..
            }
            | Self::CreateStackSet {
                management_account, ..
            }
            | Self::DeleteStackSet {
                management_account, ..
            }
            | Self::CreateStackInstances {
                management_account, ..
            }
            | Self::DeleteStackInstances {
                management_account, ..
            } => management_account,
        }
    }

    /// The AWS account the operation concerns, as the API reports it (CreateAccount learns it later).
    pub(crate) fn subject_account(&self) -> Option<&AwsAccountId> {
        match self {
            Self::RemoveAccount { account, .. } | Self::CloseAccount { account, .. } => {
                Some(account)
            }
            Self::InviteAccount { target, .. } => Some(target),
            Self::InviteBillingTransfer { source, .. } => Some(source),
            Self::DeployBootstrapStack { account } | Self::DeleteBootstrapStack { account } => {
                Some(account)
            }
            Self::CreateStackInstances { accounts, .. }
            | Self::DeleteStackInstances { accounts, .. } => accounts.first(),
            Self::CreateAccount { .. }
            | Self::CancelHandshake { .. }
            | Self::EndBillingTransfer { .. }
            | Self::WithdrawBillingTransfer { .. }
            | Self::CreateStackSet { .. }
            | Self::DeleteStackSet { .. } => None,
        }
    }

    /// Every account the request names besides the organization that runs it: the subject, the
    /// invited or transferring account, each StackSet instance account. A purge of any of them takes
    /// the operation with it.
    pub(crate) fn named_accounts(&self) -> Vec<&AwsAccountId> {
        match self {
            Self::RemoveAccount { account, .. }
            | Self::CloseAccount { account, .. }
            | Self::DeployBootstrapStack { account }
            | Self::DeleteBootstrapStack { account }
            | Self::InviteAccount {
                target: account, ..
            }
            | Self::InviteBillingTransfer {
                source: account, ..
            } => vec![account],
            Self::CreateStackInstances { accounts, .. }
            | Self::DeleteStackInstances { accounts, .. } => accounts.iter().collect(),
            Self::CreateAccount { .. }
            | Self::CancelHandshake { .. }
            | Self::EndBillingTransfer { .. }
            | Self::WithdrawBillingTransfer { .. }
            | Self::CreateStackSet { .. }
            | Self::DeleteStackSet { .. } => Vec::new(),
        }
    }

    /// The AWS reference (`h-…`, `rt-…`) the request names instead of an account: the account it
    /// concerns is the one recorded for the reference.
    pub(crate) fn reference(&self) -> Option<&str> {
        match self {
            Self::CancelHandshake { handshake_id, .. } => Some(handshake_id),
            Self::EndBillingTransfer { transfer_id, .. }
            | Self::WithdrawBillingTransfer { transfer_id, .. } => Some(transfer_id),
            _ => None,
        }
    }

    /// The key of the per-account lease: two operations with the same key never run at once. Account
    /// operations lock the account; organization-wide ones (creations, handshakes, transfers, StackSets)
    /// lock the management account, which also keeps one StackSet operation in flight per StackSet.
    pub(crate) fn lock_key(&self) -> String {
        match self {
            Self::RemoveAccount { account, .. } | Self::CloseAccount { account, .. } => {
                format!("account:{account}")
            }
            Self::DeployBootstrapStack { account } | Self::DeleteBootstrapStack { account } => {
                format!("account:{account}")
            }
            _ => format!("organization:{}", self.acting()),
        }
    }
}

/// How far the first AWS call of an operation got, which decides what a restarted engine may do.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum Phase {
    /// No call that could have had an effect was sent: sending (again) is safe.
    #[default]
    Fresh,
    /// A call may have reached AWS and no reference came back: reconcile before sending again
    /// (domain.md §6.5).
    Sent,
    /// AWS answered and its reference is stored: poll or finish.
    Referenced,
}

/// An account as last read from AWS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct AccountSnapshot {
    #[serde(with = "account_id")]
    pub(crate) account_id: AwsAccountId,
    pub(crate) state: AwsAccountState,
    pub(crate) joined_method: Option<JoinedMethod>,
    pub(crate) joined_at: Option<DateTime<Utc>>,
}

/// A handshake as last read from AWS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct HandshakeSnapshot {
    pub(crate) id: String,
    pub(crate) action: HandshakeAction,
    pub(crate) state: HandshakeState,
    #[serde(with = "account_id")]
    pub(crate) target: AwsAccountId,
    pub(crate) requested_at: DateTime<Utc>,
    pub(crate) expires_at: DateTime<Utc>,
    pub(crate) transfer_id: Option<String>,
}

/// A billing transfer as last read from AWS, with the dates Tenure chose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct TransferSnapshot {
    pub(crate) id: String,
    pub(crate) handshake_id: Option<String>,
    pub(crate) status: TransferStatus,
    #[serde(with = "account_id")]
    pub(crate) source: AwsAccountId,
    pub(crate) start_at: DateTime<Utc>,
    pub(crate) expires_at: Option<DateTime<Utc>>,
    pub(crate) end_at: Option<DateTime<Utc>>,
}

/// A stack as last read from AWS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StackSnapshot {
    pub(crate) name: String,
    pub(crate) stack_id: Option<String>,
    pub(crate) status: StackStatus,
    #[serde(with = "account_id")]
    pub(crate) account: AwsAccountId,
}

/// A StackSet and its last operation as last read from AWS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StackSetSnapshot {
    pub(crate) name: String,
    pub(crate) stack_set_id: Option<String>,
    pub(crate) operation_id: Option<String>,
    pub(crate) operation_status: Option<StackSetOperationStatus>,
    #[serde(with = "account_ids")]
    pub(crate) accounts: Vec<AwsAccountId>,
}

/// Everything an operation learned from AWS so far; persisted after every call.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct Progress {
    pub(crate) phase: Phase,
    /// CreateAccount: `car-...`, its state and failure reason.
    pub(crate) create_request_id: Option<String>,
    pub(crate) create_status: Option<CreateAccountState>,
    pub(crate) failure_reason: Option<String>,
    pub(crate) account: Option<AccountSnapshot>,
    pub(crate) handshake: Option<HandshakeSnapshot>,
    pub(crate) transfer: Option<TransferSnapshot>,
    pub(crate) stack: Option<StackSnapshot>,
    pub(crate) stack_set: Option<StackSetSnapshot>,
    /// The billing transfer start or end this operation asked for (moved once on *_TOO_EARLY).
    pub(crate) requested_date: Option<DateTime<Utc>>,
    pub(crate) date_moved: bool,
    /// DeleteBootstrapStack: the one FORCE_DELETE_STACK after DELETE_FAILED was accepted.
    pub(crate) force_deleted: bool,
    /// DeleteStackInstances: the one repeat with `RetainStacks=true` after instances were left
    /// INOPERABLE was started.
    pub(crate) retained_inoperable: bool,
    /// WithdrawBillingTransfer: which call the transfer's state required.
    pub(crate) withdraw_by: Option<String>,
    /// Consecutive transient failures, for the backoff.
    pub(crate) transient_attempts: u32,
    /// Repeats of the whole call after an AWS-side failure (INTERNAL_FAILURE, FAILED operations).
    pub(crate) repeats: u32,
}

/// Why an operation did not succeed (yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OperationError {
    /// The catalogue code (`TNR101`), when one applies.
    pub(crate) code: Option<String>,
    /// The AWS exception code or failure reason, verbatim.
    pub(crate) aws_code: Option<String>,
    /// A short message with no personal data.
    pub(crate) message: String,
}

/// A persisted operation.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Operation {
    pub(crate) id: Uuid,
    pub(crate) tenant_id: Option<Uuid>,
    pub(crate) caller: String,
    pub(crate) idempotency_key: String,
    pub(crate) request_hash: Vec<u8>,
    pub(crate) request: OperationRequest,
    pub(crate) state: OperationState,
    pub(crate) aws_account_id: Option<AwsAccountId>,
    pub(crate) progress: Progress,
    pub(crate) error: Option<OperationError>,
    pub(crate) aws_calls: u32,
    /// When the engine is due to look at the operation again, on the business clock (simulated in
    /// the sandbox).
    pub(crate) next_check_at: Option<DateTime<Utc>>,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) updated_at: DateTime<Utc>,
    /// The fencing token of the claim this copy was read under: only the stepper holding the latest
    /// claim may write the operation back, so a stepper that stalled past its claim cannot overwrite
    /// a newer state with an older one.
    pub(crate) claim_epoch: i64,
}

/// The claim of the request that creates an operation, the first of every operation.
pub(crate) const FIRST_CLAIM_EPOCH: i64 = 1;

impl Operation {
    /// A new operation whose intent is about to be persisted.
    pub(crate) fn intent(
        caller: &str,
        tenant_id: Option<Uuid>,
        idempotency_key: &str,
        request_hash: Vec<u8>,
        request: OperationRequest,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            id: Uuid::new_v4(),
            tenant_id,
            caller: caller.to_owned(),
            idempotency_key: idempotency_key.to_owned(),
            request_hash,
            aws_account_id: request.subject_account().cloned(),
            request,
            state: OperationState::InProgress,
            progress: Progress::default(),
            error: None,
            aws_calls: 0,
            // Due at once, but stored claimed by the request that creates it, which runs the first
            // step; the engine's worker only takes over if that request dies (its claim expires).
            next_check_at: Some(now),
            created_at: now,
            updated_at: now,
            claim_epoch: FIRST_CLAIM_EPOCH,
        }
    }

    /// The kind.
    pub(crate) fn kind(&self) -> OperationKind {
        self.request.kind()
    }

    /// The accounts the operation concerns (domain.md §8); see [`concerned_accounts`].
    pub(crate) fn concerned_accounts(&self) -> BTreeSet<String> {
        concerned_accounts(
            &self.request,
            self.aws_account_id.as_ref().map(AwsAccountId::as_str),
            &self.progress,
        )
    }

    /// The deterministic token for CloudFormation calls (ClientRequestToken, OperationId): a UUIDv5 of
    /// the operation's idempotency scope, so a repeat after a crash names the same request
    /// (domain.md §6.5). A hyphenated UUID matches `[a-zA-Z0-9][-a-zA-Z0-9]*` and fits 128 characters.
    pub(crate) fn aws_token(&self, purpose: &str) -> String {
        let name = format!("{}\n{}\n{purpose}", self.caller, self.idempotency_key);
        Uuid::new_v5(&TOKEN_NAMESPACE, name.as_bytes()).to_string()
    }
}

/// The accounts an operation concerns: those its request names, the one it reports, and those AWS
/// answered about (a created account, a handshake's target, a transfer's source, a stack's account).
/// Only well-formed account ids count.
pub(crate) fn concerned_accounts(
    request: &OperationRequest,
    reported: Option<&str>,
    progress: &Progress,
) -> BTreeSet<String> {
    let learned = [
        reported,
        progress
            .account
            .as_ref()
            .map(|account| account.account_id.as_str()),
        progress
            .handshake
            .as_ref()
            .map(|handshake| handshake.target.as_str()),
        progress
            .transfer
            .as_ref()
            .map(|transfer| transfer.source.as_str()),
        progress.stack.as_ref().map(|stack| stack.account.as_str()),
    ];
    let instances = progress
        .stack_set
        .iter()
        .flat_map(|set| set.accounts.iter().map(AwsAccountId::as_str));
    request
        .named_accounts()
        .into_iter()
        .map(AwsAccountId::as_str)
        .chain(learned.into_iter().flatten())
        .chain(instances)
        .filter(|account| AwsAccountId::parse(account).is_ok())
        .map(str::to_owned)
        .collect()
}

/// The UUIDv5 namespace of Tenure's AWS tokens (a fixed random UUID).
const TOKEN_NAMESPACE: Uuid = Uuid::from_u128(0x6c2f_4a7e_93d1_4b0a_8f35_2e9c_71d4_a6b8);
