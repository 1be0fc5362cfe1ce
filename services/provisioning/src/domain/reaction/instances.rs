//! What stack instances left behind by a DeleteStackInstances operation require.

use crate::domain::cloud::StackInstanceStatus;

/// What the targeted stack instances left after a DeleteStackInstances operation ended require.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LeftInstances {
    /// Nothing in the way: the operation's own status decides.
    Settled,
    /// Delete them again with `RetainStacks=true`, under a new OperationId, once.
    Retain,
    /// Only operations can remove them (TNR408); the detailed status that blocks.
    Operations(StackInstanceStatus),
}

/// Judges the detailed statuses of the targeted instances left after a deletion ended, `failed` when
/// it ended FAILED or STOPPED, `retained` when it was already the retaining repeat (domain.md §6.3).
pub(crate) fn judge_left_instances(
    failed: bool,
    retained: bool,
    left: impl IntoIterator<Item = StackInstanceStatus>,
) -> LeftInstances {
    use StackInstanceStatus::{Inoperable, SkippedSuspendedAccount};
    let left: Vec<StackInstanceStatus> = left.into_iter().collect();
    // An instance in a suspended account is skipped, not deleted, whatever the operation reports.
    if left.contains(&SkippedSuspendedAccount) {
        return LeftInstances::Operations(SkippedSuspendedAccount);
    }
    match (failed, retained) {
        (true, true) => LeftInstances::Operations(Inoperable),
        (true, false) if left.contains(&Inoperable) => LeftInstances::Retain,
        _ => LeftInstances::Settled,
    }
}
