//! The crate's one integration-test binary: everything runs against a real PostgreSQL (a fresh
//! database per test from `TENURE_TEST_PG_URL`) and real SQLite files.

#![allow(
    clippy::unwrap_used,
    reason = "helpers shared by the tests fail the test on any error, like the test bodies they serve"
)]

mod cancel;
mod errors;
mod idempotency;
mod migrate;
mod rate_limit;
mod settings;
mod subject;
mod support;
mod tenant;
