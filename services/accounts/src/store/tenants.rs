//! Tenants and their users.

use sea_orm::{
    ActiveModelTrait as _, ColumnTrait as _, EntityTrait as _, IntoActiveModel as _,
    QueryFilter as _, QueryOrder as _, QuerySelect as _, Set,
};
use tenure_db::TenantTx;
use uuid::Uuid;

use crate::domain::{
    AccountsError, PageRequest, ResaleModel, Sector, TenantRecord, TenantStatus, UserRecord,
    UserRole,
};
use crate::store::entity::{app_user, tenant};
use crate::store::stored;

fn tenant_record(model: tenant::Model) -> Result<TenantRecord, AccountsError> {
    Ok(TenantRecord {
        id: model.id,
        sector: stored(Sector::parse(&model.sector))?,
        resale_model: stored(ResaleModel::parse(&model.resale_model))?,
        status: stored(TenantStatus::parse(&model.status))?,
        display_name: model.display_name,
        marketplace_ref: model.marketplace_ref,
        created_at: model.created_at,
        unsubscribed_at: model.unsubscribed_at,
    })
}

fn tenant_row(record: &TenantRecord) -> tenant::Model {
    tenant::Model {
        id: record.id,
        display_name: record.display_name.clone(),
        sector: record.sector.as_str().to_owned(),
        resale_model: record.resale_model.as_str().to_owned(),
        marketplace_ref: record.marketplace_ref.clone(),
        status: record.status.as_str().to_owned(),
        created_at: record.created_at,
        unsubscribed_at: record.unsubscribed_at,
    }
}

fn user_record(model: app_user::Model) -> Result<UserRecord, AccountsError> {
    Ok(UserRecord {
        id: model.id,
        tenant_id: model.tenant_id,
        role: stored(UserRole::parse(&model.role))?,
        email: model.email,
        display_name: model.display_name,
        idp_subject: model.idp_subject,
        created_at: model.created_at,
    })
}

fn user_row(record: &UserRecord) -> app_user::Model {
    app_user::Model {
        id: record.id,
        tenant_id: record.tenant_id,
        email: record.email.clone(),
        display_name: record.display_name.clone(),
        idp_subject: record.idp_subject.clone(),
        role: record.role.as_str().to_owned(),
        created_at: record.created_at,
    }
}

/// Stores a new tenant.
pub(crate) async fn insert_tenant(
    tx: &TenantTx,
    record: &TenantRecord,
) -> Result<TenantRecord, AccountsError> {
    tenant_record(tenant_row(record).into_active_model().insert(&**tx).await?)
}

/// Reads a tenant. The tenant table is the root of every scope, so callers pass their own tenant's id
/// or act across tenants.
pub(crate) async fn find_tenant(
    tx: &TenantTx,
    id: Uuid,
) -> Result<Option<TenantRecord>, AccountsError> {
    tenant::Entity::find_by_id(id)
        .one(&**tx)
        .await?
        .map(tenant_record)
        .transpose()
}

/// One page of tenants, oldest first.
pub(crate) async fn list_tenants(
    tx: &TenantTx,
    status: Option<TenantStatus>,
    page: PageRequest,
) -> Result<Vec<TenantRecord>, AccountsError> {
    let mut query = tenant::Entity::find();
    if let Some(status) = status {
        query = query.filter(tenant::Column::Status.eq(status.as_str()));
    }
    query
        .order_by_asc(tenant::Column::CreatedAt)
        .order_by_asc(tenant::Column::Id)
        .offset(page.offset)
        .limit(page.size + 1)
        .all(&**tx)
        .await?
        .into_iter()
        .map(tenant_record)
        .collect()
}

/// Replaces a tenant's mutable fields.
pub(crate) async fn update_tenant(
    tx: &TenantTx,
    record: &TenantRecord,
) -> Result<TenantRecord, AccountsError> {
    let model = tenant_row(record);
    let mut active = model.clone().into_active_model();
    active.display_name = Set(model.display_name);
    active.sector = Set(model.sector);
    active.resale_model = Set(model.resale_model);
    active.status = Set(model.status);
    active.unsubscribed_at = Set(model.unsubscribed_at);
    tenant_record(active.update(&**tx).await?)
}

/// Stores a new user.
pub(crate) async fn insert_user(
    tx: &TenantTx,
    record: &UserRecord,
) -> Result<UserRecord, AccountsError> {
    user_record(user_row(record).into_active_model().insert(&**tx).await?)
}

/// Reads a user, only inside `tenant` when one is given.
pub(crate) async fn find_user(
    tx: &TenantTx,
    tenant: Option<Uuid>,
    id: Uuid,
) -> Result<Option<UserRecord>, AccountsError> {
    let mut query = app_user::Entity::find_by_id(id);
    if let Some(tenant) = tenant {
        query = query.filter(app_user::Column::TenantId.eq(tenant));
    }
    query.one(&**tx).await?.map(user_record).transpose()
}

/// One page of a tenant's users, oldest first.
pub(crate) async fn list_users(
    tx: &TenantTx,
    tenant: Option<Uuid>,
    page: PageRequest,
) -> Result<Vec<UserRecord>, AccountsError> {
    let mut query = app_user::Entity::find();
    if let Some(tenant) = tenant {
        query = query.filter(app_user::Column::TenantId.eq(tenant));
    }
    query
        .order_by_asc(app_user::Column::CreatedAt)
        .order_by_asc(app_user::Column::Id)
        .offset(page.offset)
        .limit(page.size + 1)
        .all(&**tx)
        .await?
        .into_iter()
        .map(user_record)
        .collect()
}
/// Removes a user of `tenant`; false when there was none.
pub(crate) async fn delete_user(
    tx: &TenantTx,
    tenant: Uuid,
    id: Uuid,
) -> Result<bool, AccountsError> {
    let deleted = app_user::Entity::delete_many()
        .filter(app_user::Column::Id.eq(id))
        .filter(app_user::Column::TenantId.eq(tenant))
        .exec(&**tx)
        .await?;
    Ok(deleted.rows_affected == 1)
}

/// The roles in `tenant` of the users who sign in as `idp_subject` (none, one, or several when the
/// tenant registered the same identity twice).
pub(crate) async fn roles_of_subject(
    tx: &TenantTx,
    tenant: Uuid,
    idp_subject: &str,
) -> Result<Vec<UserRole>, AccountsError> {
    app_user::Entity::find()
        .filter(app_user::Column::TenantId.eq(tenant))
        .filter(app_user::Column::IdpSubject.eq(idp_subject))
        .all(&**tx)
        .await?
        .iter()
        .map(|user| stored(UserRole::parse(&user.role)))
        .collect()
}
