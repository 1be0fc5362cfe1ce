//! The account tables' rows read into domain records and written back from them. Every id, email and
//! vocabulary value is read through its parser: a stored value outside it means the row was written by
//! something else, and reading it fails rather than showing a default.

use sea_orm::ActiveValue;
use tenure_domain::{AwsAccountId, FieldProblem, RootEmail};
use uuid::Uuid;

use crate::domain::{
    AccountDetails, AccountRecord, AccountRole, AccountState, AccountsError, CostRecord,
    JoinedMethod, Money, OpenBalance, OrganizationId, ParentId, Relationship, RootAccess,
    SubscriptionRecord, SubscriptionStatus, Tag, Transition,
};
use crate::store::entity::{
    account_details, account_transition, aws_account, cost_record, subscription,
};
use crate::store::stored;

/// A stored value its parser refuses is a broken row.
fn parsed<T>(raw: &str, parse: fn(&str) -> Result<T, FieldProblem>) -> Result<T, AccountsError> {
    parse(raw).map_err(|_| AccountsError::internal("a stored value is malformed"))
}

fn optional<T>(
    raw: Option<&str>,
    parse: fn(&str) -> Result<T, FieldProblem>,
) -> Result<Option<T>, AccountsError> {
    raw.map(|raw| parsed(raw, parse)).transpose()
}

fn optional_name<T>(
    raw: Option<&str>,
    parse: fn(&str) -> Option<T>,
) -> Result<Option<T>, AccountsError> {
    raw.map(|raw| stored(parse(raw))).transpose()
}

/// The open balance recorded on a row, if billing reported one.
pub(crate) fn open_balance(row: &aws_account::Model) -> Result<Option<OpenBalance>, AccountsError> {
    match (
        row.open_balance_micros,
        row.open_balance_currency.as_deref(),
        row.open_balance_as_of,
    ) {
        (Some(micros), Some(currency), Some(as_of)) => Ok(Some(OpenBalance {
            amount: Money::parse(currency, micros)
                .map_err(|_| AccountsError::internal("a stored currency is malformed"))?,
            as_of,
        })),
        (None, None, None) => Ok(None),
        _ => Err(AccountsError::internal(
            "an open balance is stored incompletely",
        )),
    }
}

pub(crate) fn account_record(row: aws_account::Model) -> Result<AccountRecord, AccountsError> {
    Ok(AccountRecord {
        open_balance: open_balance(&row)?,
        aws_account_id: optional(row.aws_account_id.as_deref(), AwsAccountId::parse)?,
        root_email: optional(row.root_email.as_deref(), RootEmail::parse)?,
        role: stored(AccountRole::parse(&row.role))?,
        relationship: stored(Relationship::parse(&row.relationship))?,
        organization_id: optional(row.organization_id.as_deref(), OrganizationId::parse)?,
        parent_id: optional(row.parent_id.as_deref(), ParentId::parse)?,
        management_account_id: optional(row.management_account_id.as_deref(), AwsAccountId::parse)?,
        joined_method: optional_name(row.joined_method.as_deref(), JoinedMethod::parse)?,
        root_access: optional_name(row.root_access.as_deref(), RootAccess::parse)?,
        state: stored(AccountState::parse(&row.state))?,
        id: row.id,
        tenant_id: row.tenant_id,
        name: row.name,
        state_changed_at: row.state_changed_at,
        active_order_id: row.active_order_id,
        closed_at: row.closed_at,
        reopen_until: row.reopen_until,
        billing_starts_at: row.billing_starts_at,
        billing_ends_at: row.billing_ends_at,
        created_at: row.created_at,
        removed_at: row.removed_at,
        removal_purge_id: row.removal_purge_id,
        removal_purge_due_at: row.removal_purge_due_at,
        removal_purged_at: row.removal_purged_at,
    })
}

/// The row of `record`; the root email's uniqueness key is derived here, so it never drifts from
/// the email.
pub(crate) fn account_row(record: &AccountRecord) -> aws_account::Model {
    let balance = record.open_balance.as_ref();
    aws_account::Model {
        id: record.id,
        tenant_id: record.tenant_id,
        aws_account_id: record
            .aws_account_id
            .as_ref()
            .map(|id| id.as_str().to_owned()),
        name: record.name.clone(),
        root_email: record
            .root_email
            .as_ref()
            .map(|email| email.as_str().to_owned()),
        root_email_key: record.root_email.as_ref().map(RootEmail::key),
        role: record.role.as_str().to_owned(),
        relationship: record.relationship.as_str().to_owned(),
        organization_id: record
            .organization_id
            .as_ref()
            .map(|id| id.as_str().to_owned()),
        parent_id: record.parent_id.as_ref().map(|id| id.as_str().to_owned()),
        management_account_id: record
            .management_account_id
            .as_ref()
            .map(|id| id.as_str().to_owned()),
        joined_method: record
            .joined_method
            .map(|method| method.as_str().to_owned()),
        root_access: record.root_access.map(|access| access.as_str().to_owned()),
        state: record.state.as_str().to_owned(),
        state_changed_at: record.state_changed_at,
        active_order_id: record.active_order_id,
        closed_at: record.closed_at,
        reopen_until: record.reopen_until,
        billing_starts_at: record.billing_starts_at,
        billing_ends_at: record.billing_ends_at,
        created_at: record.created_at,
        removed_at: record.removed_at,
        removal_purge_id: record.removal_purge_id,
        removal_purge_due_at: record.removal_purge_due_at,
        removal_purged_at: record.removal_purged_at,
        open_balance_micros: balance.map(|balance| balance.amount.micros),
        open_balance_currency: balance.map(|balance| balance.amount.currency.as_str().to_owned()),
        open_balance_as_of: balance.map(|balance| balance.as_of),
    }
}

pub(crate) fn transition(row: account_transition::Model) -> Result<Transition, AccountsError> {
    Ok(Transition {
        from_state: optional_name(row.from_state.as_deref(), AccountState::parse)?,
        to_state: stored(AccountState::parse(&row.to_state))?,
        at: row.at,
        actor_subject: row.actor_subject,
        actor_role: row.actor_role,
        reason: row.reason,
        order_id: row.order_id,
    })
}

pub(crate) fn subscription_record(
    row: subscription::Model,
) -> Result<SubscriptionRecord, AccountsError> {
    Ok(SubscriptionRecord {
        status: stored(SubscriptionStatus::parse(&row.status))?,
        id: row.id,
        tenant_id: row.tenant_id,
        account_id: row.account_id,
        marketplace_ref: row.marketplace_ref,
        started_at: row.started_at,
        terminated_at: row.terminated_at,
    })
}

pub(crate) fn subscription_row(record: &SubscriptionRecord) -> subscription::Model {
    subscription::Model {
        id: record.id,
        tenant_id: record.tenant_id,
        account_id: record.account_id,
        marketplace_ref: record.marketplace_ref.clone(),
        status: record.status.as_str().to_owned(),
        started_at: record.started_at,
        terminated_at: record.terminated_at,
    }
}

pub(crate) fn details(row: account_details::Model) -> Result<AccountDetails, AccountsError> {
    let tags: Vec<Tag> = serde_json::from_str(&row.tags)
        .map_err(|error| AccountsError::Internal(Box::new(error)))?;
    Ok(AccountDetails {
        email: parsed(&row.email, RootEmail::parse)?,
        account_id: row.account_id,
        tenant_id: row.tenant_id,
        name: row.name,
        organization_path: row.organization_path,
        tags,
        fetched_at: row.fetched_at,
    })
}

pub(crate) fn details_row(
    record: &AccountDetails,
) -> Result<account_details::Model, AccountsError> {
    Ok(account_details::Model {
        account_id: record.account_id,
        tenant_id: record.tenant_id,
        name: record.name.clone(),
        email: record.email.as_str().to_owned(),
        organization_path: record.organization_path.clone(),
        tags: serde_json::to_string(&record.tags)
            .map_err(|error| AccountsError::Internal(Box::new(error)))?,
        fetched_at: record.fetched_at,
    })
}

pub(crate) fn cost(row: cost_record::Model) -> CostRecord {
    CostRecord {
        period_start: row.period_start,
        period_end: row.period_end,
        service: row.service,
        amount_micros: row.amount_micros,
        currency: row.currency,
    }
}

/// A new cost row of record `account_id` in `tenant`; the database numbers it.
pub(crate) fn cost_row(
    tenant: Uuid,
    account_id: Uuid,
    record: CostRecord,
) -> cost_record::ActiveModel {
    cost_record::ActiveModel {
        id: ActiveValue::NotSet,
        account_id: ActiveValue::Set(account_id),
        tenant_id: ActiveValue::Set(tenant),
        period_start: ActiveValue::Set(record.period_start),
        period_end: ActiveValue::Set(record.period_end),
        service: ActiveValue::Set(record.service),
        amount_micros: ActiveValue::Set(record.amount_micros),
        currency: ActiveValue::Set(record.currency),
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone as _, Utc};

    use super::*;

    fn record() -> AccountRecord {
        let at = Utc
            .with_ymd_and_hms(2026, 3, 1, 0, 0, 0)
            .single()
            .expect("date");
        AccountRecord {
            id: Uuid::new_v4(),
            tenant_id: Uuid::new_v4(),
            aws_account_id: Some(AwsAccountId::parse("012345678901").expect("valid")),
            name: Some("prod".to_owned()),
            root_email: Some(RootEmail::parse("Root@Example.com").expect("valid")),
            role: AccountRole::Member,
            relationship: Relationship::PlatformMember,
            organization_id: Some(OrganizationId::parse("o-abcdefghij").expect("valid")),
            parent_id: Some(ParentId::parse("r-ab12").expect("valid")),
            management_account_id: None,
            joined_method: Some(JoinedMethod::Created),
            root_access: None,
            state: AccountState::Active,
            state_changed_at: at,
            active_order_id: None,
            closed_at: None,
            reopen_until: None,
            billing_starts_at: Some(at),
            billing_ends_at: None,
            created_at: at,
            removed_at: None,
            removal_purge_id: None,
            removal_purge_due_at: None,
            removal_purged_at: None,
            open_balance: Some(OpenBalance {
                amount: Money::parse("EUR", -500_000).expect("valid"),
                as_of: at,
            }),
        }
    }

    #[test]
    fn a_record_reads_back_as_it_was_written_with_its_email_key_derived() {
        let record = record();
        let row = account_row(&record);
        assert_eq!(row.root_email_key.as_deref(), Some("root@example.com"));
        assert_eq!(account_record(row).expect("reads back"), record);
    }

    #[test]
    fn a_stored_value_outside_its_vocabulary_or_format_is_an_error() {
        let broken: [fn(&mut aws_account::Model); 4] = [
            |row| row.state = "gone".to_owned(),
            |row| row.joined_method = Some("teleported".to_owned()),
            |row| row.aws_account_id = Some("12345".to_owned()),
            |row| row.open_balance_currency = None,
        ];
        for breaking in broken {
            let mut row = account_row(&record());
            breaking(&mut row);
            assert!(matches!(
                account_record(row),
                Err(AccountsError::Internal(_))
            ));
        }
    }
}
