#![doc = include_str!("../README.md")]

mod api;
mod app;
mod clients;
mod domain;
mod lifecycle_timers;
mod settings;
mod store;

use std::sync::Arc;
use std::time::Duration;

use tenure_db::Db;
use tenure_domain::{SharedClock, SystemClock};
use tenure_grpc::{FnProbe, ServerBuilder};

pub use clients::PurgePeer;
pub use settings::AccountsSettings;

/// What the service takes from its host besides settings.
#[derive(Clone)]
pub struct AccountsDeps {
    /// Business time: lifecycle dates, the reopen window, idempotency expiry. Tests move a
    /// `ManualClock` to cross the 90-day window.
    pub clock: SharedClock,
    /// The data-purge service, which schedules and cancels purges.
    pub purge: PurgePeer,
}

impl Default for AccountsDeps {
    fn default() -> Self {
        Self {
            clock: Arc::new(SystemClock),
            purge: PurgePeer::Detached,
        }
    }
}

impl std::fmt::Debug for AccountsDeps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountsDeps")
            .field("purge", &self.purge)
            .finish_non_exhaustive()
    }
}

/// The assembled service, ready to be mounted on a server builder.
#[derive(Debug)]
pub struct AccountsApp {
    app: app::Accounts,
    timer_interval: Duration,
}

impl AccountsApp {
    /// Connects the database and assembles the use cases on the system clock. The schema must already
    /// be migrated ([`migrate`]); the readiness probe reports NOT_SERVING until it is.
    pub async fn build(settings: &AccountsSettings) -> anyhow::Result<Self> {
        Self::build_with(settings, AccountsDeps::default()).await
    }

    /// Like [`AccountsApp::build`], reading business time from `clock`.
    pub async fn build_with_clock(
        settings: &AccountsSettings,
        clock: SharedClock,
    ) -> anyhow::Result<Self> {
        Self::build_with(
            settings,
            AccountsDeps {
                clock,
                ..AccountsDeps::default()
            },
        )
        .await
    }

    /// Like [`AccountsApp::build`], with every dependency given.
    pub async fn build_with(
        settings: &AccountsSettings,
        deps: AccountsDeps,
    ) -> anyhow::Result<Self> {
        let db = tenure_db::connect(&settings.database).await?;
        Ok(Self {
            app: app::Accounts {
                db,
                clock: deps.clock,
                purge: deps.purge,
            },
            timer_interval: Duration::from_millis(settings.lifecycle_timer_interval_ms),
        })
    }

    /// Mounts the gRPC services, the authorization policy, the rate limits (buckets in its
    /// database), the lifecycle timers and the readiness probe on `server`.
    pub fn register(self, server: &mut ServerBuilder) {
        let limits = server.limits();
        let db: Db = self.app.db.clone();
        let draining = server.host().draining();
        let (timer_db, clock, interval) = (db.clone(), self.app.clock.clone(), self.timer_interval);
        let timers = async move {
            loop {
                tokio::select! {
                    () = draining.cancelled() => break,
                    () = tokio::time::sleep(interval) => {
                        if let Err(error) = lifecycle_timers::run_due(&timer_db, &clock).await {
                            tracing::warn!(error = %error, "lifecycle timers could not run");
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
            .add_service(api::AccountServiceHandler::new(self.app.clone()).into_server(&limits))
            .add_service(tenure_participant::ParticipantService::server(
                self.app, &limits,
            ))
            .add_worker("accounts-lifecycle-timers", timers)
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
pub async fn migrate(settings: &AccountsSettings) -> anyhow::Result<()> {
    store::migrate(&settings.database).await
}
