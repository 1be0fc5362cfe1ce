//! Subscriptions, the details fetched from AWS and cost records.

use chrono::{DateTime, Utc};
use tenure_db::TenantTx;
use tenure_domain::Problems;
use tenure_proto::accounts::v1 as pb;
use uuid::Uuid;

use crate::api::account_service::records::{AccountRef, record_id};
use crate::api::account_service::tenants::optional_tenant;
use crate::api::context::{at, checked, finish, finish_keyed};
use crate::api::convert::{self, optional};
use crate::app::{Accounts, Call, Target};
use crate::domain::{
    AccountState, AccountsError, CostRecord, FreeText, MarketplaceRef, Rejection, ResponseSubject,
    RootEmail, SubscriptionStatus, check_instant, field_problem, parse_tags, required,
};
use crate::store;
use crate::store::accounts::SubscriptionFilter;
use crate::store::entity::{account_details, aws_account, cost_record, subscription};
use tenure_grpc::paging::Page;

/// At most this many cost records per call.
const MAX_COST_RECORDS: usize = 1_000;

/// A malformed text field (TNR004).
fn text_problem(reason: &'static str, description: &'static str) -> tenure_domain::FieldProblem {
    field_problem(reason, description, "TNR004")
}

/// Opens an active subscription of `account` under `marketplace_ref` and shows it.
pub(crate) async fn open_subscription(
    tx: &TenantTx,
    account: &aws_account::Model,
    marketplace_ref: String,
    now: DateTime<Utc>,
) -> Result<pb::Subscription, AccountsError> {
    let subscription = store::accounts::insert_subscription(
        tx,
        subscription::Model {
            id: Uuid::new_v4(),
            tenant_id: account.tenant_id,
            account_id: account.id,
            marketplace_ref,
            status: SubscriptionStatus::Active.as_str().to_owned(),
            started_at: now,
            terminated_at: None,
        },
    )
    .await?;
    convert::subscription(&subscription, account.aws_account_id.as_deref())
}

/// A subscription as the API shows it: with the AWS account id of its record, which the caller may
/// no longer reach (then the id is left out).
async fn subscription_view(
    tx: &TenantTx,
    tenant: Option<Uuid>,
    subscription: &subscription::Model,
) -> Result<pb::Subscription, AccountsError> {
    let account = store::accounts::find_account(tx, tenant, subscription.account_id).await?;
    convert::subscription(
        subscription,
        account
            .as_ref()
            .and_then(|account| account.aws_account_id.as_deref()),
    )
}

impl Accounts {
    pub(crate) async fn create_subscription(
        &self,
        call: &Call,
        request: pb::CreateSubscriptionRequest,
    ) -> Result<pb::CreateSubscriptionResponse, AccountsError> {
        let mut problems = Problems::new();
        let id = record_id(&mut problems, "account_id", &request.account_id);
        let reference = problems.check(
            "marketplace_ref",
            MarketplaceRef::parse(&request.marketplace_ref),
        );
        finish_keyed(problems, &request)?;
        let (id, reference) = (checked(id)?, checked(reference)?);
        self.mutate_account(
            call,
            &request,
            AccountRef::Id(id),
            Target::new("account", id),
            async |tx, account, now| {
                let current = store::stored(AccountState::parse(&account.state))?;
                if current != AccountState::Active {
                    return Err(AccountsError::WrongState { current });
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
                Ok(pb::CreateSubscriptionResponse {
                    subscription: Some(
                        open_subscription(tx, &account, reference.into_inner(), now).await?,
                    ),
                })
            },
        )
        .await
    }

    pub(crate) async fn get_subscription(
        &self,
        call: &Call,
        request: pb::GetSubscriptionRequest,
    ) -> Result<pb::GetSubscriptionResponse, AccountsError> {
        let mut problems = Problems::new();
        let id = record_id(&mut problems, "subscription_id", &request.subscription_id);
        finish(problems, || ())?;
        let id = checked(id)?;
        let tenant = call.access.tenant_filter(None)?;
        self.read(call, Target::new("subscription", id), async |tx| {
            let subscription = store::accounts::find_subscription(tx, tenant, id)
                .await?
                .ok_or(AccountsError::NotFound("subscription"))?;
            Ok(pb::GetSubscriptionResponse {
                subscription: Some(subscription_view(tx, tenant, &subscription).await?),
            })
        })
        .await
    }

    pub(crate) async fn list_subscriptions(
        &self,
        call: &Call,
        request: pb::ListSubscriptionsRequest,
    ) -> Result<pb::ListSubscriptionsResponse, AccountsError> {
        let mut problems = Problems::new();
        let account_id = if request.account_id.is_empty() {
            Some(None)
        } else {
            record_id(&mut problems, "account_id", &request.account_id).map(Some)
        };
        let status = problems.check(
            "status",
            optional(request.status, convert::subscription_status_from),
        );
        let asked = optional_tenant(&mut problems, &request.tenant_id);
        let scope = format!(
            "{:?}|{}|{}|{}",
            call.access, request.account_id, request.status, request.tenant_id
        );
        let page = Page::read(
            &mut problems,
            call.method,
            (request.page_size, &request.page_token),
            scope,
        );
        finish(problems, || ())?;
        let filter = SubscriptionFilter {
            tenant: call.access.tenant_filter(checked(asked)?)?,
            account_id: checked(account_id)?,
            status: checked(status)?,
        };
        let page = checked(page)?;
        self.read(call, Target::new("subscription", "*"), async |tx| {
            let rows = store::accounts::list_subscriptions(tx, &filter, page.request).await?;
            let (rows, next_page_token) = page.of(rows);
            let mut subscriptions = Vec::with_capacity(rows.len());
            for row in &rows {
                subscriptions.push(subscription_view(tx, filter.tenant, row).await?);
            }
            Ok(pb::ListSubscriptionsResponse {
                subscriptions,
                next_page_token,
            })
        })
        .await
    }

    pub(crate) async fn set_subscription_status(
        &self,
        call: &Call,
        request: pb::SetSubscriptionStatusRequest,
    ) -> Result<pb::SetSubscriptionStatusResponse, AccountsError> {
        let mut problems = Problems::new();
        let id = record_id(&mut problems, "subscription_id", &request.subscription_id);
        let status = problems.check("status", convert::subscription_status_from(request.status));
        let reason = problems.check("reason", FreeText::reason(&request.reason));
        finish_keyed(problems, &request)?;
        let (id, status, reason) = (checked(id)?, checked(status)?, checked(reason)?);
        let tenant = self.tenant_of_subscription(call, id).await?;
        self.mutate_reply(
            call,
            &request,
            tenant,
            Target::new("subscription", id).because(reason.as_str(), ""),
            async |tx, now| {
                let subscription = store::accounts::find_subscription(tx, Some(tenant), id)
                    .await?
                    .ok_or(AccountsError::NotFound("subscription"))?;
                let current = store::stored(SubscriptionStatus::parse(&subscription.status))?;
                if !current.may_change() {
                    return Err(AccountsError::Precondition(Rejection {
                        code: "SUBSCRIPTION_TERMINATED",
                        message: "A terminated subscription cannot change.".to_owned(),
                    }));
                }
                let subscription =
                    store::accounts::set_subscription_status(tx, subscription, status, now).await?;
                Ok((
                    pb::SetSubscriptionStatusResponse {
                        subscription: Some(
                            subscription_view(tx, Some(tenant), &subscription).await?,
                        ),
                    },
                    ResponseSubject::Account(subscription.account_id),
                ))
            },
        )
        .await
    }

    pub(crate) async fn put_account_details(
        &self,
        call: &Call,
        request: pb::PutAccountDetailsRequest,
    ) -> Result<pb::PutAccountDetailsResponse, AccountsError> {
        let now = self.now();
        let mut problems = Problems::new();
        let id = record_id(&mut problems, "account_id", &request.account_id);
        let mut details = None;
        match &request.details {
            None => problems.push(at("details", required())),
            Some(raw) => {
                // Names read back from AWS may hold up to 128 characters of any kind (domain.md §7).
                let name_length = raw.name.chars().count();
                if name_length > 128 || raw.name.chars().any(char::is_control) {
                    problems.push(at(
                        "details.name",
                        text_problem(
                            "NAME_FORMAT",
                            "an account name read from AWS has at most 128 characters",
                        ),
                    ));
                }
                let email = problems.check("details.email", RootEmail::parse(&raw.email));
                let path_ok = raw.organization_path.len() <= 1024
                    && raw
                        .organization_path
                        .bytes()
                        .all(|byte| (0x20..=0x7E).contains(&byte));
                if !path_ok {
                    problems.push(at(
                        "details.organization_path",
                        text_problem(
                            "ORGANIZATION_PATH_FORMAT",
                            "an organization path has at most 1024 printable ASCII characters",
                        ),
                    ));
                }
                let tags = match parse_tags(
                    "details.tags",
                    raw.tags
                        .iter()
                        .map(|tag| (tag.key.clone(), tag.value.clone())),
                ) {
                    Ok(tags) => Some(tags),
                    Err(found) => {
                        for problem in found {
                            problems.push(problem);
                        }
                        None
                    }
                };
                let fetched_at = problems.check(
                    "details.fetched_at",
                    convert::instant(raw.fetched_at.as_ref()).and_then(|at| check_instant(at, now)),
                );
                if let (Some(email), Some(tags), Some(fetched_at)) = (email, tags, fetched_at) {
                    details = Some((
                        raw.name.clone(),
                        email,
                        raw.organization_path.clone(),
                        tags,
                        fetched_at,
                    ));
                }
            }
        }
        finish_keyed(problems, &request)?;
        let (id, (name, email, organization_path, tags, fetched_at)) =
            (checked(id)?, checked(details)?);
        let tags = serde_json::to_string(&tags)
            .map_err(|error| AccountsError::Internal(Box::new(error)))?;
        self.mutate_account(
            call,
            &request,
            AccountRef::Id(id),
            Target::new("account", id),
            async |tx, account, _now| {
                let stored = store::accounts::put_details(
                    tx,
                    account_details::Model {
                        account_id: id,
                        tenant_id: account.tenant_id,
                        name,
                        email: email.as_str().to_owned(),
                        organization_path,
                        tags,
                        fetched_at,
                    },
                )
                .await?;
                Ok(pb::PutAccountDetailsResponse {
                    details: Some(convert::details(&stored)?),
                })
            },
        )
        .await
    }

    pub(crate) async fn get_account_details(
        &self,
        call: &Call,
        request: pb::GetAccountDetailsRequest,
    ) -> Result<pb::GetAccountDetailsResponse, AccountsError> {
        let mut problems = Problems::new();
        let id = record_id(&mut problems, "account_id", &request.account_id);
        finish(problems, || ())?;
        let id = checked(id)?;
        let tenant = call.access.tenant_filter(None)?;
        let record = AccountRef::Id(id);
        self.read(call, record.target(), async |tx| {
            record.find(tx, tenant).await?;
            let details = store::accounts::find_details(tx, id)
                .await?
                .ok_or(AccountsError::NotFound("account details"))?;
            Ok(pb::GetAccountDetailsResponse {
                details: Some(convert::details(&details)?),
            })
        })
        .await
    }

    pub(crate) async fn record_cost_records(
        &self,
        call: &Call,
        request: pb::RecordCostRecordsRequest,
    ) -> Result<pb::RecordCostRecordsResponse, AccountsError> {
        let mut problems = Problems::new();
        let id = record_id(&mut problems, "account_id", &request.account_id);
        if request.records.is_empty() || request.records.len() > MAX_COST_RECORDS {
            problems.push(at(
                "records",
                text_problem("RECORD_COUNT", "send 1 to 1,000 cost records"),
            ));
        }
        let mut records = Vec::with_capacity(request.records.len());
        for (index, raw) in request.records.iter().enumerate() {
            let field = format!("records[{index}]");
            let start = convert::instant(raw.period_start.as_ref()).ok();
            let end = convert::instant(raw.period_end.as_ref()).ok();
            match CostRecord::parse(
                &field,
                start,
                end,
                &raw.service,
                raw.amount_micros,
                &raw.currency,
            ) {
                Ok(record) => records.push(record),
                Err(found) => {
                    for problem in found {
                        problems.push(problem);
                    }
                }
            }
        }
        finish_keyed(problems, &request)?;
        let id = checked(id)?;
        self.mutate_account(
            call,
            &request,
            AccountRef::Id(id),
            Target::new("account", id),
            async |tx, account, _now| {
                let recorded = u32::try_from(records.len()).unwrap_or(u32::MAX);
                let rows = records
                    .into_iter()
                    .map(|record| cost_record::Model {
                        id: 0,
                        account_id: id,
                        tenant_id: account.tenant_id,
                        period_start: record.period_start,
                        period_end: record.period_end,
                        service: record.service,
                        amount_micros: record.amount_micros,
                        currency: record.currency,
                    })
                    .collect();
                store::accounts::insert_cost_records(tx, rows).await?;
                Ok(pb::RecordCostRecordsResponse { recorded })
            },
        )
        .await
    }

    pub(crate) async fn list_cost_records(
        &self,
        call: &Call,
        request: pb::ListCostRecordsRequest,
    ) -> Result<pb::ListCostRecordsResponse, AccountsError> {
        self.read_account_page(
            call,
            &request.account_id,
            (request.page_size, &request.page_token),
            async |tx, id, page| store::accounts::list_cost_records(tx, id, page).await,
            |rows, next_page_token| {
                Ok(pb::ListCostRecordsResponse {
                    records: rows.iter().map(convert::cost).collect(),
                    next_page_token,
                })
            },
        )
        .await
    }
}
