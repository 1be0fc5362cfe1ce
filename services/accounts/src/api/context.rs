//! The gRPC side every handler shares: the authenticated call, the request checks, and the
//! idempotency claim of a mutating request with the reply it sends. A fresh answer is encoded by the
//! same function the handler replies with, so a replay decodes exactly the bytes the first call sent.

use prost::Message;
use tenure_db::idempotency;
use tenure_proto::Keyed;
use tonic::{Request, Status};

use crate::app::{Accounts, Answer, Call, Idempotent};
use crate::domain::{Access, AccountsError};

impl Accounts {
    /// Narrows the authenticated principal of `request` for `method` (`/pkg.Service/Method`).
    pub(crate) fn call<T>(
        &self,
        request: &Request<T>,
        method: &'static str,
    ) -> Result<Call, Status> {
        let caller = tenure_grpc::principal_from(request)?.caller();
        let access = Access::of(&caller).map_err(Status::from)?;
        let action = method.rsplit('/').next().unwrap_or(method);
        Ok(Call {
            caller,
            access,
            method,
            action,
        })
    }
}

/// The idempotency claim of a checked mutating `request`, whose fresh answer is stored as `encode`
/// writes it.
pub(crate) fn idempotent<'a, T>(
    request: &impl Keyed,
    encode: &'a (dyn Fn(&T) -> Vec<u8> + Send + Sync),
) -> Result<Idempotent<'a, T>, AccountsError> {
    Ok(Idempotent {
        key: key_of(request)?,
        request_hash: idempotency::request_hash(&request.canonical()),
        encode,
    })
}

/// Runs a mutating use case under `request`'s idempotency key and answers with its reply: `to`
/// builds the reply of a fresh answer and is also what is stored, so a replay answers the same bytes.
pub(crate) async fn keyed<T, R>(
    request: &impl Keyed,
    to: impl Fn(&T) -> R + Send + Sync,
    run: impl AsyncFnOnce(Idempotent<'_, T>) -> Result<Answer<T>, AccountsError>,
) -> Result<R, AccountsError>
where
    R: Message + Default,
{
    let encode = |value: &T| to(value).encode_to_vec();
    let answer = run(idempotent(request, &encode)?).await?;
    reply(answer, to)
}

/// The reply to a mutation: a fresh answer converted by `to`, the function its `encode` used, or the
/// stored reply of the first call with the same key.
pub(crate) fn reply<T, R>(answer: Answer<T>, to: impl FnOnce(&T) -> R) -> Result<R, AccountsError>
where
    R: Message + Default,
{
    match answer {
        Answer::Fresh(value) => Ok(to(&value)),
        Answer::Replay(stored) => decode(&stored),
    }
}

fn decode<R>(stored: &[u8]) -> Result<R, AccountsError>
where
    R: Message + Default,
{
    R::decode(stored).map_err(|error| AccountsError::Internal(Box::new(error)))
}

tenure_grpc::request_checks!(AccountsError);
