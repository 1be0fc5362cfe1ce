//! The reaction table (domain.md §6.1, §6.3, §3.1): what an AWS answer means for an operation. Both
//! backends speak AWS's own exception codes and reasons, so this one table serves `aws` and `sandbox`.

use chrono::Duration;
use rand::Rng;

use super::cloud::CloudError;

mod create_failure;
mod instances;

pub(crate) use create_failure::react_to_create_failure;
pub(crate) use instances::{LeftInstances, judge_left_instances};

/// The AWS call whose answer is judged; several codes mean different things per call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Api {
    CreateAccount,
    DescribeCreateAccountStatus,
    DescribeAccount,
    RemoveAccount,
    CloseAccount,
    InviteAccount,
    DescribeHandshake,
    CancelHandshake,
    InviteBillingTransfer,
    DescribeBillingTransfer,
    TerminateBillingTransfer,
    CreateStack,
    DescribeStack,
    DeleteStack,
    CreateStackSet,
    DeleteStackSet,
    CreateStackInstances,
    DeleteStackInstances,
    DescribeStackSetOperation,
    List,
}

/// What to do about an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reaction {
    /// Transient: call again after `backoff` (jittered). `ambiguous` when the call may have taken
    /// effect, so a call without a native token reconciles first.
    Retry { backoff: Duration, ambiguous: bool },
    /// A quota or waiting period: call again after `after`; `code` is the notice shown meanwhile.
    Defer { after: Duration, code: &'static str },
    /// The customer must act in AWS.
    CustomerAction { code: &'static str },
    /// The effect already exists (or can no longer exist): treat the call as done.
    Done,
    /// Look at AWS's current state before deciding (adopt an existing resource, re-read a state).
    Reconcile,
    /// The call's date was refused as too early: move it one month and call again, once.
    MoveDate,
    /// Terminal. `code` is the catalogue code when one applies (`TNR902` for a problem operations
    /// must fix, `TNR903` for an invariant Tenure broke); the AWS code is kept verbatim.
    Fail { code: Option<&'static str> },
}

/// Backoff of transient retries: 1 s doubling up to 15 min, with full jitter (domain.md §3.0).
pub(crate) fn backoff(attempts: u32) -> Duration {
    let ceiling_ms = 1_000_i64
        .saturating_mul(1_i64 << attempts.min(20))
        .min(15 * 60 * 1_000);
    Duration::milliseconds(rand::thread_rng().gen_range(ceiling_ms / 2..=ceiling_ms))
}

const TRANSIENT_CODES: &[&str] = &[
    "TooManyRequestsException",
    "ThrottlingException",
    "Throttling",
    "ConcurrentModificationException",
    "ServiceException",
    "ServiceUnavailableException",
    "InternalFailure",
    "RequestTimeout",
];

/// Judges `error`, returned by `api`. `attempts` counts earlier transient failures of the operation.
pub(crate) fn react(api: Api, error: &CloudError, attempts: u32) -> Reaction {
    let code = error.code.as_deref().unwrap_or_default();
    let reason = error.reason.as_deref().unwrap_or_default();
    let server_side = error.http_status.is_some_and(|status| status >= 500);
    if error.ambiguous || server_side || TRANSIENT_CODES.contains(&code) {
        return Reaction::Retry {
            backoff: backoff(attempts),
            ambiguous: error.ambiguous || server_side,
        };
    }
    if let Some(reaction) = per_api(api, code, reason) {
        return reaction;
    }
    match code {
        "AccessDeniedException" | "AccessDenied" => Reaction::Fail {
            code: Some("TNR902"),
        },
        "AWSOrganizationsNotInUseException" | "UnsupportedAPIEndpointException" => Reaction::Fail {
            code: Some("TNR902"),
        },
        // AWS asks for an hour while a new organization initialises (domain.md §6.1).
        "FinalizingOrganizationException" => Reaction::Defer {
            after: Duration::hours(1),
            code: "TNR901",
        },
        "InvalidInputException" => Reaction::Fail {
            code: Some("TNR903"),
        },
        _ => Reaction::Fail { code: None },
    }
}

fn defer(after: Duration, code: &'static str) -> Option<Reaction> {
    Some(Reaction::Defer { after, code })
}

fn customer(code: &'static str) -> Option<Reaction> {
    Some(Reaction::CustomerAction { code })
}

fn fail(code: &'static str) -> Option<Reaction> {
    Some(Reaction::Fail { code: Some(code) })
}

#[allow(
    clippy::match_same_arms,
    reason = "the table mirrors domain.md row by row; merging rows would hide which API each belongs to"
)]
fn per_api(api: Api, code: &str, reason: &str) -> Option<Reaction> {
    match (api, code) {
        (Api::CreateAccount, "ConstraintViolationException") => match reason {
            "ACCOUNT_NUMBER_LIMIT_EXCEEDED" => defer(Duration::hours(1), "TNR901"),
            "ACCOUNT_CREATION_RATE_LIMIT_EXCEEDED" => defer(Duration::hours(24), "TNR901"),
            _ => fail("TNR902"),
        },
        (Api::DescribeCreateAccountStatus, "CreateAccountStatusNotFoundException") => {
            Some(Reaction::Reconcile)
        }
        (Api::InviteAccount, "DuplicateHandshakeException") => Some(Reaction::Reconcile),
        (Api::InviteAccount, "HandshakeConstraintViolationException") => match reason {
            "ALREADY_IN_AN_ORGANIZATION" => customer("TNR304"),
            "PAYMENT_INSTRUMENT_REQUIRED" => customer("TNR305"),
            "ORGANIZATION_FROM_DIFFERENT_SELLER_OF_RECORD" => customer("TNR306"),
            "HANDSHAKE_RATE_LIMIT_EXCEEDED" => defer(Duration::hours(24), "TNR901"),
            "ORGANIZATION_MEMBERSHIP_CHANGE_RATE_LIMIT_EXCEEDED" => {
                defer(Duration::minutes(15), "TNR901")
            }
            "ACCOUNT_NUMBER_LIMIT_EXCEEDED" => defer(Duration::hours(24), "TNR901"),
            _ => fail("TNR902"),
        },
        (Api::InviteAccount, "AccountOwnerNotVerifiedException") => fail("TNR902"),
        (Api::CancelHandshake, "HandshakeAlreadyInStateException") => Some(Reaction::Done),
        (Api::CancelHandshake, "InvalidHandshakeTransitionException") => Some(Reaction::Reconcile),
        (Api::RemoveAccount, "AccountNotFoundException") => Some(Reaction::Done),
        (Api::RemoveAccount, "MasterCannotLeaveOrganizationException") => fail("TNR903"),
        (Api::RemoveAccount, "ConstraintViolationException") => match reason {
            "ACCOUNT_CANNOT_LEAVE_WITHOUT_EULA"
            | "ACCOUNT_CANNOT_LEAVE_WITHOUT_PHONE_VERIFICATION"
            | "MEMBER_ACCOUNT_PAYMENT_INSTRUMENT_REQUIRED"
            | "INVALID_PAYMENT_INSTRUMENT" => customer("TNR401"),
            // The step refines the delay from JoinedTimestamp + 4 days; a day is the fallback.
            "WAIT_PERIOD_ACTIVE" => defer(Duration::days(1), "TNR402"),
            "CANNOT_REMOVE_DELEGATED_ADMINISTRATOR_FROM_ORG" => customer("TNR406"),
            "ACCOUNT_CANNOT_LEAVE_ORGANIZATION" => fail("TNR903"),
            _ => fail("TNR902"),
        },
        (Api::CloseAccount, "AccountAlreadyClosedException") => Some(Reaction::Done),
        (Api::CloseAccount, "AccountNotFoundException") => fail("TNR410"),
        (Api::CloseAccount, "ConflictException") => Some(Reaction::Reconcile),
        (Api::CloseAccount, "ConstraintViolationException") => match reason {
            "CLOSE_ACCOUNT_QUOTA_EXCEEDED" => defer(Duration::hours(24), "TNR403"),
            "CLOSE_ACCOUNT_REQUESTS_LIMIT_EXCEEDED" => defer(Duration::minutes(10), "TNR403"),
            "CANNOT_CLOSE_MANAGEMENT_ACCOUNT" => customer("TNR407"),
            _ => fail("TNR902"),
        },
        (Api::InviteBillingTransfer, "InvalidInputException") => match reason {
            "START_DATE_TOO_EARLY" => Some(Reaction::MoveDate),
            "START_DATE_NOT_BEGINNING_OF_MONTH" | "START_DATE_NOT_BEGINNING_OF_DAY" => {
                fail("TNR903")
            }
            "START_DATE_TOO_LATE" | "INVALID_START_DATE" => fail("TNR902"),
            _ => customer("TNR201"),
        },
        (Api::InviteBillingTransfer, "HandshakeConstraintViolationException") => match reason {
            "RESPONSIBILITY_TRANSFER_ALREADY_EXISTS" => Some(Reaction::Reconcile),
            "SOURCE_AND_TARGET_CANNOT_MATCH" => customer("TNR201"),
            _ => fail("TNR902"),
        },
        (Api::InviteBillingTransfer, "ConstraintViolationException") => {
            if reason == "UNSUPPORTED_PRICING" {
                fail("TNR208")
            } else if reason.starts_with("RESPONSIBILITY_TRANSFER_MAX") {
                fail("TNR211")
            } else {
                fail("TNR902")
            }
        }
        (Api::InviteBillingTransfer, "DuplicateHandshakeException") => Some(Reaction::Reconcile),
        (Api::TerminateBillingTransfer, "InvalidInputException") => match reason {
            "INVALID_END_DATE" => fail("TNR405"),
            "END_DATE_TOO_EARLY" => Some(Reaction::MoveDate),
            _ => fail("TNR903"),
        },
        (Api::TerminateBillingTransfer, "ResponsibilityTransferAlreadyInStatusException") => {
            Some(Reaction::Done)
        }
        (Api::TerminateBillingTransfer, "InvalidResponsibilityTransferTransitionException") => {
            Some(Reaction::Reconcile)
        }
        (Api::CreateStack, "AlreadyExistsException") => Some(Reaction::Reconcile),
        (Api::CreateStack, "TokenAlreadyExistsException") => Some(Reaction::Done),
        (Api::CreateStack, "InsufficientCapabilitiesException") => fail("TNR903"),
        (Api::CreateStackSet, "NameAlreadyExistsException" | "CreatedButModifiedException") => {
            Some(Reaction::Reconcile)
        }
        (Api::CreateStackSet, "LimitExceededException") => fail("TNR902"),
        (
            Api::CreateStackInstances | Api::DeleteStackInstances | Api::DeleteStackSet,
            "OperationInProgressException",
        ) => defer(Duration::seconds(30), "TNR901"),
        (
            Api::CreateStackInstances | Api::DeleteStackInstances,
            "OperationIdAlreadyExistsException",
        ) => Some(Reaction::Done),
        (Api::CreateStackInstances | Api::DeleteStackInstances, "StaleRequestException") => {
            Some(Reaction::Reconcile)
        }
        (Api::DeleteStackInstances | Api::DeleteStackSet, "StackSetNotFoundException") => {
            Some(Reaction::Done)
        }
        (Api::DescribeStackSetOperation, "OperationNotFoundException") => Some(Reaction::Reconcile),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
