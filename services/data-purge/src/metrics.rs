//! The purge gauges SREs alert on (quality.md §5.6): both must stay at 0.

use std::sync::LazyLock;

use prometheus_client::metrics::gauge::Gauge;

/// `purge_overdue` and `purge_residual_rows`, registered once per process.
#[derive(Debug, Clone)]
pub(crate) struct PurgeGauges {
    overdue: Gauge,
    residual_rows: Gauge,
}

static GAUGES: LazyLock<PurgeGauges> = LazyLock::new(|| {
    let gauges = PurgeGauges {
        overdue: Gauge::default(),
        residual_rows: Gauge::default(),
    };
    tenure_telemetry::register(
        "purge_overdue",
        "Purges not held whose policy deadline has passed without completing",
        gauges.overdue.clone(),
    );
    tenure_telemetry::register(
        "purge_residual_rows",
        "Rows the latest verification of unfinished purges found still in place",
        gauges.residual_rows.clone(),
    );
    gauges
});

impl PurgeGauges {
    /// The process's gauges.
    pub(crate) fn process() -> Self {
        GAUGES.clone()
    }

    pub(crate) fn set(&self, overdue: u64, residual_rows: u64) {
        self.overdue.set(i64::try_from(overdue).unwrap_or(i64::MAX));
        self.residual_rows
            .set(i64::try_from(residual_rows).unwrap_or(i64::MAX));
    }
}
