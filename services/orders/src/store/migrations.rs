//! The service's migrations, in order. Shipped migrations never change; a change is a new migration.

mod m0001_core;
mod m0002_sagas;
mod m0003_follow_ups;
mod m0004_open_orders;

pub(crate) use m0002_sagas::ENGINE_SETTING;

tenure_db::migrator!(
    "orders",
    [
        m0001_core::Migration,
        tenure_db::idempotency::CreateIdempotencyRecord,
        m0002_sagas::Migration,
        // Stored responses name the order they copy, so a purge of its data finds them.
        tenure_db::idempotency::AddIdempotencySubject,
        m0003_follow_ups::Migration,
        tenure_db::rate_limit::CreateRateLimitBucket,
        m0004_open_orders::Migration,
    ]
);
