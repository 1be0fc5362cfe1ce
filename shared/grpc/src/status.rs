//! The one place where Tenure's error vocabulary meets `tonic::Status`.
//!
//! Every service's `api/status.rs` maps its domain error enum with these helpers, so the wire shape of an
//! error is the same everywhere: field violations as `google.rpc.BadRequest`, catalogue codes (`TNR…`) in
//! `google.rpc.ErrorInfo.reason` with domain `tenure`, retry delays as `google.rpc.RetryInfo`, and internal
//! failures as a generic message plus the trace id, never SQL or stack text.

use std::collections::HashMap;
use std::time::Duration;

use tenure_domain::FieldProblem;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, StatusExt};

/// The `ErrorInfo.domain` of every Tenure error.
pub const ERROR_DOMAIN: &str = "tenure";

/// `ErrorInfo.reason` when an idempotency key is reused with a different request.
pub const IDEMPOTENCY_KEY_REUSED: &str = "IDEMPOTENCY_KEY_REUSED";

/// `ErrorInfo.reason` when a caller is over its call rate (quality.md §1.7); `RetryInfo` says when the
/// next call would pass.
pub const RATE_LIMITED: &str = "RATE_LIMITED";

/// `ErrorInfo.reason` when a tenant or principal already holds as many open streams as it may.
pub const TOO_MANY_STREAMS: &str = "TOO_MANY_STREAMS";

/// `ErrorInfo.reason` when the customer must act in AWS before a step can go on; the catalogue code is
/// in the `code` metadata entry.
pub const CUSTOMER_ACTION_REQUIRED: &str = "CUSTOMER_ACTION_REQUIRED";

/// The most field violations one answer carries. They travel in the `grpc-status-details-bin`
/// trailer, and a list of a few hundred bad elements made it larger than HTTP/2 peers accept: the
/// client saw an h2 protocol error and every other call on the connection was cancelled. The message
/// still counts them all.
pub const MAX_FIELD_VIOLATIONS: usize = 20;

/// `INVALID_ARGUMENT` with one field violation per problem (the first [`MAX_FIELD_VIOLATIONS`]), all at
/// once. `ErrorInfo.reason` carries the first problem's catalogue code (domain.md §7).
pub fn invalid_argument(problems: &[FieldProblem]) -> Status {
    let violations: Vec<FieldViolation> = problems
        .iter()
        .take(MAX_FIELD_VIOLATIONS)
        .map(|problem| FieldViolation {
            field: problem.field.clone(),
            description: problem.description.to_owned(),
            reason: problem.reason.to_owned(),
            localized_message: None,
        })
        .collect();
    let mut details = ErrorDetails::with_bad_request(violations);
    if let Some(code) = problems.iter().find_map(|problem| problem.catalogue_code) {
        details.set_error_info(code, ERROR_DOMAIN, HashMap::new());
    }
    let message = match problems {
        [only] => format!("invalid request: {only}"),
        many => format!("invalid request: {} invalid fields", many.len()),
    };
    Status::with_error_details(Code::InvalidArgument, message, details)
}

/// A catalogue rejection: `code` with the `TNR…` reason in `ErrorInfo` and a message safe to show.
pub fn rejected(code: Code, catalogue_code: &str, message: impl Into<String>) -> Status {
    let details = ErrorDetails::with_error_info(catalogue_code, ERROR_DOMAIN, HashMap::new());
    Status::with_error_details(code, message, details)
}

/// `FAILED_PRECONDITION` for a reused idempotency key (quality.md §3.1).
pub fn key_reused() -> Status {
    let details =
        ErrorDetails::with_error_info(IDEMPOTENCY_KEY_REUSED, ERROR_DOMAIN, HashMap::new());
    Status::with_error_details(
        Code::FailedPrecondition,
        "this request key was already used for a different request",
        details,
    )
}

/// `ABORTED` while the first call with the same key is still running; clients retry.
pub fn key_in_flight() -> Status {
    Status::aborted("a request with this key is in progress; retry")
}

/// `NOT_FOUND` with a fixed message naming only the kind of object: a foreign id and a random id must
/// answer byte for byte the same (quality.md §1.6).
pub fn not_found(kind: &'static str) -> Status {
    Status::not_found(format!("{kind} not found"))
}

/// `RESOURCE_EXHAUSTED` with `RetryInfo`: a quota or waiting period; retry after `delay`.
pub fn retry_after(delay: Duration, reason: &str, message: impl Into<String>) -> Status {
    let mut details = ErrorDetails::with_retry_info(Some(delay));
    details.set_error_info(reason, ERROR_DOMAIN, HashMap::new());
    Status::with_error_details(Code::ResourceExhausted, message, details)
}

/// `RESOURCE_EXHAUSTED` for a stream over its cap. No `RetryInfo`: a slot frees when one of the
/// caller's own streams ends, which only the caller knows.
pub fn too_many_streams(message: impl Into<String>) -> Status {
    let details = ErrorDetails::with_error_info(TOO_MANY_STREAMS, ERROR_DOMAIN, HashMap::new());
    Status::with_error_details(Code::ResourceExhausted, message, details)
}

/// `FAILED_PRECONDITION` asking the customer to act, with the catalogue code in the metadata.
pub fn customer_action_required(catalogue_code: &str, message: impl Into<String>) -> Status {
    let metadata = HashMap::from([("code".to_owned(), catalogue_code.to_owned())]);
    let details = ErrorDetails::with_error_info(CUSTOMER_ACTION_REQUIRED, ERROR_DOMAIN, metadata);
    Status::with_error_details(Code::FailedPrecondition, message, details)
}

/// `UNAVAILABLE` for a dependency that is down (database, AWS, a peer); the cause is logged, not sent.
pub fn unavailable(cause: &(dyn std::error::Error + 'static)) -> Status {
    tracing::warn!(error = %ErrorChain(cause), "dependency unavailable");
    Status::unavailable(with_trace_id("temporarily unavailable; retry"))
}

/// `INTERNAL` for a broken invariant: the cause chain goes to the log of the current span, the caller
/// gets a generic message and the trace id to quote to support.
pub fn internal(cause: &(dyn std::error::Error + 'static)) -> Status {
    tracing::error!(error = %ErrorChain(cause), "internal error");
    internal_message()
}

/// The generic `INTERNAL` answer, without logging (the caller already did).
pub fn internal_message() -> Status {
    Status::internal(with_trace_id("internal error"))
}

fn with_trace_id(message: &str) -> String {
    match tenure_telemetry::current_trace_id() {
        Some(trace_id) => format!("{message} (trace {trace_id})"),
        None => message.to_owned(),
    }
}

/// Formats an error with its `source()` chain on one line.
struct ErrorChain<'a>(&'a (dyn std::error::Error + 'static));

impl std::fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

/// Declares the two conversions of an enum between its proto number and a domain type:
/// `$from(i32)` refuses `*_UNSPECIFIED` and unknown numbers with a `REQUIRED` field problem (TNR004),
/// and `$to(domain)` gives the number back.
#[macro_export]
macro_rules! enum_conversion {
    ($from:ident, $to:ident, $proto:ty => $domain:ident { $($p:ident <=> $d:ident),+ $(,)? }) => {
        #[allow(dead_code, reason = "not every vocabulary travels in both directions")]
        pub(crate) fn $from(raw: i32) -> Result<$domain, ::tenure_domain::FieldProblem> {
            match <$proto>::try_from(raw) {
                $(Ok(<$proto>::$p) => Ok($domain::$d),)+
                _ => Err(::tenure_domain::required()),
            }
        }

        #[allow(dead_code, reason = "not every vocabulary travels in both directions")]
        pub(crate) fn $to(value: $domain) -> i32 {
            match value {
                $($domain::$d => <$proto>::$p as i32,)+
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_violations_travel_with_the_first_catalogue_code() {
        let problems = [
            FieldProblem {
                field: "new_account.root_email".into(),
                reason: "EMAIL_FORMAT",
                description: "enter a root email of 6 to 64 ASCII characters",
                catalogue_code: Some("TNR002"),
            },
            FieldProblem {
                field: "new_account.account_name".into(),
                reason: "ACCOUNT_NAME_FORMAT",
                description: "account names use 1 to 50 printable ASCII characters",
                catalogue_code: Some("TNR003"),
            },
        ];
        let status = invalid_argument(&problems);
        assert_eq!(status.code(), Code::InvalidArgument);
        let details = status.get_error_details();
        let violations = &details.bad_request().expect("bad request").field_violations;
        assert_eq!(violations.len(), 2);
        assert_eq!(violations[1].field, "new_account.account_name");
        assert_eq!(details.error_info().expect("error info").reason, "TNR002");
    }

    #[test]
    fn retry_after_carries_its_delay() {
        let status = retry_after(
            Duration::from_secs(90),
            "CLOSE_ACCOUNT_QUOTA_EXCEEDED",
            "quota",
        );
        assert_eq!(status.code(), Code::ResourceExhausted);
        let details = status.get_error_details();
        assert_eq!(
            details.retry_info().expect("retry info").retry_delay,
            Some(Duration::from_secs(90))
        );
    }

    #[test]
    fn a_long_list_of_violations_is_cut_so_the_trailer_stays_small() {
        let problems: Vec<FieldProblem> = (0..10_000)
            .map(|index| FieldProblem {
                field: format!("aws_account_ids[{index}]"),
                reason: "DUPLICATE",
                description: "this account is listed more than once",
                catalogue_code: Some("TNR006"),
            })
            .collect();
        let status = invalid_argument(&problems);
        let details = status.get_error_details();
        let violations = &details.bad_request().expect("bad request").field_violations;
        assert_eq!(violations.len(), MAX_FIELD_VIOLATIONS);
        assert!(
            status.details().len() < 4 * 1024,
            "{}",
            status.details().len()
        );
        assert_eq!(status.message(), "invalid request: 10000 invalid fields");
    }

    #[test]
    fn not_found_never_names_the_id() {
        assert_eq!(not_found("order").message(), "order not found");
    }
}
