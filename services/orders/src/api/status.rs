//! The one place where [`OrdersError`] becomes a `tonic::Status`.

use std::time::Duration;

use tenure_grpc::status;
use tonic::{Code, Status};

use crate::domain::OrdersError;

/// `ErrorInfo.reason` when a tenant is at a cap of orders in progress.
pub(crate) const TOO_MANY_ORDERS_IN_FLIGHT: &str = "TOO_MANY_ORDERS_IN_FLIGHT";

/// The retry a refused order is given: an order in progress takes minutes at least, so sooner would
/// only be refused again.
const IN_FLIGHT_RETRY: Duration = Duration::from_secs(60);

impl From<OrdersError> for Status {
    fn from(error: OrdersError) -> Self {
        match error {
            OrdersError::Invalid(problems) => status::invalid_argument(&problems),
            OrdersError::NotFound(kind) => status::not_found(kind),
            OrdersError::Precondition(rejection) => {
                status::rejected(Code::FailedPrecondition, &rejection.code, rejection.message)
            }
            OrdersError::Unsupported(rejection) => {
                status::rejected(Code::InvalidArgument, &rejection.code, rejection.message)
            }
            OrdersError::AlreadyExists(rejection) => {
                status::rejected(Code::AlreadyExists, &rejection.code, rejection.message)
            }
            OrdersError::NotEligible => Status::failed_precondition("account not eligible"),
            OrdersError::Forbidden(message) => Status::permission_denied(message),
            OrdersError::ForeignTenant => {
                Status::permission_denied("the tenant is taken from your credentials")
            }
            OrdersError::Busy => Status::aborted("the order is being worked on right now; retry"),
            OrdersError::KeyReused => status::key_reused(),
            OrdersError::KeyInFlight => status::key_in_flight(),
            OrdersError::TooManyInFlight(message) => {
                status::retry_after(IN_FLIGHT_RETRY, TOO_MANY_ORDERS_IN_FLIGHT, message)
            }
            OrdersError::TooManyStreams(message) => status::too_many_streams(message),
            OrdersError::Unavailable(cause) => status::unavailable(cause.as_ref()),
            OrdersError::Internal(cause) => status::internal(cause.as_ref()),
        }
    }
}
