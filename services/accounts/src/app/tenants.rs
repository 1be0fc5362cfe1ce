//! Tenants and their users.

use uuid::Uuid;

use crate::app::{Accounts, Answer, Call, Idempotent, Target};
use crate::clients::{Cancelled, derived_key};
use crate::domain::{
    Access, AccountsError, DisplayName, FreeText, MarketplaceRef, NewUser, PageRequest,
    ResaleModel, ResponseSubject, Sector, TenantRecord, TenantStatus, UserRecord, UserRole,
    required,
};

/// A validated new tenant.
#[derive(Debug, Clone)]
pub(crate) struct NewTenant {
    pub(crate) display_name: DisplayName,
    pub(crate) sector: Sector,
    pub(crate) resale_model: ResaleModel,
    pub(crate) marketplace_ref: MarketplaceRef,
}

/// The fields an update changes; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub(crate) struct TenantChange {
    pub(crate) display_name: Option<DisplayName>,
    pub(crate) sector: Option<Sector>,
    pub(crate) resale_model: Option<ResaleModel>,
}

/// A tenant just created, with its first administrator.
#[derive(Debug, Clone)]
pub(crate) struct CreatedTenant {
    pub(crate) tenant: TenantRecord,
    pub(crate) admin: UserRecord,
}

/// A tenant just unsubscribed, with the purge scheduled for it.
#[derive(Debug, Clone)]
pub(crate) struct Unsubscribed {
    pub(crate) tenant: TenantRecord,
    pub(crate) purge_id: String,
}

impl Accounts {
    pub(crate) async fn create_tenant(
        &self,
        call: &Call,
        idempotent: Idempotent<'_, CreatedTenant>,
        tenant: NewTenant,
        admin: NewUser,
    ) -> Result<Answer<CreatedTenant>, AccountsError> {
        let tenant_id = Uuid::new_v4();
        self.mutate(
            call,
            idempotent,
            tenant_id,
            Target::new("tenant", tenant_id),
            async |tx, now| {
                let tenant = crate::store::tenants::insert_tenant(
                    tx,
                    &TenantRecord {
                        id: tenant_id,
                        display_name: tenant.display_name.into_inner(),
                        sector: tenant.sector,
                        resale_model: tenant.resale_model,
                        marketplace_ref: tenant.marketplace_ref.into_inner(),
                        status: TenantStatus::Active,
                        created_at: now,
                        unsubscribed_at: None,
                    },
                )
                .await?;
                let admin = crate::store::tenants::insert_user(
                    tx,
                    &admin.record(tenant_id, UserRole::Admin, now),
                )
                .await?;
                Ok((
                    CreatedTenant { tenant, admin },
                    ResponseSubject::Tenant(tenant_id),
                ))
            },
        )
        .await
    }

    /// Reads tenant `asked`, or the caller's own when it names none. Another tenant's id is not
    /// found, like a random one.
    pub(crate) async fn get_tenant(
        &self,
        call: &Call,
        asked: Option<Uuid>,
    ) -> Result<TenantRecord, AccountsError> {
        let id = match (asked, call.access) {
            (Some(asked), Access::Tenant(own)) if asked != own => {
                return Err(AccountsError::NotFound("tenant"));
            }
            (Some(asked), _) => asked,
            (None, access) => access.acting_tenant().map_err(|_| {
                let mut problem = required();
                problem.field = "tenant_id".to_owned();
                AccountsError::invalid(problem)
            })?,
        };
        self.read(call, Target::new("tenant", id), async |tx| {
            crate::store::tenants::find_tenant(tx, id)
                .await?
                .ok_or(AccountsError::NotFound("tenant"))
        })
        .await
    }

    /// One page of tenants (one row more than the page, which tells whether another follows).
    pub(crate) async fn list_tenants(
        &self,
        call: &Call,
        status: Option<TenantStatus>,
        page: PageRequest,
    ) -> Result<Vec<TenantRecord>, AccountsError> {
        self.read(call, Target::new("tenant", "*"), async |tx| {
            crate::store::tenants::list_tenants(tx, status, page).await
        })
        .await
    }

    pub(crate) async fn update_tenant(
        &self,
        call: &Call,
        idempotent: Idempotent<'_, TenantRecord>,
        id: Uuid,
        change: TenantChange,
    ) -> Result<Answer<TenantRecord>, AccountsError> {
        self.mutate(
            call,
            idempotent,
            id,
            Target::new("tenant", id),
            async |tx, _now| {
                let mut tenant = crate::store::tenants::find_tenant(tx, id)
                    .await?
                    .ok_or(AccountsError::NotFound("tenant"))?;
                if let Some(display_name) = change.display_name {
                    tenant.display_name = display_name.into_inner();
                }
                if let Some(sector) = change.sector {
                    tenant.sector = sector;
                }
                if let Some(resale_model) = change.resale_model {
                    tenant.resale_model = resale_model;
                }
                let tenant = crate::store::tenants::update_tenant(tx, &tenant).await?;
                Ok((tenant, ResponseSubject::Tenant(id)))
            },
        )
        .await
    }

    /// Adds a user to tenant `asked`, or to the caller's own.
    pub(crate) async fn create_user(
        &self,
        call: &Call,
        idempotent: Idempotent<'_, UserRecord>,
        asked: Option<Uuid>,
        user: NewUser,
        role: UserRole,
    ) -> Result<Answer<UserRecord>, AccountsError> {
        let tenant = call.access.creating_for(asked)?;
        self.mutate(
            call,
            idempotent,
            tenant,
            Target::new("user", "new"),
            async |tx, now| {
                crate::store::tenants::find_tenant(tx, tenant)
                    .await?
                    .ok_or(AccountsError::NotFound("tenant"))?;
                let user =
                    crate::store::tenants::insert_user(tx, &user.record(tenant, role, now)).await?;
                let subject = ResponseSubject::User(user.id);
                Ok((user, subject))
            },
        )
        .await
    }

    pub(crate) async fn get_user(
        &self,
        call: &Call,
        id: Uuid,
    ) -> Result<UserRecord, AccountsError> {
        let tenant = call.access.tenant_filter(None)?;
        self.read(call, Target::new("user", id), async |tx| {
            crate::store::tenants::find_user(tx, tenant, id)
                .await?
                .ok_or(AccountsError::NotFound("user"))
        })
        .await
    }

    /// One page of the users of tenant `asked`, or of every tenant the caller reaches (one row more
    /// than the page, which tells whether another follows).
    pub(crate) async fn list_users(
        &self,
        call: &Call,
        asked: Option<Uuid>,
        page: PageRequest,
    ) -> Result<Vec<UserRecord>, AccountsError> {
        let tenant = call.access.tenant_filter(asked)?;
        self.read(call, Target::new("user", "*"), async |tx| {
            crate::store::tenants::list_users(tx, tenant, page).await
        })
        .await
    }

    pub(crate) async fn delete_user(
        &self,
        call: &Call,
        idempotent: Idempotent<'_, ()>,
        id: Uuid,
    ) -> Result<Answer<()>, AccountsError> {
        let tenant = self.tenant_of_user(call, id).await?;
        self.mutate(
            call,
            idempotent,
            tenant,
            Target::new("user", id),
            async |tx, _now| {
                if crate::store::tenants::delete_user(tx, tenant, id).await? {
                    Ok(((), ResponseSubject::User(id)))
                } else {
                    Err(AccountsError::NotFound("user"))
                }
            },
        )
        .await
    }

    /// Records that the tenant unsubscribed from the marketplace and schedules the purge of the whole
    /// tenant with data-purge, due 30 days after the unsubscribe. The purge is scheduled inside the
    /// transaction that records the unsubscribe: if data-purge cannot take it, nothing is recorded,
    /// and a retry with the same key (`client_key`) reaches the same purge.
    pub(crate) async fn unsubscribe_tenant(
        &self,
        call: &Call,
        idempotent: Idempotent<'_, Unsubscribed>,
        id: Uuid,
        unsubscribed_at: chrono::DateTime<chrono::Utc>,
        marketplace_event: FreeText,
        client_key: &str,
    ) -> Result<Answer<Unsubscribed>, AccountsError> {
        let tenant = call.access.creating_for(Some(id))?;
        self.mutate(
            call,
            idempotent,
            tenant,
            Target::new("tenant", tenant).because(marketplace_event.as_str(), ""),
            async |tx, _now| {
                let mut record = crate::store::tenants::find_tenant(tx, tenant)
                    .await?
                    .ok_or(AccountsError::NotFound("tenant"))?;
                record.status = TenantStatus::Unsubscribed;
                record.unsubscribed_at = Some(unsubscribed_at);
                let record = crate::store::tenants::update_tenant(tx, &record).await?;
                let purge_id = self
                    .purge
                    .schedule_tenant_purge(
                        tenant,
                        unsubscribed_at,
                        derived_key("unsubscribe", tenant, client_key),
                    )
                    .await?;
                tracing::info!(tenant_id = %tenant, purge_id = %purge_id, "tenant unsubscribed; purge scheduled");
                Ok((
                    Unsubscribed {
                        tenant: record,
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
        idempotent: Idempotent<'_, TenantRecord>,
        id: Uuid,
        client_key: &str,
    ) -> Result<Answer<TenantRecord>, AccountsError> {
        let tenant = call.access.creating_for(Some(id))?;
        self.mutate(
            call,
            idempotent,
            tenant,
            Target::new("tenant", tenant),
            async |tx, _now| {
                let mut record = crate::store::tenants::find_tenant(tx, tenant)
                    .await?
                    .ok_or(AccountsError::NotFound("tenant"))?;
                record.status = TenantStatus::Active;
                record.unsubscribed_at = None;
                let record = crate::store::tenants::update_tenant(tx, &record).await?;
                let cancelled = self
                    .purge
                    .cancel_pending(
                        tenant,
                        None,
                        derived_key("resubscribe", tenant, client_key),
                        "the tenant subscribed again",
                    )
                    .await?;
                if cancelled == Cancelled::AlreadyStarted {
                    return Err(AccountsError::PurgeStarted);
                }
                Ok((record, ResponseSubject::Tenant(tenant)))
            },
        )
        .await
    }
}
