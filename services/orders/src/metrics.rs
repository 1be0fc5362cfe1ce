//! The saga and stream metrics SREs watch (quality.md §5.6), registered once per process.
//!
//! Labels are a saga kind, a saga status, a step name, a direction or a wait kind: fixed vocabularies
//! of the definitions, never a tenant, order or saga id. Gauges that count sagas or events are read
//! from the database by every replica, so they show the whole deployment: aggregate them with
//! `max`, not `sum`.

use std::sync::LazyLock;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use tenure_db::Db;
use tokio_util::sync::CancellationToken;

use crate::domain::saga::definition::SagaKind;
use crate::domain::saga::state::{Direction, SagaStatus};

/// Lateness and delivery lag: from what a healthy engine shows (milliseconds) up to what a stalled
/// one does (minutes).
const LATENESS_BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 60.0, 300.0,
];

/// Every wait kind a saga can be parked with (`WaitReason::kind`); anything else is `other`, so a
/// stored value can never mint a new series.
const WAIT_KINDS: [&str; 11] = [
    "run",
    "aws_poll",
    "signal",
    "retry_backoff",
    "deferred",
    "timer",
    "manual_task",
    "query",
    "compensation_stuck",
    "blocked",
    "operator",
];

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct KindLabels {
    kind: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct KindStatusLabels {
    kind: &'static str,
    status: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct StepLabels {
    kind: &'static str,
    step: &'static str,
    direction: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct WakeLabels {
    kind: &'static str,
    wait: &'static str,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

fn lateness_histogram() -> Histogram {
    Histogram::new(LATENESS_BUCKETS)
}

/// The orders service's metrics.
#[derive(Debug, Clone)]
pub(crate) struct OrdersMetrics {
    active: Family<KindStatusLabels, Gauge>,
    compensations_stuck: Family<KindLabels, Gauge>,
    step_retries: Family<StepLabels, Counter>,
    compensations: Family<KindLabels, Counter>,
    wake_lateness: Histograms<WakeLabels>,
    stream_subscribers: Gauge,
    stream_delivery_lag: Histogram,
    stream_held_back: Gauge,
    subscription_backlog: Gauge,
}

static METRICS: LazyLock<OrdersMetrics> = LazyLock::new(|| {
    let metrics = OrdersMetrics {
        active: Family::default(),
        compensations_stuck: Family::default(),
        step_retries: Family::default(),
        compensations: Family::default(),
        wake_lateness: Family::new_with_constructor(lateness_histogram),
        stream_subscribers: Gauge::default(),
        stream_delivery_lag: lateness_histogram(),
        stream_held_back: Gauge::default(),
        subscription_backlog: Gauge::default(),
    };
    tenure_telemetry::register(
        "saga_active",
        "Sagas not yet finished, by kind and status",
        metrics.active.clone(),
    );
    tenure_telemetry::register(
        "saga_compensations_stuck",
        "Sagas whose undo keeps failing and needs an operator, by kind",
        metrics.compensations_stuck.clone(),
    );
    tenure_telemetry::register(
        "saga_step_retries",
        "Failed step attempts that will be tried again, by kind, step and direction",
        metrics.step_retries.clone(),
    );
    tenure_telemetry::register(
        "saga_compensations",
        "Sagas that began undoing their completed steps, by kind",
        metrics.compensations.clone(),
    );
    tenure_telemetry::register(
        "saga_wake_lateness_seconds",
        "How long after it was due a parked saga ran again, by kind and what it waited for",
        metrics.wake_lateness.clone(),
    );
    tenure_telemetry::register(
        "order_stream_subscribers",
        "Open order event stream subscriptions on this replica",
        metrics.stream_subscribers.clone(),
    );
    tenure_telemetry::register(
        "order_stream_delivery_lag_seconds",
        "From an event's commit to its delivery to a subscriber",
        metrics.stream_delivery_lag.clone(),
    );
    tenure_telemetry::register(
        "order_stream_held_back_events",
        "Committed events no reader can see yet because an older transaction is still open",
        metrics.stream_held_back.clone(),
    );
    tenure_telemetry::register(
        "order_stream_subscription_backlog_events",
        "Events the furthest-behind named subscription has not acknowledged (counted up to a cap)",
        metrics.subscription_backlog.clone(),
    );
    // Counters exist from the first scrape, at 0, so a rate or an alert sees a number, not no data.
    for kind in reported_kinds() {
        drop(metrics.compensations.get_or_create(&KindLabels {
            kind: kind.as_str(),
        }));
    }
    metrics
});

/// The kinds the metrics report: `probe` exists only for the engine's benchmark and tests, so a
/// production dashboard never shows it.
fn reported_kinds() -> impl Iterator<Item = SagaKind> {
    SagaKind::ALL
        .iter()
        .copied()
        .filter(|kind| *kind != SagaKind::Probe)
}

fn gauge_value(count: u64) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

impl OrdersMetrics {
    /// The process's metrics.
    pub(crate) fn process() -> &'static Self {
        &METRICS
    }

    /// Sets `saga_active` and `saga_compensations_stuck` from a count of open sagas by kind and
    /// status. Pairs missing from `counts` are set to 0, so a status a saga left does not linger.
    pub(crate) fn set_active(&self, counts: &[(SagaKind, SagaStatus, u64)]) {
        for kind in reported_kinds() {
            let mut stuck = 0;
            for &status in SagaStatus::ALL
                .iter()
                .filter(|status| !status.is_terminal())
            {
                let count = counts
                    .iter()
                    .filter(|(k, s, _)| *k == kind && *s == status)
                    .map(|(_, _, count)| *count)
                    .sum::<u64>();
                if status == SagaStatus::CompensationStuck {
                    stuck = count;
                }
                self.active
                    .get_or_create(&KindStatusLabels {
                        kind: kind.as_str(),
                        status: status.as_str(),
                    })
                    .set(gauge_value(count));
            }
            self.compensations_stuck
                .get_or_create(&KindLabels {
                    kind: kind.as_str(),
                })
                .set(gauge_value(stuck));
        }
    }

    /// Counts a failed attempt of `step` that the saga will try again.
    pub(crate) fn step_retried(&self, kind: SagaKind, step: &'static str, direction: Direction) {
        self.step_retries
            .get_or_create(&StepLabels {
                kind: kind.as_str(),
                step,
                direction: direction.as_str(),
            })
            .inc();
    }

    /// Counts a saga that turned from doing to undoing.
    pub(crate) fn compensation_started(&self, kind: SagaKind) {
        self.compensations
            .get_or_create(&KindLabels {
                kind: kind.as_str(),
            })
            .inc();
    }

    /// Observes how late a parked saga that waited for `wait` ran.
    pub(crate) fn woke_late(&self, kind: SagaKind, wait: Option<&str>, lateness: Duration) {
        let wait = wait
            .and_then(|wait| WAIT_KINDS.iter().find(|known| **known == wait))
            .copied()
            .unwrap_or(if wait.is_none() { "none" } else { "other" });
        self.wake_lateness
            .get_or_create(&WakeLabels {
                kind: kind.as_str(),
                wait,
            })
            .observe(lateness.as_secs_f64());
    }

    /// Observes the delivery of an event recorded `lag` ago.
    pub(crate) fn event_delivered(&self, lag: Duration) {
        self.stream_delivery_lag.observe(lag.as_secs_f64());
    }

    /// Sets the stream's gauges read from the database.
    pub(crate) fn set_stream_backlog(&self, held_back: u64, subscription_backlog: u64) {
        self.stream_held_back.set(gauge_value(held_back));
        self.subscription_backlog
            .set(gauge_value(subscription_backlog));
    }

    /// One more open subscription, until the guard drops.
    pub(crate) fn subscribed(&self) -> SubscriberGuard {
        self.stream_subscribers.inc();
        SubscriberGuard {
            gauge: self.stream_subscribers.clone(),
        }
    }
}

/// Counts an open subscription in `order_stream_subscribers` for as long as it lives.
#[derive(Debug)]
pub(crate) struct SubscriberGuard {
    gauge: Gauge,
}

impl Drop for SubscriberGuard {
    fn drop(&mut self) {
        self.gauge.dec();
    }
}

/// Events counted per named subscription at most, so a forgotten subscription costs a bounded read.
const BACKLOG_COUNT_CAP: u64 = 100_000;

/// Reads the gauges that live in the database every `interval` until the process drains.
pub(crate) async fn sample_gauges(db: Db, interval: Duration, draining: CancellationToken) {
    let metrics = OrdersMetrics::process();
    loop {
        match crate::store::sagas::open_counts(&db).await {
            Ok(counts) => metrics.set_active(&counts),
            Err(error) => tracing::warn!(error = %error, "counting open sagas failed"),
        }
        let stream = async {
            let held_back = crate::store::events::held_back(&db).await?;
            let backlog =
                crate::store::events::largest_subscription_backlog(&db, BACKLOG_COUNT_CAP).await?;
            Ok::<_, crate::domain::OrdersError>((held_back, backlog))
        };
        match stream.await {
            Ok((held_back, backlog)) => metrics.set_stream_backlog(held_back, backlog),
            Err(error) => tracing::warn!(error = %error, "reading the stream backlog failed"),
        }
        tokio::select! {
            () = draining.cancelled() => return,
            () = tokio::time::sleep(interval) => {}
        }
    }
}
