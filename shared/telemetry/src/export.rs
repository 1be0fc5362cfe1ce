//! The tracer provider and, when a collector is configured, the OTLP/gRPC batch exporter.
//!
//! opentelemetry_sdk 0.33's `BatchSpanProcessor` runs on its own OS thread and drives each export with
//! `futures_executor::block_on`. The tonic exporter, however, needs a Tokio runtime: its channel spawns
//! a worker task and the HTTP/2 connection onto the runtime current when the exporter is built, and its
//! timeouts use that runtime's timer. Built inside the caller's runtime, the exporter dies with it, which
//! breaks every test after the first (each `#[tokio::test]` has its own runtime) and makes the final
//! flush in `main` race the runtime's shutdown. So the exporter gets a runtime of its own: one
//! current-thread runtime on a dedicated thread, alive from `init` until the guard shuts telemetry
//! down. Exports then work whatever runtime (if any) the instrumented code runs on, and a flush may
//! block any thread, even a current-thread runtime's only one, without deadlocking.

use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::Context as _;
use opentelemetry::KeyValue;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{BatchSpanProcessor, Sampler, SdkTracerProvider};
use tokio::runtime::Handle;
use tokio::sync::oneshot;

use crate::per_service::PerServiceExporter;
use crate::settings::TelemetrySettings;

/// How long one export may take before the batch is given up.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// The thread and runtime that carry OTLP exports.
pub(crate) struct ExportRuntime {
    handle: Handle,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl ExportRuntime {
    pub(crate) fn start() -> anyhow::Result<Self> {
        let (handle_sender, handle_receiver) = mpsc::sync_channel(1);
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("tenure-otlp-export".to_owned())
            .spawn(move || {
                // Built and dropped on this thread: a runtime may not be dropped inside another one.
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(error) => {
                        let _ = handle_sender.send(Err(error));
                        return;
                    }
                };
                let _ = handle_sender.send(Ok(runtime.handle().clone()));
                runtime.block_on(async {
                    // A dropped sender (the guard is gone) stops the runtime as well.
                    let _ = stopped.await;
                });
            })
            .context("starting the OTLP export thread")?;
        let handle = handle_receiver
            .recv()
            .context("the OTLP export thread exited during start-up")?
            .context("building the OTLP export runtime")?;
        Ok(Self {
            handle,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Stops the runtime and waits for its thread; exports after this fail.
    pub(crate) fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for ExportRuntime {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The OTLP/gRPC exporter for `endpoint`, bound to `runtime`.
pub(crate) fn otlp_exporter(
    endpoint: &str,
    runtime: &ExportRuntime,
) -> anyhow::Result<opentelemetry_otlp::SpanExporter> {
    let _entered = runtime.handle.enter();
    opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(endpoint)
        .with_timeout(EXPORT_TIMEOUT)
        .build()
        .with_context(|| format!("building the OTLP exporter for {endpoint}"))
}

/// The provider every span comes from: parent-based ratio sampling (see below), the service resource, and a batch
/// exporter when there is one. Without an exporter spans still get ids, for logs and propagation.
pub(crate) fn tracer_provider(
    settings: &TelemetrySettings,
    exporter: Option<opentelemetry_otlp::SpanExporter>,
) -> SdkTracerProvider {
    // `builder_empty`: resource attributes come from the settings only, not from OTEL_* variables.
    let resource = Resource::builder_empty()
        .with_service_name(settings.service_name.clone())
        .with_attribute(KeyValue::new(
            "service.version",
            settings.service_version.clone(),
        ))
        .build();
    // A local parent's decision is kept. A remote parent's sampled flag is not trusted: at the public
    // edge it would let callers force sampling (quality.md §5.2). The ratio decides from the trace id
    // alone, so every hop of one trace reaches the same decision when the services share the ratio.
    let ratio = Sampler::TraceIdRatioBased(settings.sample_ratio);
    let sampler = Sampler::parent_based(ratio.clone())
        .with_remote_parent_sampled(ratio.clone())
        .with_remote_parent_not_sampled(ratio);
    let mut builder = SdkTracerProvider::builder()
        .with_sampler(sampler)
        .with_resource(resource);
    if let Some(exporter) = exporter {
        let exporter = PerServiceExporter::new(exporter);
        builder = builder.with_span_processor(BatchSpanProcessor::builder(exporter).build());
    }
    builder.build()
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::{
        Span as _, SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState, Tracer,
        TracerProvider as _,
    };

    use super::*;

    fn is_sampled(sample_ratio: f64, parent: &opentelemetry::Context) -> bool {
        let settings = TelemetrySettings {
            sample_ratio,
            ..TelemetrySettings::default()
        };
        let tracer = tracer_provider(&settings, None).tracer("sampling-test");
        let span = tracer.start_with_context("probe", parent);
        span.span_context().is_sampled()
    }

    fn remote_parent(flags: TraceFlags) -> opentelemetry::Context {
        opentelemetry::Context::new().with_remote_span_context(SpanContext::new(
            TraceId::from(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736),
            SpanId::from(0x00f0_67aa_0ba9_02b7),
            flags,
            true,
            TraceState::default(),
        ))
    }

    #[test]
    fn the_ratio_decides_for_roots_and_remote_parents() {
        let root = opentelemetry::Context::new();
        assert!(is_sampled(1.0, &root));
        assert!(!is_sampled(0.0, &root));
        // A caller cannot force sampling, nor switch it off.
        assert!(!is_sampled(0.0, &remote_parent(TraceFlags::SAMPLED)));
        assert!(is_sampled(1.0, &remote_parent(TraceFlags::default())));
    }

    #[test]
    fn a_local_parent_decides_for_its_children() {
        let settings = TelemetrySettings {
            sample_ratio: 0.0,
            ..TelemetrySettings::default()
        };
        let tracer = tracer_provider(&settings, None).tracer("sampling-test");
        let parent = tracer.start_with_context("parent", &opentelemetry::Context::new());
        assert!(parent.span_context().is_valid());
        let cx = opentelemetry::Context::new().with_span(parent);
        let child = tracer.start_with_context("child", &cx);
        assert!(!child.span_context().is_sampled());
        assert_eq!(
            child.span_context().trace_id(),
            cx.span().span_context().trace_id()
        );
    }
}
