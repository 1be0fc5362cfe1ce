//! The service's error vocabulary. `api/status.rs` maps it to gRPC in exactly one place.

use tenure_domain::FieldProblem;

use crate::domain::{PurgeEvent, PurgeState};

/// Why a use case did not happen.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PurgeError {
    /// Bad input; nothing was stored.
    #[error("invalid request")]
    Invalid(Vec<FieldProblem>),
    /// The object is not in the caller's scope: missing or another tenant's, answered alike.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The state machine does not allow `event` from `state`.
    #[error("the purge is {}; it cannot {}", .state.as_str(), .event.as_str())]
    WrongState {
        state: PurgeState,
        event: PurgeEvent,
        started: bool,
    },
    /// A legal hold blocks the purge (TNR501).
    #[error("a legal hold blocks this purge")]
    Held,
    /// An expedite would move the due time later (TNR504).
    #[error("a purge can only be moved earlier")]
    WouldPostpone,
    /// The hold was already released.
    #[error("the legal hold is already released")]
    HoldReleased,
    /// The caller lacks a permission the call needs (e.g. `legal_hold`).
    #[error("the {0} permission is required")]
    MissingPermission(&'static str),
    /// A customer named a tenant other than its own in a request field.
    #[error("the tenant in the request is not the caller's")]
    ForeignTenant,
    /// Another transaction changed the purge first; the whole call may be retried.
    #[error("concurrent change")]
    Concurrent,
    /// The idempotency key was used for another request.
    #[error("idempotency key reused")]
    KeyReused,
    /// The first call with this key is still running.
    #[error("idempotency key in flight")]
    KeyInFlight,
    /// A data owner refused or failed a call; the purge retries on a later pass.
    #[error("data owner {service} answered {code}")]
    OwnerFailed { service: String, code: String },
    /// A data owner or the database is down; retrying later may work.
    #[error("dependency unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A broken invariant.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl PurgeError {
    /// A broken invariant described by fixed text.
    pub(crate) fn internal(message: &'static str) -> Self {
        Self::Internal(message.into())
    }
}
