//! The JSON log layer (quality.md §5.7): one object per line with `ts`, `level`, `target`, `message`,
//! `service.name`, `service.version`, `trace_id`, `span_id`, the correlation ids recorded on enclosing
//! spans and the event's own fields. Nothing else is written: no request metadata, no span names.

use std::fmt;
use std::io::Write;
use std::sync::OnceLock;

use chrono::{DateTime, SecondsFormat, Utc};
use opentelemetry::trace::{SpanContext, TraceContextExt};
use serde::Serializer;
use serde::ser::SerializeMap;
use serde_json::Value;
use tracing::dispatcher::WeakDispatch;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Dispatch, Event, Subscriber};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

/// Span fields copied onto every log line inside the span, and the key each gets in the line.
const CORRELATION_FIELDS: [(&str, &str); 5] = [
    ("tenure.tenant_id", "tenant_id"),
    ("tenure.order_id", "order_id"),
    ("tenure.saga_id", "saga_id"),
    ("tenure.purge_id", "purge_id"),
    ("rpc.method", "rpc.method"),
];

/// Keys the layer writes itself; an event field with one of these names is dropped, so a line never
/// holds a key twice.
const RESERVED_KEYS: [&str; 8] = [
    "ts",
    "level",
    "target",
    "message",
    "service.name",
    "service.version",
    "trace_id",
    "span_id",
];

/// Writes each event as one JSON line to `make_writer`.
pub(crate) struct JsonLogLayer<W> {
    make_writer: W,
    service_name: String,
    service_version: String,
    /// The dispatch this layer belongs to, to read span contexts from the OpenTelemetry layer.
    dispatch: OnceLock<WeakDispatch>,
}

impl<W> JsonLogLayer<W> {
    pub(crate) fn new(make_writer: W, service_name: &str, service_version: &str) -> Self {
        Self {
            make_writer,
            service_name: service_name.to_owned(),
            service_version: service_version.to_owned(),
            dispatch: OnceLock::new(),
        }
    }
}

/// The correlation ids a span recorded, kept in its extensions.
#[derive(Default)]
struct SpanCorrelation {
    fields: Vec<(&'static str, String)>,
}

impl Visit for SpanCorrelation {
    fn record_str(&mut self, field: &Field, value: &str) {
        if let Some(key) = correlation_key(field.name()) {
            self.set(key, value.to_owned());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if let Some(key) = correlation_key(field.name()) {
            self.set(key, format!("{value:?}"));
        }
    }
}

impl SpanCorrelation {
    fn set(&mut self, key: &'static str, value: String) {
        match self
            .fields
            .iter_mut()
            .find(|(existing, _)| *existing == key)
        {
            Some(entry) => entry.1 = value,
            None => self.fields.push((key, value)),
        }
    }
}

fn correlation_key(field_name: &str) -> Option<&'static str> {
    CORRELATION_FIELDS
        .iter()
        .find(|(name, _)| *name == field_name)
        .map(|(_, key)| *key)
}

/// An event's fields, in the order they were recorded.
#[derive(Default)]
struct EventFields {
    message: Option<String>,
    fields: Vec<(String, Value)>,
}

impl EventFields {
    fn push(&mut self, field: &Field, value: Value) {
        let name = field.name();
        if name == "message" {
            self.message = Some(match value {
                Value::String(text) => text,
                other => other.to_string(),
            });
            return;
        }
        if RESERVED_KEYS.contains(&name) {
            return;
        }
        let key = correlation_key(name).unwrap_or(name);
        self.fields.push((key.to_owned(), value));
    }
}

impl Visit for EventFields {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.push(field, Value::from(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.push(field, Value::from(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.push(field, Value::from(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.push(field, Value::from(value));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.push(field, Value::from(value));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        let mut text = value.to_string();
        let mut source = value.source();
        while let Some(cause) = source {
            text.push_str(": ");
            text.push_str(&cause.to_string());
            source = cause.source();
        }
        self.push(field, Value::from(text));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.push(field, Value::from(format!("{value:?}")));
    }
}

impl<S, W> tracing_subscriber::Layer<S> for JsonLogLayer<W>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + 'static,
{
    fn on_register_dispatch(&self, subscriber: &Dispatch) {
        let _ = self.dispatch.set(subscriber.downgrade());
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut correlation = SpanCorrelation::default();
        attrs.record(&mut correlation);
        if correlation.fields.is_empty() {
            return;
        }
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(correlation);
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else {
            return;
        };
        let mut extensions = span.extensions_mut();
        match extensions.get_mut::<SpanCorrelation>() {
            Some(correlation) => values.record(correlation),
            None => {
                let mut correlation = SpanCorrelation::default();
                values.record(&mut correlation);
                if !correlation.fields.is_empty() {
                    extensions.insert(correlation);
                }
            }
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut fields = EventFields::default();
        event.record(&mut fields);
        let line = LogLine {
            ts: now(),
            level: event.metadata().level().as_str(),
            target: event.metadata().target(),
            message: fields.message.as_deref().unwrap_or_default(),
            service_name: &self.service_name,
            service_version: &self.service_version,
            span_context: self.span_context(event, &ctx),
            correlation: correlation_of(event, &ctx),
            fields: &fields.fields,
        };
        let Ok(bytes) = line.to_json() else {
            return;
        };
        // A log line that cannot be written has nowhere else to go.
        let _ = self
            .make_writer
            .make_writer_for(event.metadata())
            .write_all(&bytes);
    }
}

impl<W> JsonLogLayer<W> {
    /// The OpenTelemetry context of the innermost enclosing span the tracing layer knows about.
    ///
    /// tracing-opentelemetry 0.34 keeps its per-span data private; `get_otel_context` reads it through
    /// the dispatch, which this layer captured when it was registered (the thread's default dispatch
    /// cannot be asked for from inside an event callback).
    fn span_context<S>(&self, event: &Event<'_>, ctx: &Context<'_, S>) -> Option<SpanContext>
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        let dispatch = self.dispatch.get()?.upgrade()?;
        let scope = ctx.event_scope(event)?;
        for span in scope {
            let Some(cx) = tracing_opentelemetry::get_otel_context(&span.id(), &dispatch) else {
                continue;
            };
            let span_context = cx.span().span_context().clone();
            if span_context.is_valid() {
                return Some(span_context);
            }
        }
        None
    }
}

/// The correlation ids of the enclosing spans; an inner span's value wins.
fn correlation_of<S>(event: &Event<'_>, ctx: &Context<'_, S>) -> Vec<(&'static str, String)>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let mut merged: Vec<(&'static str, String)> = Vec::new();
    let Some(scope) = ctx.event_scope(event) else {
        return merged;
    };
    for span in scope {
        let extensions = span.extensions();
        let Some(correlation) = extensions.get::<SpanCorrelation>() else {
            continue;
        };
        for (key, value) in &correlation.fields {
            if !merged.iter().any(|(existing, _)| existing == key) {
                merged.push((key, value.clone()));
            }
        }
    }
    merged
}

#[allow(
    clippy::disallowed_methods,
    reason = "a log line's timestamp is wall-clock time by definition; no test moves it"
)]
fn now() -> DateTime<Utc> {
    Utc::now()
}

struct LogLine<'a> {
    ts: DateTime<Utc>,
    level: &'a str,
    target: &'a str,
    message: &'a str,
    service_name: &'a str,
    service_version: &'a str,
    span_context: Option<SpanContext>,
    correlation: Vec<(&'static str, String)>,
    fields: &'a [(String, Value)],
}

impl LogLine<'_> {
    fn to_json(&self) -> Result<Vec<u8>, serde_json::Error> {
        let mut bytes = Vec::with_capacity(256);
        let mut serializer = serde_json::Serializer::new(&mut bytes);
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("ts", &self.ts.to_rfc3339_opts(SecondsFormat::Micros, true))?;
        map.serialize_entry("level", self.level)?;
        map.serialize_entry("target", self.target)?;
        map.serialize_entry("message", self.message)?;
        map.serialize_entry("service.name", self.service_name)?;
        map.serialize_entry("service.version", self.service_version)?;
        if let Some(span_context) = &self.span_context {
            map.serialize_entry("trace_id", &span_context.trace_id().to_string())?;
            map.serialize_entry("span_id", &span_context.span_id().to_string())?;
        }
        // The event's own value for a correlation id wins over the enclosing span's.
        for (key, value) in &self.correlation {
            if !self.fields.iter().any(|(name, _)| name == key) {
                map.serialize_entry(key, value)?;
            }
        }
        let mut written: Vec<&str> = Vec::with_capacity(self.fields.len());
        for (key, value) in self.fields {
            if !written.contains(&key.as_str()) {
                written.push(key);
                map.serialize_entry(key, value)?;
            }
        }
        map.end()?;
        bytes.push(b'\n');
        Ok(bytes)
    }
}
