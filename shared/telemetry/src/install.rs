//! Installing the process-wide subscriber, tracer provider and propagator, and flushing them.

use std::sync::OnceLock;

use anyhow::{Context as _, anyhow, bail};
use opentelemetry::InstrumentationScope;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Subscriber;
use tracing_subscriber::Layer as _;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt as _;

use crate::export::{self, ExportRuntime};
use crate::filter::TelemetryFilter;
use crate::json_log::JsonLogLayer;
use crate::settings::{LogFormat, TelemetrySettings};

/// The semantic-convention version Tenure's spans follow (quality.md §5.4).
const SCHEMA_URL: &str = "https://opentelemetry.io/schemas/1.37.0";

/// The installed provider, for [`force_flush`] from code that holds no guard.
static PROVIDER: OnceLock<SdkTracerProvider> = OnceLock::new();

/// Keeps telemetry running; [`TelemetryGuard::shutdown`] flushes buffered spans and stops the exporter.
///
/// Dropping the guard shuts down as well, blocking the dropping thread while buffered spans are sent.
#[must_use = "dropping the guard shuts telemetry down"]
pub struct TelemetryGuard {
    provider: SdkTracerProvider,
    export_runtime: Option<ExportRuntime>,
    is_shut_down: bool,
}

impl TelemetryGuard {
    /// Exports every finished span now, blocking until the collector answered or the export timed out.
    ///
    /// # Errors
    ///
    /// The export failed (collector unreachable, timeout) or telemetry was shut down.
    pub fn force_flush(&self) -> anyhow::Result<()> {
        flush(&self.provider)
    }

    /// Flushes buffered spans, then stops the exporter and its thread. Blocking (up to the export
    /// timeout): async code calls it through `tokio::task::spawn_blocking`. It needs no runtime of the
    /// caller's, so it also works after `main`'s runtime has stopped. Logs keep being written
    /// afterwards; spans no longer get ids.
    ///
    /// # Errors
    ///
    /// The final export failed; the exporter is stopped regardless.
    pub fn shutdown(mut self) -> anyhow::Result<()> {
        self.shut_down()
    }

    fn shut_down(&mut self) -> anyhow::Result<()> {
        if self.is_shut_down {
            return Ok(());
        }
        self.is_shut_down = true;
        let result = self
            .provider
            .shutdown()
            .map_err(|error| anyhow!("shutting down the tracer provider: {error}"));
        if let Some(export_runtime) = &mut self.export_runtime {
            export_runtime.stop();
        }
        result
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        let _ = self.shut_down();
    }
}

/// Installs telemetry for the process, logging to standard output. See [`init_with_writer`].
///
/// # Errors
///
/// As [`init_with_writer`].
pub fn init(settings: &TelemetrySettings) -> anyhow::Result<TelemetryGuard> {
    init_with_writer(settings, std::io::stdout)
}

/// Installs telemetry for the process, writing log lines to `writer` (tests pass an in-memory buffer):
/// the global `tracing` subscriber (log layer and OpenTelemetry layer, each behind `log_filter`), the
/// tracer provider with the OTLP exporter when `otlp_endpoint` is set, and the W3C
/// `TraceContextPropagator` as the global propagator. May be called from inside or outside a Tokio
/// runtime; the exporter brings its own (see the `export` module).
///
/// # Errors
///
/// Invalid settings, an exporter that cannot be built, or telemetry (or another `tracing` subscriber)
/// already installed in this process. A second call changes nothing, so a caller that only needs
/// telemetry to be on may ignore the error.
pub fn init_with_writer<W>(
    settings: &TelemetrySettings,
    writer: W,
) -> anyhow::Result<TelemetryGuard>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    if PROVIDER.get().is_some() {
        bail!("telemetry is already initialized in this process");
    }
    settings
        .validate()
        .map_err(|problems| anyhow!("invalid telemetry settings: {}", problems.join("; ")))?;

    let (exporter, export_runtime) = match &settings.otlp_endpoint {
        Some(endpoint) => {
            let runtime = ExportRuntime::start()?;
            (
                Some(export::otlp_exporter(endpoint, &runtime)?),
                Some(runtime),
            )
        }
        None => (None, None),
    };
    let provider = export::tracer_provider(settings, exporter);
    let subscriber = subscriber(settings, &provider, writer)?;

    let mut guard = TelemetryGuard {
        provider: provider.clone(),
        export_runtime,
        is_shut_down: false,
    };
    if let Err(error) = tracing::subscriber::set_global_default(subscriber) {
        let _ = guard.shut_down();
        return Err(error).context("installing the tracing subscriber");
    }
    // Only the call that installed the subscriber gets here, so the slot is still empty.
    let _ = PROVIDER.set(provider.clone());
    opentelemetry::global::set_tracer_provider(provider);
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    Ok(guard)
}

/// The registry with the OpenTelemetry layer and the configured log layer, each behind `log_filter`.
fn subscriber<W>(
    settings: &TelemetrySettings,
    provider: &SdkTracerProvider,
    writer: W,
) -> anyhow::Result<impl Subscriber + Send + Sync + 'static>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter = TelemetryFilter::new(&settings.log_filter)?;
    let scope = InstrumentationScope::builder("tenure")
        .with_version(settings.service_version.clone())
        .with_schema_url(SCHEMA_URL)
        .build();
    let tracing_layer = tracing_opentelemetry::layer()
        .with_tracer(provider.tracer_with_scope(scope))
        // quality.md §5.5 decides a span's status from its gRPC code, not from the events logged in it.
        .with_error_events_to_status(false)
        .with_threads(false)
        .with_filter(filter.clone());
    // Boxed rather than an `Option` per format: `Option<Layer>` does not pass on
    // `on_register_dispatch`, which the JSON layer needs to read span contexts.
    let log_layer = match settings.log_format {
        LogFormat::Json => {
            JsonLogLayer::new(writer, &settings.service_name, &settings.service_version)
                .with_filter(filter)
                .boxed()
        }
        // One short line per event for a person at a terminal: no source paths, which point into the
        // build machine's dependency cache and mean nothing to the reader.
        LogFormat::Pretty => tracing_subscriber::fmt::layer()
            .compact()
            .with_file(false)
            .with_line_number(false)
            .with_writer(writer)
            .with_filter(filter)
            .boxed(),
    };
    Ok(tracing_subscriber::registry()
        .with(tracing_layer)
        .with(log_layer))
}

/// Exports every finished span of the installed provider now (tests call it before asserting on the
/// collector); does nothing when telemetry was never installed. Blocking, like
/// [`TelemetryGuard::force_flush`].
///
/// # Errors
///
/// The export failed or telemetry was shut down.
pub fn force_flush() -> anyhow::Result<()> {
    match PROVIDER.get() {
        Some(provider) => flush(provider),
        None => Ok(()),
    }
}

fn flush(provider: &SdkTracerProvider) -> anyhow::Result<()> {
    provider
        .force_flush()
        .map_err(|error| anyhow!("flushing spans: {error}"))
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Lines {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Lines {
        fn parsed(&self) -> Vec<serde_json::Value> {
            let bytes = self.0.lock().unwrap().clone();
            bytes
                .split(|byte| *byte == b'\n')
                .filter(|line| !line.is_empty())
                .map(|line| serde_json::from_slice(line).unwrap())
                .collect()
        }
    }

    /// Logs `warn` and above under `log_filter`, inside an INFO span, and returns the lines written.
    fn log_under(log_filter: &str, format: LogFormat) -> Lines {
        let settings = TelemetrySettings {
            log_filter: log_filter.to_owned(),
            log_format: format,
            ..TelemetrySettings::default()
        };
        let provider = export::tracer_provider(&settings, None);
        let lines = Lines::default();
        let writer = lines.clone();
        let subscriber = subscriber(&settings, &provider, move || writer.clone()).unwrap();
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("request", tenure.tenant_id = "tenant-1");
            let _entered = span.enter();
            tracing::info!("routine detail");
            tracing::warn!(attempt = 3, "degraded");
        });
        lines
    }

    #[test]
    fn a_quiet_log_filter_keeps_spans_for_correlation() {
        let lines = log_under("warn", LogFormat::Json).parsed();
        assert_eq!(lines.len(), 1, "{lines:?}");
        let line = &lines[0];
        assert_eq!(line["message"], "degraded");
        assert_eq!(line["tenant_id"], "tenant-1");
        assert_eq!(line["attempt"], 3);
        assert_eq!(line["trace_id"].as_str().unwrap().len(), 32);
        assert_eq!(line["span_id"].as_str().unwrap().len(), 16);
    }

    #[test]
    fn pretty_logs_are_plain_text() {
        let lines = log_under("info", LogFormat::Pretty);
        let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
        assert!(text.contains("routine detail"), "{text}");
        assert!(text.contains("degraded"), "{text}");
    }
}
