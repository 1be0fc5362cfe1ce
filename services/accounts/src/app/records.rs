//! AWS account records: reads, and the saga steps that attach, activate and release them; also the
//! shapes every change to one record shares (find it in its owner's tenant, move it, file the answer
//! under it).

use chrono::{DateTime, Utc};
use tenure_db::TenantTx;
use tenure_domain::AwsAccountId;
use uuid::Uuid;

use crate::app::billing::{SubscriptionView, open_subscription};
use crate::app::{Accounts, Answer, Call, Idempotent, Target};
use crate::domain::{
    AccountFilter, AccountRecord, AccountState, AccountsError, FreeText, JoinedMethod,
    LifecycleEvent, MarketplaceRef, OrganizationId, PageRequest, ParentId, Rejection,
    ResponseSubject, Transition, role_name, unsupported,
};
use crate::store;
use crate::store::accounts::ChangeContext;

/// How a request names an account record: by its own id, or by the AWS account id of its live
/// record.
#[derive(Debug, Clone)]
pub(crate) enum AccountRef {
    Id(Uuid),
    LiveAwsId(AwsAccountId),
}

impl AccountRef {
    /// The audit trail's name of the record.
    pub(crate) fn target(&self) -> Target {
        match self {
            AccountRef::Id(id) => Target::new("account", id),
            AccountRef::LiveAwsId(id) => Target::new("aws_account", id),
        }
    }

    /// The record within `tenant` (any tenant's for `None`): another tenant's record is not found,
    /// exactly like a random id.
    pub(crate) async fn find(
        &self,
        tx: &TenantTx,
        tenant: Option<Uuid>,
    ) -> Result<AccountRecord, AccountsError> {
        let found = match self {
            AccountRef::Id(id) => store::accounts::find_account(tx, tenant, *id).await?,
            AccountRef::LiveAwsId(id) => store::accounts::find_live_account(tx, tenant, id).await?,
        };
        found.ok_or(AccountsError::NotFound("account"))
    }
}

/// What attaching a record learns from AWS: the account's id and, when known, where it sits.
#[derive(Debug, Clone)]
pub(crate) struct Attachment {
    pub(crate) aws_account_id: AwsAccountId,
    pub(crate) organization_id: Option<OrganizationId>,
    pub(crate) parent_id: Option<ParentId>,
    pub(crate) joined_method: Option<JoinedMethod>,
}

/// The order that completes a record, and how its billing starts.
#[derive(Debug, Clone)]
pub(crate) struct Activation {
    pub(crate) order_id: Uuid,
    /// Now, when the order names no start.
    pub(crate) billing_starts_at: Option<DateTime<Utc>>,
    /// `account-<record id>`, when the order names no subscription.
    pub(crate) subscription_ref: Option<MarketplaceRef>,
}

/// A record just activated, with the subscription that now bills it.
#[derive(Debug, Clone)]
pub(crate) struct Activated {
    pub(crate) account: AccountRecord,
    pub(crate) subscription: SubscriptionView,
}

/// The transition history's view of who acts and why.
pub(super) fn change(
    call: &Call,
    reason: &str,
    order_id: Option<Uuid>,
    now: DateTime<Utc>,
) -> ChangeContext {
    ChangeContext {
        actor_subject: call.caller.subject.clone(),
        actor_role: role_name(call.caller.role),
        reason: reason.to_owned(),
        order_id,
        at: now,
    }
}

/// Moves `account` by `event`, lets `edit` set the fields the move changes with it, and stores the
/// record and its transition.
pub(super) async fn apply_event(
    tx: &TenantTx,
    account: AccountRecord,
    event: LifecycleEvent,
    change: &ChangeContext,
    edit: impl FnOnce(&mut AccountRecord),
) -> Result<AccountRecord, AccountsError> {
    let mut next = account.moved(event, change.at)?;
    edit(&mut next);
    store::accounts::save_move(tx, &account, &next, change).await
}

impl Accounts {
    /// Runs a keyed change to the record `record` names, in the transaction of the tenant that owns
    /// it and with the record loaded there. The stored answer is filed under the record, so the
    /// purge of its data removes the copy too.
    pub(super) async fn mutate_account<T>(
        &self,
        call: &Call,
        idempotent: Idempotent<'_, T>,
        record: AccountRef,
        target: Target,
        effect: impl AsyncFnOnce(&TenantTx, AccountRecord, DateTime<Utc>) -> Result<T, AccountsError>,
    ) -> Result<Answer<T>, AccountsError> {
        let tenant = match &record {
            AccountRef::Id(id) => self.tenant_of_account(call, *id).await?,
            AccountRef::LiveAwsId(id) => self.tenant_of_live_account(call, id).await?,
        };
        self.mutate(call, idempotent, tenant, target, async |tx, now| {
            let account = record.find(tx, Some(tenant)).await?;
            let subject = ResponseSubject::Account(account.id);
            Ok((effect(tx, account, now).await?, subject))
        })
        .await
    }

    /// [`Accounts::mutate_account`] for record `id`, audited under its id.
    pub(super) async fn mutate_record<T>(
        &self,
        call: &Call,
        idempotent: Idempotent<'_, T>,
        id: Uuid,
        effect: impl AsyncFnOnce(&TenantTx, AccountRecord, DateTime<Utc>) -> Result<T, AccountsError>,
    ) -> Result<Answer<T>, AccountsError> {
        let target = Target::new("account", id);
        self.mutate_account(call, idempotent, AccountRef::Id(id), target, effect)
            .await
    }

    /// Reads what `read` takes from record `record`, which must be within the caller's reach: another
    /// tenant's record is not found, like a random id.
    pub(super) async fn read_account<T>(
        &self,
        call: &Call,
        record: AccountRef,
        read: impl AsyncFnOnce(&TenantTx, AccountRecord) -> Result<T, AccountsError>,
    ) -> Result<T, AccountsError> {
        let tenant = call.access.tenant_filter(None)?;
        self.read(call, record.target(), async |tx| {
            let account = record.find(tx, tenant).await?;
            read(tx, account).await
        })
        .await
    }

    /// Moves record `id` by `event`, which ends the hold of the order working on it (a release, an
    /// aborted offboarding); the history still names that order.
    pub(super) async fn end_order_hold(
        &self,
        call: &Call,
        idempotent: Idempotent<'_, AccountRecord>,
        id: Uuid,
        reason: FreeText,
        event: LifecycleEvent,
    ) -> Result<Answer<AccountRecord>, AccountsError> {
        let target = Target::new("account", id).because(reason.as_str(), "");
        self.mutate_account(
            call,
            idempotent,
            AccountRef::Id(id),
            target,
            async |tx, account, now| {
                let order_id = account.active_order_id;
                let change = change(call, reason.as_str(), order_id, now);
                apply_event(tx, account, event, &change, |next| {
                    next.active_order_id = None
                })
                .await
            },
        )
        .await
    }

    pub(crate) async fn get_account(
        &self,
        call: &Call,
        record: AccountRef,
    ) -> Result<AccountRecord, AccountsError> {
        self.read_account(call, record, async |_tx, account| Ok(account))
            .await
    }

    /// One page of the records `filter` selects within the caller's reach (one row more than the
    /// page, which tells whether another follows).
    pub(crate) async fn list_accounts(
        &self,
        call: &Call,
        mut filter: AccountFilter,
        page: PageRequest,
    ) -> Result<Vec<AccountRecord>, AccountsError> {
        filter.tenant = call.access.tenant_filter(filter.tenant)?;
        self.read(call, Target::new("account", "*"), async |tx| {
            store::accounts::list_accounts(tx, &filter, page).await
        })
        .await
    }

    /// One page of record `id`'s history, oldest first.
    pub(crate) async fn list_account_transitions(
        &self,
        call: &Call,
        id: Uuid,
        page: PageRequest,
    ) -> Result<Vec<Transition>, AccountsError> {
        self.read_account(call, AccountRef::Id(id), async |tx, account| {
            store::accounts::list_transitions(tx, account.id, page).await
        })
        .await
    }

    /// Gives a record reserved for a new account or a transfer the AWS account id it now has.
    pub(crate) async fn attach_account(
        &self,
        call: &Call,
        idempotent: Idempotent<'_, AccountRecord>,
        id: Uuid,
        attachment: Attachment,
    ) -> Result<Answer<AccountRecord>, AccountsError> {
        self.mutate_record(call, idempotent, id, async |tx, account, _now| {
            if !matches!(
                account.state,
                AccountState::PendingCreation | AccountState::TransferPending
            ) {
                return Err(AccountsError::WrongState {
                    current: account.state,
                });
            }
            if account
                .aws_account_id
                .as_ref()
                .is_some_and(|known| *known != attachment.aws_account_id)
            {
                return Err(AccountsError::invalid(unsupported(
                    "aws_account_id",
                    "the record is already attached to another AWS account id",
                )));
            }
            let mut next = account.clone();
            next.aws_account_id = Some(attachment.aws_account_id);
            if let Some(organization_id) = attachment.organization_id {
                next.organization_id = Some(organization_id);
            }
            if let Some(parent_id) = attachment.parent_id {
                next.parent_id = Some(parent_id);
            }
            if let Some(method) = attachment.joined_method {
                next.joined_method = Some(method);
            }
            store::accounts::update_account(tx, &account, &next).await
        })
        .await
    }

    /// Completes the order that created or transferred record `id`: the record becomes active and a
    /// subscription starts billing it.
    pub(crate) async fn activate_account(
        &self,
        call: &Call,
        idempotent: Idempotent<'_, Activated>,
        id: Uuid,
        activation: Activation,
    ) -> Result<Answer<Activated>, AccountsError> {
        self.mutate_record(call, idempotent, id, async |tx, account, now| {
            if account.aws_account_id.is_none() {
                return Err(AccountsError::Precondition(Rejection {
                    code: "TNR903",
                    message: "The account has no AWS account id yet; attach it before activating."
                        .to_owned(),
                }));
            }
            let change = change(call, "order completed", Some(activation.order_id), now);
            let account = apply_event(tx, account, LifecycleEvent::Activate, &change, |next| {
                next.billing_starts_at = Some(activation.billing_starts_at.unwrap_or(now));
                next.active_order_id = None;
            })
            .await?;
            let marketplace_ref = activation.subscription_ref.map_or_else(
                || format!("account-{}", account.id),
                MarketplaceRef::into_inner,
            );
            let subscription = open_subscription(tx, &account, marketplace_ref, now).await?;
            Ok(Activated {
                account,
                subscription,
            })
        })
        .await
    }

    /// Gives up a reservation whose order failed before AWS created or handed over anything.
    pub(crate) async fn release_account(
        &self,
        call: &Call,
        idempotent: Idempotent<'_, AccountRecord>,
        id: Uuid,
        reason: FreeText,
    ) -> Result<Answer<AccountRecord>, AccountsError> {
        self.end_order_hold(call, idempotent, id, reason, LifecycleEvent::Abandon)
            .await
    }
}
