//! The service's error vocabulary. `api/status.rs` maps it to gRPC in exactly one place.

use tenure_domain::FieldProblem;

/// A catalogue rejection (domain.md §4.4): the stable code and a message safe to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rejection {
    /// `TNR…`.
    pub(crate) code: String,
    /// Short, safe to show, never carrying another tenant's data.
    pub(crate) message: String,
}

impl Rejection {
    pub(crate) fn new(code: &str, message: impl Into<String>) -> Self {
        Self {
            code: code.to_owned(),
            message: message.into(),
        }
    }
}

/// Why a use case did not happen.
#[derive(Debug, thiserror::Error)]
pub(crate) enum OrdersError {
    /// Bad input; nothing was stored.
    #[error("invalid request")]
    Invalid(Vec<FieldProblem>),
    /// The object is not in the caller's scope: missing or another tenant's, answered alike.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A catalogue precondition failed (TNR007, TNR009, TNR011, TNR014, TNR404 …).
    #[error("{}", .0.message)]
    Precondition(Rejection),
    /// A catalogue rejection answered INVALID_ARGUMENT (TNR008 on a combination the tenant's
    /// facts rule out).
    #[error("{}", .0.message)]
    Unsupported(Rejection),
    /// The account is already managed (TNR010).
    #[error("{}", .0.message)]
    AlreadyExists(Rejection),
    /// A uniqueness conflict that may involve another tenant: one generic answer whatever the cause
    /// (quality.md §1.6).
    #[error("account not eligible")]
    NotEligible,
    /// The caller's role may not do this to this object (a task owned by another role).
    #[error("{0}")]
    Forbidden(&'static str),
    /// A customer named a tenant other than its own.
    #[error("the tenant in the request is not the caller's")]
    ForeignTenant,
    /// The saga is being worked on right now; retry.
    #[error("the order is being worked on")]
    Busy,
    /// The idempotency key was used for another request.
    #[error("idempotency key reused")]
    KeyReused,
    /// The first call with this key is still running.
    #[error("idempotency key in flight")]
    KeyInFlight,
    /// The tenant is at a cap of orders in progress (quality.md §1.7, API6); the message says which.
    #[error("{0}")]
    TooManyInFlight(String),
    /// The tenant or principal holds as many open streams as it may on this replica.
    #[error("{0}")]
    TooManyStreams(String),
    /// A dependency (the database or a peer) is unavailable; retry.
    #[error("unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A broken invariant.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl OrdersError {
    /// One field problem.
    pub(crate) fn invalid(problem: FieldProblem) -> Self {
        Self::Invalid(vec![problem])
    }

    /// A broken invariant described by `what`.
    pub(crate) fn internal(what: &'static str) -> Self {
        Self::Internal(what.into())
    }

    /// A catalogue precondition.
    pub(crate) fn precondition(code: &str, message: impl Into<String>) -> Self {
        Self::Precondition(Rejection::new(code, message))
    }
}
