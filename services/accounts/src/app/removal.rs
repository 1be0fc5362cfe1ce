//! Removing an account from the platform without touching AWS, and restoring it (seed 004): the
//! tenant's administrators and operators take a record off the platform, its subscription ends and
//! data-purge schedules the purge of its data; until that purge runs, the removal can be undone.

use chrono::{DateTime, Utc};
use tenure_db::TenantTx;
use tenure_domain::CallerRole;
use uuid::Uuid;

use crate::app::billing::open_subscription;
use crate::app::lifecycle::end_subscription;
use crate::app::records::{AccountRef, apply_event, change};
use crate::app::{Accounts, Answer, Call, Idempotent, Target};
use crate::clients::{Cancelled, derived_key};
use crate::domain::{
    AccountRecord, AccountsError, FreeText, LifecycleEvent, ResponseSubject, Ticket,
    check_platform_membership_manager, check_removal, check_restore, restore_conflict,
    restore_window_ended,
};
use crate::store;

/// Why a removal or a restore happens, as the request gives it.
#[derive(Debug, Clone)]
pub(crate) struct MembershipChange {
    pub(crate) reason: FreeText,
    pub(crate) ticket: Option<Ticket>,
}

impl MembershipChange {
    /// The transition history's reason: the caller's own, or what happened when they gave none.
    fn reason_or<'a>(&'a self, otherwise: &'a str) -> &'a str {
        match self.reason.as_str() {
            "" => otherwise,
            given => given,
        }
    }

    fn target(&self, id: Uuid) -> Target {
        Target::new("account", id).because(
            self.reason.as_str(),
            self.ticket.as_ref().map(Ticket::as_str).unwrap_or_default(),
        )
    }
}

impl Accounts {
    /// Runs `step` on record `id` for a caller who may manage platform membership. A customer who is
    /// not an administrator is refused before the record is looked up, so the answer says nothing
    /// about any record; another tenant's record is not found, like a random id.
    async fn change_membership(
        &self,
        call: &Call,
        idempotent: Idempotent<'_, AccountRecord>,
        id: Uuid,
        target: Target,
        step: impl AsyncFnOnce(
            &TenantTx,
            AccountRecord,
            DateTime<Utc>,
        ) -> Result<AccountRecord, AccountsError>,
    ) -> Result<Answer<AccountRecord>, AccountsError> {
        let tenant = self.tenant_of_account(call, id).await?;
        self.mutate(call, idempotent, tenant, target, async |tx, now| {
            let roles = match call.caller.role {
                CallerRole::Customer => {
                    store::tenants::roles_of_subject(tx, tenant, &call.caller.subject).await?
                }
                _ => Vec::new(),
            };
            check_platform_membership_manager(&call.caller, &roles)?;
            let account = AccountRef::Id(id).find(tx, Some(tenant)).await?;
            let account = step(tx, account, now).await?;
            let subject = ResponseSubject::Account(account.id);
            Ok((account, subject))
        })
        .await
    }

    pub(crate) async fn remove_account_from_platform(
        &self,
        call: &Call,
        idempotent: Idempotent<'_, AccountRecord>,
        id: Uuid,
        why: MembershipChange,
    ) -> Result<Answer<AccountRecord>, AccountsError> {
        let client_key = idempotent.key.as_str().to_owned();
        let target = why.target(id);
        self.change_membership(call, idempotent, id, target, async |tx, account, now| {
            check_removal(&account.label(), account.state, account.active_order_id)?;
            let aws_account_id = account.known_aws_account_id()?.clone();
            end_subscription(tx, account.id, now).await?;
            // Scheduled inside this transaction: if data-purge cannot take it, nothing is removed,
            // and a retry with the same key reaches the same purge.
            let purge = self
                .purge
                .schedule_account_purge(
                    account.tenant_id,
                    &aws_account_id,
                    now,
                    derived_key("remove", account.id, &client_key),
                )
                .await?;
            tracing::info!(account_id = %account.id, purge_id = %purge.id, "account removed from the platform; purge scheduled");
            let change = change(call, why.reason_or("removed from the platform"), None, now);
            apply_event(tx, account, LifecycleEvent::RemoveFromPlatform, &change, |next| {
                next.removed_at = Some(now);
                next.removal_purge_id = Some(purge.id);
                next.removal_purge_due_at = Some(purge.due_at);
                next.removal_purged_at = None;
            })
            .await
        })
        .await
    }

    pub(crate) async fn restore_account_to_platform(
        &self,
        call: &Call,
        idempotent: Idempotent<'_, AccountRecord>,
        id: Uuid,
        why: MembershipChange,
    ) -> Result<Answer<AccountRecord>, AccountsError> {
        let client_key = idempotent.key.as_str().to_owned();
        let target = why.target(id);
        self.change_membership(call, idempotent, id, target, async |tx, account, now| {
            let purge = account.removal_purge();
            check_restore(account.state, purge)?;
            let aws_account_id = account.known_aws_account_id()?.clone();
            // Another tenant may have taken the account on while it was off the platform.
            let holder = store::read_across_tenants(tx, async |tx| {
                store::accounts::find_live_account(tx, None, &aws_account_id).await
            })
            .await?;
            if holder.is_some() {
                return Err(restore_conflict(aws_account_id.as_str()));
            }
            // Checked before the purge is cancelled, so a refused restore leaves the purge as it was.
            if let Some(purge) = purge {
                let cancelled = self
                    .purge
                    .cancel_purge(
                        account.tenant_id,
                        purge.purge_id,
                        derived_key("restore", account.id, &client_key),
                        "the account was restored to the platform",
                    )
                    .await?;
                if cancelled == Cancelled::AlreadyStarted {
                    return Err(restore_window_ended());
                }
            }
            let marketplace_ref = store::accounts::latest_subscription(tx, account.id)
                .await?
                .map_or_else(
                    || format!("account-{}", account.id),
                    |previous| previous.marketplace_ref,
                );
            // The removal's dates stay in the transition history; the record shows only a current one.
            let change = change(call, why.reason_or("restored to the platform"), None, now);
            let account = apply_event(
                tx,
                account,
                LifecycleEvent::RestoreToPlatform,
                &change,
                |next| {
                    next.removed_at = None;
                    next.removal_purge_id = None;
                    next.removal_purge_due_at = None;
                    next.removal_purged_at = None;
                },
            )
            .await
            .map_err(|error| match error {
                // Lost a race with a new registration of the same AWS account id.
                AccountsError::NotEligible => restore_conflict(aws_account_id.as_str()),
                other => other,
            })?;
            open_subscription(tx, &account, marketplace_ref, now).await?;
            Ok(account)
        })
        .await
    }
}
