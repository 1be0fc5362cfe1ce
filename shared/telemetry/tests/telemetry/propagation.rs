use http::HeaderMap;
use opentelemetry::trace::TraceContextExt;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::exported_span;

#[tokio::test]
async fn trace_context_crosses_a_hop_through_headers() {
    tenure_testkit::global_telemetry();
    let caller = tenure_telemetry::client_span("tenure-test", "tenure.test.v1.Propagation", "Call");
    let mut headers = HeaderMap::new();
    let (traceparent, trace_id) = {
        let _caller = caller.enter();
        tenure_telemetry::inject_context(&caller.context(), &mut headers);
        let (traceparent, tracestate) = tenure_telemetry::current_traceparent().unwrap();
        assert_eq!(tracestate, "");
        (traceparent, tenure_telemetry::current_trace_id().unwrap())
    };
    assert_eq!(headers["traceparent"], traceparent.as_str());

    // The receiving side, as the server layer does it.
    let parent = tenure_telemetry::extract_context(&headers);
    assert_eq!(
        parent.span().span_context().trace_id().to_string(),
        trace_id
    );
    let handler =
        tenure_telemetry::server_span("tenure-test", "tenure.test.v1.Propagation", "Call");
    handler.set_parent(parent).unwrap();
    drop(handler);
    drop(caller);

    let client = exported_span_of_kind(
        "tenure.test.v1.Propagation/Call",
        tenure_testkit::SpanKind::Client,
    )
    .await;
    let server = exported_span_of_kind(
        "tenure.test.v1.Propagation/Call",
        tenure_testkit::SpanKind::Server,
    )
    .await;
    assert_eq!(client.trace_id, trace_id);
    assert_eq!(server.trace_id, trace_id);
    assert_eq!(server.parent_span_id, client.span_id);

    // The stored form parses back to the caller's context, for span links.
    let stored = tenure_telemetry::parse_traceparent(&traceparent, "").unwrap();
    assert_eq!(stored.span_id().to_string(), client.span_id);
}

#[test]
fn outside_any_span_there_is_no_context_to_carry() {
    tenure_testkit::global_telemetry();
    assert_eq!(tenure_telemetry::current_trace_id(), None);
    assert_eq!(tenure_telemetry::current_traceparent(), None);
    let mut headers = HeaderMap::new();
    tenure_telemetry::inject_context(&opentelemetry::Context::new(), &mut headers);
    assert!(headers.is_empty());
}

async fn exported_span_of_kind(
    name: &str,
    kind: tenure_testkit::SpanKind,
) -> tenure_testkit::CollectedSpan {
    exported_span(name).await;
    tenure_testkit::global_telemetry()
        .collector()
        .spans()
        .into_iter()
        .find(|span| span.name == name && span.kind == kind)
        .unwrap_or_else(|| panic!("no {kind:?} span named {name}"))
}
