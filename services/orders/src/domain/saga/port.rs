//! The engine's one door to the outside: the runtime hands an effect to a [`StepPort`] and feeds the
//! outcome back to [`super::advance::conclude`]. Production talks to the peers over gRPC; tests and
//! benchmarks plug in instant doubles.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::domain::order::SagaInput;
use crate::domain::saga::advance::{Effect, StepOutcome};
use crate::domain::saga::state::SagaState;

/// One effect to perform, with what the saga knows.
#[derive(Debug, Clone)]
pub(crate) struct StepCall {
    pub(crate) effect: Effect,
    pub(crate) saga_id: Uuid,
    pub(crate) order_id: Uuid,
    pub(crate) tenant_id: Uuid,
    pub(crate) input: SagaInput,
    pub(crate) state: SagaState,
    pub(crate) now: DateTime<Utc>,
}

/// Performs effects. It never fails as such: every failure is an outcome the engine knows how to
/// act on (retry, query, fail).
#[async_trait::async_trait]
pub(crate) trait StepPort: Send + Sync + 'static {
    /// Performs `call`'s effect under its key.
    async fn perform(&self, call: &StepCall) -> StepOutcome;
}
