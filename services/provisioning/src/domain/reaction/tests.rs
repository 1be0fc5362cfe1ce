//! Every row of domain.md §6.1 and §6.3 the engine handles, and the FailureReasons of §3.1.

use super::*;
use crate::domain::cloud::StackInstanceStatus;
use crate::domain::cloud::StackInstanceStatus::{
    Failed as FAILED, Inoperable as INOPERABLE,
    SkippedSuspendedAccount as SKIPPED_SUSPENDED_ACCOUNT, Succeeded as SUCCEEDED,
};

/// A reaction with the jitter taken out, so that rows compare exactly.
#[derive(Debug, PartialEq, Eq)]
enum Expected {
    Retry { ambiguous: bool },
    Defer(Duration, &'static str),
    Customer(&'static str),
    Done,
    Reconcile,
    MoveDate,
    Fail(Option<&'static str>),
}

fn judged(reaction: Reaction) -> Expected {
    match reaction {
        Reaction::Retry { backoff, ambiguous } => {
            assert!(
                backoff > Duration::zero() && backoff <= Duration::minutes(15),
                "{backoff}"
            );
            Expected::Retry { ambiguous }
        }
        Reaction::Defer { after, code } => Expected::Defer(after, code),
        Reaction::CustomerAction { code } => Expected::Customer(code),
        Reaction::Done => Expected::Done,
        Reaction::Reconcile => Expected::Reconcile,
        Reaction::MoveDate => Expected::MoveDate,
        Reaction::Fail { code } => Expected::Fail(code),
    }
}

fn error(code: &str, reason: Option<&str>) -> CloudError {
    CloudError::service(code, reason, 400, "test")
}

use Expected::{Customer, Defer, Done, Fail, MoveDate, Reconcile, Retry};

mod per_api;

#[test]
fn errors_common_to_all_calls() {
    let hour = Duration::hours(1);
    let rows: &[(&str, Expected)] = &[
        ("TooManyRequestsException", Retry { ambiguous: false }),
        ("ThrottlingException", Retry { ambiguous: false }),
        ("Throttling", Retry { ambiguous: false }),
        (
            "ConcurrentModificationException",
            Retry { ambiguous: false },
        ),
        ("ServiceException", Retry { ambiguous: false }),
        ("AccessDeniedException", Fail(Some("TNR902"))),
        ("AWSOrganizationsNotInUseException", Fail(Some("TNR902"))),
        ("UnsupportedAPIEndpointException", Fail(Some("TNR902"))),
        ("FinalizingOrganizationException", Defer(hour, "TNR901")),
        ("InvalidInputException", Fail(Some("TNR903"))),
        ("SomethingNobodyListed", Fail(None)),
    ];
    for api in [Api::DescribeAccount, Api::CreateStack, Api::List] {
        for (code, expected) in rows {
            assert_eq!(
                &judged(react(api, &error(code, None), 0)),
                expected,
                "{api:?} {code}"
            );
        }
    }
    // 5xx and a lost answer: the call may have taken effect.
    let server = CloudError::service("InternalError", None, 503, "down");
    assert_eq!(
        judged(react(Api::CreateAccount, &server, 0)),
        Retry { ambiguous: true }
    );
    let lost = CloudError::no_response("timeout");
    assert_eq!(
        judged(react(Api::CreateAccount, &lost, 3)),
        Retry { ambiguous: true }
    );
}

#[test]
fn create_account_failure_reasons() {
    let rows: &[(&str, u32, Expected)] = &[
        ("EMAIL_ALREADY_EXISTS", 0, Customer("TNR101")),
        ("INVALID_EMAIL", 0, Customer("TNR102")),
        (
            "CONCURRENT_ACCOUNT_MODIFICATION",
            0,
            Retry { ambiguous: true },
        ),
        (
            "ACCOUNT_LIMIT_EXCEEDED",
            0,
            Defer(Duration::hours(24), "TNR103"),
        ),
        ("INTERNAL_FAILURE", 0, Retry { ambiguous: false }),
        ("INTERNAL_FAILURE", 2, Retry { ambiguous: false }),
        ("INTERNAL_FAILURE", 3, Fail(Some("TNR104"))),
        (
            "PENDING_BUSINESS_VALIDATION",
            0,
            Defer(Duration::hours(1), "TNR902"),
        ),
        ("GOVCLOUD_ACCOUNT_ALREADY_EXISTS", 0, Fail(Some("TNR903"))),
        ("FAILED_BUSINESS_VALIDATION", 0, Fail(Some("TNR902"))),
        ("MISSING_PAYMENT_INSTRUMENT", 0, Fail(Some("TNR902"))),
        ("A_REASON_AWS_ADDS_LATER", 0, Fail(Some("TNR104"))),
    ];
    for (reason, repeats, expected) in rows {
        assert_eq!(
            &judged(react_to_create_failure(reason, *repeats)),
            expected,
            "{reason} after {repeats}"
        );
    }
}

#[test]
fn backoff_doubles_from_a_second_up_to_fifteen_minutes_with_jitter() {
    for (attempts, ceiling) in [
        (0, Duration::seconds(1)),
        (1, Duration::seconds(2)),
        (3, Duration::seconds(8)),
        (10, Duration::minutes(15)),
        (u32::MAX, Duration::minutes(15)),
    ] {
        for _ in 0..50 {
            let delay = backoff(attempts);
            assert!(
                delay >= ceiling / 2 && delay <= ceiling,
                "{attempts}: {delay}"
            );
        }
    }
}

#[test]
fn instances_left_by_a_deletion_are_retained_once_then_handed_to_operations() {
    use LeftInstances::{Operations, Retain, Settled};
    let rows: &[(bool, bool, &[StackInstanceStatus], LeftInstances)] = &[
        (false, false, &[], Settled),
        (true, false, &[], Settled),
        (true, false, &[FAILED], Settled),
        (true, false, &[INOPERABLE, SUCCEEDED], Retain),
        (true, true, &[INOPERABLE], Operations(INOPERABLE)),
        (true, true, &[], Operations(INOPERABLE)),
        (false, true, &[], Settled),
        (
            false,
            false,
            &[SKIPPED_SUSPENDED_ACCOUNT],
            Operations(SKIPPED_SUSPENDED_ACCOUNT),
        ),
        (
            true,
            false,
            &[INOPERABLE, SKIPPED_SUSPENDED_ACCOUNT],
            Operations(SKIPPED_SUSPENDED_ACCOUNT),
        ),
    ];
    for (failed, retained, left, expected) in rows {
        assert_eq!(
            judge_left_instances(*failed, *retained, left.iter().copied()),
            *expected,
            "failed {failed}, retained {retained}, left {left:?}"
        );
    }
}
