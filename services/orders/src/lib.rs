#![doc = include_str!("../README.md")]

mod api;
mod app;
// The benchmark's synthetic sagas reach into the engine and the store; the shipped library leaves
// them out unless the bench asks for them.
#[cfg(feature = "bench")]
pub mod bench;
mod clients;
mod domain;
mod follow;
mod metrics;
mod saga_runtime;
mod settings;
mod store;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tenure_db::Db;
use tenure_domain::{SharedClock, SystemClock};
use tenure_grpc::{FnProbe, PeerChannel, ServerBuilder};
use tokio::sync::Notify;

pub use settings::{DeadlineSettings, EngineSettings, LimitSettings, OrdersSettings};

use crate::clients::{PeerPort, Peers, PortSettings};
use crate::domain::saga::advance::Timing;
use crate::domain::saga::port::StepPort;
use crate::saga_runtime::SagaRuntime;

/// The peers a saga calls.
#[derive(Debug, Clone)]
pub struct OrdersPeers {
    /// The accounts service.
    pub accounts: PeerChannel,
    /// The provisioning service.
    pub provisioning: PeerChannel,
    /// The data-purge service.
    pub purge: PeerChannel,
}

/// What the service takes from its host besides settings.
#[derive(Clone)]
pub struct OrdersDeps {
    /// Business time: deadlines, timers, due times. Tests move a `ManualClock` to cross windows.
    pub clock: SharedClock,
    /// The peers; `None` runs the service alone (its API and stream, for testing it by itself):
    /// orders are then refused and no saga step can run.
    pub peers: Option<OrdersPeers>,
}

impl Default for OrdersDeps {
    fn default() -> Self {
        Self {
            clock: Arc::new(SystemClock),
            peers: None,
        }
    }
}

impl std::fmt::Debug for OrdersDeps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrdersDeps")
            .field("peers", &self.peers)
            .finish_non_exhaustive()
    }
}

/// The assembled service, ready to be mounted on a server builder.
#[derive(Debug)]
pub struct OrdersApp {
    app: api::Orders,
}

/// The step port of an orders service without peers: every step waits, since none can be taken.
struct Detached;

#[async_trait::async_trait]
impl StepPort for Detached {
    async fn perform(
        &self,
        _call: &domain::saga::port::StepCall,
    ) -> domain::saga::advance::StepOutcome {
        domain::saga::advance::StepOutcome::Retry {
            code: "UNAVAILABLE".to_owned(),
            message: "this orders instance runs without its peers".to_owned(),
        }
    }
}

fn timing(settings: &OrdersSettings) -> Timing {
    let engine = &settings.engine;
    let days = |days: u32| Duration::from_secs(u64::from(days) * 86_400);
    Timing {
        aws_poll: Duration::from_secs(engine.aws_poll_secs),
        transfer_poll: Duration::from_secs(engine.transfer_poll_secs),
        bootstrap_poll: Duration::from_secs(engine.bootstrap_poll_secs),
        invitation_poll: Duration::from_secs(engine.invitation_poll_secs),
        closure_poll: Duration::from_secs(engine.closure_poll_secs),
        retry_base: Duration::from_millis(engine.retry_base_ms),
        retry_cap: Duration::from_secs(engine.retry_cap_secs),
        undo_cap: Duration::from_secs(engine.undo_cap_secs),
        stuck_after: engine.stuck_after_attempts,
        query_deadline: days(settings.deadlines.query_days),
        task_deadline: days(settings.deadlines.task_days),
        survey_window: days(settings.deadlines.survey_days),
        ..Timing::default()
    }
}

impl OrdersApp {
    /// Connects the database and assembles the use cases on the system clock, without peers (see
    /// [`OrdersDeps::peers`]). The schema must already be migrated ([`migrate`]); the readiness
    /// probe reports NOT_SERVING until it is.
    pub async fn build(settings: &OrdersSettings) -> anyhow::Result<Self> {
        Self::build_with(settings, OrdersDeps::default()).await
    }

    /// Like [`OrdersApp::build`], with every dependency given.
    pub async fn build_with(settings: &OrdersSettings, deps: OrdersDeps) -> anyhow::Result<Self> {
        let problems = settings.problems();
        if !problems.is_empty() {
            anyhow::bail!("invalid settings: {}", problems.join("; "));
        }
        let db = tenure_db::connect(&settings.database).await?;
        let registry =
            Arc::new(domain::saga::shipped::registry().context("the shipped definitions")?);
        for definition in registry.all() {
            // Which exact definitions a replica runs, for operators comparing replicas in a deploy.
            tracing::info!(
                definition = %definition.key(),
                fingerprint = %definition.fingerprint(),
                "saga definition loaded"
            );
        }
        let peers = deps.peers.map(|peers| Peers {
            accounts: peers.accounts,
            provisioning: peers.provisioning,
            purge: peers.purge,
        });
        // Checked among the problems above; parsed here so the engine holds it typed.
        let default_management_account_id = settings
            .default_management_account_id
            .as_deref()
            .map(tenure_domain::AwsAccountId::parse)
            .transpose()
            .map_err(|problem| {
                anyhow::anyhow!(
                    "orders.default_management_account_id: {}",
                    problem.description
                )
            })?;
        let port: Arc<dyn StepPort> = match &peers {
            Some(peers) => Arc::new(PeerPort::new(
                peers.clone(),
                PortSettings {
                    default_management_account_id,
                    regions: settings.baseline_regions.clone(),
                    payer_recheck: Duration::from_secs(settings.engine.invitation_poll_secs),
                },
            )),
            None => Arc::new(Detached),
        };
        let engine = SagaRuntime {
            db: db.clone(),
            registry: registry.clone(),
            port,
            clock: deps.clock.clone(),
            real_clock: Arc::new(SystemClock),
            timing: Arc::new(timing(settings)),
            settings: settings.engine.clone(),
            replica: format!(
                "orders-{}-{}",
                std::process::id(),
                &uuid::Uuid::new_v4().simple().to_string()[..8]
            ),
            wake: Arc::new(Notify::new()),
            events_written: Arc::new(Notify::new()),
        };
        Ok(Self {
            app: api::Orders {
                db,
                engine,
                registry,
                clock: deps.clock,
                peers,
                settings: Arc::new(settings.clone()),
            },
        })
    }

    /// Mounts the gRPC services, the saga worker, the authorization policy, the rate limits
    /// (buckets in its database) and the readiness probe on `server`.
    pub fn register(self, server: &mut ServerBuilder) {
        let limits = server.limits();
        let draining = server.host().draining();
        let app = self.app;
        let (db, registry) = (app.db.clone(), app.registry.clone());
        let streams = api::StreamCaps::new(&app.settings);
        server
            .policy(&policy())
            .rate_limits(Arc::new(tenure_db::rate_limit::DbRateLimiter::new(
                app.db.clone(),
            )))
            .add_service(
                api::OrderServiceHandler::new(app.clone(), streams.clone(), draining.clone())
                    .into_server(&limits),
            )
            .add_service(
                api::OrderEventsHandler::new(app.clone(), streams, draining.clone())
                    .into_server(&limits),
            )
            .add_service(api::SagaAdminHandler::new(app.clone()).into_server(&limits))
            .add_service(tenure_participant::ParticipantService::server(
                app.clone(),
                &limits,
            ))
            .add_worker("saga-engine", app.engine.clone().run(draining.clone()))
            .add_worker(
                "follow-up-expiry",
                app.clone().expire_follow_ups(
                    Duration::from_millis(app.engine.settings.follow_up_interval_ms),
                    draining.clone(),
                ),
            )
            .add_worker(
                "saga-gauges",
                metrics::sample_gauges(
                    app.db.clone(),
                    Duration::from_millis(app.engine.settings.gauge_interval_ms),
                    draining,
                ),
            )
            .add_readiness(Arc::new(FnProbe::new("database", move || {
                let (db, registry) = (db.clone(), registry.clone());
                Box::pin(async move { ready(&db, &registry).await })
            })));
    }
}

/// Ready when the database answers, no migration is pending, and this replica can run every
/// definition open sagas are pinned to (sagas.md §2.4: a rolling deploy never strands a saga on a
/// replica that cannot step it).
async fn ready(db: &Db, registry: &domain::saga::definition::Registry) -> Result<(), String> {
    store::ready(db).await?;
    let open = store::orders::open_definitions(db.conn())
        .await
        .map_err(|error| error.to_string())?;
    let known = registry.keys();
    match open.iter().find(|key| !known.contains(key)) {
        Some(missing) => Err(format!(
            "open sagas run {missing}, which this release cannot"
        )),
        None => Ok(()),
    }
}

/// The authorization policy of every method the service publishes.
pub fn policy() -> Vec<tenure_grpc::MethodPolicy> {
    [api::POLICY, tenure_grpc::PURGE_PARTICIPANT_POLICY].concat()
}

/// Applies the service's migrations to its schema (PostgreSQL) or file (SQLite), under a lock so that
/// replicas starting together cannot race.
pub async fn migrate(settings: &OrdersSettings) -> anyhow::Result<()> {
    store::migrate(&settings.database).await
}
