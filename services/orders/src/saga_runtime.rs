//! The saga runtime: one worker per replica claims due sagas under leases, runs each on its own task
//! up to the concurrency limit, performs effects through the port while renewing the lease, and
//! commits every transition fenced by the lease's epoch. When the next node can run at once the
//! worker keeps the lease and goes on in-process (sticky continuation: one commit per step).
//!
//! Nothing here decides anything: `domain::saga::advance` does, from a snapshot and the time.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tenure_db::Db;
use tenure_domain::SharedClock;
use tenure_grpc::ServiceKind;
use tokio::sync::futures::OwnedNotified;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use crate::domain::OrdersError;
use crate::domain::saga::advance::SagaSnapshot;
use crate::domain::saga::advance::{self, Ctx, Decision, Timing, Transition};
use crate::domain::saga::definition::{Definition, Registry};
use crate::domain::saga::port::{StepCall, StepPort};
use crate::domain::saga::state::Direction;
use crate::metrics::OrdersMetrics;
use crate::settings::EngineSettings;
use crate::store::sagas::{self, Applied, Commit, Lease, Loaded};

/// What the runtime shares between the worker, its saga tasks and the API.
#[derive(Clone)]
pub(crate) struct SagaRuntime {
    pub(crate) db: Db,
    pub(crate) registry: Arc<Registry>,
    pub(crate) port: Arc<dyn StepPort>,
    /// Business time: due times, timers, deadlines.
    pub(crate) clock: SharedClock,
    /// Real time: leases, which measure whether a replica is alive however far business time jumps.
    pub(crate) real_clock: SharedClock,
    pub(crate) timing: Arc<Timing>,
    pub(crate) settings: EngineSettings,
    /// This replica's name in leases and attempts.
    pub(crate) replica: String,
    /// Wakes the worker when this replica made work due (a new order, an answer, an action).
    pub(crate) wake: Arc<Notify>,
    /// Wakes event streams when this replica committed events.
    pub(crate) events_written: Arc<Notify>,
}

impl std::fmt::Debug for SagaRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SagaRuntime")
            .field("replica", &self.replica)
            .finish_non_exhaustive()
    }
}

fn seconds(secs: u64) -> chrono::Duration {
    chrono::Duration::seconds(i64::try_from(secs).unwrap_or(i64::MAX))
}

impl SagaRuntime {
    fn lease_until(&self) -> DateTime<Utc> {
        self.real_clock.now() + seconds(self.settings.lease_secs)
    }

    /// The worker: claims due sagas while it has free slots, and otherwise sleeps until woken, a
    /// slot frees up or the wake interval passes. A drain stops it; the sagas it held are released
    /// so another replica takes them at once.
    pub(crate) async fn run(self, draining: CancellationToken) {
        let slots = Arc::new(Semaphore::new(self.settings.concurrency));
        let mut running: JoinSet<()> = JoinSet::new();
        let keys = self.registry.keys();
        let interval = Duration::from_millis(self.settings.wake_interval_ms);
        loop {
            while running.try_join_next().is_some() {}
            let free = slots.available_permits();
            let mut claimed_all = false;
            if free > 0 {
                let limit = u64::try_from(free).unwrap_or(u64::MAX);
                match sagas::claim(
                    &self.db,
                    &keys,
                    &self.replica,
                    self.clock.now(),
                    self.real_clock.now(),
                    self.lease_until(),
                    limit,
                )
                .await
                {
                    Ok(leases) => {
                        claimed_all = u64::try_from(leases.len()).unwrap_or(0) == limit;
                        for lease in leases {
                            let Ok(permit) = slots.clone().acquire_owned().await else {
                                break;
                            };
                            let engine = self.clone();
                            running.spawn(async move { engine.run_saga(lease, permit).await });
                        }
                    }
                    Err(error) => {
                        tracing::warn!(error = %error, "claiming due sagas failed; trying again");
                    }
                }
            }
            if claimed_all && slots.available_permits() > 0 {
                continue;
            }
            tokio::select! {
                () = draining.cancelled() => break,
                () = self.wake.notified() => {}
                Some(_) = running.join_next(), if !running.is_empty() => {}
                () = tokio::time::sleep(interval) => {}
            }
        }
        running.abort_all();
        while running.join_next().await.is_some() {}
        if let Err(error) = sagas::release_all(&self.db, &self.replica).await {
            tracing::warn!(error = %error, "releasing leases on drain failed; they lapse instead");
        }
    }

    /// Runs one leased saga for as long as it can go on at once.
    async fn run_saga(self, lease: Lease, _slot: OwnedSemaphorePermit) {
        let loaded = match sagas::load_consistent(&self.db, lease.saga_id).await {
            Ok(Some(loaded)) => loaded,
            Ok(None) => return,
            Err(error) => {
                tracing::warn!(saga_id = %lease.saga_id, error = %error, "loading a saga failed");
                return;
            }
        };
        let Some(definition) = self.registry.get(loaded.kind, loaded.version) else {
            // The claim's version gate makes this unreachable; leave the saga to a replica that can.
            tracing::error!(saga_id = %lease.saga_id, "claimed a saga whose definition this replica lacks");
            return;
        };
        let lateness = (self.clock.now() - lease.due_at).num_milliseconds();
        OrdersMetrics::process().woke_late(
            definition.kind,
            loaded.snapshot.wait.as_ref().map(|wait| wait.kind.as_str()),
            Duration::from_millis(u64::try_from(lateness).unwrap_or(0)),
        );
        let span = tracing::info_span!(
            "saga.run",
            service.name = ServiceKind::Orders.service_name(),
            otel.name = %format!("saga.step {}", definition.kind.as_str()),
            tenure.order_id = %loaded.snapshot.order_id,
            tenure.saga_id = %loaded.snapshot.id,
            tenure.tenant_id = %loaded.tenant_id,
            tenure.saga.node = loaded.snapshot.node,
            tenure.saga.lateness_ms = lateness,
        );
        if let Some((parent, state)) = &loaded.trace
            && let Some(origin) = tenure_telemetry::parse_traceparent(parent, state)
        {
            span.add_link_with_attributes(
                origin,
                vec![opentelemetry::KeyValue::new(
                    "tenure.link.reason",
                    "saga.resume",
                )],
            );
        }
        let order_id = loaded.snapshot.order_id.to_string();
        let steps = self
            .step_until_parked(lease, loaded, &definition)
            .instrument(span);
        if let Err(error) = tenure_telemetry::in_order_scope(order_id, steps).await {
            tracing::warn!(saga_id = %lease.saga_id, error = %error, "a saga step failed; it runs again once its lease lapses");
        }
    }

    async fn step_until_parked(
        &self,
        lease: Lease,
        mut loaded: Loaded,
        definition: &Definition,
    ) -> Result<(), OrdersError> {
        loop {
            let started_at = self.clock.now();
            let ctx = Ctx {
                now: started_at,
                timing: &self.timing,
                jitter: rand::random::<f64>(),
            };
            let transition = match advance::decide(definition, &loaded.snapshot, ctx) {
                Decision::Park(due_at) => {
                    sagas::park(&self.db, &lease, due_at).await?;
                    return Ok(());
                }
                Decision::Commit(transition) => *transition,
                Decision::Perform(effect) => {
                    let call = StepCall {
                        effect: effect.clone(),
                        saga_id: loaded.snapshot.id,
                        order_id: loaded.snapshot.order_id,
                        tenant_id: loaded.tenant_id,
                        input: loaded.snapshot.input.clone(),
                        state: loaded.snapshot.state.clone(),
                        now: started_at,
                    };
                    let step = definition
                        .nodes
                        .get(effect.node)
                        .map_or("unknown", |node| node.name);
                    let span = tracing::info_span!(
                        "saga.effect",
                        service.name = ServiceKind::Orders.service_name(),
                        otel.name = %format!("saga.step {}/{step}", definition.kind.as_str()),
                        tenure.order_id = %loaded.snapshot.order_id,
                        tenure.saga_id = %loaded.snapshot.id,
                        tenure.saga.step = step,
                        tenure.saga.attempt = effect.attempt,
                        tenure.saga.direction = effect.direction.as_str(),
                    );
                    let Some(outcome) = self.perform(&lease, &call).instrument(span).await? else {
                        return Ok(());
                    };
                    let ctx = Ctx {
                        now: self.clock.now(),
                        ..ctx
                    };
                    advance::conclude(definition, &loaded.snapshot, &effect, outcome, ctx)
                }
            };
            match self
                .commit(&lease, &loaded, &transition, started_at)
                .await?
            {
                Applied::Committed {
                    event_seq,
                    cancel_requested,
                } => {
                    record_transition(definition, &loaded.snapshot, &transition);
                    tracing::info!(
                        saga.node = transition.node,
                        saga.status = transition.status.as_str(),
                        saga.direction = transition.direction.as_str(),
                        "saga transition committed"
                    );
                    sagas::advance_snapshot(&mut loaded, &transition, event_seq);
                    loaded.snapshot.cancel_requested = cancel_requested;
                    if !transition.runnable_now {
                        return Ok(());
                    }
                }
                Applied::Fenced => return Ok(()),
                Applied::PivotLost => {
                    // A cancellation came first: read it and compensate under the same lease.
                    match sagas::load_consistent(&self.db, lease.saga_id).await? {
                        Some(fresh) => loaded = fresh,
                        None => return Ok(()),
                    }
                }
            }
        }
    }

    async fn commit(
        &self,
        lease: &Lease,
        loaded: &Loaded,
        transition: &Transition,
        started_at: DateTime<Utc>,
    ) -> Result<Applied, OrdersError> {
        let commit = Commit {
            lease,
            replica: &self.replica,
            keep_until: transition.runnable_now.then(|| self.lease_until()),
            now: self.clock.now(),
            started_at,
        };
        let applied = sagas::apply(&self.db, &commit, loaded, transition).await?;
        if matches!(applied, Applied::Committed { .. }) && !transition.events.is_empty() {
            self.events_committed();
        }
        Ok(applied)
    }

    /// Performs a call while renewing the lease; `None` when the lease was lost meanwhile, and then
    /// the call is dropped: its effect is keyed, and the saga's next holder repeats it.
    async fn perform(
        &self,
        lease: &Lease,
        call: &StepCall,
    ) -> Result<Option<advance::StepOutcome>, OrdersError> {
        let renew_every = Duration::from_millis(self.settings.lease_secs * 1000 / 3);
        let mut performing = self.port.perform(call);
        loop {
            tokio::select! {
                outcome = &mut performing => return Ok(Some(outcome)),
                () = tokio::time::sleep(renew_every) => {
                    if !sagas::renew(&self.db, lease, self.lease_until()).await? {
                        return Ok(None);
                    }
                }
            }
        }
    }

    /// Wakes the worker of this replica: work was made due here.
    pub(crate) fn wake(&self) {
        self.wake.notify_one();
    }

    /// Wakes this replica's event readers (streams, watches): events were committed here.
    pub(crate) fn events_committed(&self) {
        self.events_written.notify_waiters();
    }

    /// A wake-up for the next [`SagaRuntime::events_committed`], armed already: a reader takes it before
    /// it reads, so a commit between its read and its wait is not missed (`notify_waiters` keeps no
    /// permit for a waiter that registers later).
    pub(crate) fn next_events_committed(&self) -> Pin<Box<OwnedNotified>> {
        let mut notified = Box::pin(Arc::clone(&self.events_written).notified_owned());
        notified.as_mut().enable();
        notified
    }
}

/// Counts what a committed transition did that SREs alert on: a failed attempt that will be tried
/// again, and the turn from doing to undoing.
fn record_transition(definition: &Definition, before: &SagaSnapshot, transition: &Transition) {
    let metrics = OrdersMetrics::process();
    let retried = transition
        .wait
        .as_ref()
        .is_some_and(|wait| matches!(wait.kind.as_str(), "retry_backoff" | "compensation_stuck"));
    if retried && let Some(attempt) = &transition.attempt_record {
        let step = definition
            .nodes
            .get(attempt.node)
            .map_or("unknown", |node| node.name);
        metrics.step_retried(definition.kind, step, attempt.direction);
    }
    if before.direction == Direction::Do && transition.direction == Direction::Undo {
        metrics.compensation_started(definition.kind);
    }
}
