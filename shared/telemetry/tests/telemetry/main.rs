//! tenure-telemetry's one integration-test binary. The `tracing` subscriber is global, so every test
//! shares the installation of `tenure_testkit::global_telemetry()` and tells its own spans and log lines
//! apart by names and fields no other test uses.

// clippy.toml allows these inside `#[test]` functions; the helpers here are test code just the same.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers: a failed step fails the test that called it"
)]

mod classification;
mod export;
mod logs;
mod metrics;
mod propagation;

use std::time::Duration;

use tenure_testkit::CollectedSpan;

/// Long enough for a loaded CI machine; a passing test returns as soon as its spans arrive.
const SPAN_WAIT: Duration = Duration::from_secs(10);

/// Flushes the exporter, then waits until the collector holds a span named `name`, and returns it.
async fn exported_span(name: &str) -> CollectedSpan {
    let telemetry = tenure_testkit::global_telemetry();
    telemetry.flush().expect("flush spans");
    let spans = telemetry
        .collector()
        .wait_for_spans(
            |spans| spans.iter().any(|span| span.name == name),
            SPAN_WAIT,
        )
        .await;
    spans
        .into_iter()
        .find(|span| span.name == name)
        .unwrap_or_else(|| panic!("no span named {name} was exported"))
}
