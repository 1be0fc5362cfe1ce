//! Tenants and their users.

use tenure_domain::Problems;
use tenure_proto::accounts::v1 as pb;
use uuid::Uuid;

use crate::api::context::{Accounts, Call, Target, at, checked, finish, finish_keyed};
use crate::api::convert::{self, optional};
use crate::clients::{Cancelled, derived_key};
use crate::domain::{
    AccountsError, DisplayName, FreeText, IdpSubject, LoginEmail, MarketplaceRef, ResponseSubject,
    TenantStatus, UserRole, check_instant, field_problem, parse_id, required,
};
use crate::store;
use crate::store::entity::{app_user, tenant};
use tenure_grpc::paging::Page;

/// A validated new user.
struct NewUser {
    email: String,
    display_name: String,
    idp_subject: String,
}

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

fn user_row(
    tenant_id: Uuid,
    user: NewUser,
    role: UserRole,
    now: chrono::DateTime<chrono::Utc>,
) -> app_user::Model {
    app_user::Model {
        id: Uuid::new_v4(),
        tenant_id,
        email: user.email,
        display_name: user.display_name,
        idp_subject: user.idp_subject,
        role: role.as_str().to_owned(),
        created_at: now,
    }
}

/// The optional `tenant_id` of a request.
pub(crate) fn optional_tenant(problems: &mut Problems, raw: &str) -> Option<Option<Uuid>> {
    if raw.is_empty() {
        Some(None)
    } else {
        problems.check("tenant_id", parse_id(raw)).map(Some)
    }
}

impl Accounts {
    pub(crate) async fn create_tenant(
        &self,
        call: &Call,
        request: pb::CreateTenantRequest,
    ) -> Result<pb::CreateTenantResponse, AccountsError> {
        let mut problems = Problems::new();
        let display_name =
            problems.check("display_name", DisplayName::parse(&request.display_name));
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
        let tenant_id = Uuid::new_v4();
        self.mutate(
            call,
            &request,
            tenant_id,
            Target::new("tenant", tenant_id),
            async |tx, now| {
                let tenant = store::tenants::insert_tenant(
                    tx,
                    tenant::Model {
                        id: tenant_id,
                        display_name: display_name.into_inner(),
                        sector: sector.as_str().to_owned(),
                        resale_model: resale_model.as_str().to_owned(),
                        marketplace_ref: marketplace_ref.into_inner(),
                        status: TenantStatus::Active.as_str().to_owned(),
                        created_at: now,
                        unsubscribed_at: None,
                    },
                )
                .await?;
                let admin = store::tenants::insert_user(
                    tx,
                    user_row(tenant_id, admin, UserRole::Admin, now),
                )
                .await?;
                Ok((
                    pb::CreateTenantResponse {
                        tenant: Some(convert::tenant(&tenant)?),
                        admin: Some(convert::user(&admin)?),
                    },
                    ResponseSubject::Tenant(tenant_id),
                ))
            },
        )
        .await
    }

    pub(crate) async fn get_tenant(
        &self,
        call: &Call,
        request: pb::GetTenantRequest,
    ) -> Result<pb::GetTenantResponse, AccountsError> {
        let mut problems = Problems::new();
        let asked = optional_tenant(&mut problems, &request.tenant_id);
        finish(problems, || ())?;
        let id = match (checked(asked)?, call.access) {
            (Some(asked), crate::domain::Access::Tenant(own)) if asked != own => {
                return Err(AccountsError::NotFound("tenant"));
            }
            (Some(asked), _) => asked,
            (None, access) => access
                .acting_tenant()
                .map_err(|_| AccountsError::invalid(at("tenant_id", required())))?,
        };
        self.read(call, Target::new("tenant", id), async |tx| {
            let tenant = store::tenants::find_tenant(tx, id)
                .await?
                .ok_or(AccountsError::NotFound("tenant"))?;
            Ok(pb::GetTenantResponse {
                tenant: Some(convert::tenant(&tenant)?),
            })
        })
        .await
    }

    pub(crate) async fn list_tenants(
        &self,
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
        self.read_page(
            call,
            Target::new("tenant", "*"),
            &page,
            async |tx, page| store::tenants::list_tenants(tx, status, page).await,
            |rows, next_page_token| {
                Ok(pb::ListTenantsResponse {
                    tenants: rows.iter().map(convert::tenant).collect::<Result<_, _>>()?,
                    next_page_token,
                })
            },
        )
        .await
    }

    pub(crate) async fn update_tenant(
        &self,
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
        let mut display_name = None;
        let mut sector = None;
        let mut resale_model = None;
        for (index, path) in paths.iter().enumerate() {
            match path.as_str() {
                "display_name" => {
                    display_name =
                        problems.check("display_name", DisplayName::parse(&request.display_name));
                }
                "sector" => sector = problems.check("sector", convert::sector_from(request.sector)),
                "resale_model" => {
                    resale_model = problems.check(
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
        self.mutate(
            call,
            &request,
            id,
            Target::new("tenant", id),
            async |tx, _now| {
                let mut tenant = store::tenants::find_tenant(tx, id)
                    .await?
                    .ok_or(AccountsError::NotFound("tenant"))?;
                if let Some(display_name) = display_name {
                    tenant.display_name = display_name.into_inner();
                }
                if let Some(sector) = sector {
                    tenant.sector = sector.as_str().to_owned();
                }
                if let Some(resale_model) = resale_model {
                    tenant.resale_model = resale_model.as_str().to_owned();
                }
                let tenant = store::tenants::update_tenant(tx, tenant).await?;
                Ok((
                    pb::UpdateTenantResponse {
                        tenant: Some(convert::tenant(&tenant)?),
                    },
                    ResponseSubject::Tenant(id),
                ))
            },
        )
        .await
    }

    pub(crate) async fn create_user(
        &self,
        call: &Call,
        request: pb::CreateUserRequest,
    ) -> Result<pb::CreateUserResponse, AccountsError> {
        let mut problems = Problems::new();
        let user = new_user(&mut problems, "user", request.user.as_ref());
        let role = problems.check("role", convert::user_role_from(request.role));
        let asked = optional_tenant(&mut problems, &request.tenant_id);
        finish_keyed(problems, &request)?;
        let (user, role) = (checked(user)?, checked(role)?);
        let tenant = call.access.creating_for(checked(asked)?)?;
        self.mutate(
            call,
            &request,
            tenant,
            Target::new("user", "new"),
            async |tx, now| {
                store::tenants::find_tenant(tx, tenant)
                    .await?
                    .ok_or(AccountsError::NotFound("tenant"))?;
                let user =
                    store::tenants::insert_user(tx, user_row(tenant, user, role, now)).await?;
                Ok((
                    pb::CreateUserResponse {
                        user: Some(convert::user(&user)?),
                    },
                    ResponseSubject::User(user.id),
                ))
            },
        )
        .await
    }

    pub(crate) async fn get_user(
        &self,
        call: &Call,
        request: pb::GetUserRequest,
    ) -> Result<pb::GetUserResponse, AccountsError> {
        let id = parse_id(&request.user_id)
            .map_err(|problem| AccountsError::invalid(at("user_id", problem)))?;
        let tenant = call.access.tenant_filter(None)?;
        self.read(call, Target::new("user", id), async |tx| {
            let user = store::tenants::find_user(tx, tenant, id)
                .await?
                .ok_or(AccountsError::NotFound("user"))?;
            Ok(pb::GetUserResponse {
                user: Some(convert::user(&user)?),
            })
        })
        .await
    }

    pub(crate) async fn list_users(
        &self,
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
        let tenant = call.access.tenant_filter(checked(asked)?)?;
        let page = checked(page)?;
        self.read_page(
            call,
            Target::new("user", "*"),
            &page,
            async |tx, page| store::tenants::list_users(tx, tenant, page).await,
            |rows, next_page_token| {
                Ok(pb::ListUsersResponse {
                    users: rows.iter().map(convert::user).collect::<Result<_, _>>()?,
                    next_page_token,
                })
            },
        )
        .await
    }

    pub(crate) async fn delete_user(
        &self,
        call: &Call,
        request: pb::DeleteUserRequest,
    ) -> Result<pb::DeleteUserResponse, AccountsError> {
        let mut problems = Problems::new();
        let id = problems.check("user_id", parse_id(&request.user_id));
        finish_keyed(problems, &request)?;
        let id = checked(id)?;
        let tenant = self.tenant_of_user(call, id).await?;
        self.mutate(
            call,
            &request,
            tenant,
            Target::new("user", id),
            async |tx, _now| {
                if store::tenants::delete_user(tx, tenant, id).await? {
                    Ok((pb::DeleteUserResponse {}, ResponseSubject::User(id)))
                } else {
                    Err(AccountsError::NotFound("user"))
                }
            },
        )
        .await
    }
}

impl Accounts {
    /// Records that the tenant unsubscribed from the marketplace and schedules the purge of the whole
    /// tenant with data-purge, due 30 days after the unsubscribe. The purge is scheduled inside the
    /// transaction that records the unsubscribe: if data-purge cannot take it, nothing is recorded,
    /// and a retry with the same key reaches the same purge.
    pub(crate) async fn unsubscribe_tenant(
        &self,
        call: &Call,
        request: pb::UnsubscribeTenantRequest,
    ) -> Result<pb::UnsubscribeTenantResponse, AccountsError> {
        let now = self.now();
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
        let tenant = call.access.creating_for(Some(id))?;
        self.mutate(
            call,
            &request,
            tenant,
            Target::new("tenant", tenant).because(marketplace_event.as_str(), ""),
            async |tx, _now| {
                let mut record = store::tenants::find_tenant(tx, tenant)
                    .await?
                    .ok_or(AccountsError::NotFound("tenant"))?;
                record.status = TenantStatus::Unsubscribed.as_str().to_owned();
                record.unsubscribed_at = Some(unsubscribed_at);
                let record = store::tenants::update_tenant(tx, record).await?;
                let purge_id = self
                    .purge
                    .schedule_tenant_purge(
                        tenant,
                        unsubscribed_at,
                        derived_key("unsubscribe", tenant, &request.idempotency_key),
                    )
                    .await?;
                tracing::info!(tenant_id = %tenant, purge_id = %purge_id, "tenant unsubscribed; purge scheduled");
                Ok((
                    pb::UnsubscribeTenantResponse {
                        tenant: Some(convert::tenant(&record)?),
                        purge_id,
                    },
                    ResponseSubject::Tenant(tenant),
                ))
            },
        )
        .await
    }

    /// Records that the tenant subscribed again and cancels its pending tenant purge. A purge that
    /// already began deleting cannot be stopped, so the re-subscription is then refused.
    pub(crate) async fn resubscribe_tenant(
        &self,
        call: &Call,
        request: pb::ResubscribeTenantRequest,
    ) -> Result<pb::ResubscribeTenantResponse, AccountsError> {
        let mut problems = Problems::new();
        let id = problems.check("tenant_id", parse_id(&request.tenant_id));
        finish_keyed(problems, &request)?;
        let tenant = call.access.creating_for(Some(checked(id)?))?;
        self.mutate(
            call,
            &request,
            tenant,
            Target::new("tenant", tenant),
            async |tx, _now| {
                let mut record = store::tenants::find_tenant(tx, tenant)
                    .await?
                    .ok_or(AccountsError::NotFound("tenant"))?;
                record.status = TenantStatus::Active.as_str().to_owned();
                record.unsubscribed_at = None;
                let record = store::tenants::update_tenant(tx, record).await?;
                let cancelled = self
                    .purge
                    .cancel_pending(
                        tenant,
                        None,
                        derived_key("resubscribe", tenant, &request.idempotency_key),
                        "the tenant subscribed again",
                    )
                    .await?;
                if cancelled == Cancelled::AlreadyStarted {
                    return Err(AccountsError::PurgeStarted);
                }
                Ok((
                    pb::ResubscribeTenantResponse {
                        tenant: Some(convert::tenant(&record)?),
                    },
                    ResponseSubject::Tenant(tenant),
                ))
            },
        )
        .await
    }
}
