//! The service's migrations, in order. Shipped migrations never change; a change is a new migration.

mod m0001_core;
mod m0002_removal_and_balances;

pub(crate) use m0002_removal_and_balances::OPEN_BALANCE_SETTING;

tenure_db::migrator!(
    "accounts",
    [
        m0001_core::Migration,
        tenure_db::idempotency::CreateIdempotencyRecord,
        // Stored responses copy account and user data, so each names its subject for the purge.
        tenure_db::idempotency::AddIdempotencySubject,
        m0002_removal_and_balances::Migration,
        tenure_db::rate_limit::CreateRateLimitBucket,
    ]
);
