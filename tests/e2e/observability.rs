//! What SREs see of an order, with every service in its own process: one story in the traces across a
//! restart of orders, log lines that point into those traces, and metrics that move with the work.

#![allow(clippy::expect_used, reason = "a failed setup step is a failed test")]

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use tenure_e2e::ServiceProcess;
use tenure_grpc::ServiceKind;
use tenure_proto::orders::v1 as pb;
use tenure_testkit::{AttributeValue, CollectedSpan, OtlpCollector, SpanKind};
use uuid::Uuid;

use crate::stack::{As, Stack};

/// A new-account order that stops at a manual step for operations (it names a support contact).
fn new_account_with_task(email: &str, name: &str) -> pb::create_order_request::Details {
    pb::create_order_request::Details::NewAccount(pb::NewAccountOrder {
        root_email: email.to_owned(),
        account_name: name.to_owned(),
        support_contact: "support-desk".to_owned(),
    })
}

fn process(processes: &mut [ServiceProcess], kind: ServiceKind) -> &mut ServiceProcess {
    processes
        .iter_mut()
        .find(|process| process.kind() == kind)
        .expect("process")
}

fn text(value: &AttributeValue) -> String {
    format!("{value:?}")
}

#[tokio::test]
async fn one_order_is_one_story_in_the_traces_and_logs_of_four_processes_across_a_restart() {
    let collector = OtlpCollector::start().expect("collector");
    let endpoint = collector.endpoint();
    let (stack, mut processes) = Stack::start_as_processes(|config| {
        config.telemetry.otlp_endpoint = Some(endpoint.clone());
        config.telemetry.log_filter = "info".to_owned();
        config.telemetry.log_format = tenure_telemetry::LogFormat::Json;
    })
    .await;
    let seeded = stack.seed(0).await;
    let unique = Uuid::new_v4().simple().to_string();
    let email = format!("story-{}@example.com", &unique[..12]);
    let account_name = format!("Story workload {}", &unique[..8]);
    let created = stack
        .place(
            seeded.tenant,
            pb::create_order_request::Details::NewAccount(pb::NewAccountOrder {
                root_email: email.clone(),
                account_name: account_name.clone(),
                support_contact: String::new(),
            }),
        )
        .await
        .expect("new account");
    let account = stack
        .await_status(seeded.tenant, &created.id, pb::OrderStatus::Completed, true)
        .await
        .aws_account_id;

    // The story: closing that account, which runs through all four services.
    let order = stack
        .place(
            seeded.tenant,
            pb::create_order_request::Details::Terminate(pb::TerminateOrder {
                aws_account_id: account,
                mode: tenure_proto::common::v1::TerminationMode::Close as i32,
                acknowledgements: crate::orders::close_member_acknowledgements(),
                reason: "moving workloads elsewhere".to_owned(),
                acknowledged_open_balance: None,
            }),
        )
        .await
        .expect("termination");
    stack.first_open_task(&order.id).await;

    // Mid-story, orders is replaced, as a rolling deploy does: the rest runs in a new process.
    process(&mut processes, ServiceKind::Orders)
        .restart()
        .await
        .expect("restart orders");
    stack
        .await_status(seeded.tenant, &order.id, pb::OrderStatus::Completed, true)
        .await;
    // A graceful stop flushes every span still in a batch.
    for process in &mut processes {
        process.stop().await.expect("stop");
    }

    let spans = collector.spans();
    let by_id: BTreeMap<(&str, &str), &CollectedSpan> = spans
        .iter()
        .map(|span| ((span.trace_id.as_str(), span.span_id.as_str()), span))
        .collect();
    let names_order =
        |span: &CollectedSpan| span.str_attribute("tenure.order_id") == Some(&order.id);
    let story: BTreeSet<&str> = spans
        .iter()
        .filter(|span| names_order(span))
        .map(|span| span.trace_id.as_str())
        .collect();
    let story_spans: Vec<&CollectedSpan> = spans
        .iter()
        .filter(|span| story.contains(span.trace_id.as_str()))
        .collect();

    // The order was placed in one trace; every later run of its saga is a trace of its own, linked
    // to that one, before and after the restart.
    let placed = story_spans
        .iter()
        .find(|span| {
            span.kind == SpanKind::Server
                && span.name == "tenure.orders.v1.OrderService/CreateOrder"
        })
        .expect("the CreateOrder span");
    // The operator's part of the story is found by the order too.
    assert!(
        story_spans.iter().any(|span| {
            span.kind == SpanKind::Server
                && span.name == "tenure.orders.v1.OrderService/CompleteTask"
        }),
        "the operator's CompleteTask names the order"
    );
    let runs: Vec<&&CollectedSpan> = story_spans
        .iter()
        .filter(|span| span.name.starts_with("saga.step ") && span.is_root())
        .collect();
    assert!(
        runs.len() >= 2,
        "the saga ran before and after the restart: {runs:#?}"
    );
    for run in &runs {
        assert!(
            run.links
                .iter()
                .any(|link| link.trace_id == placed.trace_id && link.span_id == placed.span_id),
            "a resumed step links to the request that placed the order: {run:#?}"
        );
    }
    let services: BTreeSet<&str> = story_spans
        .iter()
        .filter(|span| span.kind == SpanKind::Server)
        .map(|span| span.name.split('/').next().unwrap_or_default())
        .collect();
    for package in [
        "tenure.orders.v1.",
        "tenure.accounts.v1.",
        "tenure.provisioning.v1.",
        "tenure.purge.v1.",
    ] {
        assert!(
            services.iter().any(|name| name.starts_with(package)),
            "the story reaches {package}: {services:?}"
        );
    }

    for span in &story_spans {
        // Every span names the order, and none is an orphan.
        assert!(
            names_order(span),
            "a span of the story without the order id: {span:#?}"
        );
        if !span.is_root() {
            let parent = by_id
                .get(&(span.trace_id.as_str(), span.parent_span_id.as_str()))
                .unwrap_or_else(|| panic!("an orphan span: {span:#?}"));
            // Every hop: a SERVER span hangs off the CLIENT span of the same call.
            if span.kind == SpanKind::Server {
                assert_eq!(parent.kind, SpanKind::Client, "{span:#?}");
                assert_eq!(parent.name, span.name);
            }
        }
        if span.kind == SpanKind::Client {
            let answered = story_spans.iter().any(|server| {
                server.kind == SpanKind::Server
                    && server.trace_id == span.trace_id
                    && server.parent_span_id == span.span_id
                    && server.name == span.name
            });
            assert!(answered, "a call without its SERVER span: {span:#?}");
            for key in [
                "rpc.system",
                "rpc.service",
                "rpc.method",
                "rpc.grpc.status_code",
            ] {
                assert!(span.attribute(key).is_some(), "{key} missing: {span:#?}");
            }
        }
    }

    // No span, of the story or any other, carries the customer's personal data.
    for span in &spans {
        for (key, value) in &span.attributes {
            let value = text(value);
            for secret in [
                &email,
                &account_name,
                &seeded.admin_email,
                &seeded.admin_name,
            ] {
                assert!(
                    !value.contains(secret.as_str()),
                    "{key} of {} leaks {secret}",
                    span.name
                );
            }
        }
    }

    // Logs are JSON, and the trace ids on them point at exported spans.
    let mut story_lines = 0;
    for process in &processes {
        for line in process.log_lines().expect("log") {
            let record: serde_json::Value = serde_json::from_str(&line)
                .unwrap_or_else(|error| panic!("a log line that is not JSON ({error}): {line}"));
            let (Some(trace_id), Some(span_id)) = (
                record.get("trace_id").and_then(|value| value.as_str()),
                record.get("span_id").and_then(|value| value.as_str()),
            ) else {
                continue;
            };
            assert!(
                by_id.contains_key(&(trace_id, span_id)),
                "a log line names a span that was never exported: {line}"
            );
            if story.contains(trace_id) {
                story_lines += 1;
            }
        }
    }
    assert!(
        story_lines > 0,
        "no log line of the order's story carries its trace"
    );
    stack.owners.shutdown().await;
}

/// The value of the series `name{labels}` in a scrape, where `labels` are some of its labels.
fn sample(scrape: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    scrape.lines().find_map(|line| {
        let (series, value) = line.rsplit_once(' ')?;
        let (series_name, series_labels) = series.split_once('{').unwrap_or((series, ""));
        let wanted = series_name == name
            && labels
                .iter()
                .all(|(key, value)| series_labels.contains(&format!("{key}=\"{value}\"")));
        wanted.then(|| value.parse().ok()).flatten()
    })
}

async fn scrape(process: &ServiceProcess) -> String {
    let url = process.metrics_url().trim_start_matches("http://");
    let (address, path) = url.split_once('/').expect("metrics path");
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("metrics listener");
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    stream
        .write_all(
            format!("GET /{path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await
        .expect("request");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .await
        .expect("response");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    response
}

/// Scrapes `process` until `holds` is true of the scrape (gauges are refreshed on an interval).
async fn scrape_until(
    process: &ServiceProcess,
    what: &str,
    holds: impl Fn(&str) -> bool,
) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let scraped = scrape(process).await;
        if holds(&scraped) {
            return scraped;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what} never showed on {}:\n{scraped}",
            process.metrics_url()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn each_service_exposes_metrics_that_move_with_the_orders() {
    let (stack, mut processes) = Stack::start_as_processes(|config| {
        config.orders.settings.engine.gauge_interval_ms = 200;
    })
    .await;
    let seeded = stack.seed(0).await;

    // Before anything happened, counters read 0 rather than nothing, and the benchmark's saga kind
    // is nowhere.
    let orders = process(&mut processes, ServiceKind::Orders);
    let first = scrape_until(orders, "the first gauge sample", |scraped| {
        sample(scraped, "saga_active", &[("kind", "account_create")]).is_some()
    })
    .await;
    for (name, labels) in [
        ("saga_compensations_total", [("kind", "account_create")]),
        (
            "saga_compensations_total",
            [("kind", "account_termination")],
        ),
        ("auth_failures_total", [("reason", "expired")]),
        ("rate_limited_total", [("reason", "tenant_rate")]),
    ] {
        assert_eq!(sample(&first, name, &labels), Some(0.0), "{name}:\n{first}");
    }
    assert!(!first.contains("kind=\"probe\""), "{first}");

    // Provisioning is away while the first order starts: its steps fail and are retried.
    process(&mut processes, ServiceKind::Provisioning)
        .stop()
        .await
        .expect("stop provisioning");
    let cancelled = stack
        .place(
            seeded.tenant,
            new_account_with_task("metrics-1@example.com", "Metrics workload"),
        )
        .await
        .expect("order");
    let orders = process(&mut processes, ServiceKind::Orders);
    scrape_until(orders, "a step retry", |scraped| {
        sample(
            scraped,
            "saga_step_retries_total",
            &[("kind", "account_create")],
        )
        .is_some_and(|retries| retries >= 1.0)
    })
    .await;
    // The customer gives up before the point of no return: the saga turns to undoing.
    stack
        .cancel_order(&As::Customer(seeded.tenant), &cancelled.id)
        .await
        .expect("cancel");
    scrape_until(orders, "a compensation", |scraped| {
        sample(
            scraped,
            "saga_compensations_total",
            &[("kind", "account_create")],
        ) == Some(1.0)
    })
    .await;
    process(&mut processes, ServiceKind::Provisioning)
        .restart()
        .await
        .expect("start provisioning");
    stack
        .await_status(
            seeded.tenant,
            &cancelled.id,
            pb::OrderStatus::Cancelled,
            false,
        )
        .await;
    let order = stack
        .place(
            seeded.tenant,
            new_account_with_task("metrics-2@example.com", "Metrics workload"),
        )
        .await
        .expect("order");

    // The saga waits for operations: one active saga in status manual, and a subscriber reads.
    let task = stack.first_open_task(&order.id).await;
    let mut events = stack
        .subscribe_from_beginning(stack.order_events().await, &As::Billing, 0)
        .await;
    // A delivery is what the lag histogram counts; heartbeats come first while other tests'
    // transactions on the shared server hold the stream's horizon back.
    tokio::time::timeout(Duration::from_secs(60), async {
        while events
            .message()
            .await
            .expect("stream")
            .expect("open")
            .events
            .is_empty()
        {}
    })
    .await
    .expect("a batch of events in time");
    let orders = process(&mut processes, ServiceKind::Orders);
    let waiting = scrape_until(orders, "the waiting saga and the subscriber", |scraped| {
        sample(
            scraped,
            "saga_active",
            &[("kind", "account_create"), ("status", "manual")],
        ) == Some(1.0)
            && sample(scraped, "order_stream_subscribers", &[]) == Some(1.0)
    })
    .await;
    assert_eq!(
        sample(
            &waiting,
            "saga_compensations_stuck",
            &[("kind", "account_create")]
        ),
        Some(0.0)
    );
    drop(events);
    stack
        .complete_task(&As::Operator, &task.id, pb::TaskOutcome::Completed, "")
        .await
        .expect("complete task");
    stack
        .await_status(seeded.tenant, &order.id, pb::OrderStatus::Completed, false)
        .await;

    let orders = process(&mut processes, ServiceKind::Orders);
    let done = scrape_until(orders, "no active saga and no subscriber", |scraped| {
        sample(
            scraped,
            "saga_active",
            &[("kind", "account_create"), ("status", "manual")],
        ) == Some(0.0)
            && sample(scraped, "order_stream_subscribers", &[]) == Some(0.0)
    })
    .await;
    // RED per RPC on both sides of orders' calls, and how late parked sagas woke.
    assert_eq!(
        sample(
            &done,
            "grpc_server_handled_total",
            &[("grpc_method", "CreateOrder"), ("grpc_code", "OK")]
        ),
        Some(2.0)
    );
    assert!(
        sample(
            &done,
            "grpc_client_handled_total",
            &[
                ("grpc_service", "tenure.provisioning.v1.ProvisioningService"),
                ("grpc_code", "Unavailable")
            ]
        )
        .is_some_and(|failed| failed >= 1.0),
        "orders counted its failed calls to provisioning:\n{done}"
    );
    assert!(
        sample(
            &done,
            "saga_wake_lateness_seconds_count",
            &[("kind", "account_create")]
        )
        .is_some_and(|count| count >= 1.0)
    );
    assert!(
        sample(&done, "order_stream_delivery_lag_seconds_count", &[])
            .is_some_and(|count| count >= 1.0)
    );
    assert_eq!(
        sample(&done, "order_stream_held_back_events", &[]).map(|held| held >= 0.0),
        Some(true)
    );
    // No series is labelled by tenant, order or saga.
    for line in done.lines().filter(|line| !line.starts_with('#')) {
        for id in [seeded.tenant.to_string(), order.id.clone()] {
            assert!(!line.contains(&id), "a series names {id}: {line}");
        }
        // Label names only: `rate_limited_total{reason="tenant_rate"}` names a kind of limit.
        let labels = line
            .split_once('{')
            .and_then(|(_, rest)| rest.rsplit_once('}'))
            .map_or("", |(labels, _)| labels);
        for pair in labels.split("\",") {
            let name = pair.split('=').next().unwrap_or_default();
            assert!(!name.contains("tenant"), "a tenant label: {line}");
        }
    }

    // The other three served the saga's calls and count them on their own endpoints.
    for (kind, service) in [
        (ServiceKind::Accounts, "tenure.accounts.v1.AccountService"),
        (
            ServiceKind::Provisioning,
            "tenure.provisioning.v1.ProvisioningService",
        ),
    ] {
        let scraped = scrape(process(&mut processes, kind)).await;
        assert!(
            sample(
                &scraped,
                "grpc_server_handled_total",
                &[("grpc_service", service), ("grpc_code", "OK")]
            )
            .is_some_and(|handled| handled >= 1.0),
            "{kind} counted the calls it served:\n{scraped}"
        );
    }
    let purge = scrape(process(&mut processes, ServiceKind::DataPurge)).await;
    assert_eq!(sample(&purge, "purge_overdue", &[]), Some(0.0), "{purge}");
    assert_eq!(
        sample(&purge, "purge_residual_rows", &[]),
        Some(0.0),
        "{purge}"
    );
    for process in &mut processes {
        process.stop().await.expect("stop");
    }
    stack.owners.shutdown().await;
}
