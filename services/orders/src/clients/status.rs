//! What the peers' answers mean for a step: a tonic status becomes a retry, a deferral, a query or
//! a failure (sagas.md §2.5), or, for the lookups made when an order is placed, an error.

use tonic::Code;
use tonic_types::StatusExt as _;

use crate::domain::saga::advance::StepOutcome;

/// Why a step cannot go on with what it has: a broken invariant of the saga.
pub(super) fn broken(what: &str) -> StepOutcome {
    StepOutcome::Fail {
        code: "TNR903".to_owned(),
        message: what.to_owned(),
    }
}

/// What a peer's status means for a step (sagas.md §2.5). `DEADLINE_EXCEEDED` is ambiguous, so like
/// every transient answer it is retried under the same key, which the peer deduplicates.
pub(super) fn classify(status: &tonic::Status) -> StepOutcome {
    let info = status.get_details_error_info();
    let reason = info
        .as_ref()
        .map(|info| info.reason.clone())
        .unwrap_or_default();
    let metadata = |key: &str| {
        info.as_ref()
            .and_then(|info| info.metadata.get(key).cloned())
            .unwrap_or_default()
    };
    match status.code() {
        Code::Unavailable
        | Code::DeadlineExceeded
        | Code::Aborted
        | Code::Unknown
        | Code::Internal
        | Code::Cancelled => StepOutcome::Retry {
            code: tenure_telemetry::grpc_code_name(status.code() as i32).to_owned(),
            message: status.message().chars().take(200).collect(),
        },
        Code::ResourceExhausted => match status
            .get_details_retry_info()
            .and_then(|info| info.retry_delay)
        {
            Some(after) => StepOutcome::Deferred {
                after,
                notice: (!reason.is_empty() && reason.starts_with("TNR")).then_some(reason),
                detail: status.message().chars().take(200).collect(),
            },
            None => StepOutcome::Retry {
                code: "RESOURCE_EXHAUSTED".to_owned(),
                message: status.message().chars().take(200).collect(),
            },
        },
        Code::FailedPrecondition if reason == tenure_grpc::status::CUSTOMER_ACTION_REQUIRED => {
            StepOutcome::Query {
                code: metadata("code"),
                fields: Vec::new(),
                items: Vec::new(),
            }
        }
        _ => {
            let code = if reason.starts_with("TNR") {
                reason
            } else if !metadata("code").is_empty() {
                metadata("code")
            } else {
                tenure_telemetry::grpc_code_name(status.code() as i32).to_owned()
            };
            StepOutcome::Fail {
                code,
                message: status.message().chars().take(300).collect(),
            }
        }
    }
}

/// The outcome of a call that answered a status.
pub(super) fn answered<T>(
    result: Result<tonic::Response<T>, tonic::Status>,
) -> Result<T, StepOutcome> {
    result
        .map(tonic::Response::into_inner)
        .map_err(|status| classify(&status))
}

pub(super) fn unavailable(status: &tonic::Status) -> crate::domain::OrdersError {
    crate::domain::OrdersError::Unavailable(
        format!(
            "accounts answered {}: {}",
            tenure_telemetry::grpc_code_name(status.code() as i32),
            status.message()
        )
        .into(),
    )
}
