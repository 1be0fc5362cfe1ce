//! Tenants and their users.

use sea_orm::{
    ActiveModelTrait as _, ColumnTrait as _, EntityTrait as _, IntoActiveModel as _,
    QueryFilter as _, QueryOrder as _, QuerySelect as _, Set,
};
use tenure_db::TenantTx;
use uuid::Uuid;

use crate::domain::{AccountsError, PageRequest, TenantStatus, UserRole};
use crate::store::entity::{app_user, tenant};
use crate::store::stored;

/// Stores a new tenant.
pub(crate) async fn insert_tenant(
    tx: &TenantTx,
    model: tenant::Model,
) -> Result<tenant::Model, AccountsError> {
    Ok(model.into_active_model().insert(&**tx).await?)
}

/// Reads a tenant. The tenant table is the root of every scope, so callers pass their own tenant's id
/// or act across tenants.
pub(crate) async fn find_tenant(
    tx: &TenantTx,
    id: Uuid,
) -> Result<Option<tenant::Model>, AccountsError> {
    Ok(tenant::Entity::find_by_id(id).one(&**tx).await?)
}

/// One page of tenants, oldest first.
pub(crate) async fn list_tenants(
    tx: &TenantTx,
    status: Option<TenantStatus>,
    page: PageRequest,
) -> Result<Vec<tenant::Model>, AccountsError> {
    let mut query = tenant::Entity::find();
    if let Some(status) = status {
        query = query.filter(tenant::Column::Status.eq(status.as_str()));
    }
    Ok(query
        .order_by_asc(tenant::Column::CreatedAt)
        .order_by_asc(tenant::Column::Id)
        .offset(page.offset)
        .limit(page.size + 1)
        .all(&**tx)
        .await?)
}

/// Replaces a tenant's mutable fields.
pub(crate) async fn update_tenant(
    tx: &TenantTx,
    model: tenant::Model,
) -> Result<tenant::Model, AccountsError> {
    let mut active = model.clone().into_active_model();
    active.display_name = Set(model.display_name);
    active.sector = Set(model.sector);
    active.resale_model = Set(model.resale_model);
    active.status = Set(model.status);
    active.unsubscribed_at = Set(model.unsubscribed_at);
    Ok(active.update(&**tx).await?)
}

/// Stores a new user.
pub(crate) async fn insert_user(
    tx: &TenantTx,
    model: app_user::Model,
) -> Result<app_user::Model, AccountsError> {
    Ok(model.into_active_model().insert(&**tx).await?)
}

/// Reads a user, only inside `tenant` when one is given.
pub(crate) async fn find_user(
    tx: &TenantTx,
    tenant: Option<Uuid>,
    id: Uuid,
) -> Result<Option<app_user::Model>, AccountsError> {
    let mut query = app_user::Entity::find_by_id(id);
    if let Some(tenant) = tenant {
        query = query.filter(app_user::Column::TenantId.eq(tenant));
    }
    Ok(query.one(&**tx).await?)
}

/// One page of a tenant's users, oldest first.
pub(crate) async fn list_users(
    tx: &TenantTx,
    tenant: Option<Uuid>,
    page: PageRequest,
) -> Result<Vec<app_user::Model>, AccountsError> {
    let mut query = app_user::Entity::find();
    if let Some(tenant) = tenant {
        query = query.filter(app_user::Column::TenantId.eq(tenant));
    }
    Ok(query
        .order_by_asc(app_user::Column::CreatedAt)
        .order_by_asc(app_user::Column::Id)
        .offset(page.offset)
        .limit(page.size + 1)
        .all(&**tx)
        .await?)
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
