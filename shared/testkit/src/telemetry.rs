//! One telemetry installation per test process: an [`OtlpCollector`] receiving every span and an
//! in-memory buffer receiving every log line, so tests assert on both (quality.md §5.9).

use std::io;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

use tenure_telemetry::{LogFormat, MakeWriter, TelemetryGuard, TelemetrySettings};

use crate::otlp::OtlpCollector;

static TELEMETRY: OnceLock<TestTelemetry> = OnceLock::new();

/// The process's telemetry under test: the collector its spans are exported to and the log lines it wrote.
pub struct TestTelemetry {
    collector: OtlpCollector,
    logs: LogBuffer,
    guard: TelemetryGuard,
}

impl TestTelemetry {
    /// The collector every span of this process is exported to.
    pub fn collector(&self) -> &OtlpCollector {
        &self.collector
    }

    /// Every log line written so far, parsed; lines from all tests of the process, so filter by a
    /// trace id or a field of your own.
    pub fn logs(&self) -> Vec<serde_json::Value> {
        let bytes = self.logs.lock().clone();
        bytes
            .split(|byte| *byte == b'\n')
            .filter_map(|line| serde_json::from_slice(line).ok())
            .collect()
    }

    /// The log lines written inside spans of `trace_id`.
    pub fn logs_of_trace(&self, trace_id: &str) -> Vec<serde_json::Value> {
        self.logs()
            .into_iter()
            .filter(|line| {
                line.get("trace_id").and_then(serde_json::Value::as_str) == Some(trace_id)
            })
            .collect()
    }

    /// Exports every span that has ended, blocking until the collector has them. Call it after the
    /// spans under test ended, then [`OtlpCollector::wait_for_spans`].
    ///
    /// # Errors
    ///
    /// The export failed.
    pub fn flush(&self) -> anyhow::Result<()> {
        self.guard.force_flush()
    }
}

/// Telemetry for this test process, installed on first use: a fresh collector, JSON logs into memory,
/// every trace sampled. Every test of the process shares it, because the `tracing` subscriber is
/// global. Calling it from any test or runtime is fine: the collector and the exporter run on threads
/// of their own.
///
/// # Panics
///
/// When the collector cannot start or another `tracing` subscriber was installed first: the test could
/// not observe anything.
pub fn global_telemetry() -> &'static TestTelemetry {
    TELEMETRY.get_or_init(|| {
        #[allow(
            clippy::expect_used,
            reason = "test support: a test that cannot observe telemetry must stop with the reason"
        )]
        start().expect("starting the test telemetry (is another tracing subscriber installed?)")
    })
}

fn start() -> anyhow::Result<TestTelemetry> {
    let collector = OtlpCollector::start()?;
    let logs = LogBuffer::default();
    let settings = TelemetrySettings {
        log_filter: "info".to_owned(),
        log_format: LogFormat::Json,
        otlp_endpoint: Some(collector.endpoint()),
        sample_ratio: 1.0,
        ..TelemetrySettings::default()
    };
    let guard = tenure_telemetry::init_with_writer(&settings, logs.clone())?;
    Ok(TestTelemetry {
        collector,
        logs,
        guard,
    })
}

/// Log lines in memory; each line arrives in one write.
#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl LogBuffer {
    fn lock(&self) -> MutexGuard<'_, Vec<u8>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<'a> MakeWriter<'a> for LogBuffer {
    type Writer = LogBuffer;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl io::Write for LogBuffer {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.lock().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
