//! proto <-> domain conversions. Enum fields reject `*_UNSPECIFIED` and unknown numbers (TNR004), and
//! replies are built field by field from domain records, never by serialising an entity.

use chrono::{DateTime, Utc};
use prost_types::Timestamp;
use tenure_domain::FieldProblem;
use tenure_proto::accounts::v1 as pb;
use tenure_proto::common::v1 as common;

use crate::api::context::at;
use crate::app::SubscriptionView;
use crate::domain::{
    AccountDetails, AccountRecord, AccountRole, AccountState, Acknowledgement, CostRecord,
    JoinedMethod, Money, OpenBalance, Relationship, ResaleModel, ReservationKind, RootAccess,
    Sector, SubscriptionStatus, TenantRecord, TenantStatus, TerminationMode, Transition,
    UserRecord, UserRole, field_problem, required,
};

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

/// An optional id or vocabulary value: absent is the field's zero value.
fn or_empty<T>(value: Option<&T>, show: impl FnOnce(&T) -> String) -> String {
    value.map(show).unwrap_or_default()
}

pub(crate) fn account(record: &AccountRecord, view: EmailView) -> pb::AwsAccount {
    let root_email = or_empty(record.root_email.as_ref(), |email| {
        email.as_str().to_owned()
    });
    pb::AwsAccount {
        id: record.id.to_string(),
        aws_account_id: or_empty(record.aws_account_id.as_ref(), ToString::to_string),
        name: record.name.clone().unwrap_or_default(),
        root_email: match view {
            EmailView::Full => root_email,
            EmailView::Masked if root_email.is_empty() => root_email,
            EmailView::Masked => masked_email(&root_email),
        },
        role: account_role_to(record.role),
        relationship: relationship_to(record.relationship),
        organization_id: or_empty(record.organization_id.as_ref(), |id| id.as_str().to_owned()),
        parent_id: or_empty(record.parent_id.as_ref(), |id| id.as_str().to_owned()),
        management_account_id: or_empty(record.management_account_id.as_ref(), ToString::to_string),
        joined_method: record.joined_method.map_or(0, joined_method_to),
        root_access: record.root_access.map_or(0, root_access_to),
        state: account_state_to(record.state),
        state_changed_at: Some(timestamp(record.state_changed_at)),
        active_order_id: or_empty(record.active_order_id.as_ref(), ToString::to_string),
        closed_at: record.closed_at.map(timestamp),
        reopen_until: record.reopen_until.map(timestamp),
        billing_starts_at: record.billing_starts_at.map(timestamp),
        billing_ends_at: record.billing_ends_at.map(timestamp),
        created_at: Some(timestamp(record.created_at)),
        tenant_id: record.tenant_id.to_string(),
        open_balance: record.open_balance.as_ref().map(open_balance),
        removed_at: record.removed_at.map(timestamp),
        removal_purge_id: or_empty(record.removal_purge_id.as_ref(), ToString::to_string),
        removal_purge_due_at: record.removal_purge_due_at.map(timestamp),
    }
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

pub(crate) fn transition(record: &Transition) -> pb::AccountTransition {
    pb::AccountTransition {
        from_state: record.from_state.map_or(0, account_state_to),
        to_state: account_state_to(record.to_state),
        at: Some(timestamp(record.at)),
        actor: Some(common::Actor {
            subject: record.actor_subject.clone(),
            role: principal_role(&record.actor_role),
        }),
        reason: record.reason.clone(),
        order_id: or_empty(record.order_id.as_ref(), ToString::to_string),
    }
}

pub(crate) fn subscription(view: &SubscriptionView) -> pb::Subscription {
    let record = &view.subscription;
    pb::Subscription {
        id: record.id.to_string(),
        account_id: record.account_id.to_string(),
        aws_account_id: or_empty(view.aws_account_id.as_ref(), ToString::to_string),
        marketplace_ref: record.marketplace_ref.clone(),
        status: subscription_status_to(record.status),
        started_at: Some(timestamp(record.started_at)),
        terminated_at: record.terminated_at.map(timestamp),
    }
}

pub(crate) fn details(record: &AccountDetails) -> pb::AccountDetails {
    pb::AccountDetails {
        name: record.name.clone(),
        email: record.email.as_str().to_owned(),
        organization_path: record.organization_path.clone(),
        tags: record
            .tags
            .iter()
            .map(|tag| pb::Tag {
                key: tag.key.clone(),
                value: tag.value.clone(),
            })
            .collect(),
        fetched_at: Some(timestamp(record.fetched_at)),
    }
}

pub(crate) fn cost(record: &CostRecord) -> pb::CostRecord {
    pb::CostRecord {
        period_start: Some(timestamp(record.period_start)),
        period_end: Some(timestamp(record.period_end)),
        service: record.service.clone(),
        amount_micros: record.amount_micros,
        currency: record.currency.clone(),
    }
}
