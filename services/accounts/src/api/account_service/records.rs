//! AWS account records: reads, and the saga steps that reserve, attach, activate and release them.

use tenure_domain::{AwsAccountId, CallerRole, FieldProblem, Problems};
use tenure_grpc::paging::Page;
use tenure_proto::Keyed;
use tenure_proto::accounts::v1 as pb;
use uuid::Uuid;

use crate::api::account_service::tenants::optional_tenant;
use crate::api::context::{at, checked, finish, finish_keyed, keyed};
use crate::api::convert::{self, EmailView, non_empty, optional};
use crate::app::{AccountRef, Accounts, Activated, Activation, Attachment, Call};
use crate::domain::{
    AccountFilter, AccountRecord, AccountsError, FreeText, MarketplaceRef, OrganizationId,
    ParentId, check_instant, parse_id, required,
};

/// Responses that carry exactly the account record their call changed.
pub(crate) trait AccountResponse: prost::Message + Default {
    fn with_account(account: pb::AwsAccount) -> Self;

    /// The reply showing `account` in full.
    fn of(account: &AccountRecord) -> Self {
        Self::with_account(convert::account(account, EmailView::Full))
    }
}

/// Implements [`AccountResponse`] for responses whose only field is `account`.
macro_rules! account_response {
    ($($response:ty),+ $(,)?) => {
        $(impl AccountResponse for $response {
            fn with_account(account: pb::AwsAccount) -> Self {
                Self { account: Some(account) }
            }
        })+
    };
}

account_response!(
    pb::ReserveAccountResponse,
    pb::AttachAccountResponse,
    pb::ReleaseAccountResponse,
    pb::BeginOffboardingResponse,
    pb::AbortOffboardingResponse,
    pb::RecordOffboardingOutcomeResponse,
    pb::RecordClosureResponse,
    pb::ReopenAccountResponse,
    pb::RemoveAccountFromPlatformResponse,
    pb::RestoreAccountToPlatformResponse,
);

/// The view of root emails a caller gets in lists.
fn list_view(call: &Call) -> EmailView {
    if call.caller.role == CallerRole::Customer {
        EmailView::Masked
    } else {
        EmailView::Full
    }
}

/// Parses a record id field.
pub(crate) fn record_id(problems: &mut Problems, field: &str, raw: &str) -> Option<Uuid> {
    problems.check(field, parse_id(raw))
}

/// An optional field that `parse` checks when it is given.
pub(crate) fn optional_field<T>(
    problems: &mut Problems,
    field: &str,
    raw: &str,
    parse: fn(&str) -> Result<T, FieldProblem>,
) -> Option<Option<T>> {
    match non_empty(raw) {
        None => Some(None),
        Some(raw) => problems.check(field, parse(raw)).map(Some),
    }
}

/// The record id and reason of a step that ends an order's hold on a record (a release, an aborted
/// offboarding).
pub(crate) fn held_record(
    request: &impl Keyed,
    account_id: &str,
    reason: &str,
) -> Result<(Uuid, FreeText), AccountsError> {
    let mut problems = Problems::new();
    let id = record_id(&mut problems, "account_id", account_id);
    let reason = problems.check("reason", FreeText::reason(reason));
    finish_keyed(problems, request)?;
    Ok((checked(id)?, checked(reason)?))
}

/// The record id and page of a read of what hangs off record `account_id` (its history, its costs);
/// the page token is bound to the caller's reach and the record.
pub(crate) fn account_page(
    call: &Call,
    account_id: &str,
    page: (u32, &str),
) -> Result<(Uuid, Page), AccountsError> {
    let mut problems = Problems::new();
    let id = record_id(&mut problems, "account_id", account_id);
    let page = Page::read(
        &mut problems,
        call.method,
        page,
        format!("{:?}|{account_id}", call.access),
    );
    finish(problems, || ())?;
    Ok((checked(id)?, checked(page)?))
}

pub(crate) async fn get_account(
    app: &Accounts,
    call: &Call,
    request: pb::GetAccountRequest,
) -> Result<pb::GetAccountResponse, AccountsError> {
    let record = match request.lookup {
        Some(pb::get_account_request::Lookup::Id(raw)) => AccountRef::Id(
            parse_id(&raw).map_err(|problem| AccountsError::invalid(at("id", problem)))?,
        ),
        Some(pb::get_account_request::Lookup::AwsAccountId(raw)) => AccountRef::LiveAwsId(
            AwsAccountId::parse(&raw)
                .map_err(|problem| AccountsError::invalid(at("aws_account_id", problem)))?,
        ),
        None => return Err(AccountsError::invalid(at("lookup", required()))),
    };
    let account = app.get_account(call, record).await?;
    Ok(pb::GetAccountResponse {
        account: Some(convert::account(&account, EmailView::Full)),
    })
}

pub(crate) async fn list_accounts(
    app: &Accounts,
    call: &Call,
    request: pb::ListAccountsRequest,
) -> Result<pb::ListAccountsResponse, AccountsError> {
    let mut problems = Problems::new();
    let mut states = Vec::new();
    for (index, raw) in request.states.iter().enumerate() {
        if let Some(state) = problems.check(
            format!("states[{index}]"),
            convert::account_state_from(*raw),
        ) {
            states.push(state);
        }
    }
    let relationship = problems.check(
        "relationship",
        optional(request.relationship, convert::relationship_from),
    );
    let management = optional_field(
        &mut problems,
        "management_account_id",
        &request.management_account_id,
        AwsAccountId::parse,
    );
    let asked = optional_tenant(&mut problems, &request.tenant_id);
    let scope = format!(
        "{:?}|{:?}|{}|{}|{}",
        call.access,
        request.states,
        request.relationship,
        request.management_account_id,
        request.tenant_id
    );
    let page = Page::read(
        &mut problems,
        call.method,
        (request.page_size, &request.page_token),
        scope,
    );
    finish(problems, || ())?;
    let filter = AccountFilter {
        tenant: checked(asked)?,
        states,
        relationship: checked(relationship)?,
        management_account_id: checked(management)?,
    };
    let page = checked(page)?;
    let rows = app.list_accounts(call, filter, page.request).await?;
    let (rows, next_page_token) = page.of(rows);
    let view = list_view(call);
    Ok(pb::ListAccountsResponse {
        accounts: rows.iter().map(|row| convert::account(row, view)).collect(),
        next_page_token,
    })
}

pub(crate) async fn list_account_transitions(
    app: &Accounts,
    call: &Call,
    request: pb::ListAccountTransitionsRequest,
) -> Result<pb::ListAccountTransitionsResponse, AccountsError> {
    let (id, page) = account_page(
        call,
        &request.account_id,
        (request.page_size, &request.page_token),
    )?;
    let rows = app.list_account_transitions(call, id, page.request).await?;
    let (rows, next_page_token) = page.of(rows);
    Ok(pb::ListAccountTransitionsResponse {
        transitions: rows.iter().map(convert::transition).collect(),
        next_page_token,
    })
}

pub(crate) async fn attach_account(
    app: &Accounts,
    call: &Call,
    request: pb::AttachAccountRequest,
) -> Result<pb::AttachAccountResponse, AccountsError> {
    let mut problems = Problems::new();
    let id = record_id(&mut problems, "account_id", &request.account_id);
    let aws_account_id = problems.check(
        "aws_account_id",
        AwsAccountId::parse(&request.aws_account_id),
    );
    let organization_id = optional_field(
        &mut problems,
        "organization_id",
        &request.organization_id,
        OrganizationId::parse,
    );
    let parent_id = optional_field(
        &mut problems,
        "parent_id",
        &request.parent_id,
        ParentId::parse,
    );
    let joined_method = problems.check(
        "joined_method",
        optional(request.joined_method, convert::joined_method_from),
    );
    finish_keyed(problems, &request)?;
    let (id, attachment) = (
        checked(id)?,
        Attachment {
            aws_account_id: checked(aws_account_id)?,
            organization_id: checked(organization_id)?,
            parent_id: checked(parent_id)?,
            joined_method: checked(joined_method)?,
        },
    );
    keyed(
        &request,
        pb::AttachAccountResponse::of,
        async |idempotent| app.attach_account(call, idempotent, id, attachment).await,
    )
    .await
}

fn activated(activated: &Activated) -> pb::ActivateAccountResponse {
    pb::ActivateAccountResponse {
        subscription: Some(convert::subscription(&activated.subscription)),
        account: Some(convert::account(&activated.account, EmailView::Full)),
    }
}

pub(crate) async fn activate_account(
    app: &Accounts,
    call: &Call,
    request: pb::ActivateAccountRequest,
) -> Result<pb::ActivateAccountResponse, AccountsError> {
    let now = app.now();
    let mut problems = Problems::new();
    let id = record_id(&mut problems, "account_id", &request.account_id);
    let order_id = record_id(&mut problems, "order_id", &request.order_id);
    let billing_starts_at = match &request.billing_starts_at {
        None => Some(None),
        Some(raw) => problems
            .check(
                "billing_starts_at",
                convert::instant(Some(raw)).and_then(|at| check_instant(at, now)),
            )
            .map(Some),
    };
    let subscription_ref = optional_field(
        &mut problems,
        "subscription_ref",
        &request.subscription_ref,
        MarketplaceRef::parse,
    );
    finish_keyed(problems, &request)?;
    let (id, activation) = (
        checked(id)?,
        Activation {
            order_id: checked(order_id)?,
            billing_starts_at: checked(billing_starts_at)?,
            subscription_ref: checked(subscription_ref)?,
        },
    );
    keyed(&request, activated, async |idempotent| {
        app.activate_account(call, idempotent, id, activation).await
    })
    .await
}

pub(crate) async fn release_account(
    app: &Accounts,
    call: &Call,
    request: pb::ReleaseAccountRequest,
) -> Result<pb::ReleaseAccountResponse, AccountsError> {
    let (id, reason) = held_record(&request, &request.account_id, &request.reason)?;
    keyed(
        &request,
        pb::ReleaseAccountResponse::of,
        async |idempotent| app.release_account(call, idempotent, id, reason).await,
    )
    .await
}
