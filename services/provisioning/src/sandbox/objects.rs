//! The simulated AWS objects, stored whole as JSON.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tenure_provisioning_cloud::{
    AccountState, CreateAccountState, HandshakeAction, HandshakeState, JoinedMethod,
    StackInstanceStatus, StackSetOperationStatus, StackSetStatus, StackStatus, TransferStatus,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct SimOrganization {
    pub(super) id: String,
    pub(super) management: String,
    pub(super) created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct SimAccount {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) email: String,
    /// The management account of the organization it belongs to; `None` once it left.
    pub(super) organization: Option<String>,
    pub(super) state: AccountState,
    pub(super) joined_method: JoinedMethod,
    pub(super) joined_at: DateTime<Utc>,
    pub(super) close_requested_at: Option<DateTime<Utc>>,
    pub(super) suspended_at: Option<DateTime<Utc>>,
}

impl SimAccount {
    /// An `ACTIVE` account, never asked to close, that joined `organization` (`None`: standalone) by
    /// `joined_method` at `joined_at`.
    pub(super) fn active(
        id: String,
        name: String,
        email: String,
        organization: Option<String>,
        joined_method: JoinedMethod,
        joined_at: DateTime<Utc>,
    ) -> Self {
        Self {
            id,
            name,
            email,
            organization,
            state: AccountState::Active,
            joined_method,
            joined_at,
            close_requested_at: None,
            suspended_at: None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct SimCreateRequest {
    pub(super) id: String,
    pub(super) management: String,
    pub(super) account_name: String,
    pub(super) email: String,
    pub(super) requested_at: DateTime<Utc>,
    pub(super) state: CreateAccountState,
    pub(super) account_id: Option<String>,
    pub(super) failure_reason: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct SimHandshake {
    pub(super) id: String,
    pub(super) management: String,
    pub(super) action: HandshakeAction,
    pub(super) state: HandshakeState,
    pub(super) target: String,
    pub(super) requested_at: DateTime<Utc>,
    pub(super) expires_at: DateTime<Utc>,
    pub(super) transfer_id: Option<String>,
    pub(super) notes: Option<String>,
    /// When it reached a terminal state; AWS shows it for 30 days after that. Absent in rows written
    /// before the sandbox tracked it (those stay visible).
    #[serde(default)]
    pub(super) ended_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct SimTransfer {
    pub(super) id: String,
    pub(super) management: String,
    pub(super) source: String,
    pub(super) status: TransferStatus,
    pub(super) start_at: DateTime<Utc>,
    pub(super) end_at: Option<DateTime<Utc>>,
    pub(super) handshake_id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct SimStack {
    pub(super) stack_id: String,
    pub(super) name: String,
    pub(super) account: String,
    pub(super) status: StackStatus,
    pub(super) tags: Vec<(String, String)>,
    pub(super) token: Option<String>,
    pub(super) changed_at: DateTime<Utc>,
    /// A resource in the stack cannot be deleted (as a bucket the customer filled): a standard delete
    /// ends `DELETE_FAILED`.
    #[serde(default)]
    pub(super) undeletable: bool,
    /// The running deletion is `FORCE_DELETE_STACK`, which keeps such resources and completes.
    #[serde(default)]
    pub(super) forced: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct SimStackSet {
    pub(super) stack_set_id: String,
    pub(super) name: String,
    pub(super) account: String,
    pub(super) status: StackSetStatus,
    pub(super) tags: Vec<(String, String)>,
    pub(super) token: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct SimInstance {
    pub(super) account: String,
    pub(super) region: String,
    pub(super) detailed_status: StackInstanceStatus,
    /// Its stack cannot be deleted: a deletion that does not retain stacks fails and leaves the
    /// instance `INOPERABLE`.
    #[serde(default)]
    pub(super) undeletable: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct SimStackSetOperation {
    pub(super) id: String,
    /// `CREATE` or `DELETE`.
    pub(super) action: String,
    pub(super) accounts: Vec<String>,
    pub(super) regions: Vec<String>,
    pub(super) retain_stacks: bool,
    pub(super) status: StackSetOperationStatus,
    pub(super) created_at: DateTime<Utc>,
}
