//! What a customer orders, as the saga engine reads it: the kind, the details as placed, and the facts
//! about the tenant and the account that were known when the order was accepted.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

tenure_domain::stored_enums! {
    /// The kind of an order, as the API names it.
    OrderKind { NewAccount => "new_account", Transfer => "transfer", Terminate => "terminate" }
    /// The lifecycle status of an order (domain.md §4.1).
    OrderStatus {
        Processing => "processing",
        Querying => "querying",
        Completed => "completed",
        Failed => "failed",
        Cancelled => "cancelled",
    }
    /// Who resolves a manual task.
    TaskOwner { Operations => "operations", Customer => "customer" }
    /// Where a manual task stands.
    TaskState {
        Open => "open",
        Completed => "completed",
        Rejected => "rejected",
        Cancelled => "cancelled",
        Expired => "expired",
    }
    /// What a manual task asks for.
    TaskKind { Action => "action", Survey => "survey" }
}

impl OrderStatus {
    /// True once the order can no longer change.
    pub(crate) fn is_terminal(self) -> bool {
        matches!(
            self,
            OrderStatus::Completed | OrderStatus::Failed | OrderStatus::Cancelled
        )
    }
}

/// How the platform resells AWS to the tenant; it selects the steps of organization transfers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ResaleModel {
    Ecam,
    Spam,
    BillingTransfer,
}

/// How an account relates to the platform; it decides what a termination does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Relationship {
    PlatformMember,
    PlatformPayer,
    BillingTransferSource,
}

/// The position of an account in its organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum AccountRole {
    Management,
    Member,
}

/// Close permanently or unlink.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum TerminationMode {
    Close,
    Unlink,
}

/// The closing precautions of domain.md §3.4, by their catalogue names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[expect(
    clippy::enum_variant_names,
    reason = "each variant is its catalogue name (ACK_ROOT_USER, ...), as stored and as the API spells it"
)]
pub(crate) enum Acknowledgement {
    AckRootUser,
    AckNoMembers,
    AckBackup,
    AckOutstandingBill,
    AckCommitments,
    AckResources,
    AckEmailNotReusable,
    AckReopenWindow,
    AckStandalone,
}

/// An amount of money exact to a millionth of its unit, as the billing system reports balances.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Money {
    /// ISO 4217 code, three upper-case letters.
    pub(crate) currency: String,
    pub(crate) amount_micros: i64,
}

/// What was ordered, as placed (after validation). Root emails and account names are `aws_fetched`
/// data: a purge scrubs them from here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum OrderDetails {
    NewAccount {
        root_email: String,
        account_name: String,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        support_contact: String,
    },
    BillingTransfer {
        management_account_id: String,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        transfer_name: String,
    },
    OrganizationTransfer {
        uses_organizations: bool,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        management_account_id: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        linked_account_ids: Vec<String>,
    },
    Terminate {
        aws_account_id: String,
        mode: TerminationMode,
        acknowledgements: Vec<Acknowledgement>,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        reason: String,
        /// The open balance the customer confirmed (TNR015), when the account has one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        acknowledged_open_balance: Option<Money>,
    },
}

impl OrderDetails {
    /// The kind the API reports.
    pub(crate) fn kind(&self) -> OrderKind {
        match self {
            OrderDetails::NewAccount { .. } => OrderKind::NewAccount,
            OrderDetails::BillingTransfer { .. } | OrderDetails::OrganizationTransfer { .. } => {
                OrderKind::Transfer
            }
            OrderDetails::Terminate { .. } => OrderKind::Terminate,
        }
    }

    /// The AWS accounts the order works on from the start; a new account has none until AWS
    /// created it.
    pub(crate) fn known_accounts(&self) -> Vec<String> {
        match self {
            OrderDetails::NewAccount { .. } => Vec::new(),
            OrderDetails::BillingTransfer {
                management_account_id,
                ..
            } => vec![management_account_id.clone()],
            OrderDetails::OrganizationTransfer {
                uses_organizations: true,
                management_account_id,
                ..
            } => vec![management_account_id.clone()],
            OrderDetails::OrganizationTransfer {
                linked_account_ids, ..
            } => linked_account_ids.clone(),
            OrderDetails::Terminate { aws_account_id, .. } => vec![aws_account_id.clone()],
        }
    }

    /// The account the order is about, as `Order.aws_account_id` shows it: the one account of a
    /// billing transfer, a whole-organization transfer or a termination.
    pub(crate) fn primary_account(&self) -> Option<String> {
        match self {
            OrderDetails::NewAccount { .. } => None,
            OrderDetails::OrganizationTransfer {
                uses_organizations: false,
                linked_account_ids,
                ..
            } => linked_account_ids.first().cloned(),
            _ => self.known_accounts().into_iter().next(),
        }
    }

    /// The resources no other active order of the tenant may hold at the same time (sagas.md C7).
    pub(crate) fn locks(&self, tenant: Uuid) -> Vec<SagaLock> {
        let mut locks: Vec<SagaLock> = self
            .known_accounts()
            .into_iter()
            .map(|aws_account_id| SagaLock::AwsAccount {
                tenant,
                aws_account_id,
            })
            .collect();
        if let OrderDetails::NewAccount { root_email, .. } = self {
            locks.push(SagaLock::RootEmail {
                tenant,
                email: root_email.to_ascii_lowercase(),
            });
        }
        locks
    }

    /// The details without personal fields: what a tenant purge keeps of an order (the financial
    /// skeleton of domain.md §8.1). Account ids stay; they are the order's subject.
    pub(crate) fn pseudonymised(&self) -> Self {
        match self {
            OrderDetails::NewAccount { .. } => OrderDetails::NewAccount {
                root_email: String::new(),
                account_name: String::new(),
                support_contact: String::new(),
            },
            OrderDetails::BillingTransfer {
                management_account_id,
                ..
            } => OrderDetails::BillingTransfer {
                management_account_id: management_account_id.clone(),
                transfer_name: String::new(),
            },
            OrderDetails::OrganizationTransfer { .. } => self.clone(),
            OrderDetails::Terminate {
                aws_account_id,
                mode,
                acknowledgements,
                acknowledged_open_balance,
                ..
            } => OrderDetails::Terminate {
                aws_account_id: aws_account_id.clone(),
                mode: *mode,
                acknowledgements: acknowledgements.clone(),
                reason: String::new(),
                acknowledged_open_balance: acknowledged_open_balance.clone(),
            },
        }
    }

    /// True when the details hold fields an account-scope purge removes (AWS-fetched data).
    pub(crate) fn holds_fetched_data(&self) -> bool {
        self != &self.fetched_data_removed()
    }

    /// The details without the AWS-fetched fields (root email, account name), for an
    /// account-scope purge that keeps everything else.
    pub(crate) fn fetched_data_removed(&self) -> Self {
        match self {
            OrderDetails::NewAccount {
                support_contact, ..
            } => OrderDetails::NewAccount {
                root_email: String::new(),
                account_name: String::new(),
                support_contact: support_contact.clone(),
            },
            other => other.clone(),
        }
    }
}

/// A resource one active order of a tenant holds (sagas.md C7). Locks are per tenant: whether another
/// tenant works on the same AWS account or email must not change how an order is answered (quality.md
/// §1.6); across tenants the accounts registry, which keeps one live record per AWS account and email,
/// is the arbiter, and the loser's order ends with a catalogue code before any AWS call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SagaLock {
    AwsAccount {
        tenant: Uuid,
        aws_account_id: String,
    },
    RootEmail {
        tenant: Uuid,
        email: String,
    },
}

impl SagaLock {
    /// The stored resource key.
    pub(crate) fn key(&self) -> String {
        match self {
            SagaLock::AwsAccount {
                tenant,
                aws_account_id,
            } => format!("aws-account:{tenant}:{aws_account_id}"),
            SagaLock::RootEmail { tenant, email } => format!("root-email:{tenant}:{email}"),
        }
    }

    /// What the lock is on, as a customer reads it in TNR009.
    pub(crate) fn describe(&self) -> String {
        match self {
            SagaLock::AwsAccount { aws_account_id, .. } => format!("account {aws_account_id}"),
            SagaLock::RootEmail { email, .. } => format!("root email {email}"),
        }
    }
}

/// What the tenant was when the order was accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct TenantFacts {
    pub(crate) public_sector: bool,
    pub(crate) resale_model: ResaleModel,
}

/// What accounts reported about the account a termination targets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct AccountFacts {
    pub(crate) record_id: Uuid,
    pub(crate) relationship: Relationship,
    pub(crate) role: AccountRole,
    /// For members: the management account of their organization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) management_account_id: Option<String>,
}

/// A saga's input: the order as placed plus the facts read when it was accepted. Corrected input
/// (an answered query) replaces fields of `details` and bumps the saga's input revision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SagaInput {
    pub(crate) details: OrderDetails,
    pub(crate) tenant: TenantFacts,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) account: Option<AccountFacts>,
    /// Terminations: operations confirm with the customer before anything changes
    /// (`terminate.require_ops_confirmation` when the order was placed).
    #[serde(default)]
    pub(crate) ops_confirmation: bool,
}

/// The input fields a step reads; a corrected field sends the saga back to the first finished step
/// that read it (sagas.md §5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum InputField {
    RootEmail,
    AccountName,
    ManagementAccountId,
    LinkedAccountIds,
}

impl InputField {
    /// The proto field name, as `OrderQuery.editable_fields` lists it.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            InputField::RootEmail => "root_email",
            InputField::AccountName => "account_name",
            InputField::ManagementAccountId => "management_account_id",
            InputField::LinkedAccountIds => "linked_account_ids",
        }
    }
}

/// A failure that ended (or blocked) an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Failure {
    pub(crate) code: String,
    pub(crate) message: String,
    pub(crate) at: DateTime<Utc>,
    /// The step that failed.
    pub(crate) node: usize,
}
