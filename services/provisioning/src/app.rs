//! The use cases: what the service does for a caller, in domain terms. A use case takes validated
//! domain values and returns domain records; it narrows reads to the caller's tenant, and reaches the
//! operation journal through the engine, provisioning's own records through `store/` and the simulation
//! through the sandbox. Nothing here names tonic, prost or the generated protobuf types: the API decodes
//! before a use case and encodes after it.
//!
//! Two idempotency boundaries live here. A mutating ProvisioningService request is an operation: the
//! journal row is the idempotency record, so a replay answers the operation as it stands now, read from
//! the journal, and needs no stored reply ([`OperationKey`]). PurgeParticipant's Execute stores its
//! reply like data-purge's mutations do ([`Idempotent`], [`Answer`]).

mod operations;
mod purge;
mod sandbox;

use tenure_domain::{IdempotencyKey, SharedClock};
use uuid::Uuid;

use crate::operation_worker::OperationWorker;
use crate::sandbox::SandboxCloud;
use crate::store::PurgeStore;

pub(crate) use operations::{OperationKey, Planned};
pub(crate) use purge::Execution;

/// The service's shared state.
#[derive(Clone)]
pub(crate) struct Provisioning {
    engine: OperationWorker,
    /// The simulation, on the sandbox backend only.
    sandbox: Option<SandboxCloud>,
    purge: PurgeStore,
    /// Real time, for what is not simulated (idempotency-key expiry).
    clock: SharedClock,
}

impl std::fmt::Debug for Provisioning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provisioning")
            .field("engine", &self.engine)
            .field("sandbox", &self.sandbox)
            .field("purge", &self.purge)
            .finish_non_exhaustive()
    }
}

impl Provisioning {
    pub(crate) fn new(
        engine: OperationWorker,
        sandbox: Option<SandboxCloud>,
        purge: PurgeStore,
        clock: SharedClock,
    ) -> Self {
        Self {
            engine,
            sandbox,
            purge,
            clock,
        }
    }
}

/// Who calls, narrowed from the principal: the idempotency scope and the tenant the data belongs to.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub(crate) caller: String,
    pub(crate) tenant_id: Option<Uuid>,
}

/// What a mutation needs to run once per idempotency key: the key, the hash of the request it came
/// with (the same key with another request is refused), and how to store its answer. The API supplies
/// `encode` as the exact bytes it sends for a fresh answer, so that a replay answers byte for byte
/// what the first call did, without this layer knowing the wire format.
pub(crate) struct Idempotent<'a, T> {
    pub(crate) key: IdempotencyKey,
    pub(crate) request_hash: Vec<u8>,
    pub(crate) encode: &'a (dyn Fn(&T) -> Vec<u8> + Send + Sync),
}

/// The outcome of a mutation: the value it produced now, or the stored answer of the first call
/// with the same key.
#[derive(Debug)]
pub(crate) enum Answer<T> {
    Fresh(T),
    Replay(Vec<u8>),
}
