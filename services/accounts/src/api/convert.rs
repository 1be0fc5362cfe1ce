//! proto <-> domain conversions. Enum fields reject `*_UNSPECIFIED` and unknown numbers (TNR004), and
//! replies are built field by field from stored rows, never by serialising an entity.

use chrono::{DateTime, Utc};
use prost_types::Timestamp;
use tenure_domain::FieldProblem;
use tenure_proto::accounts::v1 as pb;
use tenure_proto::common::v1 as common;

use crate::api::context::at;
use crate::domain::{
    AccountRole, AccountState, AccountsError, Acknowledgement, JoinedMethod, Money, OpenBalance,
    Relationship, ResaleModel, ReservationKind, RootAccess, Sector, SubscriptionStatus, Tag,
    TenantRecord, TenantStatus, TerminationMode, UserRecord, UserRole, field_problem, required,
};
use crate::store::entity::{
    account_details, account_transition, aws_account, cost_record, subscription,
};
use crate::store::stored;

use tenure_grpc::enum_conversion;

use common::{
    AccountRelationship as PbRelationship, Acknowledgement as PbAcknowledgement,
    ResaleModel as PbResaleModel, Sector as PbSector, TerminationMode as PbTerminationMode,
};
use pb::{
    AccountRole as PbAccountRole, AccountState as PbAccountState, JoinedMethod as PbJoinedMethod,
    ReservationKind as PbReservationKind, RootAccessOwner as PbRootAccess,
    SubscriptionStatus as PbSubscriptionStatus, TenantStatus as PbTenantStatus,
    UserRole as PbUserRole,
};

enum_conversion!(sector_from, sector_to, PbSector => Sector { Commercial <=> Commercial, Public <=> Public });
enum_conversion!(resale_model_from, resale_model_to, PbResaleModel => ResaleModel {
    Ecam <=> Ecam, Spam <=> Spam, BillingTransfer <=> BillingTransfer,
});
enum_conversion!(tenant_status_from, tenant_status_to, PbTenantStatus => TenantStatus {
    Active <=> Active, Unsubscribed <=> Unsubscribed,
});
enum_conversion!(user_role_from, user_role_to, PbUserRole => UserRole { Admin <=> Admin, Member <=> Member });
enum_conversion!(account_role_from, account_role_to, PbAccountRole => AccountRole {
    Management <=> Management, Member <=> Member,
});
enum_conversion!(relationship_from, relationship_to, PbRelationship => Relationship {
    PlatformMember <=> PlatformMember, PlatformPayer <=> PlatformPayer,
    BillingTransferSource <=> BillingTransferSource,
});
enum_conversion!(joined_method_from, joined_method_to, PbJoinedMethod => JoinedMethod {
    Created <=> Created, Invited <=> Invited, BillingTransfer <=> BillingTransfer,
    HandedOver <=> HandedOver,
});
enum_conversion!(root_access_from, root_access_to, PbRootAccess => RootAccess {
    Customer <=> Customer, Platform <=> Platform,
});
enum_conversion!(subscription_status_from, subscription_status_to, PbSubscriptionStatus => SubscriptionStatus {
    Active <=> Active, Suspended <=> Suspended, Terminated <=> Terminated,
});
enum_conversion!(termination_mode_from, termination_mode_to, PbTerminationMode => TerminationMode {
    Close <=> Close, Unlink <=> Unlink,
});
enum_conversion!(reservation_kind_from, reservation_kind_to, PbReservationKind => ReservationKind {
    NewAccount <=> NewAccount, Transfer <=> Transfer,
});
enum_conversion!(acknowledgement_from, acknowledgement_to, PbAcknowledgement => Acknowledgement {
    RootUser <=> RootUser, NoMembers <=> NoMembers, Backup <=> Backup,
    OutstandingBill <=> OutstandingBill, Commitments <=> Commitments, Resources <=> Resources,
    EmailNotReusable <=> EmailNotReusable, ReopenWindow <=> ReopenWindow, Standalone <=> Standalone,
});
enum_conversion!(account_state_from, account_state_to, PbAccountState => AccountState {
    PendingCreation <=> PendingCreation, TransferPending <=> TransferPending, Active <=> Active,
    Offboarding <=> Offboarding, Unlinking <=> Unlinking, Unlinked <=> Unlinked,
    PendingClosure <=> PendingClosure, Closed <=> Closed, PermanentlyClosed <=> PermanentlyClosed,
    Abandoned <=> Abandoned, Removed <=> Removed,
});
/// An optional enum filter: unspecified means "no filter", an unknown number is refused.
pub(crate) fn optional<T>(
    raw: i32,
    convert: fn(i32) -> Result<T, FieldProblem>,
) -> Result<Option<T>, FieldProblem> {
    if raw == 0 {
        Ok(None)
    } else {
        convert(raw).map(Some)
    }
}

/// A present, representable timestamp.
pub(crate) fn instant(raw: Option<&Timestamp>) -> Result<DateTime<Utc>, FieldProblem> {
    let Some(raw) = raw else {
        return Err(required());
    };
    u32::try_from(raw.nanos)
        .ok()
        .and_then(|nanos| DateTime::from_timestamp(raw.seconds, nanos))
        .ok_or_else(|| field_problem("TIMESTAMP_FORMAT", "not a valid timestamp", "TNR004"))
}

/// An optional field: empty means absent.
pub(crate) fn non_empty(raw: &str) -> Option<&str> {
    (!raw.is_empty()).then_some(raw)
}

pub(crate) fn timestamp(at: DateTime<Utc>) -> Timestamp {
    Timestamp {
        seconds: at.timestamp(),
        nanos: i32::try_from(at.timestamp_subsec_nanos()).unwrap_or_default(),
    }
}

fn stored_enum<T>(raw: &str, parse: fn(&str) -> Option<T>) -> Result<T, AccountsError> {
    stored(parse(raw))
}

fn optional_stored<T: Copy>(
    raw: Option<&str>,
    parse: fn(&str) -> Option<T>,
    to: fn(T) -> i32,
) -> Result<i32, AccountsError> {
    match raw {
        None => Ok(0),
        Some(raw) => Ok(to(stored_enum(raw, parse)?)),
    }
}

pub(crate) fn tenant(record: &TenantRecord) -> pb::Tenant {
    pb::Tenant {
        id: record.id.to_string(),
        display_name: record.display_name.clone(),
        sector: sector_to(record.sector),
        resale_model: resale_model_to(record.resale_model),
        marketplace_ref: record.marketplace_ref.clone(),
        status: tenant_status_to(record.status),
        created_at: Some(timestamp(record.created_at)),
        unsubscribed_at: record.unsubscribed_at.map(timestamp),
    }
}

pub(crate) fn user(record: &UserRecord) -> pb::User {
    pb::User {
        id: record.id.to_string(),
        email: record.email.clone(),
        display_name: record.display_name.clone(),
        idp_subject: record.idp_subject.clone(),
        role: user_role_to(record.role),
        created_at: Some(timestamp(record.created_at)),
    }
}

/// How much of a root email a reply shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EmailView {
    Full,
    /// Customers' list views: the first character of the local part and the domain (S7).
    Masked,
}

fn masked_email(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".to_owned(),
    }
}

pub(crate) fn account(
    model: &aws_account::Model,
    view: EmailView,
) -> Result<pb::AwsAccount, AccountsError> {
    let root_email = model.root_email.clone().unwrap_or_default();
    Ok(pb::AwsAccount {
        id: model.id.to_string(),
        aws_account_id: model.aws_account_id.clone().unwrap_or_default(),
        name: model.name.clone().unwrap_or_default(),
        root_email: match view {
            EmailView::Full => root_email,
            EmailView::Masked if root_email.is_empty() => root_email,
            EmailView::Masked => masked_email(&root_email),
        },
        role: account_role_to(stored_enum(&model.role, AccountRole::parse)?),
        relationship: relationship_to(stored_enum(&model.relationship, Relationship::parse)?),
        organization_id: model.organization_id.clone().unwrap_or_default(),
        parent_id: model.parent_id.clone().unwrap_or_default(),
        management_account_id: model.management_account_id.clone().unwrap_or_default(),
        joined_method: optional_stored(
            model.joined_method.as_deref(),
            JoinedMethod::parse,
            joined_method_to,
        )?,
        root_access: optional_stored(
            model.root_access.as_deref(),
            RootAccess::parse,
            root_access_to,
        )?,
        state: account_state_to(stored_enum(&model.state, AccountState::parse)?),
        state_changed_at: Some(timestamp(model.state_changed_at)),
        active_order_id: model
            .active_order_id
            .map(|id| id.to_string())
            .unwrap_or_default(),
        closed_at: model.closed_at.map(timestamp),
        reopen_until: model.reopen_until.map(timestamp),
        billing_starts_at: model.billing_starts_at.map(timestamp),
        billing_ends_at: model.billing_ends_at.map(timestamp),
        created_at: Some(timestamp(model.created_at)),
        tenant_id: model.tenant_id.to_string(),
        open_balance: crate::store::balances::of(model)?
            .as_ref()
            .map(open_balance),
        removed_at: model.removed_at.map(timestamp),
        removal_purge_id: model
            .removal_purge_id
            .map(|id| id.to_string())
            .unwrap_or_default(),
        removal_purge_due_at: model.removal_purge_due_at.map(timestamp),
    })
}

pub(crate) fn money(amount: &Money) -> common::Money {
    common::Money {
        currency_code: amount.currency.as_str().to_owned(),
        amount_micros: amount.micros,
    }
}

pub(crate) fn open_balance(balance: &OpenBalance) -> pb::OpenBalance {
    pb::OpenBalance {
        amount: Some(money(&balance.amount)),
        as_of: Some(timestamp(balance.as_of)),
    }
}

/// An amount in a request, its problems named under `field` (`balances[3].amount`).
pub(crate) fn money_from(
    problems: &mut tenure_domain::Problems,
    field: &str,
    raw: Option<&common::Money>,
) -> Option<Money> {
    let Some(raw) = raw else {
        problems.push(at(field, required()));
        return None;
    };
    problems.check(
        format!("{field}.currency_code"),
        Money::parse(&raw.currency_code, raw.amount_micros),
    )
}

fn principal_role(stored_role: &str) -> i32 {
    let role = match stored_role {
        "customer" => common::PrincipalRole::Customer,
        "operator" => common::PrincipalRole::Operator,
        "billing" => common::PrincipalRole::Billing,
        "service" => common::PrincipalRole::Service,
        _ => common::PrincipalRole::Unspecified,
    };
    role as i32
}

pub(crate) fn transition(
    model: &account_transition::Model,
) -> Result<pb::AccountTransition, AccountsError> {
    Ok(pb::AccountTransition {
        from_state: optional_stored(
            model.from_state.as_deref(),
            AccountState::parse,
            account_state_to,
        )?,
        to_state: account_state_to(stored_enum(&model.to_state, AccountState::parse)?),
        at: Some(timestamp(model.at)),
        actor: Some(common::Actor {
            subject: model.actor_subject.clone(),
            role: principal_role(&model.actor_role),
        }),
        reason: model.reason.clone(),
        order_id: model.order_id.map(|id| id.to_string()).unwrap_or_default(),
    })
}

pub(crate) fn subscription(
    model: &subscription::Model,
    aws_account_id: Option<&str>,
) -> Result<pb::Subscription, AccountsError> {
    Ok(pb::Subscription {
        id: model.id.to_string(),
        account_id: model.account_id.to_string(),
        aws_account_id: aws_account_id.unwrap_or_default().to_owned(),
        marketplace_ref: model.marketplace_ref.clone(),
        status: subscription_status_to(stored_enum(&model.status, SubscriptionStatus::parse)?),
        started_at: Some(timestamp(model.started_at)),
        terminated_at: model.terminated_at.map(timestamp),
    })
}

pub(crate) fn details(model: &account_details::Model) -> Result<pb::AccountDetails, AccountsError> {
    let tags: Vec<Tag> = serde_json::from_str(&model.tags)
        .map_err(|error| AccountsError::Internal(Box::new(error)))?;
    Ok(pb::AccountDetails {
        name: model.name.clone(),
        email: model.email.clone(),
        organization_path: model.organization_path.clone(),
        tags: tags
            .into_iter()
            .map(|tag| pb::Tag {
                key: tag.key,
                value: tag.value,
            })
            .collect(),
        fetched_at: Some(timestamp(model.fetched_at)),
    })
}

pub(crate) fn cost(model: &cost_record::Model) -> pb::CostRecord {
    pb::CostRecord {
        period_start: Some(timestamp(model.period_start)),
        period_end: Some(timestamp(model.period_end)),
        service: model.service.clone(),
        amount_micros: model.amount_micros,
        currency: model.currency.clone(),
    }
}
