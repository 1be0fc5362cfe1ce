//! The reaction table (domain.md §6.1, §6.3, §3.1): what an AWS answer means for an operation. Both
//! backends speak AWS's own exception codes and reasons, so this one table serves `aws` and `sandbox`.

use chrono::Duration;
use rand::Rng;

use super::cloud::CloudError;

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

/// Judges a FAILED CreateAccountStatus by its `FailureReason` (domain.md §3.1).
pub(crate) fn react_to_create_failure(reason: &str, repeats: u32) -> Reaction {
    match reason {
        // The engine first looks the email up among the organization's accounts (a crashed earlier
        // attempt may have created it) and only then asks the customer.
        "EMAIL_ALREADY_EXISTS" => Reaction::CustomerAction { code: "TNR101" },
        "INVALID_EMAIL" => Reaction::CustomerAction { code: "TNR102" },
        "CONCURRENT_ACCOUNT_MODIFICATION" => Reaction::Retry {
            backoff: backoff(repeats),
            ambiguous: true,
        },
        "ACCOUNT_LIMIT_EXCEEDED" => Reaction::Defer {
            after: Duration::hours(24),
            code: "TNR103",
        },
        "INTERNAL_FAILURE" if repeats < 3 => Reaction::Retry {
            backoff: backoff(repeats),
            ambiguous: false,
        },
        "INTERNAL_FAILURE" => Reaction::Fail {
            code: Some("TNR104"),
        },
        "PENDING_BUSINESS_VALIDATION" => Reaction::Defer {
            after: Duration::hours(1),
            code: "TNR902",
        },
        "GOVCLOUD_ACCOUNT_ALREADY_EXISTS"
        | "UPDATE_EXISTING_RESOURCE_POLICY_WITH_TAGS_NOT_SUPPORTED" => Reaction::Fail {
            code: Some("TNR903"),
        },
        "MISSING_BUSINESS_VALIDATION"
        | "FAILED_BUSINESS_VALIDATION"
        | "UNKNOWN_BUSINESS_VALIDATION"
        | "INVALID_IDENTITY_FOR_BUSINESS_VALIDATION"
        | "INVALID_ADDRESS"
        | "MISSING_PAYMENT_INSTRUMENT"
        | "INVALID_PAYMENT_INSTRUMENT" => Reaction::Fail {
            code: Some("TNR902"),
        },
        _ => Reaction::Fail {
            code: Some("TNR104"),
        },
    }
}

/// The detailed status of a stack instance AWS cannot reach because its account is suspended.
pub(crate) const SKIPPED_SUSPENDED_ACCOUNT: &str = "SKIPPED_SUSPENDED_ACCOUNT";
/// The detailed status of a stack instance whose stack a deletion could not remove.
pub(crate) const INOPERABLE: &str = "INOPERABLE";

/// What the targeted stack instances left after a DeleteStackInstances operation ended require.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LeftInstances {
    /// Nothing in the way: the operation's own status decides.
    Settled,
    /// Delete them again with `RetainStacks=true`, under a new OperationId, once.
    Retain,
    /// Only operations can remove them (TNR408); the detailed status that blocks.
    Operations(&'static str),
}

/// Judges the detailed statuses of the targeted instances left after a deletion ended, `failed` when
/// it ended FAILED or STOPPED, `retained` when it was already the retaining repeat (domain.md §6.3).
pub(crate) fn judge_left_instances<'a>(
    failed: bool,
    retained: bool,
    left: impl IntoIterator<Item = &'a str>,
) -> LeftInstances {
    let left: Vec<&str> = left.into_iter().collect();
    // An instance in a suspended account is skipped, not deleted, whatever the operation reports.
    if left.contains(&SKIPPED_SUSPENDED_ACCOUNT) {
        return LeftInstances::Operations(SKIPPED_SUSPENDED_ACCOUNT);
    }
    match (failed, retained) {
        (true, true) => LeftInstances::Operations(INOPERABLE),
        (true, false) if left.contains(&INOPERABLE) => LeftInstances::Retain,
        _ => LeftInstances::Settled,
    }
}

#[cfg(test)]
mod tests {
    //! Every row of domain.md §6.1 and §6.3 the engine handles, and the FailureReasons of §3.1.

    use super::*;

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
    #[allow(
        clippy::too_many_lines,
        reason = "one table, row by row as domain.md lists it"
    )]
    fn per_api_rows() {
        let hour = Duration::hours(1);
        let day = Duration::days(1);
        let rows: &[(Api, &str, Option<&str>, Expected)] = &[
            // CreateAccount.
            (
                Api::CreateAccount,
                "ConstraintViolationException",
                Some("ACCOUNT_NUMBER_LIMIT_EXCEEDED"),
                Defer(hour, "TNR901"),
            ),
            (
                Api::CreateAccount,
                "ConstraintViolationException",
                Some("ACCOUNT_CREATION_RATE_LIMIT_EXCEEDED"),
                Defer(day, "TNR901"),
            ),
            (
                Api::CreateAccount,
                "ConstraintViolationException",
                Some("ORGANIZATION_NOT_IN_ALL_FEATURES_MODE"),
                Fail(Some("TNR902")),
            ),
            (
                Api::CreateAccount,
                "ConstraintViolationException",
                Some("MASTER_ACCOUNT_MISSING_CONTACT_INFO"),
                Fail(Some("TNR902")),
            ),
            (
                Api::DescribeCreateAccountStatus,
                "CreateAccountStatusNotFoundException",
                None,
                Reconcile,
            ),
            // InviteAccountToOrganization.
            (
                Api::InviteAccount,
                "DuplicateHandshakeException",
                None,
                Reconcile,
            ),
            (
                Api::InviteAccount,
                "HandshakeConstraintViolationException",
                Some("ALREADY_IN_AN_ORGANIZATION"),
                Customer("TNR304"),
            ),
            (
                Api::InviteAccount,
                "HandshakeConstraintViolationException",
                Some("PAYMENT_INSTRUMENT_REQUIRED"),
                Customer("TNR305"),
            ),
            (
                Api::InviteAccount,
                "HandshakeConstraintViolationException",
                Some("ORGANIZATION_FROM_DIFFERENT_SELLER_OF_RECORD"),
                Customer("TNR306"),
            ),
            (
                Api::InviteAccount,
                "HandshakeConstraintViolationException",
                Some("HANDSHAKE_RATE_LIMIT_EXCEEDED"),
                Defer(day, "TNR901"),
            ),
            (
                Api::InviteAccount,
                "HandshakeConstraintViolationException",
                Some("ORGANIZATION_MEMBERSHIP_CHANGE_RATE_LIMIT_EXCEEDED"),
                Defer(Duration::minutes(15), "TNR901"),
            ),
            (
                Api::InviteAccount,
                "HandshakeConstraintViolationException",
                Some("ACCOUNT_NUMBER_LIMIT_EXCEEDED"),
                Defer(day, "TNR901"),
            ),
            (
                Api::InviteAccount,
                "HandshakeConstraintViolationException",
                Some("MANAGEMENT_ACCOUNT_EMAIL_NOT_VERIFIED"),
                Fail(Some("TNR902")),
            ),
            (
                Api::InviteAccount,
                "AccountOwnerNotVerifiedException",
                None,
                Fail(Some("TNR902")),
            ),
            // CancelHandshake.
            (
                Api::CancelHandshake,
                "HandshakeAlreadyInStateException",
                None,
                Done,
            ),
            (
                Api::CancelHandshake,
                "InvalidHandshakeTransitionException",
                None,
                Reconcile,
            ),
            // RemoveAccountFromOrganization.
            (
                Api::RemoveAccount,
                "ConstraintViolationException",
                Some("ACCOUNT_CANNOT_LEAVE_WITHOUT_EULA"),
                Customer("TNR401"),
            ),
            (
                Api::RemoveAccount,
                "ConstraintViolationException",
                Some("ACCOUNT_CANNOT_LEAVE_WITHOUT_PHONE_VERIFICATION"),
                Customer("TNR401"),
            ),
            (
                Api::RemoveAccount,
                "ConstraintViolationException",
                Some("MEMBER_ACCOUNT_PAYMENT_INSTRUMENT_REQUIRED"),
                Customer("TNR401"),
            ),
            (
                Api::RemoveAccount,
                "ConstraintViolationException",
                Some("INVALID_PAYMENT_INSTRUMENT"),
                Customer("TNR401"),
            ),
            (
                Api::RemoveAccount,
                "ConstraintViolationException",
                Some("WAIT_PERIOD_ACTIVE"),
                Defer(day, "TNR402"),
            ),
            (
                Api::RemoveAccount,
                "ConstraintViolationException",
                Some("CANNOT_REMOVE_DELEGATED_ADMINISTRATOR_FROM_ORG"),
                Customer("TNR406"),
            ),
            (
                Api::RemoveAccount,
                "ConstraintViolationException",
                Some("ACCOUNT_CANNOT_LEAVE_ORGANIZATION"),
                Fail(Some("TNR903")),
            ),
            (
                Api::RemoveAccount,
                "MasterCannotLeaveOrganizationException",
                None,
                Fail(Some("TNR903")),
            ),
            (Api::RemoveAccount, "AccountNotFoundException", None, Done),
            // CloseAccount.
            (
                Api::CloseAccount,
                "ConstraintViolationException",
                Some("CLOSE_ACCOUNT_QUOTA_EXCEEDED"),
                Defer(day, "TNR403"),
            ),
            (
                Api::CloseAccount,
                "ConstraintViolationException",
                Some("CLOSE_ACCOUNT_REQUESTS_LIMIT_EXCEEDED"),
                Defer(Duration::minutes(10), "TNR403"),
            ),
            (
                Api::CloseAccount,
                "ConstraintViolationException",
                Some("CANNOT_CLOSE_MANAGEMENT_ACCOUNT"),
                Customer("TNR407"),
            ),
            (
                Api::CloseAccount,
                "AccountAlreadyClosedException",
                None,
                Done,
            ),
            (Api::CloseAccount, "ConflictException", None, Reconcile),
            (
                Api::CloseAccount,
                "AccountNotFoundException",
                None,
                Fail(Some("TNR410")),
            ),
            // InviteOrganizationToTransferResponsibility.
            (
                Api::InviteBillingTransfer,
                "InvalidInputException",
                Some("START_DATE_TOO_EARLY"),
                MoveDate,
            ),
            (
                Api::InviteBillingTransfer,
                "InvalidInputException",
                Some("START_DATE_NOT_BEGINNING_OF_MONTH"),
                Fail(Some("TNR903")),
            ),
            (
                Api::InviteBillingTransfer,
                "InvalidInputException",
                Some("START_DATE_NOT_BEGINNING_OF_DAY"),
                Fail(Some("TNR903")),
            ),
            (
                Api::InviteBillingTransfer,
                "InvalidInputException",
                Some("START_DATE_TOO_LATE"),
                Fail(Some("TNR902")),
            ),
            (
                Api::InviteBillingTransfer,
                "InvalidInputException",
                Some("INVALID_START_DATE"),
                Fail(Some("TNR902")),
            ),
            (
                Api::InviteBillingTransfer,
                "InvalidInputException",
                Some("INVALID_TARGET"),
                Customer("TNR201"),
            ),
            (
                Api::InviteBillingTransfer,
                "HandshakeConstraintViolationException",
                Some("RESPONSIBILITY_TRANSFER_ALREADY_EXISTS"),
                Reconcile,
            ),
            (
                Api::InviteBillingTransfer,
                "HandshakeConstraintViolationException",
                Some("SOURCE_AND_TARGET_CANNOT_MATCH"),
                Customer("TNR201"),
            ),
            (
                Api::InviteBillingTransfer,
                "HandshakeConstraintViolationException",
                Some("UNUSED_PREPAYMENT_BALANCE"),
                Fail(Some("TNR902")),
            ),
            (
                Api::InviteBillingTransfer,
                "HandshakeConstraintViolationException",
                Some("LEGACY_PERMISSIONS_STILL_IN_USE"),
                Fail(Some("TNR902")),
            ),
            (
                Api::InviteBillingTransfer,
                "ConstraintViolationException",
                Some("UNSUPPORTED_PRICING"),
                Fail(Some("TNR208")),
            ),
            (
                Api::InviteBillingTransfer,
                "ConstraintViolationException",
                Some("RESPONSIBILITY_TRANSFER_MAX_INBOUND_QUOTA_VIOLATION"),
                Fail(Some("TNR211")),
            ),
            (
                Api::InviteBillingTransfer,
                "DuplicateHandshakeException",
                None,
                Reconcile,
            ),
            // TerminateResponsibilityTransfer.
            (
                Api::TerminateBillingTransfer,
                "InvalidInputException",
                Some("INVALID_END_DATE"),
                Fail(Some("TNR405")),
            ),
            (
                Api::TerminateBillingTransfer,
                "InvalidInputException",
                Some("END_DATE_TOO_EARLY"),
                MoveDate,
            ),
            (
                Api::TerminateBillingTransfer,
                "InvalidInputException",
                Some("END_DATE_NOT_END_OF_MONTH"),
                Fail(Some("TNR903")),
            ),
            (
                Api::TerminateBillingTransfer,
                "ResponsibilityTransferAlreadyInStatusException",
                None,
                Done,
            ),
            (
                Api::TerminateBillingTransfer,
                "InvalidResponsibilityTransferTransitionException",
                None,
                Reconcile,
            ),
            // CloudFormation.
            (Api::CreateStack, "AlreadyExistsException", None, Reconcile),
            (Api::CreateStack, "TokenAlreadyExistsException", None, Done),
            (
                Api::CreateStack,
                "InsufficientCapabilitiesException",
                None,
                Fail(Some("TNR903")),
            ),
            (
                Api::CreateStackSet,
                "NameAlreadyExistsException",
                None,
                Reconcile,
            ),
            (
                Api::CreateStackSet,
                "CreatedButModifiedException",
                None,
                Reconcile,
            ),
            (
                Api::CreateStackSet,
                "LimitExceededException",
                None,
                Fail(Some("TNR902")),
            ),
            (
                Api::CreateStackInstances,
                "OperationInProgressException",
                None,
                Defer(Duration::seconds(30), "TNR901"),
            ),
            (
                Api::DeleteStackInstances,
                "OperationInProgressException",
                None,
                Defer(Duration::seconds(30), "TNR901"),
            ),
            (
                Api::DeleteStackSet,
                "OperationInProgressException",
                None,
                Defer(Duration::seconds(30), "TNR901"),
            ),
            (
                Api::CreateStackInstances,
                "OperationIdAlreadyExistsException",
                None,
                Done,
            ),
            (
                Api::DeleteStackInstances,
                "OperationIdAlreadyExistsException",
                None,
                Done,
            ),
            (
                Api::CreateStackInstances,
                "StaleRequestException",
                None,
                Reconcile,
            ),
            (
                Api::DeleteStackInstances,
                "StaleRequestException",
                None,
                Reconcile,
            ),
            (
                Api::DeleteStackInstances,
                "StackSetNotFoundException",
                None,
                Done,
            ),
            (Api::DeleteStackSet, "StackSetNotFoundException", None, Done),
            // Not empty: the AWS code travels verbatim and the caller goes back to T4.
            (
                Api::DeleteStackSet,
                "StackSetNotEmptyException",
                None,
                Fail(None),
            ),
            (
                Api::DescribeStackSetOperation,
                "OperationNotFoundException",
                None,
                Reconcile,
            ),
        ];
        for (api, code, reason, expected) in rows {
            assert_eq!(
                &judged(react(*api, &error(code, *reason), 0)),
                expected,
                "{api:?} {code} {reason:?}"
            );
        }
        // A code means something only for the API it belongs to.
        assert_eq!(
            judged(react(
                Api::DescribeAccount,
                &error("AccountAlreadyClosedException", None),
                0
            )),
            Fail(None)
        );
        assert_eq!(
            judged(react(
                Api::CreateStackSet,
                &error("StackSetNotFoundException", None),
                0
            )),
            Fail(None)
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
        let rows: &[(bool, bool, &[&str], LeftInstances)] = &[
            (false, false, &[], Settled),
            (true, false, &[], Settled),
            (true, false, &["FAILED"], Settled),
            (true, false, &[INOPERABLE, "CURRENT"], Retain),
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
}
