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
    /// Removed from the platform without touching AWS (seed 004); restorable until its purge runs.
    Removed,
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
        (Active, Removed),
        (Removed, Active),
    ]
};

impl AccountState {
    /// Every state, for exhaustive tests and stored-value parsing.
    pub(crate) const ALL: [AccountState; 11] = [
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
        AccountState::Removed,
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
            AccountState::Removed => "removed",
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

    /// Whether the record holds its AWS account id and root email against every other record. A
    /// removed record does not: the platform no longer manages the account, so another tenant may take
    /// it on, yet the record is no tombstone either, since it can still be restored.
    pub(crate) fn is_live(self) -> bool {
        !self.is_terminal() && self != AccountState::Removed
    }

    /// The names of the live states, for the partial unique indexes and every "the live record of
    /// this AWS account id" lookup. The indexes of m0001 were built from this list: changing it needs
    /// a migration that rebuilds them.
    pub(crate) fn live_names() -> Vec<&'static str> {
        Self::ALL
            .into_iter()
            .filter(|state| state.is_live())
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
    /// A billing transfer withdrawn before its billing started: unlinked, never billed.
    WithdrawBeforeStart,
    /// A tenant administrator or an operator removes the account from the platform (seed 004).
    RemoveFromPlatform,
    /// A removal is undone before its purge ran.
    RestoreToPlatform,
}

impl LifecycleEvent {
    /// The state the event leads to.
    pub(crate) fn target(self) -> AccountState {
        match self {
            LifecycleEvent::Activate
            | LifecycleEvent::AbortOffboarding
            | LifecycleEvent::Reopen
            | LifecycleEvent::RestoreToPlatform => AccountState::Active,
            LifecycleEvent::Abandon => AccountState::Abandoned,
            LifecycleEvent::BeginOffboarding => AccountState::Offboarding,
            LifecycleEvent::ScheduleUnlink => AccountState::Unlinking,
            LifecycleEvent::Unlink
            | LifecycleEvent::EndBilling
            | LifecycleEvent::WithdrawBeforeStart => AccountState::Unlinked,
            LifecycleEvent::AcceptClosure => AccountState::PendingClosure,
            LifecycleEvent::ConfirmClosure => AccountState::Closed,
            LifecycleEvent::ExpireReopenWindow => AccountState::PermanentlyClosed,
            LifecycleEvent::RemoveFromPlatform => AccountState::Removed,
        }
    }

    fn may_start_from(self, from: AccountState) -> bool {
        match self {
            LifecycleEvent::Activate => matches!(
                from,
                AccountState::PendingCreation | AccountState::TransferPending
            ),
            LifecycleEvent::AbortOffboarding
            | LifecycleEvent::Unlink
            | LifecycleEvent::WithdrawBeforeStart => from == AccountState::Offboarding,
            LifecycleEvent::EndBilling => from == AccountState::Unlinking,
            LifecycleEvent::Reopen => from == AccountState::Closed,
            LifecycleEvent::RemoveFromPlatform => from == AccountState::Active,
            LifecycleEvent::RestoreToPlatform => from == AccountState::Removed,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removal_and_restore_are_moves_between_active_and_removed_only() {
        for from in AccountState::ALL {
            let removed = check_transition(from, LifecycleEvent::RemoveFromPlatform);
            assert_eq!(
                removed.is_ok(),
                from == AccountState::Active,
                "remove from {from}"
            );
            let restored = check_transition(from, LifecycleEvent::RestoreToPlatform);
            assert_eq!(
                restored.ok(),
                (from == AccountState::Removed).then_some(AccountState::Active),
                "restore from {from}"
            );
        }
    }

    #[test]
    fn no_older_event_reaches_or_leaves_removed() {
        let older = [
            LifecycleEvent::Activate,
            LifecycleEvent::Abandon,
            LifecycleEvent::BeginOffboarding,
            LifecycleEvent::AbortOffboarding,
            LifecycleEvent::ScheduleUnlink,
            LifecycleEvent::Unlink,
            LifecycleEvent::EndBilling,
            LifecycleEvent::AcceptClosure,
            LifecycleEvent::ConfirmClosure,
            LifecycleEvent::Reopen,
            LifecycleEvent::ExpireReopenWindow,
            LifecycleEvent::WithdrawBeforeStart,
        ];
        for event in older {
            assert!(
                check_transition(AccountState::Removed, event).is_err(),
                "{event:?} from removed"
            );
            assert_ne!(event.target(), AccountState::Removed);
        }
    }

    #[test]
    fn a_removed_record_is_neither_live_nor_a_tombstone() {
        assert!(!AccountState::Removed.is_live());
        assert!(!AccountState::Removed.is_terminal());
        // The partial unique indexes of m0001 were created from this very list.
        assert_eq!(
            AccountState::live_names(),
            [
                "pending_creation",
                "transfer_pending",
                "active",
                "offboarding",
                "unlinking",
                "pending_closure",
                "closed"
            ]
        );
    }

    #[test]
    fn a_withdrawal_before_the_start_unlinks_an_offboarding_record() {
        assert_eq!(
            check_transition(
                AccountState::Offboarding,
                LifecycleEvent::WithdrawBeforeStart
            )
            .ok(),
            Some(AccountState::Unlinked)
        );
        assert!(
            check_transition(AccountState::Unlinking, LifecycleEvent::WithdrawBeforeStart).is_err()
        );
    }
}
