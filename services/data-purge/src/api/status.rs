//! The one place where [`PurgeError`] becomes a `tonic::Status`.

use std::collections::HashMap;

use tenure_grpc::status;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt as _};

use crate::domain::PurgeError;

/// `ErrorInfo.reason` of a refused purge transition; the metadata names the state.
const INVALID_TRANSITION: &str = "INVALID_TRANSITION";

impl From<PurgeError> for Status {
    fn from(error: PurgeError) -> Self {
        match error {
            PurgeError::Invalid(problems) => status::invalid_argument(&problems),
            PurgeError::NotFound(kind) => status::not_found(kind),
            PurgeError::WrongState {
                state,
                event,
                started,
            } => {
                let mut metadata = HashMap::from([
                    ("current_state".to_owned(), state.as_str().to_owned()),
                    ("event".to_owned(), event.as_str().to_owned()),
                ]);
                metadata.insert("started".to_owned(), started.to_string());
                let message = if started && event == crate::domain::PurgeEvent::Cancel {
                    "the purge has started deleting data; it can no longer be cancelled".to_owned()
                } else {
                    format!(
                        "the purge is {}; it cannot {}",
                        state.as_str(),
                        event.as_str()
                    )
                };
                let details = ErrorDetails::with_error_info(
                    INVALID_TRANSITION,
                    status::ERROR_DOMAIN,
                    metadata,
                );
                Status::with_error_details(Code::FailedPrecondition, message, details)
            }
            PurgeError::Held => status::rejected(
                Code::FailedPrecondition,
                "TNR501",
                "a legal hold blocks this purge",
            ),
            PurgeError::WouldPostpone => status::rejected(
                Code::InvalidArgument,
                "TNR504",
                "a purge can only be moved earlier; this one is already due",
            ),
            PurgeError::HoldReleased => {
                Status::failed_precondition("the legal hold is already released")
            }
            PurgeError::MissingPermission(permission) => {
                Status::permission_denied(format!("the {permission} permission is required"))
            }
            PurgeError::ForeignTenant => {
                Status::permission_denied("the tenant is taken from your credentials")
            }
            PurgeError::Concurrent => {
                Status::aborted("the purge changed while this call ran; retry")
            }
            PurgeError::KeyReused => status::key_reused(),
            PurgeError::KeyInFlight => status::key_in_flight(),
            PurgeError::OwnerFailed { service, code } => {
                Status::unavailable(format!("data owner {service} answered {code}; retry later"))
            }
            PurgeError::Unavailable(cause) => status::unavailable(cause.as_ref()),
            PurgeError::Internal(cause) => status::internal(cause.as_ref()),
        }
    }
}
