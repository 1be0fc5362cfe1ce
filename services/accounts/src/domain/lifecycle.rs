//! The account lifecycle of domain.md §5 as an explicit state machine: the only transitions the
//! service ever writes are the ones listed in [`ALLOWED`].

use chrono::{DateTime, Duration, Utc};

use crate::domain::AccountsError;

/// AWS keeps a closed account reopenable through AWS Support for this many days (seeds 000, 001).
pub(crate) const REOPEN_WINDOW_DAYS: i64 = 90;

/// Where an AWS account record stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum AccountState {
    PendingCreation,
    TransferPending,
    Active,
    Offboarding,
    Unlinking,
    Unlinked,
    PendingClosure,
    Closed,
    PermanentlyClosed,
    Abandoned,
}

/// Every allowed `(from, to)` pair of domain.md §5; anything else is refused.
const ALLOWED: &[(AccountState, AccountState)] = {
    use AccountState::*;
    &[
        (PendingCreation, Active),
        (TransferPending, Active),
        (PendingCreation, Abandoned),
        (TransferPending, Abandoned),
        (Active, Offboarding),
        (Offboarding, Active),
        (Offboarding, Unlinking),
        (Offboarding, Unlinked),
        (Unlinking, Unlinked),
        (Offboarding, PendingClosure),
        (PendingClosure, Closed),
        (Closed, Active),
        (Closed, PermanentlyClosed),
    ]
};

impl AccountState {
    /// Every state, for exhaustive tests and stored-value parsing.
    pub(crate) const ALL: [AccountState; 10] = [
        AccountState::PendingCreation,
        AccountState::TransferPending,
        AccountState::Active,
        AccountState::Offboarding,
        AccountState::Unlinking,
        AccountState::Unlinked,
        AccountState::PendingClosure,
        AccountState::Closed,
        AccountState::PermanentlyClosed,
        AccountState::Abandoned,
    ];

    /// The stored and displayed name (`pending_closure`).
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            AccountState::PendingCreation => "pending_creation",
            AccountState::TransferPending => "transfer_pending",
            AccountState::Active => "active",
            AccountState::Offboarding => "offboarding",
            AccountState::Unlinking => "unlinking",
            AccountState::Unlinked => "unlinked",
            AccountState::PendingClosure => "pending_closure",
            AccountState::Closed => "closed",
            AccountState::PermanentlyClosed => "permanently_closed",
            AccountState::Abandoned => "abandoned",
        }
    }

    /// Reads a stored name back.
    pub(crate) fn parse(stored: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|state| state.as_str() == stored)
    }

    /// Terminal records are tombstones: they never change again and free their AWS account id and
    /// root email for a new registration.
    pub(crate) fn is_terminal(self) -> bool {
        matches!(
            self,
            AccountState::Unlinked | AccountState::PermanentlyClosed | AccountState::Abandoned
        )
    }

    /// The names of the live (non-terminal) states, for the partial unique indexes.
    pub(crate) fn live_names() -> Vec<&'static str> {
        Self::ALL
            .into_iter()
            .filter(|state| !state.is_terminal())
            .map(AccountState::as_str)
            .collect()
    }
}

impl std::fmt::Display for AccountState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What moves a record, each naming its target state. Several events share a target
/// (`active` is reached by activation, by an aborted offboarding and by a reopening), and each may
/// start only from its own sources.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LifecycleEvent {
    /// N9, B10, E11: the order that reserved the record completed.
    Activate,
    /// The reserving order failed or was cancelled with no live AWS effect.
    Abandon,
    /// T2.
    BeginOffboarding,
    /// A termination failed or was cancelled before its pivot.
    AbortOffboarding,
    /// T9, billing transfer: the platform bills until `billing_ends_at`.
    ScheduleUnlink,
    /// T9 for a member removed from the organization.
    Unlink,
    /// The timer at `billing_ends_at` of an unlinking billing transfer.
    EndBilling,
    /// `CloseAccount` accepted.
    AcceptClosure,
    /// AWS shows the account suspended, or operations confirm a root closure.
    ConfirmClosure,
    /// Operations record a reopening through AWS Support.
    Reopen,
    /// The timer at `reopen_until`.
    ExpireReopenWindow,
}

impl LifecycleEvent {
    /// The state the event leads to.
    pub(crate) fn target(self) -> AccountState {
        match self {
            LifecycleEvent::Activate
            | LifecycleEvent::AbortOffboarding
            | LifecycleEvent::Reopen => AccountState::Active,
            LifecycleEvent::Abandon => AccountState::Abandoned,
            LifecycleEvent::BeginOffboarding => AccountState::Offboarding,
            LifecycleEvent::ScheduleUnlink => AccountState::Unlinking,
            LifecycleEvent::Unlink | LifecycleEvent::EndBilling => AccountState::Unlinked,
            LifecycleEvent::AcceptClosure => AccountState::PendingClosure,
            LifecycleEvent::ConfirmClosure => AccountState::Closed,
            LifecycleEvent::ExpireReopenWindow => AccountState::PermanentlyClosed,
        }
    }

    fn may_start_from(self, from: AccountState) -> bool {
        match self {
            LifecycleEvent::Activate => matches!(
                from,
                AccountState::PendingCreation | AccountState::TransferPending
            ),
            LifecycleEvent::AbortOffboarding | LifecycleEvent::Unlink => {
                from == AccountState::Offboarding
            }
            LifecycleEvent::EndBilling => from == AccountState::Unlinking,
            LifecycleEvent::Reopen => from == AccountState::Closed,
            _ => true,
        }
    }
}

/// The state `event` moves a record in `from` to, when domain.md §5 allows it; the refusal names the
/// current state.
pub(crate) fn check_transition(
    from: AccountState,
    event: LifecycleEvent,
) -> Result<AccountState, AccountsError> {
    let to = event.target();
    if event.may_start_from(from) && ALLOWED.contains(&(from, to)) {
        Ok(to)
    } else {
        Err(AccountsError::TransitionRefused { current: from, to })
    }
}

/// The end of the reopen window of an account closed at `closed_at`.
pub(crate) fn reopen_until(closed_at: DateTime<Utc>) -> DateTime<Utc> {
    closed_at + Duration::days(REOPEN_WINDOW_DAYS)
}

/// A reopening is recorded only for a `closed` record whose window is still open at `now`; the
/// window includes its last instant.
pub(crate) fn check_reopen(
    current: AccountState,
    reopen_until: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<(), AccountsError> {
    // A permanent closure is the window's end, recorded by the timer: the answer is the same
    // whether or not the timer has run yet.
    if current == AccountState::PermanentlyClosed {
        return Err(AccountsError::ReopenWindowPassed { current });
    }
    check_transition(current, LifecycleEvent::Reopen)?;
    match reopen_until {
        Some(until) if now <= until => Ok(()),
        _ => Err(AccountsError::ReopenWindowPassed { current }),
    }
}
