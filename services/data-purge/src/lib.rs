#![doc = include_str!("../README.md")]

mod api;
mod app;
mod clients;
mod convert;
mod domain;
mod metrics;
mod own_data;
mod purge_worker;
mod settings;
mod store;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tenure_db::Db;
use tenure_domain::{SharedClock, SystemClock};
use tenure_grpc::{FnProbe, PeerChannel, ServerBuilder};

pub use settings::{
    DataPurgeSettings, MAX_PURGE_DAYS, ReceiptSettings, ScheduleSettings, WorkerSettings,
};

use crate::clients::{Participant, Participants, RemoteParticipant};
use crate::domain::ReceiptSigner;
use crate::own_data::OwnRecords;

/// What the service takes from its host besides settings.
#[derive(Clone)]
pub struct DataPurgeDeps {
    /// Business time: due times, deadlines, receipts. Tests and the demo move a `ManualClock` to
    /// pass the 30-day window.
    pub clock: SharedClock,
    /// The `PurgeParticipant` of every other service that holds data (accounts, provisioning, and
    /// orders once it joins). A purge covers these and the service's own records.
    pub data_owners: Vec<PeerChannel>,
}

impl Default for DataPurgeDeps {
    fn default() -> Self {
        Self {
            clock: Arc::new(SystemClock),
            data_owners: Vec::new(),
        }
    }
}

impl std::fmt::Debug for DataPurgeDeps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataPurgeDeps")
            .field("data_owners", &self.data_owners)
            .finish_non_exhaustive()
    }
}

/// The assembled service, ready to be mounted on a server builder.
#[derive(Debug)]
pub struct DataPurgeApp {
    app: app::PurgeApp,
    interval: Duration,
}

impl DataPurgeApp {
    /// Connects the database and assembles the use cases on the system clock with no other data owner
    /// than the service itself, which suits a service tested on its own. A deployment builds it with
    /// [`DataPurgeApp::build_with`] and every other service's participant, as `tenure up` and
    /// `tenure serve` do. The schema must already be migrated ([`migrate`]).
    pub async fn build(settings: &DataPurgeSettings) -> anyhow::Result<Self> {
        Self::build_with(settings, DataPurgeDeps::default()).await
    }

    /// Like [`DataPurgeApp::build`], with every dependency given.
    pub async fn build_with(
        settings: &DataPurgeSettings,
        deps: DataPurgeDeps,
    ) -> anyhow::Result<Self> {
        let problems = settings.problems();
        if !problems.is_empty() {
            anyhow::bail!("invalid settings: {}", problems.join("; "));
        }
        let key_file = settings.receipts.signing_key_file.as_ref().context(
            "purge.receipts.signing_key_file is required: receipts must be signed; mount an \
                 Ed25519 PKCS#8 PEM key",
        )?;
        let pem = std::fs::read_to_string(key_file)
            .with_context(|| format!("reading the receipt signing key {}", key_file.display()))?;
        let signer = ReceiptSigner::from_pem(&pem, &settings.receipts.key_id)?;
        let db = tenure_db::connect(&settings.database).await?;
        let records = OwnRecords::new(db.clone());
        let mut owners: Vec<Arc<dyn Participant>> = deps
            .data_owners
            .into_iter()
            .map(|channel| Arc::new(RemoteParticipant::new(channel)) as Arc<dyn Participant>)
            .collect();
        owners.push(Arc::new(records.clone()));
        let owners: Participants = owners.into();
        let worker = purge_worker::PurgeWorker {
            db: db.clone(),
            clock: deps.clock.clone(),
            lease_clock: Arc::new(SystemClock),
            settings: settings.worker.clone(),
            owners,
            signer: Arc::new(signer),
            gauges: metrics::PurgeGauges::process(),
            events_written: Arc::new(tokio::sync::Notify::new()),
        };
        Ok(Self {
            app: app::PurgeApp {
                db,
                clock: deps.clock,
                worker,
                schedule: settings.schedule.clone(),
                records,
            },
            interval: Duration::from_millis(settings.worker.interval_ms),
        })
    }

    /// Mounts the gRPC services, the purge worker, the authorization policy, the rate limits
    /// (buckets in its database) and the readiness probe on `server`.
    pub fn register(self, server: &mut ServerBuilder) {
        let limits = server.limits();
        let db: Db = self.app.db.clone();
        let draining = server.host().draining();
        let (worker, interval, worker_draining) =
            (self.app.worker.clone(), self.interval, draining.clone());
        // A drain drops a pass wherever it stands, even inside a call to a data owner: every step is
        // safe to repeat, and another replica takes the purge over when the claim lapses.
        let passes = async move {
            loop {
                tokio::select! {
                    () = worker_draining.cancelled() => break,
                    () = tokio::time::sleep(interval) => {}
                }
                tokio::select! {
                    () = worker_draining.cancelled() => break,
                    result = worker.run_pass() => {
                        if let Err(error) = result {
                            tracing::warn!(error = %error, "the purge worker pass failed; it runs again");
                        }
                    }
                }
            }
        };
        server
            .policy(&policy())
            .rate_limits(Arc::new(tenure_db::rate_limit::DbRateLimiter::new(
                db.clone(),
            )))
            .add_service(api::PurgeServiceHandler::new(self.app.clone()).into_server(&limits))
            .add_service(
                api::PurgeEventsHandler::new(self.app.clone(), draining).into_server(&limits),
            )
            .add_service(tenure_participant::ParticipantService::server(
                self.app, &limits,
            ))
            .add_worker("purge-worker", passes)
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
pub async fn migrate(settings: &DataPurgeSettings) -> anyhow::Result<()> {
    store::migrate(&settings.database).await
}
