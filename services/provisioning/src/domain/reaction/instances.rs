//! What stack instances left behind by a DeleteStackInstances operation require.

/// The detailed status of a stack instance AWS cannot reach because its account is suspended.
pub(crate) const SKIPPED_SUSPENDED_ACCOUNT: &str = "SKIPPED_SUSPENDED_ACCOUNT";
/// The detailed status of a stack instance whose stack a deletion could not remove.
pub(crate) const INOPERABLE: &str = "INOPERABLE";

/// What the targeted stack instances left after a DeleteStackInstances operation ended require.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LeftInstances {
    /// Nothing in the way: the operation's own status decides.
    Settled,
    /// Delete them again with `RetainStacks=true`, under a new OperationId, once.
    Retain,
    /// Only operations can remove them (TNR408); the detailed status that blocks.
    Operations(&'static str),
}

/// Judges the detailed statuses of the targeted instances left after a deletion ended, `failed` when
/// it ended FAILED or STOPPED, `retained` when it was already the retaining repeat (domain.md §6.3).
pub(crate) fn judge_left_instances<'a>(
    failed: bool,
    retained: bool,
    left: impl IntoIterator<Item = &'a str>,
) -> LeftInstances {
    let left: Vec<&str> = left.into_iter().collect();
    // An instance in a suspended account is skipped, not deleted, whatever the operation reports.
    if left.contains(&SKIPPED_SUSPENDED_ACCOUNT) {
        return LeftInstances::Operations(SKIPPED_SUSPENDED_ACCOUNT);
    }
    match (failed, retained) {
        (true, true) => LeftInstances::Operations(INOPERABLE),
        (true, false) if left.contains(&INOPERABLE) => LeftInstances::Retain,
        _ => LeftInstances::Settled,
    }
}
