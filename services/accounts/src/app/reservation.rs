//! Reserving a record for an order: a new account, or the transfer of an existing one. A reservation
//! refuses what Tenure already knows to be taken: a root email any record still uses (TNR101), an AWS
//! account id the tenant manages or removed with its purge pending (TNR010), or one another tenant
//! manages (TNR213).

use tenure_db::TenantTx;
use tenure_domain::{AccountName, AwsAccountId, RootEmail};
use uuid::Uuid;

use crate::app::records::change;
use crate::app::{Accounts, Answer, Call, Idempotent, Target};
use crate::domain::{
    AccountRecord, AccountRole, AccountState, AccountsError, JoinedMethod, Relationship,
    ResponseSubject, RootAccess, already_managed, held_elsewhere, removed_not_transferred,
    root_email_taken,
};
use crate::store;

/// What an order reserves a record for.
#[derive(Debug, Clone)]
pub(crate) enum Reserved {
    /// An account AWS is still to create, under a root email nobody uses.
    NewAccount {
        root_email: RootEmail,
        name: AccountName,
    },
    /// An existing AWS account coming under the platform.
    Transfer {
        aws_account_id: AwsAccountId,
        name: Option<AccountName>,
    },
}

/// A validated reservation.
#[derive(Debug, Clone)]
pub(crate) struct Reservation {
    pub(crate) order_id: Uuid,
    pub(crate) reserved: Reserved,
    pub(crate) role: AccountRole,
    pub(crate) relationship: Relationship,
    pub(crate) root_access: Option<RootAccess>,
    pub(crate) management_account_id: Option<AwsAccountId>,
}

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
        store::accounts::find_live_account(tx, None, aws_account_id).await
    })
    .await?;
    match holder {
        Some(holder) if holder.tenant_id == tenant => return Err(already_managed(id)),
        Some(_) => return Err(held_elsewhere(id)),
        None => {}
    }
    if store::accounts::has_pending_removal(tx, tenant, aws_account_id).await? {
        return Err(removed_not_transferred(id));
    }
    Ok(())
}

/// A new account needs a root email no record of any tenant uses, unless that record was abandoned
/// before AWS created anything.
async fn check_root_email_unknown(tx: &TenantTx, email: &RootEmail) -> Result<(), AccountsError> {
    let in_use = store::read_across_tenants(tx, async |tx| {
        store::accounts::root_email_in_use(tx, email).await
    })
    .await?;
    if in_use {
        Err(root_email_taken())
    } else {
        Ok(())
    }
}

impl Accounts {
    /// Reserves a record in the caller's tenant for order `reservation.order_id`, which holds it.
    pub(crate) async fn reserve_account(
        &self,
        call: &Call,
        idempotent: Idempotent<'_, AccountRecord>,
        reservation: Reservation,
    ) -> Result<Answer<AccountRecord>, AccountsError> {
        let tenant = call.access.acting_tenant()?;
        let order_id = reservation.order_id;
        let (state, joined_method, aws_account_id, root_email, name) = match reservation.reserved {
            Reserved::NewAccount { root_email, name } => (
                AccountState::PendingCreation,
                JoinedMethod::Created,
                None,
                Some(root_email),
                Some(name),
            ),
            Reserved::Transfer {
                aws_account_id,
                name,
            } => (
                AccountState::TransferPending,
                JoinedMethod::of_transfer(reservation.relationship),
                Some(aws_account_id),
                None,
                name,
            ),
        };
        self.mutate(
            call,
            idempotent,
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
                let account = AccountRecord {
                    id: Uuid::new_v4(),
                    tenant_id: tenant,
                    aws_account_id,
                    name: name.map(AccountName::into_inner),
                    root_email,
                    role: reservation.role,
                    relationship: reservation.relationship,
                    organization_id: None,
                    parent_id: None,
                    management_account_id: reservation.management_account_id,
                    joined_method: Some(joined_method),
                    root_access: reservation.root_access,
                    state,
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
                    open_balance: None,
                };
                let change = change(call, "reserved by order", Some(order_id), now);
                let account = store::accounts::insert_account(tx, &account, &change)
                    .await
                    .map_err(|error| match error {
                        AccountsError::NotEligible => collision,
                        other => other,
                    })?;
                let subject = ResponseSubject::Account(account.id);
                Ok((account, subject))
            },
        )
        .await
    }
}
