//! Removing an account from the platform without touching AWS (seed 004, "Deleting an account"), and
//! undoing that while its purge has not run; also the refusals of a new registration that would collide
//! with what Tenure already knows (a removal still pending, an AWS account or root email taken).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::domain::{AccountState, AccountsError, Rejection};

/// The purge a removal scheduled, as the record keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RemovalPurge {
    pub(crate) purge_id: Uuid,
    /// When the purge executed this service's share; `None` while it has not.
    pub(crate) purged_at: Option<DateTime<Utc>>,
}

/// A record can leave the platform only while it is active and no order is working on it: an order in
/// flight would otherwise go on changing an account nobody manages any more.
pub(crate) fn check_removal(
    aws_account_id: &str,
    state: AccountState,
    active_order_id: Option<Uuid>,
) -> Result<(), AccountsError> {
    let lead =
        "Only active accounts without an order in progress can be removed from the platform.";
    let message = match (state, active_order_id) {
        (_, Some(order)) => {
            format!("{lead} Order {order} for account {aws_account_id} is still in progress.")
        }
        (AccountState::Active, None) => return Ok(()),
        (state, None) => format!("{lead} Account {aws_account_id} is {state}."),
    };
    Err(AccountsError::Precondition(Rejection {
        code: "TNR016",
        message,
    }))
}

/// A removal can be undone while it is the record's state and its purge has not run here; a purge
/// that ran cannot be undone (TNR502).
pub(crate) fn check_restore(
    state: AccountState,
    purge: Option<RemovalPurge>,
) -> Result<(), AccountsError> {
    if state != AccountState::Removed {
        return Err(AccountsError::WrongState { current: state });
    }
    if purge.is_some_and(|purge| purge.purged_at.is_some()) {
        return Err(restore_window_ended());
    }
    Ok(())
}

/// TNR502: the purge of the removed data began or ran.
pub(crate) fn restore_window_ended() -> AccountsError {
    AccountsError::Precondition(Rejection {
        code: "TNR502",
        message: "The restore window for this data has ended.".to_owned(),
    })
}

/// TNR503: another live record took the AWS account id while this one was removed.
pub(crate) fn restore_conflict(aws_account_id: &str) -> AccountsError {
    AccountsError::Precondition(Rejection {
        code: "TNR503",
        message: format!(
            "The data cannot be restored because account {aws_account_id} is now in use."
        ),
    })
}

/// Whether a removed record's purge is still to run: a new record of the same AWS account id in the
/// same tenant would then lose its data to that purge, which covers every record of the id.
pub(crate) fn purge_pending(state: AccountState, purge: Option<RemovalPurge>) -> bool {
    state == AccountState::Removed && purge.is_some_and(|purge| purge.purged_at.is_none())
}

/// TNR010 for an AWS account id the tenant removed and can still restore.
pub(crate) fn removed_not_transferred(aws_account_id: &str) -> AccountsError {
    AccountsError::AlreadyManaged(Rejection {
        code: "TNR010",
        message: format!(
            "Account {aws_account_id} was removed from your subscription; restore it instead of transferring it again."
        ),
    })
}

/// TNR010 for an AWS account id the tenant already manages.
pub(crate) fn already_managed(aws_account_id: &str) -> AccountsError {
    AccountsError::AlreadyManaged(Rejection {
        code: "TNR010",
        message: format!("Account {aws_account_id} is already managed under your subscription."),
    })
}

/// TNR213 (quality.md S5): another tenant's live record holds the AWS account id. The answer names
/// neither that tenant nor anything of its record, and is the same for a lost race.
pub(crate) fn held_elsewhere(aws_account_id: &str) -> AccountsError {
    AccountsError::Precondition(Rejection {
        code: "TNR213",
        message: format!(
            "Account {aws_account_id} cannot be transferred to your subscription. Contact support."
        ),
    })
}

/// TNR101 (domain.md N1, seed 001): a root email some record already uses, in any tenant and in any
/// state but `abandoned` (a closed account's email can never be reused). The answer carries nothing
/// of the record, so it is the same whoever holds the email.
pub(crate) fn root_email_taken() -> AccountsError {
    AccountsError::CustomerAction(Rejection {
        code: "TNR101",
        message: "An AWS account already uses this root email address. Enter a different one."
            .to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(error: &AccountsError) -> &'static str {
        match error {
            AccountsError::Precondition(rejection)
            | AccountsError::AlreadyManaged(rejection)
            | AccountsError::CustomerAction(rejection) => rejection.code,
            _ => "",
        }
    }

    fn message(error: AccountsError) -> String {
        match error {
            AccountsError::Precondition(rejection) => rejection.message,
            other => panic!("not a precondition: {other:?}"),
        }
    }

    #[test]
    fn only_an_active_record_without_an_order_leaves_the_platform() {
        assert!(check_removal("123456789012", AccountState::Active, None).is_ok());
        assert_eq!(
            message(check_removal("123456789012", AccountState::Closed, None).expect_err("closed")),
            "Only active accounts without an order in progress can be removed from the platform. \
             Account 123456789012 is closed."
        );
        let order = Uuid::new_v4();
        let held = check_removal("123456789012", AccountState::Offboarding, Some(order))
            .expect_err("held");
        assert_eq!(code(&held), "TNR016");
        assert_eq!(
            message(held),
            format!(
                "Only active accounts without an order in progress can be removed from the \
                 platform. Order {order} for account 123456789012 is still in progress."
            )
        );
        assert!(check_removal("123456789012", AccountState::Active, Some(order)).is_err());
    }

    #[test]
    fn a_removal_is_restored_until_its_purge_ran() {
        let pending = RemovalPurge {
            purge_id: Uuid::new_v4(),
            purged_at: None,
        };
        assert!(check_restore(AccountState::Removed, Some(pending)).is_ok());
        let ran = RemovalPurge {
            purged_at: Some(chrono::DateTime::UNIX_EPOCH),
            ..pending
        };
        assert_eq!(
            code(&check_restore(AccountState::Removed, Some(ran)).expect_err("ran")),
            "TNR502"
        );
        assert!(matches!(
            check_restore(AccountState::Active, Some(pending)),
            Err(AccountsError::WrongState {
                current: AccountState::Active
            })
        ));
        assert!(purge_pending(AccountState::Removed, Some(pending)));
        assert!(!purge_pending(AccountState::Removed, Some(ran)));
        assert!(!purge_pending(AccountState::Active, Some(pending)));
        assert!(!purge_pending(AccountState::Removed, None));
    }

    #[test]
    fn collisions_answer_with_their_catalogue_codes() {
        assert_eq!(code(&removed_not_transferred("123456789012")), "TNR010");
        assert_eq!(code(&already_managed("123456789012")), "TNR010");
        assert_eq!(code(&held_elsewhere("123456789012")), "TNR213");
        assert_eq!(code(&root_email_taken()), "TNR101");
        assert_eq!(code(&restore_conflict("123456789012")), "TNR503");
        assert_eq!(code(&restore_window_ended()), "TNR502");
    }
}
