//! The gRPC side every handler shares: the authenticated call, the request checks, and the
//! idempotency claim of a mutating request with the reply it sends. A fresh answer is encoded by the
//! same function the handler replies with, so a replay decodes exactly the bytes the first call sent.

use prost::Message;
use tenure_db::idempotency;
use tenure_proto::Keyed;
use tonic::{Request, Status};

use crate::app::{Answer, Idempotent};
pub(crate) use crate::app::{Call, Orders};
use crate::domain::OrdersError;

impl Orders {
    /// The authenticated principal of `request` for `method` (`/pkg.Service/Method`).
    pub(crate) fn call<T>(
        &self,
        request: &Request<T>,
        method: &'static str,
    ) -> Result<Call, Status> {
        Ok(Call {
            caller: tenure_grpc::principal_from(request)?.caller(),
            method,
        })
    }
}

/// The idempotency claim of a checked mutating `request`, whose fresh answer is stored as `encode`
/// writes it.
pub(crate) fn idempotent<'a, T>(
    request: &impl Keyed,
    encode: &'a (dyn Fn(&T) -> Result<Vec<u8>, OrdersError> + Send + Sync),
) -> Result<Idempotent<'a, T>, OrdersError> {
    Ok(Idempotent {
        key: key_of(request)?,
        request_hash: idempotency::request_hash(&request.canonical()),
        encode,
    })
}

/// The reply to a mutation: a fresh answer converted by `to`, the function its `encode` used, or the
/// stored reply of the first call with the same key.
pub(crate) fn reply<T, R>(
    answer: Answer<T>,
    to: impl FnOnce(&T) -> Result<R, OrdersError>,
) -> Result<R, OrdersError>
where
    R: Message + Default,
{
    match answer {
        Answer::Fresh(value) => to(&value),
        Answer::Replay(stored) => decode(&stored),
    }
}

fn decode<R: Message + Default>(stored: &[u8]) -> Result<R, OrdersError> {
    R::decode(stored).map_err(|error| OrdersError::Internal(Box::new(error)))
}

tenure_grpc::request_checks!(OrdersError);
