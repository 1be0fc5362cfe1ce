//! The one place where [`AccountsError`] becomes a `tonic::Status`.

use std::collections::HashMap;

use tenure_domain::FieldProblem;
use tenure_grpc::status;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt as _};

use crate::domain::{AccountState, AccountsError};

/// `ErrorInfo.reason` of a refused lifecycle transition; the metadata names the current state.
const INVALID_TRANSITION: &str = "INVALID_TRANSITION";

/// `ErrorInfo.reason` of a reopening after the 90-day window.
const REOPEN_WINDOW_PASSED: &str = "REOPEN_WINDOW_PASSED";

/// A refused lifecycle move: the `ErrorInfo` metadata names the states involved, so a client can
/// tell where the record stands without parsing the message.
fn invalid_transition(states: &[(&str, AccountState)], message: String) -> Status {
    let metadata = states
        .iter()
        .map(|(key, state)| ((*key).to_owned(), state.as_str().to_owned()))
        .collect::<HashMap<_, _>>();
    let details = ErrorDetails::with_error_info(INVALID_TRANSITION, status::ERROR_DOMAIN, metadata);
    Status::with_error_details(Code::FailedPrecondition, message, details)
}

impl From<AccountsError> for Status {
    fn from(error: AccountsError) -> Self {
        match error {
            AccountsError::Invalid(problems) => status::invalid_argument(&problems),
            AccountsError::NotFound(kind) => status::not_found(kind),
            AccountsError::TransitionRefused { current, to } => invalid_transition(
                &[("current_state", current), ("requested_state", to)],
                format!("the account is {current}; it cannot become {to}"),
            ),
            AccountsError::WrongState { current } => invalid_transition(
                &[("current_state", current)],
                format!("the account is {current}"),
            ),
            AccountsError::ReopenWindowPassed { current } => {
                let metadata =
                    HashMap::from([("current_state".to_owned(), current.as_str().to_owned())]);
                let details = ErrorDetails::with_error_info(
                    REOPEN_WINDOW_PASSED,
                    status::ERROR_DOMAIN,
                    metadata,
                );
                Status::with_error_details(
                    Code::FailedPrecondition,
                    "the 90-day reopen window of this account has ended",
                    details,
                )
            }
            AccountsError::Precondition(rejection) => {
                status::rejected(Code::FailedPrecondition, rejection.code, rejection.message)
            }
            AccountsError::AlreadyManaged(rejection) => {
                status::rejected(Code::AlreadyExists, rejection.code, rejection.message)
            }
            AccountsError::CustomerAction(rejection) => {
                status::customer_action_required(rejection.code, rejection.message)
            }
            AccountsError::NotAdministrator => Status::permission_denied(
                "Only a tenant administrator can remove an account from the platform or restore it. \
                 Ask an administrator of your organization.",
            ),
            AccountsError::NotEligible => Status::failed_precondition("account not eligible"),
            AccountsError::ForeignTenant => {
                Status::permission_denied("the tenant is taken from your credentials")
            }
            // A field violation like every other INVALID_ARGUMENT (quality.md §2), on the field an
            // operator fills.
            AccountsError::TenantRequired => status::invalid_argument(&[FieldProblem {
                field: "tenant_id".to_owned(),
                reason: "TENANT_REQUIRED",
                description: "this call acts for one tenant: name it (tenant_id for operators, \
                              x-tenure-tenant for services) or use a customer token",
                catalogue_code: Some("TNR004"),
            }]),
            AccountsError::Concurrent => {
                Status::aborted("the record changed while this call ran; retry")
            }
            AccountsError::KeyReused => status::key_reused(),
            AccountsError::KeyInFlight => status::key_in_flight(),
            AccountsError::NeedsPurgeService => Status::failed_precondition(
                "this accounts instance runs without the data-purge service, which schedules and \
                 cancels tenant purges",
            ),
            AccountsError::PurgeStarted => status::rejected(
                Code::FailedPrecondition,
                "PURGE_STARTED",
                "the tenant's data purge has already started; the tenant cannot be re-subscribed",
            ),
            AccountsError::Unavailable(cause) => status::unavailable(cause.as_ref()),
            AccountsError::Internal(cause) => status::internal(cause.as_ref()),
        }
    }
}
