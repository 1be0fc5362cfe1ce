//! The service's migrations, in order. Shipped migrations never change; a change is a new migration.

mod m0001_core;
mod m0002_engine_and_sandbox;
mod m0003_observed_handshakes;
mod m0004_concerned_accounts;
mod m0005_real_time_claims;

use sea_orm_migration::prelude::*;

pub(crate) use m0002_engine_and_sandbox::SANDBOX_TABLES;

/// Applies this service's migrations; its history lives in `provisioning_migrations`.
pub(crate) struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m0001_core::Migration),
            // PurgeParticipant.Execute records its key here, in the transaction that deletes. The
            // operation RPCs do not: an operation row carries its own key, stored with the intent
            // before any AWS call, so a replay finds the operation rather than a response.
            Box::new(tenure_db::idempotency::CreateIdempotencyRecord),
            Box::new(m0002_engine_and_sandbox::Migration),
            Box::new(m0003_observed_handshakes::Migration),
            Box::new(m0004_concerned_accounts::Migration),
            Box::new(m0005_real_time_claims::Migration),
            // Rate-limit buckets per tenant, shared by every replica (quality.md §1.7).
            Box::new(tenure_db::rate_limit::CreateRateLimitBucket),
        ]
    }

    fn migration_table_name() -> DynIden {
        tenure_db::migrations_table("provisioning")
    }
}
