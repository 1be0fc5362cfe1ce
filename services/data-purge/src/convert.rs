//! proto <-> domain conversions, shared by the API and the data-owner clients. Enum fields reject
//! `*_UNSPECIFIED` and unknown numbers (TNR004); replies are built field by field.

use chrono::{DateTime, Utc};
use prost_types::Timestamp;
use tenure_domain::FieldProblem;
use tenure_grpc::enum_conversion;
use tenure_proto::common::v1 as common;
use tenure_proto::purge::v1 as pb;

use crate::domain::{
    DataClass, LegalHold, Purge, PurgeAction, PurgeReason, PurgeState, Scope, ScopeKind, TableCount,
};

enum_conversion!(data_class_from, data_class_to, common::DataClass => DataClass {
    AwsFetched <=> AwsFetched, CostData <=> CostData, LoginIdentity <=> LoginIdentity,
    OrderRecord <=> OrderRecord, AccountTombstone <=> AccountTombstone, Audit <=> Audit,
    Operational <=> Operational,
});
enum_conversion!(purge_action_from, purge_action_to, pb::PurgeAction => PurgeAction {
    Delete <=> Delete, Pseudonymise <=> Pseudonymise, Keep <=> Keep,
});
enum_conversion!(scope_kind_from, scope_kind_to, pb::ScopeKind => ScopeKind {
    Account <=> Account, Tenant <=> Tenant,
});
enum_conversion!(reason_from, reason_to, pb::PurgeReason => PurgeReason {
    AccountRemoved <=> AccountRemoved, TenantUnsubscribed <=> TenantUnsubscribed,
    SupportRequest <=> SupportRequest,
});
enum_conversion!(state_from, state_to, pb::PurgeState => PurgeState {
    Scheduled <=> Scheduled, Due <=> Due, Running <=> Running, Completed <=> Completed,
    Cancelled <=> Cancelled, Held <=> Held,
});

pub(crate) fn timestamp(at: DateTime<Utc>) -> Timestamp {
    Timestamp {
        seconds: at.timestamp(),
        nanos: i32::try_from(at.timestamp_subsec_nanos()).unwrap_or(0),
    }
}

pub(crate) fn optional_timestamp(at: Option<DateTime<Utc>>) -> Option<Timestamp> {
    at.map(timestamp)
}

/// A request timestamp, refused when out of range.
pub(crate) fn instant(at: &Timestamp) -> Result<DateTime<Utc>, FieldProblem> {
    u32::try_from(at.nanos)
        .ok()
        .and_then(|nanos| DateTime::from_timestamp(at.seconds, nanos))
        .ok_or_else(|| {
            tenure_domain::field_problem(
                "TIMESTAMP_RANGE",
                "a time lies between 2020-01-01 and 400 days from now",
                "TNR004",
            )
        })
}

pub(crate) fn scope_to(scope: &Scope) -> pb::PurgeScope {
    pb::PurgeScope {
        kind: scope_kind_to(scope.kind()),
        tenant_id: scope.tenant.to_string(),
        aws_account_id: scope
            .account
            .as_ref()
            .map(|id| id.as_str().to_owned())
            .unwrap_or_default(),
    }
}

pub(crate) fn participant_scope(scope: &Scope) -> pb::ParticipantScope {
    let scope = scope_to(scope);
    pb::ParticipantScope {
        kind: scope.kind,
        tenant_id: scope.tenant_id,
        aws_account_id: scope.aws_account_id,
    }
}

pub(crate) fn classes_to(classes: &[DataClass]) -> Vec<i32> {
    classes.iter().copied().map(data_class_to).collect()
}

pub(crate) fn table_count_to(count: &TableCount) -> pb::TableCount {
    pb::TableCount {
        service: count.service.clone(),
        data_class: data_class_to(count.data_class),
        table: count.table.clone(),
        action: purge_action_to(count.action),
        rows: count.rows,
        key_hash: count.key_hash.clone(),
    }
}

/// A data owner's count, refused when it names an unknown class or action.
pub(crate) fn table_count_from(count: &pb::TableCount) -> Result<TableCount, FieldProblem> {
    Ok(TableCount {
        service: count.service.clone(),
        data_class: data_class_from(count.data_class)?,
        table: count.table.clone(),
        action: purge_action_from(count.action)?,
        rows: count.rows,
        key_hash: count.key_hash.clone(),
    })
}

pub(crate) fn purge_to(purge: &Purge) -> pb::Purge {
    pb::Purge {
        id: purge.id.to_string(),
        scope: Some(scope_to(&purge.scope)),
        reason: reason_to(purge.reason),
        state: state_to(purge.state),
        classes: classes_to(&purge.classes),
        requested_at: Some(timestamp(purge.requested_at)),
        triggered_at: Some(timestamp(purge.triggered_at)),
        due_at: Some(timestamp(purge.due_at)),
        deadline: Some(timestamp(purge.deadline)),
        started_at: optional_timestamp(purge.started_at),
        completed_at: optional_timestamp(purge.completed_at),
        cancelled_at: optional_timestamp(purge.cancelled_at),
        expedite_ticket: purge.expedite_ticket.clone().unwrap_or_default(),
        receipt_id: purge
            .receipt_id
            .map(|id| id.to_string())
            .unwrap_or_default(),
    }
}

pub(crate) fn actor_to(actor: &crate::domain::Actor) -> common::Actor {
    use tenure_domain::CallerRole;
    let role = match actor.role {
        CallerRole::Customer => common::PrincipalRole::Customer,
        CallerRole::Operator => common::PrincipalRole::Operator,
        CallerRole::Billing => common::PrincipalRole::Billing,
        CallerRole::Service => common::PrincipalRole::Service,
    };
    common::Actor {
        subject: actor.subject.clone(),
        role: role as i32,
    }
}

pub(crate) fn hold_to(hold: &LegalHold) -> pb::LegalHold {
    pb::LegalHold {
        id: hold.id.to_string(),
        scope: Some(scope_to(&hold.scope)),
        reason: hold.reason.clone(),
        ticket: hold.ticket.clone(),
        placed_by: Some(actor_to(&hold.placed_by)),
        placed_at: Some(timestamp(hold.placed_at)),
        released_by: hold.released_by.as_ref().map(actor_to),
        released_at: optional_timestamp(hold.released_at),
    }
}
