//! What AWS answered to a termination (T9), as the orders service reports it, and the billing dates it
//! leaves on the record.

use chrono::{DateTime, Utc};

use crate::domain::{
    AccountState, AccountsError, LifecycleEvent, Relationship, check_transition, field_problem,
};

/// The answer of AWS to a termination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// `CloseAccount` accepted.
    PendingClosure,
    /// A billing transfer ends at `billing_ends_at`; the platform bills until then.
    Unlinking { billing_ends_at: DateTime<Utc> },
    /// The account left the organization.
    Unlinked,
    /// A billing transfer was withdrawn before its billing started.
    WithdrawnBeforeStart,
}

impl Outcome {
    /// The lifecycle event the outcome moves a record by.
    fn event(self) -> LifecycleEvent {
        match self {
            Outcome::PendingClosure => LifecycleEvent::AcceptClosure,
            Outcome::Unlinking { .. } => LifecycleEvent::ScheduleUnlink,
            Outcome::Unlinked => LifecycleEvent::Unlink,
            Outcome::WithdrawnBeforeStart => LifecycleEvent::WithdrawBeforeStart,
        }
    }
}

/// The record's facts an outcome is checked against.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BillingFacts {
    pub(crate) state: AccountState,
    pub(crate) relationship: Relationship,
    pub(crate) billing_starts_at: Option<DateTime<Utc>>,
}

/// How an outcome changes the record: the lifecycle event and, when it sets one, the end of billing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Settlement {
    pub(crate) event: LifecycleEvent,
    pub(crate) billing_ends_at: Option<DateTime<Utc>>,
    /// Why, for the transition history.
    pub(crate) reason: &'static str,
}

fn refused(
    field: &str,
    reason: &'static str,
    description: &'static str,
    code: &'static str,
) -> AccountsError {
    let mut problem = field_problem(reason, description, code);
    problem.field = field.to_owned();
    AccountsError::invalid(problem)
}

/// Checks `outcome` against the record and says what it changes: first whether the record's state
/// takes it at all, then its billing dates. A billing transfer's dates must stay in order: one that
/// would end before it started was never billed, and is reported as withdrawn before its start, which
/// ends it at its start (nothing billed).
pub(crate) fn settle(
    outcome: Outcome,
    record: BillingFacts,
    now: DateTime<Utc>,
) -> Result<Settlement, AccountsError> {
    let event = outcome.event();
    check_transition(record.state, event)?;
    let accepted = "termination accepted by AWS";
    match outcome {
        Outcome::PendingClosure | Outcome::Unlinked => Ok(Settlement {
            event,
            billing_ends_at: None,
            reason: accepted,
        }),
        Outcome::Unlinking { billing_ends_at } => {
            if record
                .billing_starts_at
                .is_some_and(|starts_at| billing_ends_at < starts_at)
            {
                return Err(refused(
                    "billing_ends_at",
                    "BILLING_ENDS_BEFORE_START",
                    "billing cannot end before it starts; a transfer that never started is withdrawn before its start",
                    "TNR004",
                ));
            }
            Ok(Settlement {
                event,
                billing_ends_at: Some(billing_ends_at),
                reason: accepted,
            })
        }
        Outcome::WithdrawnBeforeStart => {
            if record.relationship != Relationship::BillingTransferSource {
                return Err(refused(
                    "outcome",
                    "UNSUPPORTED_COMBINATION",
                    "only a billing transfer can be withdrawn before its start",
                    "TNR008",
                ));
            }
            match record.billing_starts_at {
                Some(starts_at) if starts_at > now => Ok(Settlement {
                    event,
                    billing_ends_at: Some(starts_at),
                    reason: "billing transfer withdrawn before its start; nothing was billed",
                }),
                _ => Err(refused(
                    "outcome",
                    "UNSUPPORTED_COMBINATION",
                    "the billing of this transfer has already started",
                    "TNR008",
                )),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone as _};

    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 20, 12, 0, 0)
            .single()
            .expect("date")
    }

    fn transfer(starts_at: Option<DateTime<Utc>>) -> BillingFacts {
        BillingFacts {
            state: AccountState::Offboarding,
            relationship: Relationship::BillingTransferSource,
            billing_starts_at: starts_at,
        }
    }

    fn problem_of(error: AccountsError) -> (String, Option<&'static str>) {
        match error {
            AccountsError::Invalid(problems) => {
                (problems[0].field.clone(), problems[0].catalogue_code)
            }
            other => panic!("not a field problem: {other:?}"),
        }
    }

    #[test]
    fn the_record_must_be_offboarding_before_its_billing_dates_matter() {
        let active = BillingFacts {
            state: AccountState::Active,
            ..transfer(Some(now() + Duration::days(3)))
        };
        for outcome in [
            Outcome::WithdrawnBeforeStart,
            Outcome::Unlinked,
            Outcome::Unlinking {
                billing_ends_at: now(),
            },
        ] {
            assert!(matches!(
                settle(outcome, active, now()),
                Err(AccountsError::TransitionRefused {
                    current: AccountState::Active,
                    ..
                })
            ));
        }
    }

    #[test]
    fn a_transfer_withdrawn_before_its_start_ends_where_it_would_have_started() {
        let starts_at = now() + Duration::days(12);
        let settled = settle(
            Outcome::WithdrawnBeforeStart,
            transfer(Some(starts_at)),
            now(),
        )
        .expect("withdrawn");
        assert_eq!(settled.event, LifecycleEvent::WithdrawBeforeStart);
        assert_eq!(settled.billing_ends_at, Some(starts_at), "nothing billed");
    }

    #[test]
    fn only_a_billing_transfer_that_has_not_started_can_be_withdrawn_before_its_start() {
        let started = settle(
            Outcome::WithdrawnBeforeStart,
            transfer(Some(now() - Duration::days(1))),
            now(),
        )
        .expect_err("started");
        assert_eq!(problem_of(started), ("outcome".to_owned(), Some("TNR008")));
        assert!(settle(Outcome::WithdrawnBeforeStart, transfer(Some(now())), now()).is_err());
        assert!(settle(Outcome::WithdrawnBeforeStart, transfer(None), now()).is_err());
        let member = BillingFacts {
            state: AccountState::Offboarding,
            relationship: Relationship::PlatformMember,
            billing_starts_at: Some(now() + Duration::days(3)),
        };
        let problem = settle(Outcome::WithdrawnBeforeStart, member, now()).expect_err("member");
        assert_eq!(problem_of(problem), ("outcome".to_owned(), Some("TNR008")));
    }

    #[test]
    fn an_unlinking_transfer_cannot_end_before_it_starts() {
        let starts_at = now() + Duration::days(12);
        let early = settle(
            Outcome::Unlinking {
                billing_ends_at: starts_at - Duration::milliseconds(1),
            },
            transfer(Some(starts_at)),
            now(),
        )
        .expect_err("ends before it starts");
        assert_eq!(
            problem_of(early),
            ("billing_ends_at".to_owned(), Some("TNR004"))
        );
        let settled = settle(
            Outcome::Unlinking {
                billing_ends_at: starts_at,
            },
            transfer(Some(starts_at)),
            now(),
        )
        .expect("ends as it starts");
        assert_eq!(settled.event, LifecycleEvent::ScheduleUnlink);
        assert_eq!(settled.billing_ends_at, Some(starts_at));
    }
}
