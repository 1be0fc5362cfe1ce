//! deploy/prometheus and deploy/grafana against the real thing: promtool accepts the rules, the
//! Prometheus configuration and a scrape of `tenure up`, and every metric the alerts and the dashboard
//! name is one that Tenure exports.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Stdio;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::process::Command;

use tenure_testkit::grpc::{call_empty, channel, wait_until_serving};

use crate::up::Up;

fn deploy(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../deploy")
        .join(path)
}

/// promtool from Debian's prometheus package, which tests/run.sh installs and names.
fn promtool() -> Command {
    let mut command = Command::new(tenure_testkit::promtool());
    command.stdin(Stdio::null()).kill_on_drop(true);
    command
}

/// Runs promtool with `args` (and `input` on its standard input); panics with its report unless it
/// succeeds.
async fn promtool_accepts(args: &[&str], input: Option<&str>) -> String {
    let mut command = promtool();
    command
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if input.is_some() {
        command.stdin(Stdio::piped());
    }
    let mut child = command
        .spawn()
        .expect("promtool (Debian's prometheus package; tests/run.sh installs it)");
    if let (Some(input), Some(mut stdin)) = (input, child.stdin.take()) {
        stdin
            .write_all(input.as_bytes())
            .await
            .expect("to promtool");
    }
    let output = child.wait_with_output().await.expect("promtool ran");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "promtool {args:?}:\n{report}");
    report
}

/// The metric names a PromQL expression reads: identifiers that are neither functions, keywords,
/// label names in `{..}` or `by (..)`, nor recorded series (`a:b:c`).
fn metric_names(expr: &str) -> Vec<String> {
    let mut names = Vec::new();
    let chars: Vec<char> = expr.chars().collect();
    let mut index = 0;
    while index < chars.len() {
        let c = chars[index];
        if c == '{' || c == '[' || c == '"' {
            let close = match c {
                '{' => '}',
                '[' => ']',
                _ => '"',
            };
            index += 1;
            while index < chars.len() && chars[index] != close {
                index += 1;
            }
            index += 1;
            continue;
        }
        if !(c.is_ascii_alphabetic() || c == '_') {
            index += 1;
            continue;
        }
        let start = index;
        while index < chars.len()
            && (chars[index].is_ascii_alphanumeric() || chars[index] == '_' || chars[index] == ':')
        {
            index += 1;
        }
        let word: String = chars[start..index].iter().collect();
        let rest: String = chars[index..].iter().collect();
        let next = rest.trim_start();
        if matches!(word.as_str(), "by" | "without" | "on" | "ignoring") {
            // Skip the label list that follows.
            if let Some(close) = rest.find(')') {
                index += close + 1;
            }
        } else if !next.starts_with('(')
            && !word.contains(':')
            && !matches!(
                word.as_str(),
                "and"
                    | "or"
                    | "unless"
                    | "bool"
                    | "offset"
                    | "sum"
                    | "min"
                    | "max"
                    | "avg"
                    | "count"
                    | "group"
                    | "stddev"
                    | "stdvar"
                    | "topk"
                    | "bottomk"
                    | "quantile"
            )
        {
            names.push(word);
        }
    }
    names
}

/// Every `expr:` of a rules file, folded (`>-`) or on its line.
fn rule_expressions(rules: &str) -> Vec<String> {
    let lines: Vec<&str> = rules.lines().collect();
    let mut expressions = Vec::new();
    for (at, line) in lines.iter().enumerate() {
        let Some((indent, value)) = line.split_once("expr:") else {
            continue;
        };
        let value = value.trim();
        if value != ">-" && value != ">" {
            expressions.push(value.to_owned());
            continue;
        }
        let folded: Vec<&str> = lines[at + 1..]
            .iter()
            .take_while(|next| {
                next.len() - next.trim_start().len() > indent.len() && !next.trim().is_empty()
            })
            .map(|next| next.trim())
            .collect();
        expressions.push(folded.join(" "));
    }
    expressions
}

#[tokio::test]
async fn promtool_accepts_the_alert_rules_and_the_prometheus_configuration() {
    let rules = deploy("prometheus/alerts.yml");
    let report = promtool_accepts(&["check", "rules", rules.to_str().expect("path")], None).await;
    assert!(report.contains("SUCCESS"), "{report}");
    let config = deploy("prometheus/prometheus.yml");
    promtool_accepts(&["check", "config", config.to_str().expect("path")], None).await;
}

#[tokio::test]
async fn a_real_scrape_passes_promtool_and_has_every_metric_the_alerts_and_dashboard_use() {
    let up = Up::start().await;
    // One call, so that the RPC families have a series (their label sets are every method by code).
    let channel = channel(up.endpoints["accounts"]).await.expect("channel");
    wait_until_serving(&channel, "").await.expect("ready");
    let answer = call_empty(
        &channel,
        "/tenure.accounts.v1.AccountService/ListTenants",
        Some(&up.token),
    )
    .await;
    assert_eq!(answer.code(), tonic::Code::Ok, "{answer:?}");
    let url = up.metrics.trim_start_matches("http://");
    let (address, path) = url.split_once('/').expect("metrics path");
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("metrics listener");
    stream
        .write_all(
            format!(
                "GET /{path} HTTP/1.1\r\nHost: {address}\r\nAccept: text/plain;version=0.0.4\r\n\
                 Connection: close\r\n\r\n"
            )
            .as_bytes(),
        )
        .await
        .expect("request");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .await
        .expect("response");
    let (head, scrape) = response.split_once("\r\n\r\n").expect("head and body");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: text/plain; version=0.0.4"),
        "{head}"
    );
    promtool_accepts(&["check", "metrics"], Some(scrape)).await;

    let families: BTreeSet<&str> = scrape
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.split_whitespace().next())
        .collect();
    let exported = |name: &str| {
        families.contains(name)
            || ["_bucket", "_sum", "_count"]
                .iter()
                .filter_map(|suffix| name.strip_suffix(suffix))
                .any(|family| families.contains(family))
    };
    let rules = std::fs::read_to_string(deploy("prometheus/alerts.yml")).expect("rules");
    let dashboard: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(deploy("grafana/dashboards/tenure.json")).expect("dashboard"),
    )
    .expect("the dashboard is JSON");
    let mut expressions = rule_expressions(&rules);
    for panel in dashboard["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().into_iter().flatten() {
            expressions.push(target["expr"].as_str().expect("expr").to_owned());
        }
    }
    let used: BTreeSet<String> = expressions
        .iter()
        .flat_map(|expr| metric_names(expr))
        .collect();
    for required in [
        "saga_compensations_stuck",
        "purge_overdue",
        "purge_residual_rows",
        "order_stream_delivery_lag_seconds_bucket",
        "grpc_server_handled_total",
    ] {
        assert!(
            used.contains(required),
            "nothing watches {required}: {used:?}"
        );
    }
    // Series labelled by a step of a definition or by what a saga waited for appear with the first
    // retry or wake-up; every other name must be in a scrape of an idle stack.
    let first_seen_on_use = [
        "saga_step_retries_total",
        "saga_wake_lateness_seconds_bucket",
    ];
    let missing: Vec<&String> = used
        .iter()
        .filter(|name| !exported(name) && !first_seen_on_use.contains(&name.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "named in deploy/ but not exported: {missing:?}"
    );
}

#[test]
fn metric_names_skip_functions_labels_and_recorded_series() {
    assert_eq!(
        metric_names(
            "histogram_quantile(0.99, sum by (le) (rate(a_seconds_bucket{x=\"y\"}[5m]))) > 30 \
             and on (job) tenure:b:ratio > 0 or max(c_total)"
        ),
        ["a_seconds_bucket", "c_total"]
    );
}
