//! Reserving a record for an order: a new account, or the transfer of an existing one. A reservation
//! refuses what Tenure already knows to be taken: a root email any record still uses (TNR101), an AWS
//! account id the tenant manages or removed with its purge pending (TNR010), or one another tenant
//! manages (TNR213).

use tenure_db::TenantTx;
use tenure_domain::{AwsAccountId, Problems};
use tenure_proto::accounts::v1 as pb;
use uuid::Uuid;

use crate::api::account_service::records::{AccountResponse, change, record_id, unsupported};
use crate::api::context::{checked, finish_keyed};
use crate::api::convert::{self, EmailView, non_empty, optional};
use crate::app::{Accounts, Call, Target};
use crate::domain::{
    AccountName, AccountRole, AccountState, AccountsError, JoinedMethod, ReservationKind,
    ResponseSubject, RootEmail, already_managed, held_elsewhere, removed_not_transferred,
    root_email_taken,
};
use crate::store;
use crate::store::entity::aws_account;

/// A transfer may take an AWS account id nobody manages: not the tenant itself, not another tenant
/// (whose record is read across tenants and never described), and not a record the tenant removed
/// whose purge would later delete the new record's data.
async fn check_transferable(
    tx: &TenantTx,
    tenant: Uuid,
    aws_account_id: &AwsAccountId,
) -> Result<(), AccountsError> {
    let id = aws_account_id.as_str();
    let holder = store::read_across_tenants(tx, async |tx| {
        store::accounts::find_live_account(tx, None, id).await
    })
    .await?;
    match holder {
        Some(holder) if holder.tenant_id == tenant => return Err(already_managed(id)),
        Some(_) => return Err(held_elsewhere(id)),
        None => {}
    }
    if store::accounts::has_pending_removal(tx, tenant, id).await? {
        return Err(removed_not_transferred(id));
    }
    Ok(())
}

/// A new account needs a root email no record of any tenant uses, unless that record was abandoned
/// before AWS created anything.
async fn check_root_email_unknown(tx: &TenantTx, email: &RootEmail) -> Result<(), AccountsError> {
    let key = email.key();
    let in_use = store::read_across_tenants(tx, async |tx| {
        store::accounts::root_email_in_use(tx, &key).await
    })
    .await?;
    if in_use {
        Err(root_email_taken())
    } else {
        Ok(())
    }
}

impl Accounts {
    pub(crate) async fn reserve_account(
        &self,
        call: &Call,
        request: pb::ReserveAccountRequest,
    ) -> Result<pb::ReserveAccountResponse, AccountsError> {
        let mut problems = Problems::new();
        let order_id = record_id(&mut problems, "order_id", &request.order_id);
        let kind = problems.check("kind", convert::reservation_kind_from(request.kind));
        let role = problems.check("role", convert::account_role_from(request.role));
        let relationship = problems.check(
            "relationship",
            convert::relationship_from(request.relationship),
        );
        let root_access = problems.check(
            "root_access",
            optional(request.root_access, convert::root_access_from),
        );
        let management = match non_empty(&request.management_account_id) {
            None => Some(None),
            Some(raw) => problems
                .check("management_account_id", AwsAccountId::parse(raw))
                .map(Some),
        };
        if role == Some(AccountRole::Management) && !request.management_account_id.is_empty() {
            problems.push(unsupported(
                "management_account_id",
                "only a member account names its management account",
            ));
        }
        let mut aws_account_id = None;
        let mut root_email = None;
        let mut name = None;
        match kind {
            Some(ReservationKind::NewAccount) => {
                if !request.aws_account_id.is_empty() {
                    problems.push(unsupported(
                        "aws_account_id",
                        "AWS assigns the id of a new account; attach it once known",
                    ));
                }
                root_email = problems.check("root_email", RootEmail::parse(&request.root_email));
                name = problems
                    .check("account_name", AccountName::parse(&request.account_name))
                    .map(AccountName::into_inner);
            }
            Some(ReservationKind::Transfer) => {
                aws_account_id = problems.check(
                    "aws_account_id",
                    AwsAccountId::parse(&request.aws_account_id),
                );
                if !request.root_email.is_empty() {
                    problems.push(unsupported(
                        "root_email",
                        "a transferred account keeps the root email AWS has on record",
                    ));
                }
                if !request.account_name.is_empty() {
                    name = problems
                        .check("account_name", AccountName::parse(&request.account_name))
                        .map(AccountName::into_inner);
                }
            }
            None => {}
        }
        finish_keyed(problems, &request)?;
        let (order_id, kind, role, relationship, root_access, management) = (
            checked(order_id)?,
            checked(kind)?,
            checked(role)?,
            checked(relationship)?,
            checked(root_access)?,
            checked(management)?,
        );
        let tenant = call.access.acting_tenant()?;
        let (state, joined_method) = match kind {
            ReservationKind::NewAccount => (AccountState::PendingCreation, JoinedMethod::Created),
            ReservationKind::Transfer => (
                AccountState::TransferPending,
                JoinedMethod::of_transfer(relationship),
            ),
        };
        self.mutate_reply(
            call,
            &request,
            tenant,
            Target::new("order", order_id),
            async |tx, now| {
                // Checked inside the claimed call, so a replay answers with its stored response
                // instead of meeting the record it made.
                if let Some(id) = &aws_account_id {
                    check_transferable(tx, tenant, id).await?;
                }
                if let Some(email) = &root_email {
                    check_root_email_unknown(tx, email).await?;
                }
                // The unique indexes on live records settle a race between two reservations: the
                // loser hears what the check above would have told it.
                let collision = match &aws_account_id {
                    Some(id) => held_elsewhere(id.as_str()),
                    None => root_email_taken(),
                };
                let account = aws_account::Model {
                    id: Uuid::new_v4(),
                    tenant_id: tenant,
                    aws_account_id: aws_account_id.map(|id| id.as_str().to_owned()),
                    name,
                    root_email_key: root_email.as_ref().map(RootEmail::key),
                    root_email: root_email.map(|email| email.as_str().to_owned()),
                    role: role.as_str().to_owned(),
                    relationship: relationship.as_str().to_owned(),
                    organization_id: None,
                    parent_id: None,
                    management_account_id: management.map(|id| id.as_str().to_owned()),
                    joined_method: Some(joined_method.as_str().to_owned()),
                    root_access: root_access.map(|access| access.as_str().to_owned()),
                    state: state.as_str().to_owned(),
                    state_changed_at: now,
                    active_order_id: Some(order_id),
                    closed_at: None,
                    reopen_until: None,
                    billing_starts_at: None,
                    billing_ends_at: None,
                    created_at: now,
                    removed_at: None,
                    removal_purge_id: None,
                    removal_purge_due_at: None,
                    removal_purged_at: None,
                    open_balance_micros: None,
                    open_balance_currency: None,
                    open_balance_as_of: None,
                };
                let account = store::accounts::insert_account(
                    tx,
                    account,
                    &change(call, "reserved by order", Some(order_id), now),
                )
                .await
                .map_err(|error| match error {
                    AccountsError::NotEligible => collision,
                    other => other,
                })?;
                Ok((
                    pb::ReserveAccountResponse::with_account(convert::account(
                        &account,
                        EmailView::Full,
                    )?),
                    ResponseSubject::Account(account.id),
                ))
            },
        )
        .await
    }
}
