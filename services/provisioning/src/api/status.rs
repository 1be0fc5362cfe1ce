//! `From<ProvisioningError> for Status`, and the status a mutating RPC answers for an operation that
//! did not go on (deferred, waiting for the customer, failed, AWS unreachable).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use tenure_domain::{AwsAccountId, Problems};
use tenure_grpc::status;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::domain::error::ProvisioningError;
use crate::domain::operation::{Operation, OperationState};

/// INVALID_ARGUMENT with every problem of the request.
pub(crate) fn invalid(problems: Problems) -> Status {
    ProvisioningError::Invalid(problems.into_vec()).into()
}

/// The one account id a read names in `field`, or INVALID_ARGUMENT.
pub(crate) fn required_account(field: &str, value: &str) -> Result<AwsAccountId, Status> {
    let mut problems = Problems::new();
    problems
        .check(field, AwsAccountId::parse(value))
        .ok_or_else(|| invalid(problems))
}

/// `ErrorInfo.reason` of a permanent AWS refusal; the AWS code is in the `aws_code` metadata.
pub(crate) const AWS_REJECTED: &str = "AWS_REJECTED";

/// FAILED_PRECONDITION with AWS_REJECTED.
pub(crate) fn aws_rejected(aws_code: &str, code: Option<&str>, message: &str) -> Status {
    let mut metadata = HashMap::from([("aws_code".to_owned(), aws_code.to_owned())]);
    if let Some(code) = code {
        metadata.insert("code".to_owned(), code.to_owned());
    }
    let details = ErrorDetails::with_error_info(AWS_REJECTED, status::ERROR_DOMAIN, metadata);
    Status::with_error_details(Code::FailedPrecondition, message.to_owned(), details)
}

impl From<ProvisioningError> for Status {
    fn from(error: ProvisioningError) -> Self {
        match error {
            ProvisioningError::Invalid(problems) => status::invalid_argument(&problems),
            ProvisioningError::KeyReused => status::key_reused(),
            ProvisioningError::KeyInFlight => status::key_in_flight(),
            ProvisioningError::NotFound(kind) => status::not_found(kind),
            ProvisioningError::ForeignTenant => {
                Status::permission_denied("the tenant is taken from your credentials")
            }
            ProvisioningError::WrongBackend => {
                Status::failed_precondition("the sandbox is not running: this service talks to AWS")
            }
            ProvisioningError::Rejected { aws_code, message } => {
                aws_rejected(&aws_code, None, &message)
            }
            // The email stays out of the message: messages can reach logs, emails never may.
            ProvisioningError::EmailTaken => status::rejected(
                Code::AlreadyExists,
                "TNR101",
                "An AWS account already uses this root email address. Enter a different root email \
                 address.",
            ),
            // A concurrency conflict: reading the operation again shows the step that won.
            ProvisioningError::ClaimLost => {
                Status::aborted(ProvisioningError::ClaimLost.to_string())
            }
            ProvisioningError::Unavailable(cause) => status::unavailable(cause.as_ref()),
            ProvisioningError::Internal(cause) => status::internal(cause.as_ref()),
        }
    }
}

/// `Ok` when a mutating RPC may answer with the operation itself; otherwise the status the proto's
/// service comment prescribes for its state.
#[allow(
    clippy::result_large_err,
    reason = "tonic::Status is the error type of every handler"
)]
pub(crate) fn operation_answer(operation: &Operation, now: DateTime<Utc>) -> Result<(), Status> {
    let error = operation.error.as_ref();
    let code = error
        .and_then(|error| error.code.clone())
        .unwrap_or_default();
    let aws_code = error
        .and_then(|error| error.aws_code.clone())
        .unwrap_or_default();
    let message = error.map(|error| error.message.clone()).unwrap_or_default();
    match operation.state {
        OperationState::Succeeded => Ok(()),
        OperationState::InProgress if code == "TNR901" => {
            // Transient: the engine keeps retrying; the caller retries with the same key.
            Err(Status::unavailable(
                "AWS is responding slowly; retry with the same key",
            ))
        }
        OperationState::InProgress => Ok(()),
        OperationState::Deferred => {
            let delay = operation
                .next_check_at
                .map(|at| (at - now).max(chrono::Duration::zero()))
                .and_then(|delay| delay.to_std().ok())
                .unwrap_or_default();
            Err(status::retry_after(delay, &code, message))
        }
        OperationState::CustomerActionRequired => {
            Err(status::customer_action_required(&code, message))
        }
        OperationState::Failed => Err(aws_rejected(
            &aws_code,
            (!code.is_empty()).then_some(code.as_str()),
            &message,
        )),
    }
}
