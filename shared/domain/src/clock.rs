use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Duration, Utc};

/// The source of business time for sagas, timers and purge schedules.
///
/// Production reads the system clock. Tests and the sandbox of `tenure up` move a [`ManualClock`] forward
/// so 30- and 90-day windows pass in seconds.
pub trait Clock: Send + Sync + 'static {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;
}

/// A clock shared by every component of a process.
pub type SharedClock = Arc<dyn Clock>;

/// The real clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(
        clippy::disallowed_methods,
        reason = "the one place the real time is read"
    )]
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// The real clock plus an offset that only ever grows, so time still flows between steps while tests
/// and demos jump ahead by days.
#[derive(Debug, Default)]
pub struct ManualClock {
    offset: Mutex<Duration>,
}

impl ManualClock {
    /// A clock that starts at the real time.
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves the clock forward; a negative duration is ignored because business time never goes back.
    pub fn advance(&self, by: Duration) -> DateTime<Utc> {
        if by > Duration::zero() {
            let mut offset = self.offset.lock().unwrap_or_else(PoisonError::into_inner);
            *offset += by;
        }
        self.now()
    }

    /// How far the clock runs ahead of the real time.
    pub fn offset(&self) -> Duration {
        *self.offset.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        SystemClock.now() + self.offset()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_only_moves_forward() {
        let clock = ManualClock::new();
        let start = clock.now();
        clock.advance(Duration::days(90));
        assert!(clock.now() - start >= Duration::days(90));
        clock.advance(Duration::days(-30));
        assert_eq!(clock.offset(), Duration::days(90));
    }
}
