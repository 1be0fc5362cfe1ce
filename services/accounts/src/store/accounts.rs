//! AWS account records, their lifecycle transitions, subscriptions, and the data kept per account
//! (details fetched from AWS, cost records).

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait as _, ActiveValue, ColumnTrait as _, Condition, EntityTrait as _,
    IntoActiveModel as _, PaginatorTrait as _, QueryFilter as _, QueryOrder as _, QuerySelect as _,
    Set,
};
use tenure_db::TenantTx;
use uuid::Uuid;

use crate::domain::{
    AccountState, AccountsError, LifecycleEvent, PageRequest, Relationship, RemovalPurge,
    SubscriptionStatus, check_transition, purge_pending,
};
use crate::store::entity::{
    account_details, account_transition, aws_account, cost_record, subscription,
};
use crate::store::stored;

/// Who makes a change and why, for the transition history.
#[derive(Debug, Clone)]
pub(crate) struct ChangeContext {
    pub(crate) actor_subject: String,
    pub(crate) actor_role: &'static str,
    pub(crate) reason: String,
    pub(crate) order_id: Option<Uuid>,
    pub(crate) at: DateTime<Utc>,
}

/// Filters of a list of account records.
#[derive(Debug, Clone, Default)]
pub(crate) struct AccountFilter {
    pub(crate) tenant: Option<Uuid>,
    pub(crate) states: Vec<AccountState>,
    pub(crate) relationship: Option<Relationship>,
    pub(crate) management_account_id: Option<String>,
}

/// Reads a record by id, only inside `tenant` when one is given.
pub(crate) async fn find_account(
    tx: &TenantTx,
    tenant: Option<Uuid>,
    id: Uuid,
) -> Result<Option<aws_account::Model>, AccountsError> {
    let mut query = aws_account::Entity::find_by_id(id);
    if let Some(tenant) = tenant {
        query = query.filter(aws_account::Column::TenantId.eq(tenant));
    }
    Ok(query.one(&**tx).await?)
}

/// Reads the live record of an AWS account id, only inside `tenant` when one is given.
pub(crate) async fn find_live_account(
    tx: &TenantTx,
    tenant: Option<Uuid>,
    aws_account_id: &str,
) -> Result<Option<aws_account::Model>, AccountsError> {
    let mut query = aws_account::Entity::find()
        .filter(aws_account::Column::AwsAccountId.eq(aws_account_id))
        .filter(aws_account::Column::State.is_in(AccountState::live_names()));
    if let Some(tenant) = tenant {
        query = query.filter(aws_account::Column::TenantId.eq(tenant));
    }
    Ok(query.one(&**tx).await?)
}

/// The purge a record's removal scheduled, if it has one.
pub(crate) fn removal_purge(account: &aws_account::Model) -> Option<RemovalPurge> {
    account.removal_purge_id.map(|purge_id| RemovalPurge {
        purge_id,
        purged_at: account.removal_purged_at,
    })
}

/// Whether `tenant` removed a record of `aws_account_id` whose purge has still to run.
pub(crate) async fn has_pending_removal(
    tx: &TenantTx,
    tenant: Uuid,
    aws_account_id: &str,
) -> Result<bool, AccountsError> {
    let removed = aws_account::Entity::find()
        .filter(aws_account::Column::TenantId.eq(tenant))
        .filter(aws_account::Column::AwsAccountId.eq(aws_account_id))
        .filter(aws_account::Column::State.eq(AccountState::Removed.as_str()))
        .all(&**tx)
        .await?;
    Ok(removed
        .iter()
        .any(|account| purge_pending(AccountState::Removed, removal_purge(account))))
}

/// Whether any record the transaction sees uses the root email of `key` and was not abandoned:
/// AWS never gives the email of an account back, not even once it is closed (seed 001).
pub(crate) async fn root_email_in_use(tx: &TenantTx, key: &str) -> Result<bool, AccountsError> {
    Ok(aws_account::Entity::find()
        .filter(aws_account::Column::RootEmailKey.eq(key))
        .filter(aws_account::Column::State.ne(AccountState::Abandoned.as_str()))
        .count(&**tx)
        .await?
        > 0)
}

/// The owning tenant of a record, for cross-tenant callers that must then work inside that tenant.
pub(crate) async fn owner_of_account(
    tx: &TenantTx,
    id: Uuid,
) -> Result<Option<Uuid>, AccountsError> {
    Ok(aws_account::Entity::find_by_id(id)
        .one(&**tx)
        .await?
        .map(|account| account.tenant_id))
}

/// The owning tenant of the live record of an AWS account id.
pub(crate) async fn owner_of_live_account(
    tx: &TenantTx,
    aws_account_id: &str,
) -> Result<Option<Uuid>, AccountsError> {
    Ok(find_live_account(tx, None, aws_account_id)
        .await?
        .map(|account| account.tenant_id))
}

/// One page of records, oldest first.
pub(crate) async fn list_accounts(
    tx: &TenantTx,
    filter: &AccountFilter,
    page: PageRequest,
) -> Result<Vec<aws_account::Model>, AccountsError> {
    let mut query = aws_account::Entity::find();
    if let Some(tenant) = filter.tenant {
        query = query.filter(aws_account::Column::TenantId.eq(tenant));
    }
    if !filter.states.is_empty() {
        query = query.filter(
            aws_account::Column::State.is_in(filter.states.iter().map(|state| state.as_str())),
        );
    }
    if let Some(relationship) = filter.relationship {
        query = query.filter(aws_account::Column::Relationship.eq(relationship.as_str()));
    }
    if let Some(management) = &filter.management_account_id {
        query = query.filter(aws_account::Column::ManagementAccountId.eq(management.as_str()));
    }
    Ok(query
        .order_by_asc(aws_account::Column::CreatedAt)
        .order_by_asc(aws_account::Column::Id)
        .offset(page.offset)
        .limit(page.size + 1)
        .all(&**tx)
        .await?)
}

/// Live records of `tenant` that name `management_account_id` as their management account.
pub(crate) async fn count_live_members(
    tx: &TenantTx,
    tenant: Uuid,
    management_account_id: &str,
) -> Result<u64, AccountsError> {
    Ok(aws_account::Entity::find()
        .filter(aws_account::Column::TenantId.eq(tenant))
        .filter(aws_account::Column::ManagementAccountId.eq(management_account_id))
        .filter(aws_account::Column::State.is_in(AccountState::live_names()))
        .count(&**tx)
        .await?)
}

/// Stores a new record and its first transition (from nothing to its initial state).
pub(crate) async fn insert_account(
    tx: &TenantTx,
    model: aws_account::Model,
    change: &ChangeContext,
) -> Result<aws_account::Model, AccountsError> {
    let stored_model = model.into_active_model().insert(&**tx).await?;
    record_transition(tx, &stored_model, None, change).await?;
    Ok(stored_model)
}

/// Moves `account` by `event` when the lifecycle allows it, applies `edit` to the same row, and records
/// the transition with its actor and reason. The update is guarded by the state it was read in, so a
/// concurrent move makes this one fail instead of overwriting it.
pub(crate) async fn apply_event(
    tx: &TenantTx,
    account: aws_account::Model,
    event: LifecycleEvent,
    change: &ChangeContext,
    edit: impl FnOnce(&mut aws_account::ActiveModel),
) -> Result<aws_account::Model, AccountsError> {
    let current = stored(AccountState::parse(&account.state))?;
    let next = check_transition(current, event)?;
    let mut active = account.clone().into_active_model();
    active.state = Set(next.as_str().to_owned());
    active.state_changed_at = Set(change.at);
    edit(&mut active);
    let updated = save_guarded(tx, active, account.id, current).await?;
    record_transition(tx, &updated, Some(current), change).await?;
    Ok(updated)
}

/// Changes fields of a record without moving its state, guarded like [`apply_event`].
pub(crate) async fn update_account(
    tx: &TenantTx,
    account: aws_account::Model,
    edit: impl FnOnce(&mut aws_account::ActiveModel),
) -> Result<aws_account::Model, AccountsError> {
    let current = stored(AccountState::parse(&account.state))?;
    let mut active = account.clone().into_active_model();
    edit(&mut active);
    save_guarded(tx, active, account.id, current).await
}

async fn save_guarded(
    tx: &TenantTx,
    mut active: aws_account::ActiveModel,
    id: Uuid,
    expected: AccountState,
) -> Result<aws_account::Model, AccountsError> {
    active.id = ActiveValue::Unchanged(id);
    let changed = aws_account::Entity::update_many()
        .set(active)
        .filter(aws_account::Column::Id.eq(id))
        .filter(aws_account::Column::State.eq(expected.as_str()))
        .exec(&**tx)
        .await?;
    if changed.rows_affected != 1 {
        return Err(AccountsError::Concurrent);
    }
    aws_account::Entity::find_by_id(id)
        .one(&**tx)
        .await?
        .ok_or_else(|| AccountsError::internal("updated account vanished"))
}

async fn record_transition(
    tx: &TenantTx,
    account: &aws_account::Model,
    from: Option<AccountState>,
    change: &ChangeContext,
) -> Result<(), AccountsError> {
    account_transition::ActiveModel {
        id: ActiveValue::NotSet,
        account_id: Set(account.id),
        tenant_id: Set(account.tenant_id),
        from_state: Set(from.map(|state| state.as_str().to_owned())),
        to_state: Set(account.state.clone()),
        at: Set(change.at),
        actor_subject: Set(change.actor_subject.clone()),
        actor_role: Set(change.actor_role.to_owned()),
        reason: Set(change.reason.clone()),
        order_id: Set(change.order_id),
    }
    .insert(&**tx)
    .await?;
    Ok(())
}

/// One page of a record's transitions, oldest first.
pub(crate) async fn list_transitions(
    tx: &TenantTx,
    account_id: Uuid,
    page: PageRequest,
) -> Result<Vec<account_transition::Model>, AccountsError> {
    Ok(account_transition::Entity::find()
        .filter(account_transition::Column::AccountId.eq(account_id))
        .order_by_asc(account_transition::Column::Id)
        .offset(page.offset)
        .limit(page.size + 1)
        .all(&**tx)
        .await?)
}

/// Records whose lifecycle timer is due at `now`: `closed` past `reopen_until`, `unlinking` past
/// `billing_ends_at`. Read across tenants by the timer worker.
pub(crate) async fn due_timers(
    tx: &TenantTx,
    now: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<aws_account::Model>, AccountsError> {
    let closed_expired = Condition::all()
        .add(aws_account::Column::State.eq(AccountState::Closed.as_str()))
        .add(aws_account::Column::ReopenUntil.lt(now));
    let unlink_due = Condition::all()
        .add(aws_account::Column::State.eq(AccountState::Unlinking.as_str()))
        .add(aws_account::Column::BillingEndsAt.lte(now));
    Ok(aws_account::Entity::find()
        .filter(Condition::any().add(closed_expired).add(unlink_due))
        .order_by_asc(aws_account::Column::Id)
        .limit(limit)
        .all(&**tx)
        .await?)
}

/// Stores a new subscription.
pub(crate) async fn insert_subscription(
    tx: &TenantTx,
    model: subscription::Model,
) -> Result<subscription::Model, AccountsError> {
    Ok(model.into_active_model().insert(&**tx).await?)
}

/// Reads a subscription, only inside `tenant` when one is given.
pub(crate) async fn find_subscription(
    tx: &TenantTx,
    tenant: Option<Uuid>,
    id: Uuid,
) -> Result<Option<subscription::Model>, AccountsError> {
    let mut query = subscription::Entity::find_by_id(id);
    if let Some(tenant) = tenant {
        query = query.filter(subscription::Column::TenantId.eq(tenant));
    }
    Ok(query.one(&**tx).await?)
}

/// The owning tenant of a subscription.
pub(crate) async fn owner_of_subscription(
    tx: &TenantTx,
    id: Uuid,
) -> Result<Option<Uuid>, AccountsError> {
    Ok(find_subscription(tx, None, id)
        .await?
        .map(|subscription| subscription.tenant_id))
}

/// The subscription that currently bills a record: the newest one that is not terminated.
pub(crate) async fn current_subscription(
    tx: &TenantTx,
    account_id: Uuid,
) -> Result<Option<subscription::Model>, AccountsError> {
    Ok(subscription::Entity::find()
        .filter(subscription::Column::AccountId.eq(account_id))
        .filter(subscription::Column::Status.ne(SubscriptionStatus::Terminated.as_str()))
        .order_by_desc(subscription::Column::StartedAt)
        .one(&**tx)
        .await?)
}

/// The newest subscription of a record, terminated or not.
pub(crate) async fn latest_subscription(
    tx: &TenantTx,
    account_id: Uuid,
) -> Result<Option<subscription::Model>, AccountsError> {
    Ok(subscription::Entity::find()
        .filter(subscription::Column::AccountId.eq(account_id))
        .order_by_desc(subscription::Column::StartedAt)
        .one(&**tx)
        .await?)
}

/// Filters of a list of subscriptions.
#[derive(Debug, Clone, Default)]
pub(crate) struct SubscriptionFilter {
    pub(crate) tenant: Option<Uuid>,
    pub(crate) account_id: Option<Uuid>,
    pub(crate) status: Option<SubscriptionStatus>,
}

/// One page of subscriptions, oldest first.
pub(crate) async fn list_subscriptions(
    tx: &TenantTx,
    filter: &SubscriptionFilter,
    page: PageRequest,
) -> Result<Vec<subscription::Model>, AccountsError> {
    let mut query = subscription::Entity::find();
    if let Some(tenant) = filter.tenant {
        query = query.filter(subscription::Column::TenantId.eq(tenant));
    }
    if let Some(account_id) = filter.account_id {
        query = query.filter(subscription::Column::AccountId.eq(account_id));
    }
    if let Some(status) = filter.status {
        query = query.filter(subscription::Column::Status.eq(status.as_str()));
    }
    Ok(query
        .order_by_asc(subscription::Column::StartedAt)
        .order_by_asc(subscription::Column::Id)
        .offset(page.offset)
        .limit(page.size + 1)
        .all(&**tx)
        .await?)
}

/// Changes a subscription's status; terminating stamps `terminated_at`.
pub(crate) async fn set_subscription_status(
    tx: &TenantTx,
    model: subscription::Model,
    status: SubscriptionStatus,
    at: DateTime<Utc>,
) -> Result<subscription::Model, AccountsError> {
    let mut active = model.into_active_model();
    active.status = Set(status.as_str().to_owned());
    if status == SubscriptionStatus::Terminated {
        active.terminated_at = Set(Some(at));
    }
    Ok(active.update(&**tx).await?)
}

/// Replaces the details fetched from AWS for a record.
pub(crate) async fn put_details(
    tx: &TenantTx,
    model: account_details::Model,
) -> Result<account_details::Model, AccountsError> {
    account_details::Entity::delete_by_id(model.account_id)
        .exec(&**tx)
        .await?;
    Ok(model.into_active_model().insert(&**tx).await?)
}

/// The details fetched from AWS for a record.
pub(crate) async fn find_details(
    tx: &TenantTx,
    account_id: Uuid,
) -> Result<Option<account_details::Model>, AccountsError> {
    Ok(account_details::Entity::find_by_id(account_id)
        .one(&**tx)
        .await?)
}

/// Appends cost records.
pub(crate) async fn insert_cost_records(
    tx: &TenantTx,
    records: Vec<cost_record::Model>,
) -> Result<(), AccountsError> {
    if records.is_empty() {
        return Ok(());
    }
    let rows = records.into_iter().map(|record| {
        let mut active = record.into_active_model();
        active.id = ActiveValue::NotSet;
        active
    });
    cost_record::Entity::insert_many(rows).exec(&**tx).await?;
    Ok(())
}

/// One page of a record's cost records, newest period first.
pub(crate) async fn list_cost_records(
    tx: &TenantTx,
    account_id: Uuid,
    page: PageRequest,
) -> Result<Vec<cost_record::Model>, AccountsError> {
    Ok(cost_record::Entity::find()
        .filter(cost_record::Column::AccountId.eq(account_id))
        .order_by_desc(cost_record::Column::PeriodStart)
        .order_by_desc(cost_record::Column::Id)
        .offset(page.offset)
        .limit(page.size + 1)
        .all(&**tx)
        .await?)
}

/// A field value to write, for the `edit` closures of [`apply_event`] and [`update_account`].
pub(crate) fn set<T: Into<sea_orm::Value>>(value: T) -> ActiveValue<T> {
    ActiveValue::Set(value)
}
