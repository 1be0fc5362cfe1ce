//! The checks the orders service asks before a termination (domain.md §3.4, T1), each answered with
//! its stable catalogue code.

use tenure_domain::AwsAccountId;
use uuid::Uuid;

use crate::domain::kinds::{
    AccountRole, Acknowledgement, Relationship, SubscriptionStatus, TerminationMode,
};
use crate::domain::{AccountState, Rejection};

/// What the checks look at, read in one transaction.
#[derive(Debug, Clone)]
pub(crate) struct TerminationFacts {
    pub(crate) aws_account_id: AwsAccountId,
    pub(crate) state: AccountState,
    pub(crate) role: AccountRole,
    pub(crate) relationship: Relationship,
    /// The order that holds the account, if any.
    pub(crate) active_order_id: Option<Uuid>,
    /// The account's current subscription; `None` when it has none.
    pub(crate) subscription: Option<SubscriptionStatus>,
    /// Live records that name this account as their management account.
    pub(crate) live_members: u64,
}

/// The acknowledgements the mode and the account's position require. `ACK_NO_MEMBERS` is checked
/// automatically for platform payers, whose members the registry knows, and asked for otherwise.
pub(crate) fn required_acknowledgements(
    mode: TerminationMode,
    role: AccountRole,
    relationship: Relationship,
) -> Vec<Acknowledgement> {
    use Acknowledgement::*;
    let mut required = Vec::new();
    match mode {
        TerminationMode::Close => {
            if role == AccountRole::Management {
                required.push(RootUser);
                if relationship != Relationship::PlatformPayer {
                    required.push(NoMembers);
                }
            }
            required.extend([
                Backup,
                OutstandingBill,
                Commitments,
                Resources,
                EmailNotReusable,
                ReopenWindow,
            ]);
        }
        TerminationMode::Unlink => {
            required.extend([OutstandingBill, Commitments]);
            if role == AccountRole::Member {
                required.push(Standalone);
            }
        }
    }
    required
}

/// Every problem that stops a termination now, most fundamental first (state, lock, members,
/// acknowledgements); empty means eligible.
/// `asking_order` is the order that asks: holding the account itself is no conflict.
pub(crate) fn assess_termination(
    facts: &TerminationFacts,
    mode: TerminationMode,
    given: &[Acknowledgement],
    asking_order: Option<Uuid>,
) -> Vec<Rejection> {
    let account = facts.aws_account_id.as_str();
    let mut problems = Vec::new();
    if let Some(holder) = facts.active_order_id
        && Some(holder) != asking_order
    {
        problems.push(Rejection {
            code: "TNR009",
            message: format!("Order {holder} for account {account} is still in progress."),
        });
    }
    let subscription_active = facts.subscription == Some(SubscriptionStatus::Active);
    if facts.state != AccountState::Active || !subscription_active {
        let status = if facts.state == AccountState::Active {
            facts
                .subscription
                .map_or("without a subscription", |status| match status {
                    SubscriptionStatus::Active => "active",
                    SubscriptionStatus::Suspended => "suspended",
                    SubscriptionStatus::Terminated => "terminated",
                })
        } else {
            facts.state.as_str()
        };
        problems.push(Rejection {
            code: "TNR011",
            message: format!(
                "Only active subscriptions can be terminated. Account {account} is {status}."
            ),
        });
    }
    if mode == TerminationMode::Close
        && facts.role == AccountRole::Management
        && facts.live_members > 0
    {
        problems.push(Rejection {
            code: "TNR404",
            message: "The management account still has member accounts. Close or remove them, then confirm."
                .to_owned(),
        });
    }
    let missing: Vec<&str> = required_acknowledgements(mode, facts.role, facts.relationship)
        .into_iter()
        .filter(|required| !given.contains(required))
        .map(Acknowledgement::as_str)
        .collect();
    if !missing.is_empty() {
        problems.push(Rejection {
            code: "TNR007",
            message: format!(
                "Before placing this order, confirm: {}.",
                missing.join(", ")
            ),
        });
    }
    problems
}
