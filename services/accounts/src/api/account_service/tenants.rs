//! Tenants and their users.

use prost::Message as _;
use tenure_domain::Problems;
use tenure_proto::accounts::v1 as pb;
use uuid::Uuid;

use crate::api::context::{at, checked, finish, finish_keyed, idempotent, reply};
use crate::api::convert::{self, optional};
use crate::app::{Accounts, Call, CreatedTenant, NewTenant, TenantChange, Unsubscribed};
use crate::domain::{
    AccountsError, DisplayName, FreeText, IdpSubject, LoginEmail, MarketplaceRef, NewUser,
    TenantRecord, UserRecord, check_instant, field_problem, parse_id, required,
};
use tenure_grpc::paging::Page;

fn new_user(problems: &mut Problems, field: &str, raw: Option<&pb::NewUser>) -> Option<NewUser> {
    let Some(raw) = raw else {
        problems.push(at(field, required()));
        return None;
    };
    let email = problems.check(format!("{field}.email"), LoginEmail::parse(&raw.email));
    let display_name = problems.check(
        format!("{field}.display_name"),
        DisplayName::parse(&raw.display_name),
    );
    let idp_subject = problems.check(
        format!("{field}.idp_subject"),
        IdpSubject::parse(&raw.idp_subject),
    );
    Some(NewUser {
        email: email?.into_inner(),
        display_name: display_name?.into_inner(),
        idp_subject: idp_subject?.into_inner(),
    })
}

/// The optional `tenant_id` of a request.
pub(crate) fn optional_tenant(problems: &mut Problems, raw: &str) -> Option<Option<Uuid>> {
    if raw.is_empty() {
        Some(None)
    } else {
        problems.check("tenant_id", parse_id(raw)).map(Some)
    }
}

/// The replies, built from the records a use case returns. A mutation stores the bytes of the same
/// function, so a replay answers what the first call did.
fn created_tenant(created: &CreatedTenant) -> pb::CreateTenantResponse {
    pb::CreateTenantResponse {
        tenant: Some(convert::tenant(&created.tenant)),
        admin: Some(convert::user(&created.admin)),
    }
}

fn updated_tenant(tenant: &TenantRecord) -> pb::UpdateTenantResponse {
    pb::UpdateTenantResponse {
        tenant: Some(convert::tenant(tenant)),
    }
}

fn created_user(user: &UserRecord) -> pb::CreateUserResponse {
    pb::CreateUserResponse {
        user: Some(convert::user(user)),
    }
}

fn unsubscribed(unsubscribed: &Unsubscribed) -> pb::UnsubscribeTenantResponse {
    pb::UnsubscribeTenantResponse {
        tenant: Some(convert::tenant(&unsubscribed.tenant)),
        purge_id: unsubscribed.purge_id.clone(),
    }
}

fn resubscribed(tenant: &TenantRecord) -> pb::ResubscribeTenantResponse {
    pb::ResubscribeTenantResponse {
        tenant: Some(convert::tenant(tenant)),
    }
}

pub(crate) async fn create_tenant(
    app: &Accounts,
    call: &Call,
    request: pb::CreateTenantRequest,
) -> Result<pb::CreateTenantResponse, AccountsError> {
    let mut problems = Problems::new();
    let display_name = problems.check("display_name", DisplayName::parse(&request.display_name));
    let sector = problems.check("sector", convert::sector_from(request.sector));
    let resale_model = problems.check(
        "resale_model",
        convert::resale_model_from(request.resale_model),
    );
    let marketplace_ref = problems.check(
        "marketplace_ref",
        MarketplaceRef::parse(&request.marketplace_ref),
    );
    let admin = new_user(&mut problems, "admin", request.admin.as_ref());
    finish_keyed(problems, &request)?;
    let (display_name, sector, resale_model, marketplace_ref, admin) = (
        checked(display_name)?,
        checked(sector)?,
        checked(resale_model)?,
        checked(marketplace_ref)?,
        checked(admin)?,
    );
    let encode = |created: &CreatedTenant| created_tenant(created).encode_to_vec();
    let answer = app
        .create_tenant(
            call,
            idempotent(&request, &encode)?,
            NewTenant {
                display_name,
                sector,
                resale_model,
                marketplace_ref,
            },
            admin,
        )
        .await?;
    reply(answer, created_tenant)
}

pub(crate) async fn get_tenant(
    app: &Accounts,
    call: &Call,
    request: pb::GetTenantRequest,
) -> Result<pb::GetTenantResponse, AccountsError> {
    let mut problems = Problems::new();
    let asked = optional_tenant(&mut problems, &request.tenant_id);
    finish(problems, || ())?;
    let tenant = app.get_tenant(call, checked(asked)?).await?;
    Ok(pb::GetTenantResponse {
        tenant: Some(convert::tenant(&tenant)),
    })
}

pub(crate) async fn list_tenants(
    app: &Accounts,
    call: &Call,
    request: pb::ListTenantsRequest,
) -> Result<pb::ListTenantsResponse, AccountsError> {
    let mut problems = Problems::new();
    let status = problems.check(
        "status",
        optional(request.status, convert::tenant_status_from),
    );
    let page = Page::read(
        &mut problems,
        call.method,
        (request.page_size, &request.page_token),
        format!("{:?}", status),
    );
    finish(problems, || ())?;
    let (status, page) = (checked(status)?, checked(page)?);
    let rows = app.list_tenants(call, status, page.request).await?;
    let (rows, next_page_token) = page.of(rows);
    Ok(pb::ListTenantsResponse {
        tenants: rows.iter().map(convert::tenant).collect(),
        next_page_token,
    })
}

pub(crate) async fn update_tenant(
    app: &Accounts,
    call: &Call,
    request: pb::UpdateTenantRequest,
) -> Result<pb::UpdateTenantResponse, AccountsError> {
    let mut problems = Problems::new();
    let id = problems.check("tenant_id", parse_id(&request.tenant_id));
    let paths = request
        .update_mask
        .as_ref()
        .map(|mask| mask.paths.clone())
        .unwrap_or_default();
    if paths.is_empty() {
        problems.push(at("update_mask", required()));
    }
    let mut change = TenantChange::default();
    for (index, path) in paths.iter().enumerate() {
        match path.as_str() {
            "display_name" => {
                change.display_name =
                    problems.check("display_name", DisplayName::parse(&request.display_name));
            }
            "sector" => {
                change.sector = problems.check("sector", convert::sector_from(request.sector));
            }
            "resale_model" => {
                change.resale_model = problems.check(
                    "resale_model",
                    convert::resale_model_from(request.resale_model),
                );
            }
            _ => problems.push(at(
                format!("update_mask.paths[{index}]"),
                field_problem(
                    "UNKNOWN_FIELD",
                    "only display_name, sector and resale_model can be changed",
                    "TNR004",
                ),
            )),
        }
    }
    finish_keyed(problems, &request)?;
    let id = checked(id)?;
    let encode = |tenant: &TenantRecord| updated_tenant(tenant).encode_to_vec();
    let answer = app
        .update_tenant(call, idempotent(&request, &encode)?, id, change)
        .await?;
    reply(answer, updated_tenant)
}

pub(crate) async fn create_user(
    app: &Accounts,
    call: &Call,
    request: pb::CreateUserRequest,
) -> Result<pb::CreateUserResponse, AccountsError> {
    let mut problems = Problems::new();
    let user = new_user(&mut problems, "user", request.user.as_ref());
    let role = problems.check("role", convert::user_role_from(request.role));
    let asked = optional_tenant(&mut problems, &request.tenant_id);
    finish_keyed(problems, &request)?;
    let (user, role, asked) = (checked(user)?, checked(role)?, checked(asked)?);
    let encode = |user: &UserRecord| created_user(user).encode_to_vec();
    let answer = app
        .create_user(call, idempotent(&request, &encode)?, asked, user, role)
        .await?;
    reply(answer, created_user)
}

pub(crate) async fn get_user(
    app: &Accounts,
    call: &Call,
    request: pb::GetUserRequest,
) -> Result<pb::GetUserResponse, AccountsError> {
    let id = parse_id(&request.user_id)
        .map_err(|problem| AccountsError::invalid(at("user_id", problem)))?;
    let user = app.get_user(call, id).await?;
    Ok(pb::GetUserResponse {
        user: Some(convert::user(&user)),
    })
}

pub(crate) async fn list_users(
    app: &Accounts,
    call: &Call,
    request: pb::ListUsersRequest,
) -> Result<pb::ListUsersResponse, AccountsError> {
    let mut problems = Problems::new();
    let asked = optional_tenant(&mut problems, &request.tenant_id);
    let scope = format!("{:?}|{}", call.access, request.tenant_id);
    let page = Page::read(
        &mut problems,
        call.method,
        (request.page_size, &request.page_token),
        scope,
    );
    finish(problems, || ())?;
    let asked = checked(asked)?;
    let page = checked(page)?;
    let rows = app.list_users(call, asked, page.request).await?;
    let (rows, next_page_token) = page.of(rows);
    Ok(pb::ListUsersResponse {
        users: rows.iter().map(convert::user).collect(),
        next_page_token,
    })
}

pub(crate) async fn delete_user(
    app: &Accounts,
    call: &Call,
    request: pb::DeleteUserRequest,
) -> Result<pb::DeleteUserResponse, AccountsError> {
    let mut problems = Problems::new();
    let id = problems.check("user_id", parse_id(&request.user_id));
    finish_keyed(problems, &request)?;
    let id = checked(id)?;
    let encode = |(): &()| pb::DeleteUserResponse {}.encode_to_vec();
    let answer = app
        .delete_user(call, idempotent(&request, &encode)?, id)
        .await?;
    reply(answer, |()| pb::DeleteUserResponse {})
}

pub(crate) async fn unsubscribe_tenant(
    app: &Accounts,
    call: &Call,
    request: pb::UnsubscribeTenantRequest,
) -> Result<pb::UnsubscribeTenantResponse, AccountsError> {
    let now = app.now();
    let mut problems = Problems::new();
    let id = problems.check("tenant_id", parse_id(&request.tenant_id));
    let unsubscribed_at = match &request.unsubscribed_at {
        None => Some(now),
        Some(at) => problems.check(
            "unsubscribed_at",
            convert::instant(Some(at)).and_then(|at| check_instant(at, now)),
        ),
    };
    let marketplace_event = problems.check(
        "marketplace_event_ref",
        FreeText::reason(&request.marketplace_event_ref),
    );
    finish_keyed(problems, &request)?;
    let (id, unsubscribed_at, marketplace_event) = (
        checked(id)?,
        checked(unsubscribed_at)?,
        checked(marketplace_event)?,
    );
    let encode = |done: &Unsubscribed| unsubscribed(done).encode_to_vec();
    let answer = app
        .unsubscribe_tenant(
            call,
            idempotent(&request, &encode)?,
            id,
            unsubscribed_at,
            marketplace_event,
            &request.idempotency_key,
        )
        .await?;
    reply(answer, unsubscribed)
}

pub(crate) async fn resubscribe_tenant(
    app: &Accounts,
    call: &Call,
    request: pb::ResubscribeTenantRequest,
) -> Result<pb::ResubscribeTenantResponse, AccountsError> {
    let mut problems = Problems::new();
    let id = problems.check("tenant_id", parse_id(&request.tenant_id));
    finish_keyed(problems, &request)?;
    let id = checked(id)?;
    let encode = |tenant: &TenantRecord| resubscribed(tenant).encode_to_vec();
    let answer = app
        .resubscribe_tenant(
            call,
            idempotent(&request, &encode)?,
            id,
            &request.idempotency_key,
        )
        .await?;
    reply(answer, resubscribed)
}
