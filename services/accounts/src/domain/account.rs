//! AWS account records as the service keeps them, with what hangs off them (the transition history,
//! subscriptions, the details fetched from AWS): the records `store/` reads and writes and the use
//! cases hand to the API, with every id, email and stored vocabulary value already read.

use chrono::{DateTime, Utc};
use tenure_domain::{AwsAccountId, RootEmail};
use uuid::Uuid;

use crate::domain::{
    AccountRole, AccountState, AccountsError, JoinedMethod, LifecycleEvent, OpenBalance,
    OrganizationId, ParentId, Relationship, RemovalPurge, RootAccess, SubscriptionStatus, Tag,
    check_transition,
};

/// One AWS account record of a tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AccountRecord {
    pub(crate) id: Uuid,
    pub(crate) tenant_id: Uuid,
    /// Unknown until AWS creates a new account and the order attaches it.
    pub(crate) aws_account_id: Option<AwsAccountId>,
    pub(crate) name: Option<String>,
    pub(crate) root_email: Option<RootEmail>,
    pub(crate) role: AccountRole,
    pub(crate) relationship: Relationship,
    pub(crate) organization_id: Option<OrganizationId>,
    pub(crate) parent_id: Option<ParentId>,
    pub(crate) management_account_id: Option<AwsAccountId>,
    pub(crate) joined_method: Option<JoinedMethod>,
    pub(crate) root_access: Option<RootAccess>,
    pub(crate) state: AccountState,
    pub(crate) state_changed_at: DateTime<Utc>,
    /// The order working on the record, which holds it against every other order.
    pub(crate) active_order_id: Option<Uuid>,
    pub(crate) closed_at: Option<DateTime<Utc>>,
    pub(crate) reopen_until: Option<DateTime<Utc>>,
    pub(crate) billing_starts_at: Option<DateTime<Utc>>,
    pub(crate) billing_ends_at: Option<DateTime<Utc>>,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) removed_at: Option<DateTime<Utc>>,
    pub(crate) removal_purge_id: Option<Uuid>,
    pub(crate) removal_purge_due_at: Option<DateTime<Utc>>,
    pub(crate) removal_purged_at: Option<DateTime<Utc>>,
    pub(crate) open_balance: Option<OpenBalance>,
}

impl AccountRecord {
    /// The record as `event` leaves it at `at`, when the lifecycle allows the move.
    pub(crate) fn moved(
        &self,
        event: LifecycleEvent,
        at: DateTime<Utc>,
    ) -> Result<Self, AccountsError> {
        let mut next = self.clone();
        next.state = check_transition(self.state, event)?;
        next.state_changed_at = at;
        Ok(next)
    }

    /// The purge the record's removal scheduled, if it has one.
    pub(crate) fn removal_purge(&self) -> Option<RemovalPurge> {
        self.removal_purge_id.map(|purge_id| RemovalPurge {
            purge_id,
            purged_at: self.removal_purged_at,
        })
    }

    /// How a refusal names the record: by its AWS account id, or by its own id before it has one.
    pub(crate) fn label(&self) -> String {
        self.aws_account_id
            .as_ref()
            .map_or_else(|| self.id.to_string(), ToString::to_string)
    }

    /// The AWS account id of a record that must have one (every record that was ever active does).
    pub(crate) fn known_aws_account_id(&self) -> Result<&AwsAccountId, AccountsError> {
        self.aws_account_id
            .as_ref()
            .ok_or_else(|| AccountsError::internal("an active record has no AWS account id"))
    }
}

/// One move of a record, as its history shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Transition {
    /// `None` for the record's first state.
    pub(crate) from_state: Option<AccountState>,
    pub(crate) to_state: AccountState,
    pub(crate) at: DateTime<Utc>,
    pub(crate) actor_subject: String,
    /// The stored principal role (`customer`, `operator`, `billing`, `service`).
    pub(crate) actor_role: String,
    pub(crate) reason: String,
    pub(crate) order_id: Option<Uuid>,
}

/// A marketplace subscription that bills one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SubscriptionRecord {
    pub(crate) id: Uuid,
    pub(crate) tenant_id: Uuid,
    pub(crate) account_id: Uuid,
    pub(crate) marketplace_ref: String,
    pub(crate) status: SubscriptionStatus,
    pub(crate) started_at: DateTime<Utc>,
    pub(crate) terminated_at: Option<DateTime<Utc>>,
}

/// The details of a record as last fetched from AWS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AccountDetails {
    pub(crate) account_id: Uuid,
    pub(crate) tenant_id: Uuid,
    /// As AWS shows it: up to 128 characters of any kind.
    pub(crate) name: String,
    pub(crate) email: RootEmail,
    pub(crate) organization_path: String,
    pub(crate) tags: Vec<Tag>,
    pub(crate) fetched_at: DateTime<Utc>,
}

/// Filters of a list of account records; `None` and empty filter nothing.
#[derive(Debug, Clone, Default)]
pub(crate) struct AccountFilter {
    pub(crate) tenant: Option<Uuid>,
    pub(crate) states: Vec<AccountState>,
    pub(crate) relationship: Option<Relationship>,
    pub(crate) management_account_id: Option<AwsAccountId>,
}

/// Filters of a list of subscriptions; `None` filters nothing.
#[derive(Debug, Clone, Default)]
pub(crate) struct SubscriptionFilter {
    pub(crate) tenant: Option<Uuid>,
    pub(crate) account_id: Option<Uuid>,
    pub(crate) status: Option<SubscriptionStatus>,
}
