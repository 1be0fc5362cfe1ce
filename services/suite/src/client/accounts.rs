//! `tenure tenants`, `tenure users` and `tenure accounts`: the accounts service. Subscriptions are in
//! [`super::subscriptions`].

use tenure_proto::accounts::v1 as pb;

use super::connect::{Session, idempotency_key};
use super::errors::{Answer as _, operators_only, present};
use super::money;
use super::proto::Proto as _;
use super::render::{Flat, Printer, key_values, table};
use crate::cli::{
    AccountsCommand, ChangeMembership, CheckEligibility, CreateTenant, ReopenAccount,
    TenantsCommand, UsersCommand,
};

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
    "open_balance.amount",
    "removal_purge_id",
    "removal_purge_due_at",
    "id",
];

/// The columns of the problems `accounts eligibility` found.
const PROBLEM_COLUMNS: &[&str] = &["code", "message"];

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
        AccountsCommand::Eligibility(check) => {
            show_eligibility(printer, &check_termination(&session, check).await?)
        }
        AccountsCommand::Remove(change) => printer.show(&remove(&session, change).await?),
        AccountsCommand::Restore(change) => printer.show(&restore(&session, change).await?),
        AccountsCommand::Reopen(reopen) => printer.show(&self::reopen(&session, reopen).await?),
    }
}

/// Asks whether the account can be terminated now, as a terminate order would.
async fn check_termination(
    session: &Session,
    check: CheckEligibility,
) -> anyhow::Result<pb::CheckTerminationResponse> {
    Ok(session
        .accounts()?
        .check_termination(pb::CheckTerminationRequest {
            aws_account_id: check.account,
            mode: check.mode,
            acknowledgements: check.acknowledgements,
            order_id: String::new(),
            acknowledged_open_balance: money::confirmed(check.balance),
        })
        .await
        .answer()?)
}

/// The verdict first, then what the customer must confirm, then each problem with its code. Written
/// out rather than flattened: `eligible: false` and an empty list are answers here, not gaps.
fn show_eligibility(printer: Printer, answer: &pb::CheckTerminationResponse) -> anyhow::Result<()> {
    if printer.is_json() {
        return printer.json_line(answer);
    }
    let flat = Flat::of(&answer.dynamic()?);
    let shown = |key: &str| flat.get(key).unwrap_or("-").to_owned();
    let mut text = key_values(&[
        ("aws_account_id".to_owned(), shown("account.aws_account_id")),
        ("state".to_owned(), shown("account.state")),
        (
            "eligible".to_owned(),
            if answer.eligible { "yes" } else { "no" }.to_owned(),
        ),
        (
            "required_acknowledgements".to_owned(),
            shown("required_acknowledgements"),
        ),
        ("open_balance".to_owned(), shown("open_balance.amount")),
        ("open_balance.as_of".to_owned(), shown("open_balance.as_of")),
    ]);
    if let Some((_, problems)) = flat.lists.iter().find(|(name, _)| name == "problems") {
        text.push_str("\nproblems:\n");
        for line in table(problems, Some(PROBLEM_COLUMNS)).lines() {
            text.push_str(&format!("  {line}\n"));
        }
    }
    printer.note(text.trim_end())
}

/// Takes an active account off the platform.
async fn remove(session: &Session, change: ChangeMembership) -> anyhow::Result<pb::AwsAccount> {
    let answer = session
        .accounts()?
        .remove_account_from_platform(pb::RemoveAccountFromPlatformRequest {
            idempotency_key: idempotency_key(change.key.idempotency_key.as_deref()),
            account_id: change.account_id,
            reason: change.reason,
            ticket: change.ticket,
        })
        .await
        .answer()?;
    present(answer.account, "account")
}

/// Brings a removed account back onto the platform.
async fn restore(session: &Session, change: ChangeMembership) -> anyhow::Result<pb::AwsAccount> {
    let answer = session
        .accounts()?
        .restore_account_to_platform(pb::RestoreAccountToPlatformRequest {
            idempotency_key: idempotency_key(change.key.idempotency_key.as_deref()),
            account_id: change.account_id,
            reason: change.reason,
            ticket: change.ticket,
        })
        .await
        .answer()?;
    present(answer.account, "account")
}

/// Records a reopening through AWS Support. The API takes the record id; an AWS id is looked up first,
/// which finds the closed record since a closed account is still live until its window ends.
async fn reopen(session: &Session, reopen: ReopenAccount) -> anyhow::Result<pb::AwsAccount> {
    let account_id = if is_aws_account_id(&reopen.account) {
        get_account(session, &reopen.account).await?.id
    } else {
        reopen.account
    };
    let answer = session
        .accounts()?
        .reopen_account(pb::ReopenAccountRequest {
            idempotency_key: idempotency_key(reopen.why.key.idempotency_key.as_deref()),
            account_id,
            reason: reopen.why.reason,
            ticket: reopen.why.ticket,
        })
        .await
        .answer()
        .map_err(|error| operators_only(error, "accounts reopen"))?;
    present(answer.account, "account")
}

/// Whether `account` is a 12-digit AWS account id rather than a record id.
pub(super) fn is_aws_account_id(account: &str) -> bool {
    account.len() == 12 && account.bytes().all(|byte| byte.is_ascii_digit())
}

/// One account record, by 12-digit AWS id or by record id.
pub(super) async fn get_account(
    session: &Session,
    account: &str,
) -> anyhow::Result<pb::AwsAccount> {
    use pb::get_account_request::Lookup;
    let lookup = if is_aws_account_id(account) {
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
