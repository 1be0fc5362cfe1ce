//! The service's error vocabulary. `api/status.rs` maps it to gRPC in exactly one place.

use tenure_domain::FieldProblem;

use crate::domain::AccountState;

/// A catalogue rejection (domain.md §4.4): the stable code and a message safe to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rejection {
    /// `TNR…`.
    pub(crate) code: &'static str,
    /// Short, safe to show, never carrying another tenant's data.
    pub(crate) message: String,
}

/// Why a use case did not happen.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AccountsError {
    /// Bad input; nothing was stored.
    #[error("invalid request")]
    Invalid(Vec<FieldProblem>),
    /// The object is not in the caller's scope: missing or another tenant's, answered alike.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The lifecycle does not allow the move from the current state.
    #[error("account is {current}; it cannot become {to}")]
    TransitionRefused {
        current: AccountState,
        to: AccountState,
    },
    /// The record is not in a state where this change applies (it is not a lifecycle move).
    #[error("account is {current}")]
    WrongState { current: AccountState },
    /// A closed account's 90-day reopen window has ended.
    #[error("the reopen window of this account has ended")]
    ReopenWindowPassed { current: AccountState },
    /// A catalogue precondition failed (TNR007, TNR009, TNR011, TNR404 …).
    #[error("{}", .0.message)]
    Precondition(Rejection),
    /// The account is already managed under the caller's own tenant (TNR010).
    #[error("{}", .0.message)]
    AlreadyManaged(Rejection),
    /// The customer must change what they asked for (TNR101: a root email AWS already knows).
    #[error("{}", .0.message)]
    CustomerAction(Rejection),
    /// The caller is a customer of the tenant but not one of its administrators.
    #[error("only a tenant administrator may do this")]
    NotAdministrator,
    /// A uniqueness conflict that may involve another tenant: one generic answer whatever the
    /// cause, so it cannot be used to probe other tenants (quality.md §1.6).
    #[error("account not eligible")]
    NotEligible,
    /// A customer named a tenant other than its own in a request field.
    #[error("the tenant in the request is not the caller's")]
    ForeignTenant,
    /// The caller has no tenant to act for where the call needs one.
    #[error("this call must act for a tenant")]
    TenantRequired,
    /// Another transaction changed the record first; the whole call may be retried.
    #[error("concurrent change")]
    Concurrent,
    /// The idempotency key was used for another request.
    #[error("idempotency key reused")]
    KeyReused,
    /// The first call with this key is still running.
    #[error("idempotency key in flight")]
    KeyInFlight,
    /// The call needs the data-purge peer, and this instance runs without one (tests of accounts alone).
    #[error("needs the data-purge service")]
    NeedsPurgeService,
    /// The tenant's purge already began deleting, so the tenant cannot come back.
    #[error("the tenant purge has started")]
    PurgeStarted,
    /// A dependency (the database) is down; retrying later may work.
    #[error("dependency unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A broken invariant.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl AccountsError {
    /// One invalid field.
    pub(crate) fn invalid(problem: FieldProblem) -> Self {
        Self::Invalid(vec![problem])
    }

    /// A broken invariant described by fixed text.
    pub(crate) fn internal(message: &'static str) -> Self {
        Self::Internal(message.into())
    }
}
