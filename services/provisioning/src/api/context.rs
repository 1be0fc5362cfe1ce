//! What every handler reads from the authenticated request before it reads the message.

use tonic::{Request, Status};

use crate::app::Call;

/// The caller of `request`: its subject, which scopes idempotency keys, and the tenant it is bound to
/// or acts for.
#[allow(
    clippy::result_large_err,
    reason = "tonic::Status is the error type of every handler"
)]
pub(crate) fn call_of<T>(request: &Request<T>) -> Result<Call, Status> {
    let principal = tenure_grpc::principal_from(request)?;
    Ok(Call {
        caller: principal.subject.clone(),
        tenant_id: principal.tenant_id,
    })
}
