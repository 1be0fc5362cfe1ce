//! The service's migrations, in order. Shipped migrations never change; a change is a new migration.

mod m0001_core;
mod m0002_removal_and_balances;

use sea_orm_migration::prelude::*;

pub(crate) use m0002_removal_and_balances::OPEN_BALANCE_SETTING;

/// Applies this service's migrations; its history lives in `accounts_migrations`.
pub(crate) struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m0001_core::Migration),
            // Every mutating RPC records its idempotency key in the same transaction as its effect.
            Box::new(tenure_db::idempotency::CreateIdempotencyRecord),
            // Stored responses copy account and user data, so each names its subject for the purge.
            Box::new(tenure_db::idempotency::AddIdempotencySubject),
            Box::new(m0002_removal_and_balances::Migration),
            // Rate-limit buckets per tenant, shared by every replica (quality.md §1.7).
            Box::new(tenure_db::rate_limit::CreateRateLimitBucket),
        ]
    }

    fn migration_table_name() -> DynIden {
        tenure_db::migrations_table("accounts")
    }
}
