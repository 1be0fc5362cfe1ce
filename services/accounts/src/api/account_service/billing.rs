//! Subscriptions, the details fetched from AWS and cost records.

use tenure_domain::Problems;
use tenure_grpc::paging::Page;
use tenure_proto::accounts::v1 as pb;

use crate::api::account_service::records::{account_page, record_id};
use crate::api::account_service::tenants::optional_tenant;
use crate::api::context::{at, checked, finish, finish_keyed, keyed};
use crate::api::convert::{self, optional};
use crate::app::{Accounts, Call, FetchedDetails, SubscriptionView};
use crate::domain::{
    AccountDetails, AccountsError, CostRecord, FreeText, MarketplaceRef, RootEmail,
    SubscriptionFilter, check_instant, field_problem, parse_tags, required,
};

/// At most this many cost records per call.
const MAX_COST_RECORDS: usize = 1_000;

/// A malformed text field (TNR004).
fn text_problem(reason: &'static str, description: &'static str) -> tenure_domain::FieldProblem {
    field_problem(reason, description, "TNR004")
}

fn created_subscription(view: &SubscriptionView) -> pb::CreateSubscriptionResponse {
    pb::CreateSubscriptionResponse {
        subscription: Some(convert::subscription(view)),
    }
}

fn subscription_status_set(view: &SubscriptionView) -> pb::SetSubscriptionStatusResponse {
    pb::SetSubscriptionStatusResponse {
        subscription: Some(convert::subscription(view)),
    }
}

fn details_put(details: &AccountDetails) -> pb::PutAccountDetailsResponse {
    pb::PutAccountDetailsResponse {
        details: Some(convert::details(details)),
    }
}

fn costs_recorded(recorded: &u32) -> pb::RecordCostRecordsResponse {
    pb::RecordCostRecordsResponse {
        recorded: *recorded,
    }
}

pub(crate) async fn create_subscription(
    app: &Accounts,
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
    keyed(&request, created_subscription, async |idempotent| {
        app.create_subscription(call, idempotent, id, reference)
            .await
    })
    .await
}

pub(crate) async fn get_subscription(
    app: &Accounts,
    call: &Call,
    request: pb::GetSubscriptionRequest,
) -> Result<pb::GetSubscriptionResponse, AccountsError> {
    let mut problems = Problems::new();
    let id = record_id(&mut problems, "subscription_id", &request.subscription_id);
    finish(problems, || ())?;
    let subscription = app.get_subscription(call, checked(id)?).await?;
    Ok(pb::GetSubscriptionResponse {
        subscription: Some(convert::subscription(&subscription)),
    })
}

pub(crate) async fn list_subscriptions(
    app: &Accounts,
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
        tenant: checked(asked)?,
        account_id: checked(account_id)?,
        status: checked(status)?,
    };
    let page = checked(page)?;
    let rows = app.list_subscriptions(call, filter, page.request).await?;
    let (rows, next_page_token) = page.of(rows);
    Ok(pb::ListSubscriptionsResponse {
        subscriptions: rows.iter().map(convert::subscription).collect(),
        next_page_token,
    })
}

pub(crate) async fn set_subscription_status(
    app: &Accounts,
    call: &Call,
    request: pb::SetSubscriptionStatusRequest,
) -> Result<pb::SetSubscriptionStatusResponse, AccountsError> {
    let mut problems = Problems::new();
    let id = record_id(&mut problems, "subscription_id", &request.subscription_id);
    let status = problems.check("status", convert::subscription_status_from(request.status));
    let reason = problems.check("reason", FreeText::reason(&request.reason));
    finish_keyed(problems, &request)?;
    let (id, status, reason) = (checked(id)?, checked(status)?, checked(reason)?);
    keyed(&request, subscription_status_set, async |idempotent| {
        app.set_subscription_status(call, idempotent, id, status, reason)
            .await
    })
    .await
}

/// The details of a request, checked into `problems`; `None` when any is invalid.
fn fetched_details(
    problems: &mut Problems,
    raw: Option<&pb::AccountDetails>,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<FetchedDetails> {
    let Some(raw) = raw else {
        problems.push(at("details", required()));
        return None;
    };
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
    Some(FetchedDetails {
        name: raw.name.clone(),
        email: email?,
        organization_path: raw.organization_path.clone(),
        tags: tags?,
        fetched_at: fetched_at?,
    })
}

pub(crate) async fn put_account_details(
    app: &Accounts,
    call: &Call,
    request: pb::PutAccountDetailsRequest,
) -> Result<pb::PutAccountDetailsResponse, AccountsError> {
    let now = app.now();
    let mut problems = Problems::new();
    let id = record_id(&mut problems, "account_id", &request.account_id);
    let details = fetched_details(&mut problems, request.details.as_ref(), now);
    finish_keyed(problems, &request)?;
    let (id, details) = (checked(id)?, checked(details)?);
    keyed(&request, details_put, async |idempotent| {
        app.put_account_details(call, idempotent, id, details).await
    })
    .await
}

pub(crate) async fn get_account_details(
    app: &Accounts,
    call: &Call,
    request: pb::GetAccountDetailsRequest,
) -> Result<pb::GetAccountDetailsResponse, AccountsError> {
    let mut problems = Problems::new();
    let id = record_id(&mut problems, "account_id", &request.account_id);
    finish(problems, || ())?;
    let details = app.get_account_details(call, checked(id)?).await?;
    Ok(pb::GetAccountDetailsResponse {
        details: Some(convert::details(&details)),
    })
}

pub(crate) async fn record_cost_records(
    app: &Accounts,
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
    keyed(&request, costs_recorded, async |idempotent| {
        app.record_cost_records(call, idempotent, id, records).await
    })
    .await
}

pub(crate) async fn list_cost_records(
    app: &Accounts,
    call: &Call,
    request: pb::ListCostRecordsRequest,
) -> Result<pb::ListCostRecordsResponse, AccountsError> {
    let (id, page) = account_page(
        call,
        &request.account_id,
        (request.page_size, &request.page_token),
    )?;
    let rows = app.list_cost_records(call, id, page.request).await?;
    let (rows, next_page_token) = page.of(rows);
    Ok(pb::ListCostRecordsResponse {
        records: rows.iter().map(convert::cost).collect(),
        next_page_token,
    })
}
