//! The purge state machine (domain.md §8.3): which event moves a purge from which state.

use crate::domain::PurgeError;

/// Where a purge stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum PurgeState {
    Scheduled,
    Due,
    Running,
    Completed,
    Cancelled,
    Held,
}

impl PurgeState {
    pub(crate) const ALL: [PurgeState; 6] = [
        PurgeState::Scheduled,
        PurgeState::Due,
        PurgeState::Running,
        PurgeState::Completed,
        PurgeState::Cancelled,
        PurgeState::Held,
    ];

    /// The states in which a purge is still pending: at most one per subject (a database index).
    pub(crate) const PENDING: [PurgeState; 4] = [
        PurgeState::Scheduled,
        PurgeState::Due,
        PurgeState::Running,
        PurgeState::Held,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            PurgeState::Scheduled => "scheduled",
            PurgeState::Due => "due",
            PurgeState::Running => "running",
            PurgeState::Completed => "completed",
            PurgeState::Cancelled => "cancelled",
            PurgeState::Held => "held",
        }
    }

    pub(crate) fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|state| state.as_str() == raw)
    }
}

/// What happens to a purge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PurgeEvent {
    /// Its due time passed.
    FallDue,
    /// An operator moved its due time to now.
    Expedite,
    /// A worker planned it and began to execute.
    Start,
    /// Every data owner executed and verified zero residual rows.
    Complete,
    /// A reopen, a re-subscription or an operator withdrew it.
    Cancel,
    /// A legal hold now covers it.
    Hold,
    /// The last hold covering it was released.
    Release,
}

impl PurgeEvent {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            PurgeEvent::FallDue => "fall_due",
            PurgeEvent::Expedite => "expedite",
            PurgeEvent::Start => "start",
            PurgeEvent::Complete => "complete",
            PurgeEvent::Cancel => "cancel",
            PurgeEvent::Hold => "hold",
            PurgeEvent::Release => "release",
        }
    }
}

impl PurgeState {
    /// The state after `event`, or the refusal naming the current state. `started` says whether
    /// execution has begun: from then on some rows are gone, so the purge can be held (it stops
    /// between data owners) but never cancelled, and a release resumes it rather than rescheduling.
    pub(crate) fn after(self, event: PurgeEvent, started: bool) -> Result<Self, PurgeError> {
        use PurgeEvent as E;
        use PurgeState as S;
        let next = match (self, event) {
            (S::Scheduled, E::FallDue | E::Expedite) => Some(S::Due),
            (S::Due, E::Start) => Some(S::Running),
            (S::Running, E::Complete) => Some(S::Completed),
            (S::Scheduled | S::Due | S::Held, E::Cancel) if !started => Some(S::Cancelled),
            (S::Scheduled | S::Due | S::Running, E::Hold) => Some(S::Held),
            (S::Held, E::Release) => Some(if started { S::Due } else { S::Scheduled }),
            _ => None,
        };
        next.ok_or(PurgeError::WrongState {
            state: self,
            event,
            started,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_purge_can_be_cancelled_only_before_it_starts() {
        assert_eq!(
            PurgeState::Scheduled.after(PurgeEvent::Cancel, false).ok(),
            Some(PurgeState::Cancelled)
        );
        assert!(PurgeState::Running.after(PurgeEvent::Cancel, true).is_err());
        assert!(PurgeState::Held.after(PurgeEvent::Cancel, true).is_err());
        assert!(
            PurgeState::Completed
                .after(PurgeEvent::Cancel, true)
                .is_err()
        );
    }

    #[test]
    fn a_held_purge_never_runs_and_a_release_resumes_where_it_stood() {
        assert!(PurgeState::Held.after(PurgeEvent::Start, false).is_err());
        assert!(PurgeState::Held.after(PurgeEvent::Complete, true).is_err());
        assert_eq!(
            PurgeState::Held.after(PurgeEvent::Release, false).ok(),
            Some(PurgeState::Scheduled)
        );
        assert_eq!(
            PurgeState::Held.after(PurgeEvent::Release, true).ok(),
            Some(PurgeState::Due)
        );
    }

    #[test]
    fn terminal_states_accept_nothing() {
        for event in [
            PurgeEvent::FallDue,
            PurgeEvent::Expedite,
            PurgeEvent::Start,
            PurgeEvent::Complete,
            PurgeEvent::Cancel,
            PurgeEvent::Hold,
            PurgeEvent::Release,
        ] {
            assert!(PurgeState::Completed.after(event, true).is_err());
            assert!(PurgeState::Cancelled.after(event, false).is_err());
        }
    }

    #[test]
    fn every_state_round_trips_through_its_name() {
        for state in PurgeState::ALL {
            assert_eq!(PurgeState::parse(state.as_str()), Some(state));
        }
    }
}
