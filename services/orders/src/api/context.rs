//! The gRPC side every handler shares: the authenticated call, the request checks, and the
//! idempotency claim of a mutating request with the reply it sends. A fresh answer is encoded by the
//! same function the handler replies with, so a replay decodes exactly the bytes the first call sent.

use prost::Message;
use tenure_db::idempotency;
use tenure_domain::{Caller, CallerRole};
use tenure_grpc::{StreamSlot, StreamSlots};
use tenure_proto::Keyed;
use tonic::{Request, Status};

use crate::app::{Answer, Idempotent};
pub(crate) use crate::app::{Call, Orders};
use crate::domain::OrdersError;
use crate::settings::OrdersSettings;

/// Caps on open streams (quality.md §1.7), per replica: `WatchOrder` per tenant, `Subscribe` per
/// principal.
#[derive(Debug, Clone)]
pub(crate) struct StreamCaps {
    watch: StreamSlots,
    events: StreamSlots,
}

impl StreamCaps {
    pub(crate) fn new(settings: &OrdersSettings) -> Self {
        let cap = |limit: u32| StreamSlots::new(usize::try_from(limit).unwrap_or(usize::MAX));
        Self {
            watch: cap(settings.limits.watch_streams_per_tenant),
            events: cap(settings.limits.event_streams_per_principal),
        }
    }

    /// A slot for one more `WatchOrder` of the caller's tenant (operators and billing, who have no
    /// tenant, count per subject).
    pub(crate) fn watch(&self, caller: &Caller) -> Result<StreamSlot, OrdersError> {
        let key = match caller.tenant {
            Some(tenant) => format!("tenant:{tenant}"),
            None => format!("subject:{}", caller.subject),
        };
        self.watch.acquire(key).ok_or_else(|| {
            OrdersError::TooManyStreams(format!(
                "{} watches of your orders are open already; close one of them first.",
                self.watch.limit()
            ))
        })
    }

    /// A slot for one more event subscription of the caller. A customer's subject is only unique
    /// within its tenant, so the tenant is part of the key.
    pub(crate) fn subscribe(&self, caller: &Caller) -> Result<StreamSlot, OrdersError> {
        let role = match caller.role {
            CallerRole::Customer => "customer",
            CallerRole::Operator => "operator",
            CallerRole::Billing => "billing",
            CallerRole::Service => "service",
        };
        let tenant = caller.tenant.map(|tenant| tenant.to_string());
        let key = format!("{role}:{}:{}", tenant.unwrap_or_default(), caller.subject);
        self.events.acquire(key).ok_or_else(|| {
            OrdersError::TooManyStreams(format!(
                "You already have {} event subscriptions open; close one of them first.",
                self.events.limit()
            ))
        })
    }
}

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
