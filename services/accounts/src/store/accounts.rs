//! AWS account records, their lifecycle transitions, subscriptions, and the data kept per account
//! (details fetched from AWS, cost records). Functions take and return the domain's records; the rows
//! behind them stay in this module and in [`crate::store::rows`].

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait as _, ActiveValue, ColumnTrait as _, Condition, EntityTrait,
    IntoActiveModel as _, Iterable as _, ModelTrait as _, PaginatorTrait as _, PrimaryKeyTrait,
    QueryFilter as _, QueryOrder as _, QuerySelect as _, Set,
};
use tenure_db::TenantTx;
use tenure_domain::{AwsAccountId, RootEmail};
use uuid::Uuid;

use crate::domain::{
    AccountDetails, AccountFilter, AccountRecord, AccountState, AccountsError, CostRecord,
    PageRequest, SubscriptionFilter, SubscriptionRecord, SubscriptionStatus, Transition,
    purge_pending,
};
use crate::store::entity::{
    account_details, account_transition, aws_account, cost_record, subscription,
};
use crate::store::rows;

/// Who makes a change and why, for the transition history.
#[derive(Debug, Clone)]
pub(crate) struct ChangeContext {
    pub(crate) actor_subject: String,
    pub(crate) actor_role: &'static str,
    pub(crate) reason: String,
    pub(crate) order_id: Option<Uuid>,
    pub(crate) at: DateTime<Utc>,
}

fn records(rows: Vec<aws_account::Model>) -> Result<Vec<AccountRecord>, AccountsError> {
    rows.into_iter().map(rows::account_record).collect()
}

fn record(row: Option<aws_account::Model>) -> Result<Option<AccountRecord>, AccountsError> {
    row.map(rows::account_record).transpose()
}

/// The row of `E` with primary key `id`, only inside `tenant` (held in `tenant_column`) when one is
/// given.
async fn find_scoped<E>(
    tx: &TenantTx,
    tenant: Option<Uuid>,
    id: Uuid,
    tenant_column: E::Column,
) -> Result<Option<E::Model>, AccountsError>
where
    E: EntityTrait,
    <E::PrimaryKey as PrimaryKeyTrait>::ValueType: From<Uuid>,
{
    let mut query = E::find_by_id(id);
    if let Some(tenant) = tenant {
        query = query.filter(tenant_column.eq(tenant));
    }
    Ok(query.one(&**tx).await?)
}

/// Reads a record by id, only inside `tenant` when one is given.
pub(crate) async fn find_account(
    tx: &TenantTx,
    tenant: Option<Uuid>,
    id: Uuid,
) -> Result<Option<AccountRecord>, AccountsError> {
    record(find_scoped::<aws_account::Entity>(tx, tenant, id, aws_account::Column::TenantId).await?)
}

/// Reads the live record of an AWS account id, only inside `tenant` when one is given.
pub(crate) async fn find_live_account(
    tx: &TenantTx,
    tenant: Option<Uuid>,
    aws_account_id: &AwsAccountId,
) -> Result<Option<AccountRecord>, AccountsError> {
    let mut query = aws_account::Entity::find()
        .filter(aws_account::Column::AwsAccountId.eq(aws_account_id.as_str()))
        .filter(aws_account::Column::State.is_in(AccountState::live_names()));
    if let Some(tenant) = tenant {
        query = query.filter(aws_account::Column::TenantId.eq(tenant));
    }
    record(query.one(&**tx).await?)
}

/// Whether `tenant` removed a record of `aws_account_id` whose purge has still to run.
pub(crate) async fn has_pending_removal(
    tx: &TenantTx,
    tenant: Uuid,
    aws_account_id: &AwsAccountId,
) -> Result<bool, AccountsError> {
    let removed = aws_account::Entity::find()
        .filter(aws_account::Column::TenantId.eq(tenant))
        .filter(aws_account::Column::AwsAccountId.eq(aws_account_id.as_str()))
        .filter(aws_account::Column::State.eq(AccountState::Removed.as_str()))
        .all(&**tx)
        .await?;
    Ok(records(removed)?
        .iter()
        .any(|account| purge_pending(account.state, account.removal_purge())))
}

/// Whether any record the transaction sees uses `email` (compared by its key) and was not
/// abandoned: AWS never gives the email of an account back, not even once it is closed (seed 001).
pub(crate) async fn root_email_in_use(
    tx: &TenantTx,
    email: &RootEmail,
) -> Result<bool, AccountsError> {
    Ok(aws_account::Entity::find()
        .filter(aws_account::Column::RootEmailKey.eq(email.key()))
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
    aws_account_id: &AwsAccountId,
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
) -> Result<Vec<AccountRecord>, AccountsError> {
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
    records(
        query
            .order_by_asc(aws_account::Column::CreatedAt)
            .order_by_asc(aws_account::Column::Id)
            .offset(page.offset)
            .limit(page.size + 1)
            .all(&**tx)
            .await?,
    )
}

/// Live records of `tenant` that name `management_account_id` as their management account.
pub(crate) async fn count_live_members(
    tx: &TenantTx,
    tenant: Uuid,
    management_account_id: &AwsAccountId,
) -> Result<u64, AccountsError> {
    Ok(aws_account::Entity::find()
        .filter(aws_account::Column::TenantId.eq(tenant))
        .filter(aws_account::Column::ManagementAccountId.eq(management_account_id.as_str()))
        .filter(aws_account::Column::State.is_in(AccountState::live_names()))
        .count(&**tx)
        .await?)
}

/// Stores a new record and its first transition (from nothing to its initial state).
pub(crate) async fn insert_account(
    tx: &TenantTx,
    account: &AccountRecord,
    change: &ChangeContext,
) -> Result<AccountRecord, AccountsError> {
    let inserted = rows::account_row(account)
        .into_active_model()
        .insert(&**tx)
        .await?;
    let inserted = rows::account_record(inserted)?;
    record_transition(tx, &inserted, None, change).await?;
    Ok(inserted)
}

/// Stores `after`, a move of `before` to another state, and records the transition with its actor
/// and reason. Guarded like [`update_account`].
pub(crate) async fn save_move(
    tx: &TenantTx,
    before: &AccountRecord,
    after: &AccountRecord,
    change: &ChangeContext,
) -> Result<AccountRecord, AccountsError> {
    let updated = update_account(tx, before, after).await?;
    record_transition(tx, &updated, Some(before.state), change).await?;
    Ok(updated)
}

/// Stores what `after` changed of `before`, read earlier in the transaction. Only the changed columns
/// are written, so a balance report or a purge note landing meanwhile is not overwritten; the update
/// is guarded by the state `before` was read in, so a concurrent move makes this one fail instead of
/// overwriting it.
pub(crate) async fn update_account(
    tx: &TenantTx,
    before: &AccountRecord,
    after: &AccountRecord,
) -> Result<AccountRecord, AccountsError> {
    let (old, new) = (rows::account_row(before), rows::account_row(after));
    // The state is always written, even unchanged, so the guarded update is never empty.
    let mut active = aws_account::ActiveModel {
        state: Set(new.state.clone()),
        ..Default::default()
    };
    for column in aws_account::Column::iter() {
        let value = new.get(column);
        if old.get(column) != value {
            active.try_set(column, value)?;
        }
    }
    let changed = aws_account::Entity::update_many()
        .set(active)
        .filter(aws_account::Column::Id.eq(before.id))
        .filter(aws_account::Column::State.eq(before.state.as_str()))
        .exec(&**tx)
        .await?;
    if changed.rows_affected != 1 {
        return Err(AccountsError::Concurrent);
    }
    find_account(tx, None, before.id)
        .await?
        .ok_or_else(|| AccountsError::internal("updated account vanished"))
}

async fn record_transition(
    tx: &TenantTx,
    account: &AccountRecord,
    from: Option<AccountState>,
    change: &ChangeContext,
) -> Result<(), AccountsError> {
    account_transition::ActiveModel {
        id: ActiveValue::NotSet,
        account_id: Set(account.id),
        tenant_id: Set(account.tenant_id),
        from_state: Set(from.map(|state| state.as_str().to_owned())),
        to_state: Set(account.state.as_str().to_owned()),
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
) -> Result<Vec<Transition>, AccountsError> {
    account_transition::Entity::find()
        .filter(account_transition::Column::AccountId.eq(account_id))
        .order_by_asc(account_transition::Column::Id)
        .offset(page.offset)
        .limit(page.size + 1)
        .all(&**tx)
        .await?
        .into_iter()
        .map(rows::transition)
        .collect()
}

/// Records whose lifecycle timer is due at `now`: `closed` past `reopen_until`, `unlinking` past
/// `billing_ends_at`. Read across tenants by the timer worker.
pub(crate) async fn due_timers(
    tx: &TenantTx,
    now: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<AccountRecord>, AccountsError> {
    let closed_expired = Condition::all()
        .add(aws_account::Column::State.eq(AccountState::Closed.as_str()))
        .add(aws_account::Column::ReopenUntil.lt(now));
    let unlink_due = Condition::all()
        .add(aws_account::Column::State.eq(AccountState::Unlinking.as_str()))
        .add(aws_account::Column::BillingEndsAt.lte(now));
    records(
        aws_account::Entity::find()
            .filter(Condition::any().add(closed_expired).add(unlink_due))
            .order_by_asc(aws_account::Column::Id)
            .limit(limit)
            .all(&**tx)
            .await?,
    )
}

fn subscription(
    row: Option<subscription::Model>,
) -> Result<Option<SubscriptionRecord>, AccountsError> {
    row.map(rows::subscription_record).transpose()
}

/// Stores a new subscription.
pub(crate) async fn insert_subscription(
    tx: &TenantTx,
    record: &SubscriptionRecord,
) -> Result<SubscriptionRecord, AccountsError> {
    rows::subscription_record(
        rows::subscription_row(record)
            .into_active_model()
            .insert(&**tx)
            .await?,
    )
}

/// Reads a subscription, only inside `tenant` when one is given.
pub(crate) async fn find_subscription(
    tx: &TenantTx,
    tenant: Option<Uuid>,
    id: Uuid,
) -> Result<Option<SubscriptionRecord>, AccountsError> {
    subscription(
        find_scoped::<subscription::Entity>(tx, tenant, id, subscription::Column::TenantId).await?,
    )
}

/// The owning tenant of a subscription.
pub(crate) async fn owner_of_subscription(
    tx: &TenantTx,
    id: Uuid,
) -> Result<Option<Uuid>, AccountsError> {
    Ok(subscription::Entity::find_by_id(id)
        .one(&**tx)
        .await?
        .map(|subscription| subscription.tenant_id))
}

/// The subscription that currently bills a record: the newest one that is not terminated.
pub(crate) async fn current_subscription(
    tx: &TenantTx,
    account_id: Uuid,
) -> Result<Option<SubscriptionRecord>, AccountsError> {
    subscription(
        subscription::Entity::find()
            .filter(subscription::Column::AccountId.eq(account_id))
            .filter(subscription::Column::Status.ne(SubscriptionStatus::Terminated.as_str()))
            .order_by_desc(subscription::Column::StartedAt)
            .one(&**tx)
            .await?,
    )
}

/// The newest subscription of a record, terminated or not.
pub(crate) async fn latest_subscription(
    tx: &TenantTx,
    account_id: Uuid,
) -> Result<Option<SubscriptionRecord>, AccountsError> {
    subscription(
        subscription::Entity::find()
            .filter(subscription::Column::AccountId.eq(account_id))
            .order_by_desc(subscription::Column::StartedAt)
            .one(&**tx)
            .await?,
    )
}

/// One page of subscriptions, oldest first.
pub(crate) async fn list_subscriptions(
    tx: &TenantTx,
    filter: &SubscriptionFilter,
    page: PageRequest,
) -> Result<Vec<SubscriptionRecord>, AccountsError> {
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
    query
        .order_by_asc(subscription::Column::StartedAt)
        .order_by_asc(subscription::Column::Id)
        .offset(page.offset)
        .limit(page.size + 1)
        .all(&**tx)
        .await?
        .into_iter()
        .map(rows::subscription_record)
        .collect()
}

/// Changes a subscription's status; terminating stamps `terminated_at`.
pub(crate) async fn set_subscription_status(
    tx: &TenantTx,
    record: &SubscriptionRecord,
    status: SubscriptionStatus,
    at: DateTime<Utc>,
) -> Result<SubscriptionRecord, AccountsError> {
    let mut active = rows::subscription_row(record).into_active_model();
    active.status = Set(status.as_str().to_owned());
    if status == SubscriptionStatus::Terminated {
        active.terminated_at = Set(Some(at));
    }
    rows::subscription_record(active.update(&**tx).await?)
}

/// Replaces the details fetched from AWS for a record.
pub(crate) async fn put_details(
    tx: &TenantTx,
    details: &AccountDetails,
) -> Result<AccountDetails, AccountsError> {
    let row = rows::details_row(details)?;
    account_details::Entity::delete_by_id(row.account_id)
        .exec(&**tx)
        .await?;
    rows::details(row.into_active_model().insert(&**tx).await?)
}

/// The details fetched from AWS for a record.
pub(crate) async fn find_details(
    tx: &TenantTx,
    account_id: Uuid,
) -> Result<Option<AccountDetails>, AccountsError> {
    account_details::Entity::find_by_id(account_id)
        .one(&**tx)
        .await?
        .map(rows::details)
        .transpose()
}

/// Appends cost records of record `account_id` in `tenant`.
pub(crate) async fn insert_cost_records(
    tx: &TenantTx,
    tenant: Uuid,
    account_id: Uuid,
    records: Vec<CostRecord>,
) -> Result<(), AccountsError> {
    if records.is_empty() {
        return Ok(());
    }
    let rows = records
        .into_iter()
        .map(|record| rows::cost_row(tenant, account_id, record));
    cost_record::Entity::insert_many(rows).exec(&**tx).await?;
    Ok(())
}

/// One page of a record's cost records, newest period first.
pub(crate) async fn list_cost_records(
    tx: &TenantTx,
    account_id: Uuid,
    page: PageRequest,
) -> Result<Vec<CostRecord>, AccountsError> {
    Ok(cost_record::Entity::find()
        .filter(cost_record::Column::AccountId.eq(account_id))
        .order_by_desc(cost_record::Column::PeriodStart)
        .order_by_desc(cost_record::Column::Id)
        .offset(page.offset)
        .limit(page.size + 1)
        .all(&**tx)
        .await?
        .into_iter()
        .map(rows::cost)
        .collect())
}
