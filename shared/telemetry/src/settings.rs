use std::net::SocketAddr;

use serde::{Deserialize, Serialize};
use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One JSON object per line with trace ids (quality.md §5.7): the production format.
    #[default]
    Json,
    /// Human-readable, one short line per event, for local work; it carries no trace ids.
    Pretty,
}

/// Logging, tracing and metrics settings of one process (the `telemetry` section of the configuration).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TelemetrySettings {
    /// Which log events are written, in `EnvFilter` syntax (`info`, `info,tenure_orders=debug`); the
    /// loader maps `RUST_LOG` onto it. Spans at INFO and above are traced whatever it says, so a quieter
    /// log never breaks traces or the trace ids on the log lines that remain.
    pub log_filter: String,
    /// `json` (default) or `pretty`.
    pub log_format: LogFormat,
    /// OTLP/gRPC collector to export spans to, e.g. `http://127.0.0.1:4317`. Unset, spans still get ids
    /// (for logs and propagation) but leave the process nowhere.
    pub otlp_endpoint: Option<String>,
    /// The `service.name` resource attribute and log field: `tenure-orders` under `tenure serve orders`,
    /// `tenure` under `tenure up`.
    pub service_name: String,
    /// The `service.version` resource attribute and log field.
    pub service_version: String,
    /// Fraction of traces that are sampled, from 0.0 to 1.0, decided from the trace id. A span follows
    /// its parent in the same process; a caller's `sampled` flag is not trusted, but the same ratio
    /// gives every service the same decision for one trace.
    pub sample_ratio: f64,
    /// Admin address serving `GET /metrics`, an IP address and port such as `127.0.0.1:9464`; unset,
    /// metrics are recorded but not served.
    pub metrics_listen: Option<String>,
}

impl Default for TelemetrySettings {
    fn default() -> Self {
        Self {
            log_filter: "info".to_owned(),
            log_format: LogFormat::Json,
            otlp_endpoint: None,
            service_name: "tenure".to_owned(),
            service_version: env!("CARGO_PKG_VERSION").to_owned(),
            sample_ratio: 1.0,
            metrics_listen: None,
        }
    }
}

impl TelemetrySettings {
    /// Checks the settings before anything is installed or bound.
    ///
    /// # Errors
    ///
    /// Every problem found, each naming its field, rather than only the first.
    pub fn validate(&self) -> Result<(), Vec<String>> {
        let mut problems = Vec::new();
        if let Err(error) = EnvFilter::try_new(&self.log_filter) {
            problems.push(format!(
                "telemetry.log_filter is not a valid filter: {error}"
            ));
        }
        if let Some(endpoint) = &self.otlp_endpoint
            && let Err(problem) = check_otlp_endpoint(endpoint)
        {
            problems.push(format!("telemetry.otlp_endpoint {problem}"));
        }
        if self.service_name.trim().is_empty() {
            problems.push("telemetry.service_name must not be empty".to_owned());
        }
        if !(0.0..=1.0).contains(&self.sample_ratio) {
            problems.push("telemetry.sample_ratio must be between 0.0 and 1.0".to_owned());
        }
        if let Some(listen) = &self.metrics_listen
            && listen.parse::<SocketAddr>().is_err()
        {
            problems.push(
                "telemetry.metrics_listen must be an IP address and port, e.g. 127.0.0.1:9464"
                    .to_owned(),
            );
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }
}

fn check_otlp_endpoint(endpoint: &str) -> Result<(), &'static str> {
    let uri: http::Uri = endpoint
        .parse()
        .map_err(|_| "must be a URL such as http://127.0.0.1:4317")?;
    // The exporter is built without a TLS stack: a collector sidecar or node agent is reached in clear.
    if uri.scheme() != Some(&http::uri::Scheme::HTTP) {
        return Err("must use http:// (the exporter speaks plain gRPC to a local collector)");
    }
    if uri.host().is_none() {
        return Err("must name a host");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert_eq!(TelemetrySettings::default().validate(), Ok(()));
    }

    #[test]
    fn every_problem_is_reported() {
        let settings = TelemetrySettings {
            log_filter: "info,=[".to_owned(),
            otlp_endpoint: Some("https://collector:4317".to_owned()),
            service_name: " ".to_owned(),
            sample_ratio: 1.5,
            metrics_listen: Some("localhost".to_owned()),
            ..TelemetrySettings::default()
        };
        let problems = settings.validate().unwrap_err();
        assert_eq!(problems.len(), 5, "{problems:?}");
    }

    #[test]
    fn a_nan_ratio_is_rejected() {
        let settings = TelemetrySettings {
            sample_ratio: f64::NAN,
            ..TelemetrySettings::default()
        };
        assert!(settings.validate().is_err());
    }
}
