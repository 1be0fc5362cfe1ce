//! The service's migrations, in order. Shipped migrations never change; a change is a new migration.

mod m0001_core;
mod m0002_purges;

tenure_db::migrator!(
    "purge",
    [
        m0001_core::Migration,
        tenure_db::idempotency::CreateIdempotencyRecord,
        m0002_purges::Migration,
        tenure_db::rate_limit::CreateRateLimitBucket,
    ]
);
