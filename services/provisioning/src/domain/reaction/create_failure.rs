//! The reaction to a FAILED CreateAccountStatus, which AWS reports as a reason rather than an
//! exception.

use chrono::Duration;

use super::{Reaction, backoff};

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
