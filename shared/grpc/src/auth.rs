//! Authentication: JWT bearer tokens checked against configured issuers (quality.md §1.1), and the
//! tower layer that attaches exactly one [`Principal`] to every call or refuses it.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tenure_domain::{Caller, CallerRole};
use tonic::Status;
use uuid::Uuid;

use crate::TENANT_METADATA_KEY;
use crate::guard::Guard;

mod sign;
mod verify;

pub(crate) use sign::unix_now;
pub use sign::{Ed25519KeyPair, ServiceTokenMinter, TokenGrant, TokenSigner};
pub use verify::{
    AuthFailure, AuthSettings, Claims, IssuerSettings, TokenAlgorithm, TokenVerifier,
    VerificationKey,
};

/// The role of an authenticated principal. A token carries exactly one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A marketplace user acting for exactly one tenant, taken from the token's `tenant_id` claim.
    Customer,
    /// Operations staff: any tenant, per call, always audited.
    Operator,
    /// Internal billing systems: every tenant, read-only, and the event streams.
    #[serde(alias = "billing_reader")]
    Billing,
    /// Another Tenure service; its tenant comes from the `x-tenure-tenant` metadata.
    Service,
}

impl Role {
    /// The name used in tokens and configuration.
    pub fn name(self) -> &'static str {
        match self {
            Role::Customer => "customer",
            Role::Operator => "operator",
            Role::Billing => "billing",
            Role::Service => "service",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The authenticated caller of one RPC, attached to the request extensions by the auth layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The token subject.
    pub subject: String,
    /// The role.
    pub role: Role,
    /// Customers: the tenant from the token. Services: the tenant from `x-tenure-tenant`, when sent.
    pub tenant_id: Option<Uuid>,
    /// Extra permissions, e.g. `legal_hold`.
    pub permissions: Vec<String>,
}

impl Principal {
    /// For the service role: the calling service's name (`orders` for `svc:orders`).
    pub fn service_name(&self) -> Option<&str> {
        match self.role {
            Role::Service => self.subject.strip_prefix("svc:"),
            _ => None,
        }
    }

    /// The domain's view of this principal.
    pub fn caller(&self) -> Caller {
        Caller {
            subject: self.subject.clone(),
            role: match self.role {
                Role::Customer => CallerRole::Customer,
                Role::Operator => CallerRole::Operator,
                Role::Billing => CallerRole::Billing,
                Role::Service => CallerRole::Service,
            },
            tenant: self.tenant_id,
            permissions: self.permissions.clone(),
        }
    }
}

/// The principal of a request, or `UNAUTHENTICATED` when the auth layer did not run (a wiring bug that
/// must not turn into an anonymous call).
#[allow(
    clippy::result_large_err,
    reason = "tonic::Status is the error type of every handler"
)]
pub fn principal_from<T>(request: &tonic::Request<T>) -> Result<&Principal, Status> {
    request
        .extensions()
        .get::<Principal>()
        .ok_or_else(|| Status::unauthenticated(UNAUTHENTICATED_MESSAGE))
}

/// The one message every authentication failure answers with; the precise reason goes only to logs and
/// to `auth_failures_total{reason}`, so a caller cannot probe which check failed.
const UNAUTHENTICATED_MESSAGE: &str = "missing or invalid credentials";

/// Attaches a [`Principal`] to every call, or answers `UNAUTHENTICATED` / `PERMISSION_DENIED`.
#[derive(Clone)]
pub(crate) struct Authentication {
    verifier: Arc<TokenVerifier>,
    audience: &'static str,
}

impl Authentication {
    pub(crate) fn new(verifier: Arc<TokenVerifier>, audience: &'static str) -> Self {
        Self { verifier, audience }
    }

    fn authenticate(&self, headers: &http::HeaderMap) -> Result<Principal, Status> {
        let token = bearer_token(headers).map_err(|failure| self.refuse(failure))?;
        let mut principal = self
            .verifier
            .verify(token, self.audience)
            .map_err(|failure| self.refuse(failure))?;
        if let Some(raw) = headers.get(TENANT_METADATA_KEY) {
            // The tenant header is trusted only from services; a customer naming another tenant this
            // way must not even learn whether it exists (quality.md S6).
            if principal.role != Role::Service {
                return Err(Status::permission_denied("tenant metadata is not allowed"));
            }
            let tenant = raw
                .to_str()
                .ok()
                .and_then(|text| Uuid::parse_str(text).ok())
                .ok_or_else(|| Status::invalid_argument("x-tenure-tenant must be a UUID"))?;
            principal.tenant_id = Some(tenant);
        }
        Ok(principal)
    }

    fn refuse(&self, failure: AuthFailure) -> Status {
        tenure_telemetry::metrics().auth_failure(failure.reason());
        tracing::debug!(
            reason = failure.reason(),
            audience = self.audience,
            "request refused by authentication"
        );
        Status::unauthenticated(UNAUTHENTICATED_MESSAGE)
    }
}

impl Guard for Authentication {
    fn check<B>(&self, request: &mut http::Request<B>) -> Result<(), Status> {
        if is_exempt(request.uri().path()) {
            return Ok(());
        }
        let principal = self.authenticate(request.headers())?;
        request.extensions_mut().insert(principal);
        Ok(())
    }
}

/// Health checks must answer probes that hold no credentials; reflection is only ever enabled in local
/// development (the production configuration refuses it).
fn is_exempt(path: &str) -> bool {
    path.starts_with("/grpc.health.v1.Health/") || path.starts_with("/grpc.reflection.")
}

fn bearer_token(headers: &http::HeaderMap) -> Result<&str, AuthFailure> {
    let value = headers
        .get(http::header::AUTHORIZATION)
        .ok_or(AuthFailure::Missing)?;
    let text = value.to_str().map_err(|_| AuthFailure::Malformed)?;
    let (scheme, token) = text.split_once(' ').ok_or(AuthFailure::Malformed)?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(AuthFailure::Malformed);
    }
    Ok(token)
}

#[cfg(test)]
mod tests;
