use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Duration, Utc};
use tenure_domain::{Clock, SharedClock};

/// The sandbox's movable clock: a base clock (the system clock in production, a test's clock in tests)
/// plus an offset that only grows. The offset is persisted by the sandbox, so a restarted `tenure up`
/// keeps its simulated date; the engine reads the same clock, so deferrals and polls follow the
/// simulated time.
#[derive(Debug)]
pub struct SandboxClock {
    base: SharedClockDebug,
    offset_ms: AtomicI64,
}

struct SharedClockDebug(SharedClock);

impl std::fmt::Debug for SharedClockDebug {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Clock")
    }
}

impl SandboxClock {
    /// A clock running `offset_ms` ahead of `base`.
    pub(crate) fn new(base: SharedClock, offset_ms: i64) -> Self {
        Self {
            base: SharedClockDebug(base),
            offset_ms: AtomicI64::new(offset_ms),
        }
    }

    /// How far the clock runs ahead of its base.
    pub fn offset(&self) -> Duration {
        Duration::milliseconds(self.offset_ms.load(Ordering::SeqCst))
    }

    /// Moves the offset forward by `by` (never back) and returns the new offset in milliseconds.
    pub(crate) fn advance(&self, by: Duration) -> i64 {
        let by_ms = by.num_milliseconds().max(0);
        self.offset_ms.fetch_add(by_ms, Ordering::SeqCst) + by_ms
    }
}

impl Clock for SandboxClock {
    fn now(&self) -> DateTime<Utc> {
        self.base.0.now() + self.offset()
    }
}
