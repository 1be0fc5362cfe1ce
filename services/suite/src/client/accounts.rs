//! `tenure tenants`, `tenure users` and `tenure accounts`: the accounts service.

use tenure_proto::accounts::v1 as pb;

use super::connect::{Session, idempotency_key};
use super::errors::{Answer as _, present};
use super::render::Printer;
use crate::cli::{AccountsCommand, CreateTenant, TenantsCommand, UsersCommand};

const TENANT_COLUMNS: &[&str] = &[
    "id",
    "display_name",
    "sector",
    "resale_model",
    "status",
    "created_at",
];
const USER_COLUMNS: &[&str] = &["id", "email", "display_name", "role", "created_at"];
const ACCOUNT_COLUMNS: &[&str] = &[
    "aws_account_id",
    "name",
    "relationship",
    "state",
    "state_changed_at",
    "reopen_until",
    "id",
];

pub(super) async fn tenants(
    command: TenantsCommand,
    session: Session,
    printer: Printer,
) -> anyhow::Result<()> {
    match command {
        TenantsCommand::Create(tenant) => printer.show(&create_tenant(&session, tenant).await?),
        TenantsCommand::Get(id) => {
            let answer = session
                .accounts()?
                .get_tenant(pb::GetTenantRequest {
                    tenant_id: id.tenant_id.unwrap_or_default(),
                })
                .await
                .answer()?;
            printer.show(&present(answer.tenant, "tenant")?)
        }
        TenantsCommand::List(filter) => {
            let answer = session
                .accounts()?
                .list_tenants(pb::ListTenantsRequest {
                    page_size: filter.page.page_size,
                    page_token: filter.page.page_token,
                    status: filter.status.unwrap_or_default(),
                })
                .await
                .answer()?;
            printer.list(&answer, "tenants", TENANT_COLUMNS)
        }
        TenantsCommand::Unsubscribe(unsubscribe) => {
            let answer = session
                .accounts()?
                .unsubscribe_tenant(pb::UnsubscribeTenantRequest {
                    idempotency_key: idempotency_key(unsubscribe.key.idempotency_key.as_deref()),
                    tenant_id: unsubscribe.tenant_id,
                    unsubscribed_at: None,
                    marketplace_event_ref: unsubscribe.event_ref,
                })
                .await
                .answer()?;
            printer.show(&answer)
        }
        TenantsCommand::Resubscribe(change) => {
            let answer = session
                .accounts()?
                .resubscribe_tenant(pb::ResubscribeTenantRequest {
                    idempotency_key: idempotency_key(change.key.idempotency_key.as_deref()),
                    tenant_id: change.tenant_id,
                })
                .await
                .answer()?;
            printer.show(&present(answer.tenant, "tenant")?)
        }
    }
}

/// Registers a tenant and its first administrator.
pub(super) async fn create_tenant(
    session: &Session,
    tenant: CreateTenant,
) -> anyhow::Result<pb::CreateTenantResponse> {
    Ok(session
        .accounts()?
        .create_tenant(pb::CreateTenantRequest {
            idempotency_key: idempotency_key(tenant.key.idempotency_key.as_deref()),
            display_name: tenant.name,
            sector: tenant.sector,
            resale_model: tenant.resale_model,
            marketplace_ref: tenant.marketplace_ref,
            admin: Some(pb::NewUser {
                email: tenant.admin_email,
                display_name: tenant.admin_name,
                idp_subject: tenant.admin_subject,
            }),
        })
        .await
        .answer()?)
}

pub(super) async fn users(
    command: UsersCommand,
    session: Session,
    printer: Printer,
) -> anyhow::Result<()> {
    match command {
        UsersCommand::Create(user) => {
            let answer = session
                .accounts()?
                .create_user(pb::CreateUserRequest {
                    idempotency_key: idempotency_key(user.key.idempotency_key.as_deref()),
                    user: Some(pb::NewUser {
                        email: user.email,
                        display_name: user.name,
                        idp_subject: user.subject,
                    }),
                    role: user.role,
                    tenant_id: user.tenant,
                })
                .await
                .answer()?;
            printer.show(&present(answer.user, "user")?)
        }
        UsersCommand::List(filter) => {
            let answer = session
                .accounts()?
                .list_users(pb::ListUsersRequest {
                    page_size: filter.page.page_size,
                    page_token: filter.page.page_token,
                    tenant_id: filter.tenant,
                })
                .await
                .answer()?;
            printer.list(&answer, "users", USER_COLUMNS)
        }
    }
}

pub(super) async fn accounts(
    command: AccountsCommand,
    session: Session,
    printer: Printer,
) -> anyhow::Result<()> {
    match command {
        AccountsCommand::List(filter) => {
            let answer = session
                .accounts()?
                .list_accounts(pb::ListAccountsRequest {
                    page_size: filter.page.page_size,
                    page_token: filter.page.page_token,
                    states: filter.states,
                    relationship: 0,
                    management_account_id: String::new(),
                    tenant_id: filter.tenant,
                })
                .await
                .answer()?;
            printer.list(&answer, "accounts", ACCOUNT_COLUMNS)
        }
        AccountsCommand::Get(lookup) => {
            printer.show(&get_account(&session, &lookup.account).await?)
        }
    }
}

/// One account record, by 12-digit AWS id or by record id.
pub(super) async fn get_account(
    session: &Session,
    account: &str,
) -> anyhow::Result<pb::AwsAccount> {
    use pb::get_account_request::Lookup;
    let lookup = if account.len() == 12 && account.bytes().all(|byte| byte.is_ascii_digit()) {
        Lookup::AwsAccountId(account.to_owned())
    } else {
        Lookup::Id(account.to_owned())
    };
    let answer = session
        .accounts()?
        .get_account(pb::GetAccountRequest {
            lookup: Some(lookup),
        })
        .await
        .answer()?;
    present(answer.account, "account")
}
