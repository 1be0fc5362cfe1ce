//! The one place where [`PurgeError`] becomes a `tonic::Status`.

use std::collections::HashMap;

use tenure_grpc::status;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt as _};

use crate::domain::PurgeError;

/// `ErrorInfo.reason` of a refused purge transition; the metadata names the state.
const INVALID_TRANSITION: &str = "INVALID_TRANSITION";

/// The catalogue code of a cancel (a restore) that came after deletion began (domain.md §4.4).
const RESTORE_WINDOW_ENDED: &str = "TNR502";

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
                // A cancel is only ever refused once deletion began (running, held mid-way or
                // completed): the data cannot come back, which is what TNR502 tells the caller.
                let (reason, message) = if event == crate::domain::PurgeEvent::Cancel {
                    (
                        RESTORE_WINDOW_ENDED,
                        "The restore window for this data has ended: the purge has started \
                         deleting it and can no longer be cancelled."
                            .to_owned(),
                    )
                } else {
                    (
                        INVALID_TRANSITION,
                        format!(
                            "the purge is {}; it cannot {}",
                            state.as_str(),
                            event.as_str()
                        ),
                    )
                };
                let details = ErrorDetails::with_error_info(reason, status::ERROR_DOMAIN, metadata);
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

#[cfg(test)]
mod tests {
    use tonic_types::StatusExt as _;

    use super::*;
    use crate::domain::{PurgeEvent, PurgeState};

    fn reason(status: &Status) -> Option<String> {
        status
            .get_error_details()
            .error_info()
            .map(|info| info.reason.clone())
    }

    #[test]
    fn a_cancel_after_deletion_began_names_the_ended_restore_window() {
        for state in [PurgeState::Running, PurgeState::Held, PurgeState::Completed] {
            let status = Status::from(PurgeError::WrongState {
                state,
                event: PurgeEvent::Cancel,
                started: true,
            });
            assert_eq!(status.code(), Code::FailedPrecondition);
            assert_eq!(reason(&status).as_deref(), Some("TNR502"), "{state:?}");
            assert!(
                status
                    .message()
                    .starts_with("The restore window for this data has ended"),
                "{status:?}"
            );
        }
        let expedite = Status::from(PurgeError::WrongState {
            state: PurgeState::Completed,
            event: PurgeEvent::Expedite,
            started: true,
        });
        assert_eq!(reason(&expedite).as_deref(), Some(INVALID_TRANSITION));
    }
}
