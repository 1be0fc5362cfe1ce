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

use tenure_domain::SharedClock;
use uuid::Uuid;

use crate::operation_worker::OperationWorker;
use crate::sandbox::SandboxCloud;
use crate::store::PurgeStore;

pub(crate) use operations::{OperationKey, Planned};

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

pub(crate) use tenure_db::idempotency::{Answer, Idempotent};
