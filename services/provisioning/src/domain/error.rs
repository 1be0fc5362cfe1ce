//! The error vocabulary of the use cases; `api/status.rs` maps it to gRPC in one place.

use std::fmt;

use tenure_domain::FieldProblem;

/// Why a use case did not answer with an operation or a value.
#[derive(Debug)]
pub(crate) enum ProvisioningError {
    /// Bad input; nothing was stored.
    Invalid(Vec<FieldProblem>),
    /// The idempotency key was used before for a different request.
    KeyReused,
    /// The same request with this key is still being executed by another call; retry it.
    KeyInFlight,
    /// No such operation, handshake or transfer for this caller.
    NotFound(&'static str),
    /// A purge subject in another tenant than the one the caller acts for (quality.md §1.4).
    ForeignTenant,
    /// The call makes no sense on this backend (SandboxService on `aws`).
    WrongBackend,
    /// A sandbox customer action the simulated AWS refused, in AWS's words.
    Rejected { aws_code: String, message: String },
    /// A sandbox customer signed up with a root email another simulated account holds (TNR101).
    EmailTaken,
    /// The step's claim lapsed and another stepper took the operation over, so this one stopped
    /// before writing or calling AWS again. The engine answers with the stored operation instead, so
    /// this does not reach callers.
    ClaimLost,
    /// The database or AWS could not be reached; retry with the same key.
    Unavailable(Box<dyn std::error::Error + Send + Sync>),
    /// A broken invariant (a stored row that does not decode, an impossible state).
    Internal(Box<dyn std::error::Error + Send + Sync>),
}

impl fmt::Display for ProvisioningError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Invalid(problems) => write!(f, "{} invalid fields", problems.len()),
            Self::KeyReused => f.write_str("idempotency key reused"),
            Self::KeyInFlight => f.write_str("idempotency key in flight"),
            Self::NotFound(kind) => write!(f, "{kind} not found"),
            Self::ForeignTenant => f.write_str("the subject is in another tenant"),
            Self::WrongBackend => f.write_str("only the sandbox backend serves this call"),
            Self::Rejected { aws_code, .. } => write!(f, "rejected: {aws_code}"),
            Self::EmailTaken => f.write_str("the root email is taken"),
            Self::ClaimLost => f.write_str("the operation was taken over by another step"),
            Self::Unavailable(cause) => write!(f, "unavailable: {cause}"),
            Self::Internal(cause) => write!(f, "internal: {cause}"),
        }
    }
}

impl std::error::Error for ProvisioningError {}

impl ProvisioningError {
    /// A broken invariant described in words.
    pub(crate) fn internal(message: impl Into<String>) -> Self {
        Self::Internal(message.into().into())
    }
}
