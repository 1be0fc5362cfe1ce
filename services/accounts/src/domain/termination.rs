//! The checks the orders service asks before a termination (domain.md §3.4, T1), each answered with
//! its stable catalogue code.

use tenure_domain::AwsAccountId;
use uuid::Uuid;

use crate::domain::balance::{Money, OpenBalance};
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
    /// What the billing system last reported as still to be paid; `None` when it never reported.
    pub(crate) open_balance: Option<OpenBalance>,
}

/// The acknowledgements the mode and the account's position require. `ACKNOWLEDGEMENT_NO_MEMBERS` is checked
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

/// What the customer confirmed when asking for the termination.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Confirmations<'a> {
    /// The precautions acknowledged.
    pub(crate) acknowledgements: &'a [Acknowledgement],
    /// The open balance the customer was shown and confirms, if any.
    pub(crate) open_balance: Option<&'a Money>,
}

/// Every problem that stops a termination now, most fundamental first (state, lock, members,
/// acknowledgements, the open balance); empty means eligible.
/// `asking_order` is the order that asks: holding the account itself is no conflict.
pub(crate) fn assess_termination(
    facts: &TerminationFacts,
    mode: TerminationMode,
    confirmed: Confirmations<'_>,
    asking_order: Option<Uuid>,
) -> Vec<Rejection> {
    let given = confirmed.acknowledgements;
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
    let missing: Vec<String> = required_acknowledgements(mode, facts.role, facts.relationship)
        .into_iter()
        .filter(|required| !given.contains(required))
        .map(|missing| format!("{} ({})", missing.as_str(), missing.meaning()))
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
    if let Some(balance) = &facts.open_balance
        && balance.needs_confirmation()
        && confirmed.open_balance != Some(&balance.amount)
    {
        // The exact amount, not a yes: a customer who confirmed an older figure has not seen this one.
        problems.push(Rejection {
            code: "TNR015",
            message: format!(
                "Account {account} has an open balance of {} (reported {}). Confirm this amount to terminate it.",
                balance.amount.display(),
                balance.as_of.format("%Y-%m-%d")
            ),
        });
    }
    problems
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone as _, Utc};

    use super::*;

    fn facts(open_balance: Option<OpenBalance>) -> TerminationFacts {
        TerminationFacts {
            aws_account_id: AwsAccountId::parse("123456789012").expect("id"),
            state: AccountState::Active,
            role: AccountRole::Member,
            relationship: Relationship::PlatformMember,
            active_order_id: None,
            subscription: Some(SubscriptionStatus::Active),
            live_members: 0,
            open_balance,
        }
    }

    fn balance(micros: i64) -> OpenBalance {
        OpenBalance {
            amount: Money::parse("USD", micros).expect("money"),
            as_of: Utc
                .with_ymd_and_hms(2026, 2, 28, 18, 30, 0)
                .single()
                .expect("date"),
        }
    }

    fn codes(problems: &[Rejection]) -> Vec<&'static str> {
        problems.iter().map(|problem| problem.code).collect()
    }

    const UNLINK_ACKS: [Acknowledgement; 3] = [
        Acknowledgement::OutstandingBill,
        Acknowledgement::Commitments,
        Acknowledgement::Standalone,
    ];

    fn assess(facts: &TerminationFacts, confirmed: Option<&Money>) -> Vec<Rejection> {
        assess_termination(
            facts,
            TerminationMode::Unlink,
            Confirmations {
                acknowledgements: &UNLINK_ACKS,
                open_balance: confirmed,
            },
            None,
        )
    }

    #[test]
    fn an_open_balance_must_be_confirmed_to_the_micro_in_its_currency() {
        let facts = facts(Some(balance(123_450_000)));
        let missing = assess(&facts, None);
        assert_eq!(codes(&missing), ["TNR015"]);
        assert_eq!(
            missing[0].message,
            "Account 123456789012 has an open balance of 123.45 USD (reported 2026-02-28). \
             Confirm this amount to terminate it."
        );
        let rounded = Money::parse("USD", 123_400_000).expect("money");
        assert_eq!(codes(&assess(&facts, Some(&rounded))), ["TNR015"]);
        let other_currency = Money::parse("EUR", 123_450_000).expect("money");
        assert_eq!(codes(&assess(&facts, Some(&other_currency))), ["TNR015"]);
        let exact = Money::parse("USD", 123_450_000).expect("money");
        assert!(assess(&facts, Some(&exact)).is_empty());
    }

    #[test]
    fn a_settled_or_unreported_balance_needs_no_confirmation() {
        assert!(assess(&facts(None), None).is_empty());
        assert!(assess(&facts(Some(balance(0))), None).is_empty());
        let any = Money::parse("USD", 1).expect("money");
        assert!(
            assess(&facts(Some(balance(0))), Some(&any)).is_empty(),
            "a confirmation nobody asked for is no problem"
        );
    }

    #[test]
    fn a_credit_is_confirmed_too_and_shows_its_precision() {
        let facts = facts(Some(balance(-1_234_567)));
        let problems = assess(&facts, None);
        assert_eq!(codes(&problems), ["TNR015"]);
        assert!(
            problems[0].message.contains("-1.234567 USD"),
            "{}",
            problems[0].message
        );
    }

    #[test]
    fn the_balance_comes_after_the_more_fundamental_problems() {
        let mut facts = facts(Some(balance(5_000_000)));
        facts.state = AccountState::Offboarding;
        let problems = assess_termination(
            &facts,
            TerminationMode::Close,
            Confirmations::default(),
            None,
        );
        assert_eq!(codes(&problems), ["TNR011", "TNR007", "TNR015"]);
    }
}
