//! An in-process OTLP/gRPC trace receiver that keeps every span in memory (quality.md §5.9).
//!
//! It runs on its own thread with its own Tokio runtime, so it outlives the runtime of any one
//! `#[tokio::test]` and serves the whole test process.

use std::collections::BTreeMap;
use std::fmt;
use std::net::TcpListener;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, mpsc};
use std::time::Duration;

use anyhow::Context as _;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value as ProtoValue;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use opentelemetry_proto::tonic::trace::v1::span::SpanKind as ProtoSpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode as ProtoStatusCode;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, Span};
use tokio_stream::wrappers::TcpListenerStream;
use tokio_util::sync::CancellationToken;

/// Large batches from long runs must not be refused by tonic's 4 MiB default.
const MAX_EXPORT_BYTES: usize = 64 * 1024 * 1024;

/// How often [`OtlpCollector::wait_for_spans`] looks again.
const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// An OTLP/gRPC trace receiver on `127.0.0.1`, keeping every span it is sent.
///
/// Dropping it stops the server; the global one of [`global_telemetry`](crate::global_telemetry) lives
/// as long as the process.
pub struct OtlpCollector {
    endpoint: String,
    spans: Arc<Mutex<Vec<CollectedSpan>>>,
    shutdown: CancellationToken,
}

/// One exported span, decoded for assertions.
#[derive(Debug, Clone, PartialEq)]
pub struct CollectedSpan {
    /// 32 lowercase hex digits.
    pub trace_id: String,
    /// 16 lowercase hex digits.
    pub span_id: String,
    /// The parent's span id, empty for a root span.
    pub parent_span_id: String,
    /// `package.Service/Method` for gRPC spans.
    pub name: String,
    /// SERVER, CLIENT, INTERNAL, PRODUCER or CONSUMER.
    pub kind: SpanKind,
    /// Span attributes by key.
    pub attributes: BTreeMap<String, AttributeValue>,
    /// Unset, Ok or Error.
    pub status_code: StatusCode,
    /// The status description, usually empty.
    pub status_message: String,
    /// Events recorded in the span (log events inside it, exceptions).
    pub events: Vec<CollectedEvent>,
    /// Links to other spans (resumed saga steps, event consumers).
    pub links: Vec<CollectedLink>,
    /// The `service.name` resource attribute of the exporting process.
    pub service_name: String,
    /// The instrumentation scope's name.
    pub scope_name: String,
    /// The instrumentation scope's schema URL (the semantic-convention version).
    pub scope_schema_url: String,
    /// Start time, nanoseconds since the Unix epoch.
    pub start_time_unix_nano: u64,
    /// End time, nanoseconds since the Unix epoch.
    pub end_time_unix_nano: u64,
}

impl CollectedSpan {
    /// The attribute `key`, if present.
    pub fn attribute(&self, key: &str) -> Option<&AttributeValue> {
        self.attributes.get(key)
    }

    /// The attribute `key` when it is a string.
    pub fn str_attribute(&self, key: &str) -> Option<&str> {
        match self.attributes.get(key)? {
            AttributeValue::String(value) => Some(value),
            _ => None,
        }
    }

    /// The attribute `key` when it is an integer.
    pub fn int_attribute(&self, key: &str) -> Option<i64> {
        match self.attributes.get(key)? {
            AttributeValue::Int(value) => Some(*value),
            _ => None,
        }
    }

    /// Whether the span has no parent.
    pub fn is_root(&self) -> bool {
        self.parent_span_id.is_empty()
    }
}

/// A span's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SpanKind {
    /// No kind given; OTLP readers treat it as internal.
    Unspecified,
    /// An operation inside a process.
    Internal,
    /// The handling of an inbound call.
    Server,
    /// An outbound call.
    Client,
    /// The sending of a message or event.
    Producer,
    /// The processing of a message or event.
    Consumer,
}

/// A span's status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusCode {
    /// Neither marked failed nor explicitly OK.
    Unset,
    /// Explicitly OK.
    Ok,
    /// Failed.
    Error,
}

/// An attribute value as OTLP carries it.
#[derive(Debug, Clone, PartialEq)]
pub enum AttributeValue {
    /// A string.
    String(String),
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A floating-point number.
    Double(f64),
    /// Raw bytes.
    Bytes(Vec<u8>),
    /// A list of values.
    Array(Vec<AttributeValue>),
    /// Nested key-value pairs.
    Map(BTreeMap<String, AttributeValue>),
    /// No value.
    Empty,
}

impl fmt::Display for AttributeValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::String(value) => f.write_str(value),
            Self::Bool(value) => write!(f, "{value}"),
            Self::Int(value) => write!(f, "{value}"),
            Self::Double(value) => write!(f, "{value}"),
            Self::Bytes(value) => f.write_str(&hex::encode(value)),
            Self::Array(values) => {
                let parts: Vec<String> = values.iter().map(ToString::to_string).collect();
                write!(f, "[{}]", parts.join(", "))
            }
            Self::Map(entries) => {
                let parts: Vec<String> = entries
                    .iter()
                    .map(|(key, value)| format!("{key}={value}"))
                    .collect();
                write!(f, "{{{}}}", parts.join(", "))
            }
            Self::Empty => Ok(()),
        }
    }
}

/// An event recorded in a span.
#[derive(Debug, Clone, PartialEq)]
pub struct CollectedEvent {
    /// The event's name (the log message for events from `tracing`).
    pub name: String,
    /// Event attributes by key.
    pub attributes: BTreeMap<String, AttributeValue>,
}

/// A link from a span to another span's context.
#[derive(Debug, Clone, PartialEq)]
pub struct CollectedLink {
    /// The linked span's trace id, 32 hex digits.
    pub trace_id: String,
    /// The linked span's id, 16 hex digits.
    pub span_id: String,
    /// Link attributes by key (`tenure.link.reason`, ...).
    pub attributes: BTreeMap<String, AttributeValue>,
}

impl OtlpCollector {
    /// Starts a collector on `127.0.0.1` and a free port, on a thread of its own.
    ///
    /// # Errors
    ///
    /// No port could be bound, or the thread or its runtime could not be started.
    pub fn start() -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").context("binding the OTLP collector")?;
        listener.set_nonblocking(true)?;
        let address = listener.local_addr()?;
        let spans = Arc::new(Mutex::new(Vec::new()));
        let shutdown = CancellationToken::new();
        let receiver = TraceReceiver {
            spans: Arc::clone(&spans),
        };
        let stopped = shutdown.clone();
        let (started_sender, started) = mpsc::sync_channel(1);
        std::thread::Builder::new()
            .name("tenure-otlp-collector".to_owned())
            .spawn(move || {
                // Built and dropped on this thread: a runtime may not be dropped inside another one.
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(error) => {
                        let _ = started_sender.send(Err(anyhow::Error::from(error)));
                        return;
                    }
                };
                runtime.block_on(async move {
                    let listener = match tokio::net::TcpListener::from_std(listener) {
                        Ok(listener) => listener,
                        Err(error) => {
                            let _ = started_sender.send(Err(anyhow::Error::from(error)));
                            return;
                        }
                    };
                    let _ = started_sender.send(Ok(()));
                    let service = TraceServiceServer::new(receiver)
                        .max_decoding_message_size(MAX_EXPORT_BYTES);
                    let served = tonic::transport::Server::builder()
                        .add_service(service)
                        .serve_with_incoming_shutdown(
                            TcpListenerStream::new(listener),
                            stopped.cancelled_owned(),
                        )
                        .await;
                    if let Err(error) = served {
                        tracing::warn!(%error, "otlp collector stopped with an error");
                    }
                });
            })
            .context("starting the OTLP collector thread")?;
        started
            .recv()
            .context("the OTLP collector thread exited during start-up")??;
        Ok(Self {
            endpoint: format!("http://{address}"),
            spans,
            shutdown,
        })
    }

    /// The address to export to, `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        self.endpoint.clone()
    }

    /// Every span received so far, in arrival order.
    pub fn spans(&self) -> Vec<CollectedSpan> {
        lock(&self.spans).clone()
    }

    /// The spans received so far that belong to `trace_id`.
    pub fn spans_of_trace(&self, trace_id: &str) -> Vec<CollectedSpan> {
        lock(&self.spans)
            .iter()
            .filter(|span| span.trace_id == trace_id)
            .cloned()
            .collect()
    }

    /// Polls until `predicate` holds for the spans received so far, or `timeout` passes, and returns
    /// them either way so the test's assertions say what was missing. Spans arrive only once they have
    /// ended and been flushed: end them, then call the telemetry flush, then wait.
    pub async fn wait_for_spans(
        &self,
        predicate: impl Fn(&[CollectedSpan]) -> bool,
        timeout: Duration,
    ) -> Vec<CollectedSpan> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let spans = self.spans();
            if predicate(&spans) || tokio::time::Instant::now() >= deadline {
                return spans;
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }
}

impl Drop for OtlpCollector {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl fmt::Debug for OtlpCollector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtlpCollector")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

fn lock(spans: &Mutex<Vec<CollectedSpan>>) -> MutexGuard<'_, Vec<CollectedSpan>> {
    // A panicking test thread must not hide the spans from the others.
    spans.lock().unwrap_or_else(PoisonError::into_inner)
}

struct TraceReceiver {
    spans: Arc<Mutex<Vec<CollectedSpan>>>,
}

#[tonic::async_trait]
impl TraceService for TraceReceiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut received = Vec::new();
        for resource_spans in request.into_inner().resource_spans {
            collect_resource_spans(resource_spans, &mut received);
        }
        lock(&self.spans).extend(received);
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

fn collect_resource_spans(resource_spans: ResourceSpans, into: &mut Vec<CollectedSpan>) {
    let service_name = resource_spans
        .resource
        .map(|resource| attributes(resource.attributes))
        .and_then(|resource| match resource.get("service.name") {
            Some(AttributeValue::String(name)) => Some(name.clone()),
            _ => None,
        })
        .unwrap_or_default();
    for scope_spans in resource_spans.scope_spans {
        let scope_name = scope_spans
            .scope
            .map(|scope| scope.name)
            .unwrap_or_default();
        for span in scope_spans.spans {
            into.push(collected_span(
                span,
                &service_name,
                &scope_name,
                &scope_spans.schema_url,
            ));
        }
    }
}

fn collected_span(
    span: Span,
    service_name: &str,
    scope_name: &str,
    scope_schema_url: &str,
) -> CollectedSpan {
    let (status_code, status_message) = match span.status {
        Some(status) => (status_code(status.code), status.message),
        None => (StatusCode::Unset, String::new()),
    };
    CollectedSpan {
        trace_id: hex::encode(span.trace_id),
        span_id: hex::encode(span.span_id),
        parent_span_id: hex::encode(span.parent_span_id),
        name: span.name,
        kind: span_kind(span.kind),
        attributes: attributes(span.attributes),
        status_code,
        status_message,
        events: span
            .events
            .into_iter()
            .map(|event| CollectedEvent {
                name: event.name,
                attributes: attributes(event.attributes),
            })
            .collect(),
        links: span
            .links
            .into_iter()
            .map(|link| CollectedLink {
                trace_id: hex::encode(link.trace_id),
                span_id: hex::encode(link.span_id),
                attributes: attributes(link.attributes),
            })
            .collect(),
        service_name: service_name.to_owned(),
        scope_name: scope_name.to_owned(),
        scope_schema_url: scope_schema_url.to_owned(),
        start_time_unix_nano: span.start_time_unix_nano,
        end_time_unix_nano: span.end_time_unix_nano,
    }
}

fn span_kind(kind: i32) -> SpanKind {
    match ProtoSpanKind::try_from(kind) {
        Ok(ProtoSpanKind::Internal) => SpanKind::Internal,
        Ok(ProtoSpanKind::Server) => SpanKind::Server,
        Ok(ProtoSpanKind::Client) => SpanKind::Client,
        Ok(ProtoSpanKind::Producer) => SpanKind::Producer,
        Ok(ProtoSpanKind::Consumer) => SpanKind::Consumer,
        Ok(ProtoSpanKind::Unspecified) | Err(_) => SpanKind::Unspecified,
    }
}

fn status_code(code: i32) -> StatusCode {
    match ProtoStatusCode::try_from(code) {
        Ok(ProtoStatusCode::Ok) => StatusCode::Ok,
        Ok(ProtoStatusCode::Error) => StatusCode::Error,
        Ok(ProtoStatusCode::Unset) | Err(_) => StatusCode::Unset,
    }
}

fn attributes(key_values: Vec<KeyValue>) -> BTreeMap<String, AttributeValue> {
    key_values
        .into_iter()
        .map(|key_value| (key_value.key, attribute_value(key_value.value)))
        .collect()
}

fn attribute_value(value: Option<AnyValue>) -> AttributeValue {
    match value.and_then(|value| value.value) {
        Some(ProtoValue::StringValue(value)) => AttributeValue::String(value),
        Some(ProtoValue::BoolValue(value)) => AttributeValue::Bool(value),
        Some(ProtoValue::IntValue(value)) => AttributeValue::Int(value),
        Some(ProtoValue::DoubleValue(value)) => AttributeValue::Double(value),
        Some(ProtoValue::BytesValue(value)) => AttributeValue::Bytes(value),
        Some(ProtoValue::ArrayValue(array)) => AttributeValue::Array(
            array
                .values
                .into_iter()
                .map(|value| attribute_value(Some(value)))
                .collect(),
        ),
        Some(ProtoValue::KvlistValue(list)) => AttributeValue::Map(attributes(list.values)),
        // String-table references are a profiles feature; trace exporters never send them.
        Some(ProtoValue::StringValueStrindex(_)) | None => AttributeValue::Empty,
    }
}
