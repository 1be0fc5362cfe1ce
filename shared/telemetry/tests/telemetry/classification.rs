use tenure_testkit::{CollectedSpan, SpanKind, StatusCode};

use crate::SPAN_WAIT;

const SERVICE: &str = "tenure.test.v1.Classification";

/// quality.md §5.5: a server fails only on these; a client fails on every code but OK.
const SERVER_ERRORS: [&str; 6] = [
    "UNKNOWN",
    "DEADLINE_EXCEEDED",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
];

#[test]
fn the_server_error_set_is_the_quality_bar_one() {
    let server_errors: Vec<&str> = (0..=16)
        .filter(|code| tenure_telemetry::is_grpc_server_error(*code))
        .map(tenure_telemetry::grpc_code_name)
        .collect();
    assert_eq!(server_errors, SERVER_ERRORS);
}

#[tokio::test]
async fn exported_spans_follow_the_classification_table() {
    let telemetry = tenure_testkit::global_telemetry();
    for code in 0..=16 {
        let method = tenure_telemetry::grpc_code_name(code);
        for is_server in [true, false] {
            let span = if is_server {
                tenure_telemetry::server_span("tenure-test", SERVICE, method)
            } else {
                tenure_telemetry::client_span("tenure-test", SERVICE, method)
            };
            tenure_telemetry::record_server_address(&span, "127.0.0.1", 50051);
            tenure_telemetry::record_grpc_status(&span, code, is_server);
        }
    }
    telemetry.flush().unwrap();
    let of_this_test = |spans: &[CollectedSpan]| -> Vec<CollectedSpan> {
        spans
            .iter()
            .filter(|span| span.str_attribute("rpc.service") == Some(SERVICE))
            .cloned()
            .collect()
    };
    let spans = telemetry
        .collector()
        .wait_for_spans(|spans| of_this_test(spans).len() == 34, SPAN_WAIT)
        .await;
    let spans = of_this_test(&spans);
    assert_eq!(spans.len(), 34);

    for span in spans {
        let code_name = span.str_attribute("rpc.method").unwrap().to_owned();
        let expect_error = match span.kind {
            SpanKind::Server => SERVER_ERRORS.contains(&code_name.as_str()),
            SpanKind::Client => code_name != "OK",
            other => panic!("unexpected kind {other:?}"),
        };
        let context = format!("{:?} span for {code_name}", span.kind);
        assert_eq!(span.name, format!("{SERVICE}/{code_name}"), "{context}");
        assert_eq!(span.str_attribute("rpc.system"), Some("grpc"), "{context}");
        assert_eq!(
            span.str_attribute("rpc.response.status_code"),
            Some(code_name.as_str()),
            "{context}"
        );
        let code = span.int_attribute("rpc.grpc.status_code").unwrap();
        assert_eq!(
            tenure_telemetry::grpc_code_name(i32::try_from(code).unwrap()),
            code_name,
            "{context}"
        );
        assert_eq!(
            span.str_attribute("server.address"),
            Some("127.0.0.1"),
            "{context}"
        );
        assert_eq!(span.int_attribute("server.port"), Some(50051), "{context}");
        if expect_error {
            assert_eq!(span.status_code, StatusCode::Error, "{context}");
            assert_eq!(
                span.str_attribute("error.type"),
                Some(code_name.as_str()),
                "{context}"
            );
        } else {
            assert_eq!(span.status_code, StatusCode::Unset, "{context}");
            assert_eq!(span.attribute("error.type"), None, "{context}");
        }
    }
}
