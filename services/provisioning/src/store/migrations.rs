//! The service's migrations, in order. Shipped migrations never change; a change is a new migration.

mod m0001_core;
mod m0002_engine_and_sandbox;
mod m0003_observed_handshakes;
mod m0004_concerned_accounts;
mod m0005_real_time_claims;

pub(crate) use m0002_engine_and_sandbox::SANDBOX_TABLES;

tenure_db::migrator!(
    "provisioning",
    [
        m0001_core::Migration,
        // PurgeParticipant.Execute records its key here, in the transaction that deletes. The operation
        // RPCs do not: an operation row carries its own key, stored with the intent before any AWS
        // call, so a replay finds the operation rather than a response.
        tenure_db::idempotency::CreateIdempotencyRecord,
        m0002_engine_and_sandbox::Migration,
        m0003_observed_handshakes::Migration,
        m0004_concerned_accounts::Migration,
        m0005_real_time_claims::Migration,
        tenure_db::rate_limit::CreateRateLimitBucket,
    ]
);
