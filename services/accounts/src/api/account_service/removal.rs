//! Removing an account from the platform without touching AWS, and restoring it (seed 004): the tenant's
//! administrators and operators take a record off the platform, its subscription ends and data-purge
//! schedules the purge of its data; until that purge runs, the removal can be undone.

use chrono::{DateTime, Utc};
use tenure_db::TenantTx;
use tenure_domain::{AwsAccountId, CallerRole, Problems};
use tenure_proto::Keyed;
use tenure_proto::accounts::v1 as pb;
use uuid::Uuid;

use crate::api::account_service::billing::open_subscription;
use crate::api::account_service::records::{AccountRef, AccountResponse, change, record_id};
use crate::api::context::{checked, finish_keyed};
use crate::api::convert::{self, EmailView};
use crate::app::{Accounts, Call, Target};
use crate::clients::{Cancelled, derived_key};
use crate::domain::{
    AccountState, AccountsError, FreeText, LifecycleEvent, ResponseSubject, SubscriptionStatus,
    Ticket, check_platform_membership_manager, check_removal, check_restore, restore_conflict,
    restore_window_ended,
};
use crate::store;
use crate::store::accounts::set;
use crate::store::entity::aws_account;

/// Why a removal or a restore happens, as the request gives it.
struct Why {
    reason: FreeText,
    ticket: Option<Ticket>,
}

impl Why {
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

/// Reads the record id and the reason of a removal or restore. Operators give a reason of 10 or more
/// characters and a support ticket, as for every change they make on a customer's behalf.
fn read_request(
    call: &Call,
    request: &impl Keyed,
    account_id: &str,
    reason: &str,
    ticket: &str,
) -> Result<(Uuid, Why), AccountsError> {
    let mut problems = Problems::new();
    let id = record_id(&mut problems, "account_id", account_id);
    let operator = call.caller.role == CallerRole::Operator;
    let reason = if operator {
        problems.check("reason", FreeText::operator_reason(reason))
    } else {
        problems.check("reason", FreeText::reason(reason))
    };
    let ticket = if operator || !ticket.is_empty() {
        problems.check("ticket", Ticket::parse(ticket)).map(Some)
    } else {
        Some(None)
    };
    finish_keyed(problems, request)?;
    Ok((
        checked(id)?,
        Why {
            reason: checked(reason)?,
            ticket: checked(ticket)?,
        },
    ))
}

/// The AWS account id of a record that has one; every record that was ever active does.
fn aws_account_id_of(account: &aws_account::Model) -> Result<AwsAccountId, AccountsError> {
    account
        .aws_account_id
        .as_deref()
        .map(AwsAccountId::parse)
        .transpose()
        .map_err(|_| AccountsError::internal("a stored AWS account id is malformed"))?
        .ok_or_else(|| AccountsError::internal("an active record has no AWS account id"))
}

impl Accounts {
    /// Runs `step` on record `id` for a caller who may manage platform membership. A customer who is
    /// not an administrator is refused before the record is looked up, so the answer says nothing
    /// about any record; another tenant's record is not found, like a random id.
    async fn change_membership<Q, R>(
        &self,
        call: &Call,
        request: &Q,
        id: Uuid,
        target: Target,
        step: impl AsyncFnOnce(
            &TenantTx,
            aws_account::Model,
            DateTime<Utc>,
        ) -> Result<aws_account::Model, AccountsError>,
    ) -> Result<R, AccountsError>
    where
        Q: Keyed,
        R: AccountResponse,
    {
        let tenant = self.tenant_of_account(call, id).await?;
        self.mutate_reply(call, request, tenant, target, async |tx, now| {
            let roles = match call.caller.role {
                CallerRole::Customer => {
                    store::tenants::roles_of_subject(tx, tenant, &call.caller.subject).await?
                }
                _ => Vec::new(),
            };
            check_platform_membership_manager(&call.caller, &roles)?;
            let account = AccountRef::Id(id).find(tx, Some(tenant)).await?;
            let account = step(tx, account, now).await?;
            Ok((
                R::with_account(convert::account(&account, EmailView::Full)?),
                ResponseSubject::Account(account.id),
            ))
        })
        .await
    }

    pub(crate) async fn remove_account_from_platform(
        &self,
        call: &Call,
        request: pb::RemoveAccountFromPlatformRequest,
    ) -> Result<pb::RemoveAccountFromPlatformResponse, AccountsError> {
        let (id, why) = read_request(
            call,
            &request,
            &request.account_id,
            &request.reason,
            &request.ticket,
        )?;
        let target = why.target(id);
        self.change_membership(call, &request, id, target, async |tx, account, now| {
            let current = store::stored(AccountState::parse(&account.state))?;
            let label = account
                .aws_account_id
                .clone()
                .unwrap_or_else(|| account.id.to_string());
            check_removal(&label, current, account.active_order_id)?;
            let aws_account_id = aws_account_id_of(&account)?;
            if let Some(subscription) =
                store::accounts::current_subscription(tx, account.id).await?
            {
                store::accounts::set_subscription_status(
                    tx,
                    subscription,
                    SubscriptionStatus::Terminated,
                    now,
                )
                .await?;
            }
            // Scheduled inside this transaction: if data-purge cannot take it, nothing is removed,
            // and a retry with the same key reaches the same purge.
            let purge = self
                .purge
                .schedule_account_purge(
                    account.tenant_id,
                    &aws_account_id,
                    now,
                    derived_key("remove", account.id, &request.idempotency_key),
                )
                .await?;
            tracing::info!(account_id = %account.id, purge_id = %purge.id, "account removed from the platform; purge scheduled");
            store::accounts::apply_event(
                tx,
                account,
                LifecycleEvent::RemoveFromPlatform,
                &change(call, why.reason_or("removed from the platform"), None, now),
                |active| {
                    active.removed_at = set(Some(now));
                    active.removal_purge_id = set(Some(purge.id));
                    active.removal_purge_due_at = set(Some(purge.due_at));
                    active.removal_purged_at = set(None);
                },
            )
            .await
        })
        .await
    }

    pub(crate) async fn restore_account_to_platform(
        &self,
        call: &Call,
        request: pb::RestoreAccountToPlatformRequest,
    ) -> Result<pb::RestoreAccountToPlatformResponse, AccountsError> {
        let (id, why) = read_request(
            call,
            &request,
            &request.account_id,
            &request.reason,
            &request.ticket,
        )?;
        let target = why.target(id);
        self.change_membership(call, &request, id, target, async |tx, account, now| {
            let current = store::stored(AccountState::parse(&account.state))?;
            let purge = store::accounts::removal_purge(&account);
            check_restore(current, purge)?;
            let aws_account_id = aws_account_id_of(&account)?;
            // Another tenant may have taken the account on while it was off the platform.
            let holder = store::read_across_tenants(tx, async |tx| {
                store::accounts::find_live_account(tx, None, aws_account_id.as_str()).await
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
                        derived_key("restore", account.id, &request.idempotency_key),
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
            let account = store::accounts::apply_event(
                tx,
                account,
                LifecycleEvent::RestoreToPlatform,
                &change(call, why.reason_or("restored to the platform"), None, now),
                |active| {
                    active.removed_at = set(None);
                    active.removal_purge_id = set(None);
                    active.removal_purge_due_at = set(None);
                    active.removal_purged_at = set(None);
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
