#![doc = include_str!("../README.md")]

mod api;
mod clients;
mod domain;
mod settings;
mod store;

use std::sync::Arc;

use tenure_db::Db;
use tenure_grpc::{FnProbe, ServerBuilder};

pub use settings::ProvisioningSettings;

/// The assembled service, ready to be mounted on a server builder.
#[derive(Debug)]
pub struct ProvisioningApp {
    db: Db,
}

impl ProvisioningApp {
    /// Connects the database and assembles the use cases. The schema must already be migrated
    /// ([`migrate`]); the readiness probe reports NOT_SERVING until it is.
    pub async fn build(settings: &ProvisioningSettings) -> anyhow::Result<Self> {
        let db = tenure_db::connect(&settings.database).await?;
        Ok(Self { db })
    }

    /// Mounts the gRPC services, the authorization policy and the readiness probe on `server`.
    pub fn register(self, server: &mut ServerBuilder) {
        let limits = server.limits();
        let db = self.db;
        server
            .policy(&policy())
            .add_service(api::ProvisioningServiceHandler.into_server(&limits))
            .add_service(api::SandboxServiceHandler.into_server(&limits))
            .add_service(api::PurgeParticipantHandler.into_server(&limits))
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
