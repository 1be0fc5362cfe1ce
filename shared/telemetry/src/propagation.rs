//! W3C Trace Context over HTTP headers (tonic metadata is a `HeaderMap` underneath), quality.md §5.2.

use std::collections::HashMap;

use http::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{SpanContext, TraceContextExt};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing_opentelemetry::OpenTelemetrySpanExt;

const TRACEPARENT: &str = "traceparent";
const TRACESTATE: &str = "tracestate";

/// The remote context carried by `traceparent`/`tracestate` in `headers`; an empty context when they
/// are absent or malformed, so the span that takes it as parent starts a new trace.
pub fn extract_context(headers: &HeaderMap) -> opentelemetry::Context {
    TraceContextPropagator::new().extract(&HeaderExtractor(headers))
}

/// Writes `traceparent` (and `tracestate` when there is one) for `cx` into `headers`. Nothing is
/// written for a context without a valid span; a key or value that is not a valid header is skipped.
pub fn inject_context(cx: &opentelemetry::Context, headers: &mut HeaderMap) {
    TraceContextPropagator::new().inject_context(cx, &mut HeaderInjector(headers));
}

/// The current span's trace id in hex, for error messages a caller can quote to support; `None` outside
/// any span.
pub fn current_trace_id() -> Option<String> {
    let cx = tracing::Span::current().context();
    let span_context = cx.span().span_context().clone();
    span_context
        .is_valid()
        .then(|| span_context.trace_id().to_string())
}

/// The current span's context as `(traceparent, tracestate)`, so a saga or an outbox event can store the
/// context it was created under (quality.md §5.3); `tracestate` is empty when there is none. `None`
/// outside any span.
pub fn current_traceparent() -> Option<(String, String)> {
    let cx = tracing::Span::current().context();
    if !cx.span().span_context().is_valid() {
        return None;
    }
    let mut carrier = HashMap::new();
    TraceContextPropagator::new().inject_context(&cx, &mut carrier);
    let traceparent = carrier.remove(TRACEPARENT)?;
    let tracestate = carrier.remove(TRACESTATE).unwrap_or_default();
    Some((traceparent, tracestate))
}

/// The span context stored by [`current_traceparent`], to link a resumed saga step or an event consumer
/// to it (`OpenTelemetrySpanExt::add_link`); `None` when `traceparent` is malformed.
pub fn parse_traceparent(traceparent: &str, tracestate: &str) -> Option<SpanContext> {
    let carrier = HashMap::from([
        (TRACEPARENT.to_owned(), traceparent.to_owned()),
        (TRACESTATE.to_owned(), tracestate.to_owned()),
    ]);
    let cx = TraceContextPropagator::new().extract(&carrier);
    let span_context = cx.span().span_context().clone();
    span_context.is_valid().then_some(span_context)
}

struct HeaderExtractor<'a>(&'a HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(HeaderName::as_str).collect()
    }
}

struct HeaderInjector<'a>(&'a mut HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        let Ok(name) = HeaderName::from_bytes(key.as_bytes()) else {
            return;
        };
        let Ok(value) = HeaderValue::from_str(&value) else {
            return;
        };
        self.0.insert(name, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn a_traceparent_survives_extract_and_inject() {
        let mut incoming = HeaderMap::new();
        incoming.insert(TRACEPARENT, HeaderValue::from_static(SAMPLE));
        incoming.insert(TRACESTATE, HeaderValue::from_static("vendor=value"));
        let cx = extract_context(&incoming);

        let mut outgoing = HeaderMap::new();
        inject_context(&cx, &mut outgoing);
        assert_eq!(outgoing.get(TRACEPARENT).unwrap(), SAMPLE);
        assert_eq!(outgoing.get(TRACESTATE).unwrap(), "vendor=value");
    }

    #[test]
    fn malformed_headers_give_an_empty_context() {
        let mut incoming = HeaderMap::new();
        incoming.insert(TRACEPARENT, HeaderValue::from_static("00-zz-00-01"));
        let cx = extract_context(&incoming);
        assert!(!cx.span().span_context().is_valid());

        let mut outgoing = HeaderMap::new();
        inject_context(&cx, &mut outgoing);
        assert!(outgoing.is_empty());
    }

    #[test]
    fn a_stored_traceparent_parses_back() {
        let span_context = parse_traceparent(SAMPLE, "").unwrap();
        assert_eq!(
            span_context.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert!(span_context.is_remote());
        assert!(parse_traceparent("garbage", "").is_none());
    }
}
