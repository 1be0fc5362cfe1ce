//! The service's migrations, in order. Shipped migrations never change; a change is a new migration.

mod m0001_core;
mod m0002_sagas;
mod m0003_follow_ups;
mod m0004_open_orders;

pub(crate) use m0002_sagas::ENGINE_SETTING;

use sea_orm_migration::prelude::*;

/// Applies this service's migrations; its history lives in `orders_migrations`.
pub(crate) struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m0001_core::Migration),
            // Every mutating RPC records its idempotency key in the same transaction as its effect.
            Box::new(tenure_db::idempotency::CreateIdempotencyRecord),
            Box::new(m0002_sagas::Migration),
            // Stored responses name the order they copy, so a purge of its data finds them.
            Box::new(tenure_db::idempotency::AddIdempotencySubject),
            Box::new(m0003_follow_ups::Migration),
            // Rate-limit buckets per tenant, shared by every replica (quality.md §1.7).
            Box::new(tenure_db::rate_limit::CreateRateLimitBucket),
            Box::new(m0004_open_orders::Migration),
        ]
    }

    fn migration_table_name() -> DynIden {
        tenure_db::migrations_table("orders")
    }
}
