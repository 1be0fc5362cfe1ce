//! The engine's benchmark harness (sagas.md §7): the real runtime and store on a real database,
//! running a synthetic five-step saga (four calls and an event) whose calls go to an instant double
//! over gRPC. `benches/saga_engine.rs` drives it; nothing in a deployment uses it.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use tenure_db::{Db, TenantTx};
use tenure_domain::{SharedClock, SystemClock};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::domain::order::{OrderDetails, ResaleModel, SagaInput, TenantFacts};
use crate::domain::saga::advance::{StepOutcome, Timing};
use crate::domain::saga::definition::{Definition, Registry, SagaKind};
use crate::domain::saga::node::{Action, Node, NodeSpec, PollEvery, WaitDeadline};
use crate::domain::saga::port::{StepCall, StepPort};
use crate::domain::saga::state::{EventDraft, EventKind, EventPayload, SagaState};
use crate::domain::stream::EventFilter;
use crate::follow::Follower;
use crate::saga_runtime::SagaRuntime;
use crate::settings::EngineSettings;
use crate::store::orders::NewOrder;
use crate::store::sagas::NewSaga;

/// The downstream call every synthetic step makes: `Ok` when the double answered.
pub type Downstream = Arc<dyn Fn() -> BoxFuture<'static, Result<(), String>> + Send + Sync>;

/// Calls the instant double for every synthetic step.
struct DoublePort {
    downstream: Downstream,
}

/// The read of a [`Shape::Polling`] saga's wait, which the double answers with "not yet".
const PARKED_POLL: Action = Action::Probe(50);

#[async_trait::async_trait]
impl StepPort for DoublePort {
    async fn perform(&self, call: &StepCall) -> StepOutcome {
        match (self.downstream)().await {
            Ok(()) if call.effect.action == PARKED_POLL => StepOutcome::Pending {
                detail: "not yet".to_owned(),
                patch: SagaState::default(),
            },
            Ok(()) => StepOutcome::Done(SagaState::default()),
            Err(message) => StepOutcome::Retry {
                code: "UNAVAILABLE".to_owned(),
                message,
            },
        }
    }
}

fn probe_call(name: &'static str, action: u8) -> Node {
    Node::synthetic(
        name,
        NodeSpec::Call {
            action: Action::Probe(action),
            undo: Some(Action::Probe(action + 100)),
            reads: &[],
        },
    )
}

fn announce() -> Node {
    Node::synthetic(
        "announce",
        NodeSpec::Emit {
            event: EventKind::Probe,
        },
    )
}

/// The synthetic saga of `shape`: the steps of each scenario of sagas.md §7.2.
fn definition(shape: Shape) -> anyhow::Result<Definition> {
    let nodes = match shape {
        // Four calls with undos and one emitted event (S1).
        Shape::FiveSteps => vec![
            probe_call("first", 0),
            probe_call("second", 1),
            probe_call("third", 2),
            probe_call("fourth", 3),
            announce(),
        ],
        // The lateness of durable timers (S3 at a small scale).
        Shape::Timer => vec![
            Node::synthetic("sleep", NodeSpec::Timer { after: TIMER }),
            announce(),
        ],
        // Parked for the long run (S7): a read repeated hourly that keeps answering "not yet", as
        // organization invitations are polled.
        Shape::Polling => vec![
            Node::synthetic(
                "await",
                NodeSpec::Wait {
                    poll: PARKED_POLL,
                    every: PollEvery::Invitations,
                    deadline: WaitDeadline::After(Duration::from_secs(30 * 24 * 3600)),
                    timeout_code: "TNR303",
                },
            ),
            announce(),
        ],
        // Parked for the long run (S7): the post-closure timer's 90 days.
        Shape::LongTimer => vec![
            Node::synthetic(
                "sleep",
                NodeSpec::Timer {
                    after: Duration::from_secs(90 * 24 * 3600),
                },
            ),
            announce(),
        ],
    };
    Ok(Definition::new(
        SagaKind::Probe,
        shape.version(),
        nodes,
        None,
    )?)
}

/// The transitions one five-step saga commits: five steps and its completion.
pub const TRANSITIONS_PER_SAGA: u64 = 6;

/// How long the timers of [`SyntheticEngine::start_timers`] sleep.
pub const TIMER: Duration = Duration::from_secs(2);

/// Which synthetic saga to start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Four calls and an event.
    FiveSteps,
    /// A [`TIMER`] and an event.
    Timer,
    /// An hourly poll that never succeeds within a week, then an event.
    Polling,
    /// A 90-day timer, then an event.
    LongTimer,
}

impl Shape {
    const ALL: [Shape; 4] = [
        Shape::FiveSteps,
        Shape::Timer,
        Shape::Polling,
        Shape::LongTimer,
    ];

    /// How long its orders may take before their point of no return: past it a saga fails, so the
    /// parked ones get longer than the business time S7 moves through.
    fn deadline(self) -> chrono::Duration {
        match self {
            Shape::FiveSteps | Shape::Timer => chrono::Duration::days(7),
            Shape::Polling | Shape::LongTimer => chrono::Duration::days(120),
        }
    }

    /// The definition version it runs as.
    fn version(self) -> u32 {
        match self {
            Shape::FiveSteps => 1,
            Shape::Timer => 2,
            Shape::Polling => 3,
            Shape::LongTimer => 4,
        }
    }
}

/// What a schema holds: rows per table and bytes on disk, indexes and TOAST included.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Footprint {
    /// Live rows per table.
    pub rows: std::collections::BTreeMap<String, u64>,
    /// `pg_total_relation_size` over the schema's tables.
    pub bytes: u64,
}

impl Footprint {
    /// Rows in every table together.
    #[must_use]
    pub fn total_rows(&self) -> u64 {
        self.rows.values().sum()
    }
}

/// A running engine on a benchmark database.
pub struct SyntheticEngine {
    db: Db,
    engine: SagaRuntime,
    stop: CancellationToken,
    worker: tokio::task::JoinSet<()>,
}

impl std::fmt::Debug for SyntheticEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyntheticEngine").finish_non_exhaustive()
    }
}

/// One event as a subscriber received it.
#[derive(Debug, Clone, Copy)]
pub struct Delivery {
    /// When the transition that wrote it ran (inside its transaction, just before the commit).
    pub recorded_at: DateTime<Utc>,
    /// When the subscriber had it.
    pub received_at: DateTime<Utc>,
}

impl SyntheticEngine {
    /// Migrates `database`, then starts one replica's worker with `settings`, each step calling
    /// `downstream`.
    ///
    /// # Errors
    ///
    /// The database refuses the migration or the connection.
    pub async fn start(
        database: &tenure_db::DatabaseSettings,
        settings: EngineSettings,
        downstream: Downstream,
    ) -> anyhow::Result<Self> {
        Self::start_replica(
            database,
            settings,
            downstream,
            "bench",
            Arc::new(SystemClock),
        )
        .await
    }

    /// Like [`SyntheticEngine::start`], as the replica named `replica` in leases, with business time
    /// (due times, timers, polls) read from `clock`; leases keep real time.
    ///
    /// # Errors
    ///
    /// The database refuses the migration or the connection.
    pub async fn start_replica(
        database: &tenure_db::DatabaseSettings,
        settings: EngineSettings,
        downstream: Downstream,
        replica: &str,
        clock: SharedClock,
    ) -> anyhow::Result<Self> {
        crate::store::migrate(database).await?;
        let db = tenure_db::connect(database).await?;
        let engine = SagaRuntime {
            db: db.clone(),
            registry: Arc::new(
                Shape::ALL
                    .into_iter()
                    .try_fold(Registry::new(), |registry, shape| {
                        anyhow::Ok(registry.with(definition(shape)?))
                    })?,
            ),
            port: Arc::new(DoublePort { downstream }),
            clock,
            real_clock: Arc::new(SystemClock),
            timing: Arc::new(Timing::default()),
            settings,
            replica: replica.to_owned(),
            wake: Arc::new(Notify::new()),
            events_written: Arc::new(Notify::new()),
        };
        let stop = CancellationToken::new();
        let mut worker = tokio::task::JoinSet::new();
        worker.spawn(engine.clone().run(stop.clone()));
        Ok(Self {
            db,
            engine,
            stop,
            worker,
        })
    }

    /// Creates `count` sagas of `shape` due now, in transactions of up to 100, as CreateOrder would
    /// write them; returns when they are committed.
    ///
    /// # Errors
    ///
    /// The database refuses a write.
    pub async fn start_sagas(&self, shape: Shape, count: usize) -> anyhow::Result<()> {
        let tenant = Uuid::new_v4();
        let root_email = tenure_domain::RootEmail::parse("bench@example.com")
            .map_err(|problem| anyhow::anyhow!(problem.description))?;
        let mut left = count;
        while left > 0 {
            let batch = left.min(100);
            let tx = TenantTx::begin(&self.db, tenant).await?;
            let now = self.engine.clock.now();
            for _ in 0..batch {
                let order_id = Uuid::new_v4();
                let input = SagaInput {
                    details: OrderDetails::NewAccount {
                        root_email: Some(root_email.clone()),
                        account_name: "bench".to_owned(),
                        support_contact: String::new(),
                    },
                    tenant: TenantFacts {
                        public_sector: false,
                        resale_model: ResaleModel::Ecam,
                    },
                    account: None,
                    ops_confirmation: false,
                };
                crate::store::orders::insert(
                    &tx,
                    &NewOrder {
                        id: order_id,
                        tenant_id: tenant,
                        details: input.details.clone(),
                        placed_by: "bench".to_owned(),
                        idempotency_key: order_id.simple().to_string(),
                        request_hash: Vec::new(),
                        status_key: "processing".to_owned(),
                        created_at: now,
                    },
                )
                .await?;
                crate::store::sagas::insert(
                    &tx,
                    &NewSaga {
                        id: Uuid::new_v4(),
                        order_id,
                        tenant_id: tenant,
                        kind: SagaKind::Probe,
                        version: shape.version(),
                        input,
                        deadline_at: now + shape.deadline(),
                        trace: None,
                        created_at: now,
                    },
                    &[EventDraft {
                        effective_at: now,
                        payload: EventPayload::OrderPlaced {
                            kind: "new_account".to_owned(),
                            aws_account_id: None,
                        },
                    }],
                )
                .await?;
            }
            tx.commit().await?;
            left -= batch;
        }
        self.engine.wake();
        Ok(())
    }

    /// The engine's time, which sagas' recorded instants are read against.
    #[must_use]
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.engine.clock.now()
    }

    /// How many sagas have ended.
    ///
    /// # Errors
    ///
    /// The database refuses the query.
    pub async fn finished(&self) -> anyhow::Result<u64> {
        self.count("SELECT count(*) FROM saga WHERE finished_at IS NOT NULL")
            .await
    }

    /// Wakes the worker, as a commit of due work on this replica would.
    pub fn wake(&self) {
        self.engine.wake();
    }

    /// Waits until no saga is due by the engine's business time: everything due has run.
    ///
    /// # Errors
    ///
    /// The database refuses the query.
    pub async fn settle(&self) -> anyhow::Result<()> {
        use sea_orm::ConnectionTrait as _;
        let conn = self.db.conn();
        loop {
            let row = conn
                .query_one_raw(sea_orm::Statement::from_sql_and_values(
                    conn.get_database_backend(),
                    "SELECT count(*) AS n FROM saga_task WHERE due_at <= $1",
                    [self.engine.clock.now().into()],
                ))
                .await?
                .ok_or_else(|| anyhow::anyhow!("no row"))?;
            if row.try_get::<i64>("", "n")? == 0 {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Rows per table and bytes on disk of the engine's schema.
    ///
    /// # Errors
    ///
    /// The database refuses a query.
    pub async fn footprint(&self) -> anyhow::Result<Footprint> {
        use sea_orm::ConnectionTrait as _;
        let conn = self.db.conn();
        let backend = conn.get_database_backend();
        let tables = conn
            .query_all_raw(sea_orm::Statement::from_string(
                backend,
                "SELECT c.relname::text AS name, pg_total_relation_size(c.oid) AS bytes \
                 FROM pg_class c WHERE c.relnamespace = current_schema()::regnamespace \
                 AND c.relkind = 'r' ORDER BY 1",
            ))
            .await?;
        let mut footprint = Footprint::default();
        for table in &tables {
            let name: String = table.try_get("", "name")?;
            footprint.bytes += u64::try_from(table.try_get::<i64>("", "bytes")?)?;
            // The names come from the catalogue and are quoted as identifiers.
            let rows = self
                .count(&format!(
                    "SELECT count(*) FROM \"{}\"",
                    name.replace('"', "\"\"")
                ))
                .await?;
            footprint.rows.insert(name, rows);
        }
        Ok(footprint)
    }

    /// One number from the benchmark database.
    ///
    /// # Errors
    ///
    /// The database refuses the query.
    pub async fn count(&self, sql: &str) -> anyhow::Result<u64> {
        use sea_orm::ConnectionTrait as _;
        let row = self
            .db
            .conn()
            .query_one_raw(sea_orm::Statement::from_string(
                self.db.conn().get_database_backend(),
                sql,
            ))
            .await?
            .ok_or_else(|| anyhow::anyhow!("no row"))?;
        let value: i64 = row.try_get_by_index(0)?;
        Ok(u64::try_from(value)?)
    }

    /// The end-to-end time (creation to its last transition) of every finished saga of `shape`
    /// created at or after `since`, and the time each of their steps took (between two consecutive
    /// finished steps), in one read.
    ///
    /// # Errors
    ///
    /// The database refuses the query.
    pub async fn latencies(
        &self,
        shape: Shape,
        since: DateTime<Utc>,
    ) -> anyhow::Result<(Vec<Duration>, Vec<Duration>)> {
        use sea_orm::ConnectionTrait as _;
        let conn = self.db.conn();
        let backend = conn.get_database_backend();
        let version = i64::from(shape.version());
        let sagas = conn
            .query_all_raw(sea_orm::Statement::from_sql_and_values(
                backend,
                "SELECT created_at, finished_at FROM saga WHERE finished_at IS NOT NULL \
                 AND def_version = $1 AND created_at >= $2",
                [version.into(), since.into()],
            ))
            .await?;
        let mut end_to_end = Vec::with_capacity(sagas.len());
        for row in &sagas {
            let created: DateTime<Utc> = row.try_get("", "created_at")?;
            let finished: DateTime<Utc> = row.try_get("", "finished_at")?;
            end_to_end.push((finished - created).to_std().unwrap_or_default());
        }
        let steps = conn
            .query_all_raw(sea_orm::Statement::from_sql_and_values(
                backend,
                "SELECT t.saga_id, t.finished_at FROM saga_step t JOIN saga s ON s.id = t.saga_id \
                 WHERE s.def_version = $1 AND s.created_at >= $2 ORDER BY t.saga_id, t.finished_at",
                [version.into(), since.into()],
            ))
            .await?;
        let mut per_step = Vec::with_capacity(steps.len());
        let mut previous: Option<(Uuid, DateTime<Utc>)> = None;
        for row in &steps {
            let saga: Uuid = row.try_get("", "saga_id")?;
            let at: DateTime<Utc> = row.try_get("", "finished_at")?;
            if let Some((last_saga, last_at)) = previous
                && last_saga == saga
            {
                per_step.push((at - last_at).to_std().unwrap_or_default());
            }
            previous = Some((saga, at));
        }
        Ok((end_to_end, per_step))
    }

    /// Follows the event stream from its head until `stop`, as an `OrderEvents` subscriber does, and
    /// returns when each event was received.
    ///
    /// # Errors
    ///
    /// The database refuses a read.
    pub async fn subscribe_until(&self, stop: CancellationToken) -> anyhow::Result<Vec<Delivery>> {
        let head = crate::store::events::head(&self.db).await?;
        let mut follower = Follower::new(self.engine.clone(), head, 500, EventFilter::default());
        let mut deliveries = Vec::new();
        loop {
            let page = follower.read().await?;
            let received_at = self.engine.clock.now();
            deliveries.extend(page.events.iter().map(|event| Delivery {
                recorded_at: event.recorded_at,
                received_at,
            }));
            if !page.events.is_empty() {
                continue;
            }
            if stop.is_cancelled() {
                return Ok(deliveries);
            }
            follower.wait(&stop).await;
        }
    }

    /// Dies as a killed process would: its work stops mid-flight and its leases stay until they
    /// lapse.
    pub async fn crash(mut self) {
        self.worker.abort_all();
        while self.worker.join_next().await.is_some() {}
    }

    /// The sagas whose lease `replica` holds.
    ///
    /// # Errors
    ///
    /// The database refuses the query.
    pub async fn leased_by(&self, replica: &str) -> anyhow::Result<Vec<Uuid>> {
        use sea_orm::ConnectionTrait as _;
        let rows = self
            .db
            .conn()
            .query_all_raw(sea_orm::Statement::from_sql_and_values(
                self.db.conn().get_database_backend(),
                "SELECT saga_id FROM saga_task WHERE lease_owner = $1 AND lease_until > $2",
                [replica.into(), self.engine.real_clock.now().into()],
            ))
            .await?;
        rows.iter()
            .map(|row| Ok(row.try_get("", "saga_id")?))
            .collect()
    }

    /// For each of `sagas`, when it first committed a transition after `since` (a finished step or
    /// its end), if it has.
    ///
    /// # Errors
    ///
    /// The database refuses the query.
    pub async fn next_commits(
        &self,
        sagas: &[Uuid],
        since: DateTime<Utc>,
    ) -> anyhow::Result<Vec<Option<DateTime<Utc>>>> {
        use sea_orm::ConnectionTrait as _;
        let conn = self.db.conn();
        let mut next = Vec::with_capacity(sagas.len());
        for saga in sagas {
            let row = conn
                .query_one_raw(sea_orm::Statement::from_sql_and_values(
                    conn.get_database_backend(),
                    "SELECT LEAST((SELECT min(finished_at) FROM saga_step \
                     WHERE saga_id = $1 AND finished_at > $2), \
                     (SELECT finished_at FROM saga WHERE id = $1 AND finished_at > $2)) AS at",
                    [(*saga).into(), since.into()],
                ))
                .await?
                .ok_or_else(|| anyhow::anyhow!("no row"))?;
            next.push(row.try_get("", "at")?);
        }
        Ok(next)
    }

    /// Stops the worker and releases its leases.
    pub async fn stop(mut self) {
        self.stop.cancel();
        while self.worker.join_next().await.is_some() {}
        self.db.close().await.ok();
    }
}
