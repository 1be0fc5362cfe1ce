//! Per-caller rate limits (quality.md §1.7): the generic cell rate algorithm (GCRA) and the storage it
//! runs on.
//!
//! A bucket keeps one number, its theoretical arrival time (TAT): when the next call would be due if
//! calls came exactly at the sustained rate. A call is admitted when the TAT is no further ahead of now
//! than the burst allows, and then moves the TAT one emission interval on. Keeping only the TAT makes
//! a check one conditional write, so a store shared by every replica can decide atomically in one
//! statement (tenure-db's implementation) and replicas never add up their own allowances.
//!
//! Times are microseconds since the Unix epoch, passed in by the caller from the real clock: a limit
//! measures how fast calls really arrive, whatever date a sandbox's business clock shows.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A sustained rate and the burst allowed on top of it: `burst` calls at once from a rested bucket,
/// then `per_second` calls a second.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Quota {
    /// Calls a second, sustained.
    pub per_second: u32,
    /// Calls at once after a quiet period.
    pub burst: u32,
}

impl Quota {
    /// The largest rate a quota may name: one call a microsecond is where the arithmetic ends.
    pub const MAX_PER_SECOND: u32 = 1_000_000;

    /// A quota of `per_second` calls a second with bursts of `burst`.
    pub const fn new(per_second: u32, burst: u32) -> Self {
        Self { per_second, burst }
    }

    /// T: microseconds between two calls at the sustained rate (at least 1; a zero rate counts as one
    /// call a second, though settings validation refuses it first).
    pub fn emission_interval_micros(&self) -> i64 {
        let rate = i64::from(self.per_second.max(1));
        // Rounded up, so the sustained rate never exceeds the one configured.
        (1_000_000 + rate - 1) / rate
    }

    /// τ: how far the TAT may run ahead of now for a call to be admitted, T × (burst − 1).
    pub fn tolerance_micros(&self) -> i64 {
        self.emission_interval_micros()
            .saturating_mul(i64::from(self.burst.max(1) - 1))
    }

    /// What is wrong with this quota, named by `key` (`server.rate_limits.read`), or nothing.
    pub fn problems(&self, key: &str) -> Vec<String> {
        let mut problems = Vec::new();
        if self.per_second == 0 || self.per_second > Self::MAX_PER_SECOND {
            problems.push(format!(
                "{key}.per_second: 1 to {} calls a second",
                Self::MAX_PER_SECOND
            ));
        }
        if self.burst == 0 {
            problems.push(format!("{key}.burst: at least 1"));
        }
        problems
    }
}

/// The decision on one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// The call goes ahead; the bucket moved on.
    Allowed,
    /// The call is refused; the next one would pass after `retry_after`. The bucket did not move, so
    /// refused calls never push a caller's recovery further out.
    Refused {
        /// When the next call would be admitted.
        retry_after: Duration,
    },
}

/// GCRA on one bucket: the bucket's new TAT when a call at `now` is admitted, or how long until one
/// would be. `tat` is `None` for a bucket never used (or forgotten), which is the same as a rested one.
///
/// # Errors
///
/// The delay until the next call would be admitted, when this one is not (at least 1 µs).
pub fn gcra(quota: Quota, tat: Option<i64>, now: i64) -> Result<i64, Duration> {
    let interval = quota.emission_interval_micros();
    let tat = tat.unwrap_or(now).max(now);
    let threshold = now.saturating_add(quota.tolerance_micros());
    if tat <= threshold {
        return Ok(tat.saturating_add(interval));
    }
    let wait = u64::try_from(tat - threshold).unwrap_or(u64::MAX);
    Err(Duration::from_micros(wait.max(1)))
}

/// Which bucket a call draws from: who (a tenant, or a subject for callers without one) and which
/// class of method.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RateKey {
    /// The caller's bucket, e.g. `tenant:<uuid>`.
    pub bucket: String,
    /// The class of method, e.g. `read` or `mutation`.
    pub class: &'static str,
}

/// The error a store reports; a limiter decides what a failed check means.
pub type RateLimitError = Box<dyn std::error::Error + Send + Sync>;

/// What [`RateLimitStore::admit`] returns.
pub type AdmitFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Admission, RateLimitError>> + Send + 'a>>;

/// Where buckets live. Implementations decide atomically: two checks racing on one bucket never both
/// take its last slot.
pub trait RateLimitStore: Send + Sync + 'static {
    /// Decides one call of `key` under `quota` at `now` (µs since the Unix epoch, real time).
    fn admit<'a>(&'a self, key: &'a RateKey, quota: Quota, now: i64) -> AdmitFuture<'a>;
}

/// Buckets in this process's memory: for tests, and for tools that run one process.
#[derive(Debug, Default)]
pub struct MemoryRateLimitStore {
    buckets: std::sync::Mutex<std::collections::HashMap<RateKey, i64>>,
}

impl RateLimitStore for MemoryRateLimitStore {
    fn admit<'a>(&'a self, key: &'a RateKey, quota: Quota, now: i64) -> AdmitFuture<'a> {
        let decision = match self.buckets.lock() {
            Ok(mut buckets) => {
                let stored = buckets.get(key).copied();
                match gcra(quota, stored, now) {
                    Ok(tat) => {
                        buckets.insert(key.clone(), tat);
                        Ok(Admission::Allowed)
                    }
                    Err(retry_after) => Ok(Admission::Refused { retry_after }),
                }
            }
            Err(_) => Err("the rate limit buckets are poisoned".into()),
        };
        Box::pin(std::future::ready(decision))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: i64 = 1_000_000;

    #[test]
    fn a_rested_bucket_admits_the_burst_at_once_then_refuses() {
        let quota = Quota::new(5, 20);
        let now = 1_000 * SECOND;
        let mut tat = None;
        for call in 0..20 {
            tat = Some(gcra(quota, tat, now).unwrap_or_else(|_| panic!("call {call} refused")));
        }
        let refused = gcra(quota, tat, now).expect_err("the 21st call at once");
        // One emission interval (200 ms) until the next call is due.
        assert_eq!(refused, Duration::from_millis(200));
    }

    #[test]
    fn the_sustained_rate_is_admitted_for_ever() {
        let quota = Quota::new(50, 1);
        let mut tat = None;
        for call in 0..1_000 {
            let now = 5 * SECOND + call * 20_000;
            tat = Some(gcra(quota, tat, now).expect("at the sustained rate"));
        }
    }

    #[test]
    fn a_refused_call_names_when_the_next_passes_and_it_does() {
        let quota = Quota::new(10, 2);
        let now = 7 * SECOND;
        let tat = gcra(quota, None, now).ok();
        let tat = gcra(quota, tat, now).ok();
        let wait = gcra(quota, tat, now + 1).expect_err("over the burst");
        let micros = i64::try_from(wait.as_micros()).expect("small");
        assert!(gcra(quota, tat, now + 1 + micros - 1).is_err());
        assert!(gcra(quota, tat, now + 1 + micros).is_ok());
    }

    #[test]
    fn an_idle_bucket_forgets_its_past() {
        let quota = Quota::new(1, 3);
        let mut tat = None;
        for _ in 0..3 {
            tat = gcra(quota, tat, 0).ok();
        }
        assert!(gcra(quota, tat, 0).is_err());
        // Long after, the whole burst is back, not more.
        let later = 3_600 * SECOND;
        for _ in 0..3 {
            tat = Some(gcra(quota, tat, later).expect("rested"));
        }
        assert!(gcra(quota, tat, later).is_err());
    }

    #[test]
    fn intervals_round_up_and_quotas_are_validated() {
        assert_eq!(Quota::new(3, 1).emission_interval_micros(), 333_334);
        assert_eq!(Quota::new(1, 1).tolerance_micros(), 0);
        assert!(Quota::new(50, 100).problems("read").is_empty());
        assert_eq!(Quota::new(0, 0).problems("read").len(), 2);
    }

    #[test]
    fn the_memory_store_keeps_one_bucket_per_key() {
        let store = MemoryRateLimitStore::default();
        let quota = Quota::new(1, 1);
        let key = |bucket: &str, class| RateKey {
            bucket: bucket.to_owned(),
            class,
        };
        let decide = |key: &RateKey| {
            let mut future = store.admit(key, quota, SECOND);
            let mut context = std::task::Context::from_waker(std::task::Waker::noop());
            match future.as_mut().poll(&mut context) {
                std::task::Poll::Ready(decision) => decision.expect("memory never fails"),
                std::task::Poll::Pending => panic!("the memory store answers at once"),
            }
        };
        assert_eq!(decide(&key("tenant:a", "read")), Admission::Allowed);
        assert!(matches!(
            decide(&key("tenant:a", "read")),
            Admission::Refused { .. }
        ));
        assert_eq!(decide(&key("tenant:a", "mutation")), Admission::Allowed);
        assert_eq!(decide(&key("tenant:b", "read")), Admission::Allowed);
    }
}
