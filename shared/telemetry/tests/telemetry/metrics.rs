use std::net::SocketAddr;
use std::time::Duration;

use tenure_telemetry::RpcLabels;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// Status line, headers and body of one HTTP/1.1 exchange on a fresh connection.
async fn http_get(address: SocketAddr, path: &str, accept: Option<&str>) -> (String, String) {
    let mut stream = TcpStream::connect(address).await.unwrap();
    let accept = accept.map_or(String::new(), |accept| format!("Accept: {accept}\r\n"));
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: metrics\r\n{accept}Connection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    (head.to_owned(), body.to_owned())
}

/// What Prometheus 2.x and 3.x send: OpenMetrics first, the classic text format as a fallback.
const PROMETHEUS_ACCEPT: &str = "application/openmetrics-text;version=1.0.0;q=0.5,\
    application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";

/// Scrapes `/metrics` once with `accept`; returns the response head and body.
async fn scrape(accept: Option<&str>) -> (String, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    let scrape = async {
        let scraped = http_get(address, "/metrics", accept).await;
        shutdown.cancel();
        scraped
    };
    let (served, scraped) = tokio::join!(
        tenure_telemetry::serve_metrics(listener, shutdown.clone()),
        scrape
    );
    served.unwrap();
    scraped
}

#[tokio::test]
async fn a_scraper_that_does_not_ask_for_openmetrics_gets_the_classic_text_format() {
    tenure_telemetry::metrics().panic_caught();
    for accept in [Some("text/plain;version=0.0.4"), Some("*/*"), None] {
        let (head, body) = scrape(accept).await;
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert!(
            head.to_ascii_lowercase()
                .contains("content-type: text/plain; version=0.0.4; charset=utf-8"),
            "{accept:?}: {head}"
        );
        // In the classic format a counter's family is named like its samples.
        assert!(body.contains("# TYPE panics_total counter\n"), "{body}");
        assert!(body.contains("# HELP panics_total "), "{body}");
        assert!(body.contains("\npanics_total "), "{body}");
        assert!(!body.contains("# EOF"), "{body}");
        assert!(!body.contains("# TYPE panics counter"), "{body}");
    }
    let (head, body) = scrape(Some("application/openmetrics-text; version=1.0.0")).await;
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/openmetrics-text; version=1.0.0"),
        "{head}"
    );
    assert!(body.contains("# TYPE panics counter\n"), "{body}");
    assert!(body.ends_with("# EOF\n"), "{body}");
}

#[tokio::test]
async fn metrics_serves_the_red_families_and_nothing_else() {
    let server = RpcLabels::new("tenure.test.v1.MetricsProbe", "Probe", "unary");
    let metrics = tenure_telemetry::metrics();
    metrics.rpc_server_started(&server);
    metrics.rpc_server_handled(&server, "NOT_FOUND", Duration::from_millis(3));
    let client = RpcLabels::new("tenure.test.v1.MetricsProbe", "Watch", "server_stream");
    metrics.rpc_client_started(&client);
    metrics.rpc_client_handled(&client, "UNAVAILABLE", Duration::from_millis(700));
    metrics.auth_failure("metrics-probe");

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    let scrape = async {
        let scraped = http_get(address, "/metrics", Some(PROMETHEUS_ACCEPT)).await;
        let elsewhere = http_get(address, "/", None).await;
        shutdown.cancel();
        (scraped, elsewhere)
    };
    let (served, ((head, body), (missing_head, _))) = tokio::join!(
        tenure_telemetry::serve_metrics(listener, shutdown.clone()),
        scrape
    );
    served.unwrap();

    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/openmetrics-text; version=1.0.0"),
        "{head}"
    );
    assert!(missing_head.starts_with("HTTP/1.1 404"), "{missing_head}");

    let server_labels =
        r#"grpc_service="tenure.test.v1.MetricsProbe",grpc_method="Probe",grpc_type="unary""#;
    let client_labels = r#"grpc_service="tenure.test.v1.MetricsProbe",grpc_method="Watch",grpc_type="server_stream""#;
    for expected in [
        format!("grpc_server_started_total{{{server_labels}}} 1"),
        format!("grpc_server_handled_total{{{server_labels},grpc_code=\"NotFound\"}} 1"),
        format!("grpc_server_handling_seconds_bucket{{le=\"0.005\",{server_labels}}} 1"),
        format!("grpc_server_handling_seconds_count{{{server_labels}}} 1"),
        format!("grpc_client_started_total{{{client_labels}}} 1"),
        format!("grpc_client_handled_total{{{client_labels},grpc_code=\"Unavailable\"}} 1"),
        format!("grpc_client_handling_seconds_bucket{{le=\"0.5\",{client_labels}}} 0"),
        format!("grpc_client_handling_seconds_bucket{{le=\"1.0\",{client_labels}}} 1"),
        "auth_failures_total{reason=\"metrics-probe\"} 1".to_owned(),
        "# TYPE panics counter".to_owned(),
        "# TYPE grpc_server_handling_seconds histogram".to_owned(),
    ] {
        assert!(body.contains(&expected), "missing {expected} in:\n{body}");
    }
    assert!(body.ends_with("# EOF\n"));
}

#[tokio::test]
async fn services_register_their_own_metrics() {
    let gauge = tenure_telemetry::prometheus_client::metrics::gauge::Gauge::<i64>::default();
    tenure_telemetry::register(
        "test_registered_probe",
        "A probe registered by a test.",
        gauge.clone(),
    );
    gauge.set(3);
    assert!(tenure_telemetry::encode_metrics().contains("test_registered_probe 3\n"));
}

#[test]
fn every_limit_reason_is_exported_before_its_first_refusal() {
    // Nothing in this test binary refuses a call, so each series shows its initial 0: an alert on
    // `rate_limited_total` sees a number from the first scrape instead of no data.
    let text = tenure_telemetry::encode_metrics();
    for reason in tenure_telemetry::RateLimitReason::ALL {
        let series = format!("rate_limited_total{{reason=\"{}\"}} 0\n", reason.label());
        assert!(text.contains(&series), "missing {series} in:\n{text}");
    }
}
