//! Subscriptions, the details fetched from AWS and cost records.

use chrono::{DateTime, Utc};
use tenure_db::TenantTx;
use tenure_domain::AwsAccountId;
use uuid::Uuid;

use crate::app::records::AccountRef;
use crate::app::{Accounts, Answer, Call, Idempotent, Target};
use crate::domain::{
    AccountDetails, AccountRecord, AccountState, AccountsError, CostRecord, FreeText,
    MarketplaceRef, PageRequest, Rejection, ResponseSubject, RootEmail, SubscriptionFilter,
    SubscriptionRecord, SubscriptionStatus, Tag,
};
use crate::store;

/// A subscription as callers see it: with the AWS account id of its record, left out when the caller
/// can no longer reach that record.
#[derive(Debug, Clone)]
pub(crate) struct SubscriptionView {
    pub(crate) subscription: SubscriptionRecord,
    pub(crate) aws_account_id: Option<AwsAccountId>,
}

/// The details of a record as a fetch from AWS just read them.
#[derive(Debug, Clone)]
pub(crate) struct FetchedDetails {
    pub(crate) name: String,
    pub(crate) email: RootEmail,
    pub(crate) organization_path: String,
    pub(crate) tags: Vec<Tag>,
    pub(crate) fetched_at: DateTime<Utc>,
}

/// Opens an active subscription of `account` under `marketplace_ref`.
pub(super) async fn open_subscription(
    tx: &TenantTx,
    account: &AccountRecord,
    marketplace_ref: String,
    now: DateTime<Utc>,
) -> Result<SubscriptionView, AccountsError> {
    let subscription = store::accounts::insert_subscription(
        tx,
        &SubscriptionRecord {
            id: Uuid::new_v4(),
            tenant_id: account.tenant_id,
            account_id: account.id,
            marketplace_ref,
            status: SubscriptionStatus::Active,
            started_at: now,
            terminated_at: None,
        },
    )
    .await?;
    Ok(SubscriptionView {
        subscription,
        aws_account_id: account.aws_account_id.clone(),
    })
}

/// `subscription` with the AWS account id of its record, when `tenant` (any for `None`) reaches it.
async fn subscription_view(
    tx: &TenantTx,
    tenant: Option<Uuid>,
    subscription: SubscriptionRecord,
) -> Result<SubscriptionView, AccountsError> {
    let account = store::accounts::find_account(tx, tenant, subscription.account_id).await?;
    Ok(SubscriptionView {
        subscription,
        aws_account_id: account.and_then(|account| account.aws_account_id),
    })
}

impl Accounts {
    /// Opens a subscription of active record `id`, which must have none that is not terminated.
    pub(crate) async fn create_subscription(
        &self,
        call: &Call,
        idempotent: Idempotent<'_, SubscriptionView>,
        id: Uuid,
        reference: MarketplaceRef,
    ) -> Result<Answer<SubscriptionView>, AccountsError> {
        self.mutate_record(call, idempotent, id, async |tx, account, now| {
            if account.state != AccountState::Active {
                return Err(AccountsError::WrongState {
                    current: account.state,
                });
            }
            if store::accounts::current_subscription(tx, id)
                .await?
                .is_some()
            {
                return Err(AccountsError::Precondition(Rejection {
                    code: "SUBSCRIPTION_EXISTS",
                    message: "The account already has a subscription that is not terminated."
                        .to_owned(),
                }));
            }
            open_subscription(tx, &account, reference.into_inner(), now).await
        })
        .await
    }

    pub(crate) async fn get_subscription(
        &self,
        call: &Call,
        id: Uuid,
    ) -> Result<SubscriptionView, AccountsError> {
        let tenant = call.access.tenant_filter(None)?;
        self.read(call, Target::new("subscription", id), async |tx| {
            let subscription = store::accounts::find_subscription(tx, tenant, id)
                .await?
                .ok_or(AccountsError::NotFound("subscription"))?;
            subscription_view(tx, tenant, subscription).await
        })
        .await
    }

    /// One page of the subscriptions `filter` selects within the caller's reach (one row more than
    /// the page, which tells whether another follows).
    pub(crate) async fn list_subscriptions(
        &self,
        call: &Call,
        mut filter: SubscriptionFilter,
        page: PageRequest,
    ) -> Result<Vec<SubscriptionView>, AccountsError> {
        filter.tenant = call.access.tenant_filter(filter.tenant)?;
        self.read(call, Target::new("subscription", "*"), async |tx| {
            let rows = store::accounts::list_subscriptions(tx, &filter, page).await?;
            let mut views = Vec::with_capacity(rows.len());
            for row in rows {
                views.push(subscription_view(tx, filter.tenant, row).await?);
            }
            Ok(views)
        })
        .await
    }

    /// Moves subscription `id` to `status`; a terminated subscription never changes again.
    pub(crate) async fn set_subscription_status(
        &self,
        call: &Call,
        idempotent: Idempotent<'_, SubscriptionView>,
        id: Uuid,
        status: SubscriptionStatus,
        reason: FreeText,
    ) -> Result<Answer<SubscriptionView>, AccountsError> {
        let tenant = self.tenant_of_subscription(call, id).await?;
        let target = Target::new("subscription", id).because(reason.as_str(), "");
        self.mutate(call, idempotent, tenant, target, async |tx, now| {
            let subscription = store::accounts::find_subscription(tx, Some(tenant), id)
                .await?
                .ok_or(AccountsError::NotFound("subscription"))?;
            if !subscription.status.may_change() {
                return Err(AccountsError::Precondition(Rejection {
                    code: "SUBSCRIPTION_TERMINATED",
                    message: "A terminated subscription cannot change.".to_owned(),
                }));
            }
            let subscription =
                store::accounts::set_subscription_status(tx, &subscription, status, now).await?;
            let subject = ResponseSubject::Account(subscription.account_id);
            Ok((
                subscription_view(tx, Some(tenant), subscription).await?,
                subject,
            ))
        })
        .await
    }

    /// Replaces what record `id` keeps of its account's details in AWS.
    pub(crate) async fn put_account_details(
        &self,
        call: &Call,
        idempotent: Idempotent<'_, AccountDetails>,
        id: Uuid,
        fetched: FetchedDetails,
    ) -> Result<Answer<AccountDetails>, AccountsError> {
        self.mutate_record(call, idempotent, id, async |tx, account, _now| {
            let details = AccountDetails {
                account_id: id,
                tenant_id: account.tenant_id,
                name: fetched.name,
                email: fetched.email,
                organization_path: fetched.organization_path,
                tags: fetched.tags,
                fetched_at: fetched.fetched_at,
            };
            store::accounts::put_details(tx, &details).await
        })
        .await
    }

    pub(crate) async fn get_account_details(
        &self,
        call: &Call,
        id: Uuid,
    ) -> Result<AccountDetails, AccountsError> {
        self.read_account(call, AccountRef::Id(id), async |tx, account| {
            store::accounts::find_details(tx, account.id)
                .await?
                .ok_or(AccountsError::NotFound("account details"))
        })
        .await
    }

    /// Appends `records` to record `id`'s costs; answers how many were recorded.
    pub(crate) async fn record_cost_records(
        &self,
        call: &Call,
        idempotent: Idempotent<'_, u32>,
        id: Uuid,
        records: Vec<CostRecord>,
    ) -> Result<Answer<u32>, AccountsError> {
        self.mutate_record(call, idempotent, id, async |tx, account, _now| {
            let recorded = u32::try_from(records.len()).unwrap_or(u32::MAX);
            store::accounts::insert_cost_records(tx, account.tenant_id, id, records).await?;
            Ok(recorded)
        })
        .await
    }

    /// One page of record `id`'s costs, newest period first.
    pub(crate) async fn list_cost_records(
        &self,
        call: &Call,
        id: Uuid,
        page: PageRequest,
    ) -> Result<Vec<CostRecord>, AccountsError> {
        self.read_account(call, AccountRef::Id(id), async |tx, account| {
            store::accounts::list_cost_records(tx, account.id, page).await
        })
        .await
    }
}
