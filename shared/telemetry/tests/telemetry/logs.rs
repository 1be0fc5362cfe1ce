use serde_json::Value;

use crate::exported_span;

/// The one log line whose `marker` field is `marker`.
fn log_line(marker: &str) -> Value {
    let lines: Vec<Value> = tenure_testkit::global_telemetry()
        .logs()
        .into_iter()
        .filter(|line| line["marker"] == marker)
        .collect();
    assert_eq!(lines.len(), 1, "log lines marked {marker}: {lines:?}");
    lines.into_iter().next().unwrap()
}

#[tokio::test]
async fn a_log_line_carries_the_ids_of_its_exported_span() {
    tenure_testkit::global_telemetry();
    let saga = tracing::info_span!(
        "logs.saga",
        tenure.order_id = "order-7",
        tenure.saga_id = tracing::field::Empty
    );
    saga.record("tenure.saga_id", "saga-9");
    {
        let _saga = saga.enter();
        tracing::info!(marker = "logs.in-saga", attempt = 2, "step started");
        let step = tracing::info_span!("logs.step", tenure.order_id = "order-8");
        let _step = step.enter();
        tracing::warn!(marker = "logs.in-step", "step slow");
    }
    drop(saga);

    let saga_span = exported_span("logs.saga").await;
    let step_span = exported_span("logs.step").await;

    let in_saga = log_line("logs.in-saga");
    assert_eq!(in_saga["trace_id"], saga_span.trace_id.as_str());
    assert_eq!(in_saga["span_id"], saga_span.span_id.as_str());
    assert_eq!(in_saga["order_id"], "order-7");
    assert_eq!(in_saga["saga_id"], "saga-9");
    assert_eq!(in_saga["attempt"], 2);
    assert_eq!(in_saga["message"], "step started");
    assert_eq!(in_saga["level"], "INFO");
    assert_eq!(in_saga["target"], module_path!());
    assert_eq!(in_saga["service.name"], "tenure");
    assert_eq!(in_saga["service.version"], env!("CARGO_PKG_VERSION"));
    let ts = in_saga["ts"].as_str().unwrap();
    assert!(ts.ends_with('Z'), "{ts}");
    chrono::DateTime::parse_from_rfc3339(ts).unwrap();

    // The inner span's id and its own order id win; the saga id comes from the enclosing span.
    let in_step = log_line("logs.in-step");
    assert_eq!(in_step["trace_id"], saga_span.trace_id.as_str());
    assert_eq!(in_step["span_id"], step_span.span_id.as_str());
    assert_eq!(step_span.parent_span_id, saga_span.span_id);
    assert_eq!(in_step["order_id"], "order-8");
    assert_eq!(in_step["saga_id"], "saga-9");
    assert_eq!(in_step["level"], "WARN");

    // Correlation ids travel on spans as attributes too (quality.md §5.1).
    assert_eq!(saga_span.str_attribute("tenure.order_id"), Some("order-7"));
    assert_eq!(saga_span.str_attribute("tenure.saga_id"), Some("saga-9"));
    assert_eq!(saga_span.service_name, "tenure");
    assert_eq!(
        saga_span.scope_schema_url,
        "https://opentelemetry.io/schemas/1.37.0"
    );
}

#[tokio::test]
async fn a_log_line_outside_any_span_has_no_trace_ids() {
    tenure_testkit::global_telemetry();
    tracing::info!(marker = "logs.outside", "service starting");

    let line = log_line("logs.outside");
    let mut keys: Vec<&str> = line
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "level",
            "marker",
            "message",
            "service.name",
            "service.version",
            "target",
            "ts"
        ]
    );
}

#[test]
fn a_second_init_fails_without_disturbing_the_first() {
    tenure_testkit::global_telemetry();
    let again = tenure_telemetry::init_with_writer(
        &tenure_telemetry::TelemetrySettings::default(),
        std::io::sink,
    );
    assert!(again.is_err());

    tracing::info!(marker = "logs.after-second-init", "still logging");
    log_line("logs.after-second-init");
}
