#![doc = include_str!("../README.md")]

mod api;
mod app;
mod domain;
mod operation_worker;
mod sandbox;
mod settings;
mod store;

use std::sync::Arc;

use anyhow::Context as _;
use tenure_db::Db;
use tenure_domain::{AwsAccountId, SharedClock, SystemClock};
use tenure_grpc::{FnProbe, ServerBuilder};

pub use sandbox::{SandboxClock, SandboxCloud, SandboxSettings};
pub use settings::{BackendChoice, BackendSettings, EngineSettings, ProvisioningSettings};
/// The AWS primitives and the `aws` backend, for callers that wrap or replace the backend.
pub use tenure_provisioning_cloud as cloud;

use crate::domain::cloud::{AwsCloud, Cloud};

/// The backend an app runs: the cloud the engine calls (possibly a decorator, e.g. a call counter or a
/// fault injector, in tests) and, on the sandbox, the simulation itself for SandboxService.
#[derive(Debug, Clone)]
pub struct Backend {
    cloud: Arc<dyn Cloud>,
    sandbox: Option<SandboxCloud>,
}

impl Backend {
    /// The sandbox, with the engine calling `cloud` (the sandbox itself or a decorator around it).
    pub fn sandbox(sandbox: SandboxCloud, cloud: Arc<dyn Cloud>) -> Self {
        Self {
            cloud,
            sandbox: Some(sandbox),
        }
    }

    /// A real (or emulated) AWS; SandboxService then answers FAILED_PRECONDITION.
    pub fn aws(cloud: Arc<dyn Cloud>) -> Self {
        Self {
            cloud,
            sandbox: None,
        }
    }
}

/// The assembled service, ready to be mounted on a server builder.
#[derive(Debug)]
pub struct ProvisioningApp {
    db: Db,
    engine: operation_worker::OperationWorker,
    sandbox: Option<SandboxCloud>,
    /// Real time, for what is not simulated (idempotency-key expiry).
    clock: ClockHandle,
}

/// A clock in a `Debug` struct.
struct ClockHandle(SharedClock);

impl std::fmt::Debug for ClockHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Clock")
    }
}

impl ProvisioningApp {
    /// Connects the database and assembles the use cases with the backend the settings choose and the
    /// system clock. The schema must already be migrated ([`migrate`]); the readiness probe reports
    /// NOT_SERVING until it is.
    pub async fn build(settings: &ProvisioningSettings) -> anyhow::Result<Self> {
        let clock: SharedClock = Arc::new(SystemClock);
        let backend = match settings.backend.kind {
            BackendChoice::Sandbox => {
                let sandbox = Self::open_sandbox(settings, clock.clone()).await?;
                Backend::sandbox(sandbox.clone(), Arc::new(sandbox))
            }
            BackendChoice::Aws => Backend::aws(Arc::new(
                AwsCloud::connect(&settings.backend.aws)
                    .await
                    .context("configuring the aws backend")?,
            )),
        };
        Self::build_with(settings, clock, backend).await
    }

    /// Opens the sandbox simulation in the service's database, its clock running ahead of `clock` by
    /// the persisted offset. The schema must be migrated.
    pub async fn open_sandbox(
        settings: &ProvisioningSettings,
        clock: SharedClock,
    ) -> anyhow::Result<SandboxCloud> {
        let db = tenure_db::connect(&settings.database).await?;
        let sandbox = SandboxCloud::open(
            store::SandboxStore::new(db),
            clock,
            settings.backend.sandbox.clone(),
        )
        .await
        .context("reading the sandbox clock")?;
        Ok(sandbox)
    }

    /// Like [`ProvisioningApp::build`], with an injected clock and backend (tests: a movable clock, a
    /// counting or faulty decorator, an emulator). `clock` is real time. On the sandbox the engine
    /// reads the sandbox's clock for business time, so deferrals follow simulated time, while its
    /// claims and leases always run on `clock`: they measure whether a stepper is alive, in real
    /// elapsed time, however far the simulated date jumps.
    pub async fn build_with(
        settings: &ProvisioningSettings,
        clock: SharedClock,
        backend: Backend,
    ) -> anyhow::Result<Self> {
        let problems = settings.problems();
        if !problems.is_empty() {
            anyhow::bail!("invalid settings: {}", problems.join("; "));
        }
        let db = tenure_db::connect(&settings.database).await?;
        let engine_clock: SharedClock = match &backend.sandbox {
            Some(sandbox) => sandbox.clock(),
            None => clock.clone(),
        };
        let default_management_account = settings
            .default_management_account_id
            .as_deref()
            .map(AwsAccountId::parse)
            .transpose()
            .map_err(|problem| anyhow::anyhow!("default_management_account_id: {problem}"))?;
        let engine = operation_worker::OperationWorker::new(
            store::OperationStore::new(db.clone()),
            backend.cloud,
            engine_clock,
            clock.clone(),
            settings.engine.clone(),
            default_management_account,
        );
        Ok(Self {
            db,
            engine,
            sandbox: backend.sandbox,
            clock: ClockHandle(clock),
        })
    }

    /// Mounts the gRPC services, the operation worker, the authorization policy, the rate limits
    /// (buckets in its database) and the readiness probe on `server`.
    pub fn register(self, server: &mut ServerBuilder) {
        let limits = server.limits();
        let draining = server.host().draining();
        let db = self.db;
        let app = app::Provisioning::new(
            self.engine.clone(),
            self.sandbox,
            store::PurgeStore::new(db.clone()),
            self.clock.0,
        );
        server
            .policy(&policy())
            .rate_limits(Arc::new(tenure_db::rate_limit::DbRateLimiter::new(
                db.clone(),
            )))
            .add_service(api::ProvisioningServiceHandler::new(app.clone()).into_server(&limits))
            .add_service(api::SandboxServiceHandler::new(app.clone()).into_server(&limits))
            .add_service(tenure_participant::ParticipantService::server(app, &limits))
            .add_worker(
                "provisioning-operations",
                operation_worker::run_worker(self.engine, draining),
            )
            .add_readiness(Arc::new(FnProbe::new("database", move || {
                let db = db.clone();
                Box::pin(async move { store::ready(&db).await })
            })));
    }
}

/// The authorization policy of every method the service publishes.
pub fn policy() -> Vec<tenure_grpc::MethodPolicy> {
    [api::POLICY, tenure_grpc::PURGE_PARTICIPANT_POLICY].concat()
}

/// Applies the service's migrations to its schema (PostgreSQL) or file (SQLite), under a lock so that
/// replicas starting together cannot race.
pub async fn migrate(settings: &ProvisioningSettings) -> anyhow::Result<()> {
    store::migrate(&settings.database).await
}
