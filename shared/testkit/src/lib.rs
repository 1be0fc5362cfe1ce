//! Test support for Tenure, shared by every crate's integration tests.
//!
//! It never depends on a service crate (services take it as a dev-dependency), so it offers the parts
//! a test assembles a cluster from: fresh PostgreSQL databases and SQLite files, a `moto_server` launched
//! from the test virtualenv, and an in-process OTLP collector that traces can be asserted against.
//!
//! `tests/run.sh` hands over its environment through `TENURE_TEST_PG_URL`, `TENURE_TEST_MOTO_VENV` and
//! `TENURE_BIN`; a missing value fails the test with the command to run.

mod otlp;
mod telemetry;

pub use otlp::{
    AttributeValue, CollectedEvent, CollectedLink, CollectedSpan, OtlpCollector, SpanKind,
    StatusCode,
};
pub use telemetry::{TestTelemetry, global_telemetry};

pub mod db;
pub mod grpc;
pub mod moto;

pub use db::{TestDatabase, TestRole, TestSqlite};
pub use grpc::TestHost;
pub use moto::MotoServer;

/// promtool (Debian's prometheus package), which `tests/run.sh` installs and names in
/// `TENURE_TEST_PROMTOOL`; `promtool` on the `PATH` otherwise.
#[allow(
    clippy::disallowed_methods,
    reason = "the one handoff from tests/run.sh, as for the database URL"
)]
pub fn promtool() -> std::path::PathBuf {
    std::env::var("TENURE_TEST_PROMTOOL")
        .map_or_else(|_| "promtool".into(), std::path::PathBuf::from)
}

/// The `tenure` binary `tests/run.sh` built, for tests that run services as separate processes.
///
/// # Errors
///
/// `TENURE_BIN` is unset (the test was not started by `tests/run.sh`) or names no file.
#[allow(
    clippy::disallowed_methods,
    reason = "the one handoff from tests/run.sh, as for the database URL"
)]
pub fn tenure_bin() -> anyhow::Result<std::path::PathBuf> {
    let path = std::env::var("TENURE_BIN")
        .map(std::path::PathBuf::from)
        .map_err(|_| anyhow::anyhow!("set TENURE_BIN or run tests/run.sh"))?;
    anyhow::ensure!(
        path.is_file(),
        "TENURE_BIN names no file: {}",
        path.display()
    );
    Ok(path)
}
