//! Conversions between the contracts and the domain: enums both ways, and the views the API answers
//! with (orders, their timeline, tasks, sagas, stream events).

use chrono::{DateTime, Utc};
use prost_types::Timestamp;
use tenure_grpc::enum_conversion;
use tenure_proto::common::v1 as common;
use tenure_proto::orders::v1 as pb;

pub(crate) use crate::app::definition_of;
use crate::domain::OrdersError;
use crate::domain::order::{
    Acknowledgement, Money, OrderDetails, OrderKind, OrderStatus, Relationship, TaskKind,
    TaskOwner, TaskState, TerminationMode,
};
use crate::domain::records::{OrderRecord, SurveyAnswer};
use crate::domain::saga::advance::progress;
use crate::domain::saga::definition::Registry;
use crate::domain::saga::state::{QueryResume, SagaStatus};

mod events;
mod operations;
mod timeline;

pub(crate) use events::event;
pub(crate) use operations::{saga, task};
pub(crate) use timeline::timeline;

enum_conversion!(order_kind_from, order_kind_to, pb::OrderKind => OrderKind {
    NewAccount <=> NewAccount, Transfer <=> Transfer, Terminate <=> Terminate,
});
enum_conversion!(order_status_from, order_status_to, pb::OrderStatus => OrderStatus {
    Processing <=> Processing, Querying <=> Querying, Completed <=> Completed, Failed <=> Failed,
    Cancelled <=> Cancelled,
});
enum_conversion!(task_owner_from, task_owner_to, pb::TaskOwner => TaskOwner {
    Operations <=> Operations, Customer <=> Customer,
});
enum_conversion!(task_state_from, task_state_to, pb::TaskState => TaskState {
    Open <=> Open, Completed <=> Completed, Rejected <=> Rejected, Cancelled <=> Cancelled,
    Expired <=> Expired,
});
enum_conversion!(task_kind_from, task_kind_to, pb::TaskKind => TaskKind {
    Action <=> Action, Survey <=> Survey,
});
enum_conversion!(saga_status_from, saga_status_to, pb::SagaStatus => SagaStatus {
    Running <=> Running, Waiting <=> Waiting, Querying <=> Querying, Manual <=> Manual,
    Compensating <=> Compensating, CompensationStuck <=> CompensationStuck, Blocked <=> Blocked,
    Completed <=> Completed, Compensated <=> Compensated, Cancelled <=> Cancelled,
    Aborted <=> Aborted,
});
enum_conversion!(termination_mode_from, termination_mode_to, common::TerminationMode => TerminationMode {
    Close <=> Close, Unlink <=> Unlink,
});
enum_conversion!(acknowledgement_from, acknowledgement_to, common::Acknowledgement => Acknowledgement {
    RootUser <=> AckRootUser, NoMembers <=> AckNoMembers, Backup <=> AckBackup,
    OutstandingBill <=> AckOutstandingBill, Commitments <=> AckCommitments,
    Resources <=> AckResources, EmailNotReusable <=> AckEmailNotReusable,
    ReopenWindow <=> AckReopenWindow, Standalone <=> AckStandalone,
});
enum_conversion!(relationship_from, relationship_to, common::AccountRelationship => Relationship {
    PlatformMember <=> PlatformMember, PlatformPayer <=> PlatformPayer,
    BillingTransferSource <=> BillingTransferSource,
});

/// A protobuf timestamp.
pub(crate) fn timestamp(at: DateTime<Utc>) -> Timestamp {
    Timestamp {
        seconds: at.timestamp(),
        nanos: i32::try_from(at.timestamp_subsec_nanos()).unwrap_or(0),
    }
}

/// A present, representable timestamp from a request.
pub(crate) fn instant(raw: &Timestamp) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(raw.seconds, u32::try_from(raw.nanos).ok()?)
}

/// An optional request timestamp: absent, or representable and between 2020-01-01 and 400 days from
/// `now` (quality.md §2); a problem is recorded on `field` otherwise.
pub(crate) fn request_instant(
    problems: &mut tenure_domain::Problems,
    field: &str,
    raw: Option<&Timestamp>,
    now: DateTime<Utc>,
) -> Option<Option<DateTime<Utc>>> {
    let Some(raw) = raw else {
        return Some(None);
    };
    let checked = instant(raw)
        .ok_or_else(|| {
            tenure_domain::field_problem(
                "TIMESTAMP_FORMAT",
                "a time has seconds and nanoseconds in range",
                "TNR004",
            )
        })
        .and_then(|at| tenure_domain::check_instant(at, now));
    problems.check(field, checked).map(Some)
}

fn details_to(details: &OrderDetails) -> pb::order::Details {
    match details {
        OrderDetails::NewAccount {
            root_email,
            account_name,
            support_contact,
        } => pb::order::Details::NewAccount(pb::NewAccountOrder {
            root_email: root_email
                .as_ref()
                .map(|email| email.as_str().to_owned())
                .unwrap_or_default(),
            account_name: account_name.clone(),
            support_contact: support_contact.clone(),
        }),
        OrderDetails::BillingTransfer {
            management_account_id,
            transfer_name,
        } => pb::order::Details::BillingTransfer(pb::BillingTransferOrder {
            management_account_id: management_account_id.as_str().to_owned(),
            transfer_name: transfer_name.clone(),
        }),
        OrderDetails::OrganizationTransfer {
            uses_organizations,
            management_account_id,
            linked_account_ids,
        } => pb::order::Details::OrganizationTransfer(pb::OrganizationTransferOrder {
            uses_organizations: *uses_organizations,
            management_account_id: management_account_id
                .as_ref()
                .map(|id| id.as_str().to_owned())
                .unwrap_or_default(),
            linked_account_ids: linked_account_ids
                .iter()
                .map(|id| id.as_str().to_owned())
                .collect(),
        }),
        OrderDetails::Terminate {
            aws_account_id,
            mode,
            acknowledgements,
            reason,
            acknowledged_open_balance,
        } => pb::order::Details::Terminate(pb::TerminateOrder {
            aws_account_id: aws_account_id.as_str().to_owned(),
            mode: termination_mode_to(*mode),
            acknowledgements: acknowledgements
                .iter()
                .copied()
                .map(acknowledgement_to)
                .collect(),
            reason: reason.clone(),
            acknowledged_open_balance: acknowledged_open_balance.as_ref().map(money_to),
        }),
    }
}

/// An amount as the contracts carry it.
pub(crate) fn money_to(money: &Money) -> common::Money {
    common::Money {
        currency_code: money.currency.clone(),
        amount_micros: money.amount_micros,
    }
}

fn survey_answer_to(answer: &SurveyAnswer) -> pb::SurveyAnswer {
    pb::SurveyAnswer {
        score: u32::from(answer.score),
        comment: answer.comment.clone(),
    }
}

/// The order as the API shows it.
pub(crate) fn order(registry: &Registry, record: &OrderRecord) -> Result<pb::Order, OrdersError> {
    let definition = definition_of(registry, record)?;
    let saga = &record.saga.snapshot;
    let (status_key, status_message) = if record.status.is_terminal() {
        let message = record.failure_message.clone().unwrap_or_else(|| {
            crate::domain::catalogue::progress_message(&record.status_key, &Default::default())
        });
        (record.status_key.clone(), message)
    } else {
        let progress = progress(
            &definition,
            saga,
            saga.status,
            saga.node,
            &saga.state,
            saga.wait.as_ref(),
        );
        (progress.status_key, progress.message)
    };
    let query = saga
        .state
        .query
        .as_ref()
        .filter(|_| record.status == OrderStatus::Querying)
        .map(|query| pb::OrderQuery {
            id: query.id.to_string(),
            code: query.code.clone(),
            message: query.message.clone(),
            editable_fields: query
                .editable_fields
                .iter()
                .map(|field| field.as_str().to_owned())
                .collect(),
            items: query
                .items
                .iter()
                .map(|item| pb::QueryItem {
                    aws_account_id: item.aws_account_id.as_str().to_owned(),
                    state: item.state.as_str().to_owned(),
                    detail: item.detail.clone(),
                })
                .collect(),
            resume: match query.resume {
                QueryResume::CustomerInput => pb::QueryResume::CustomerInput as i32,
                QueryResume::Automatic => pb::QueryResume::Automatic as i32,
            },
            deadline: Some(timestamp(query.deadline)),
        });
    let failure = record
        .failure_code
        .as_ref()
        .filter(|_| record.status == OrderStatus::Failed)
        .map(|code| pb::OrderFailure {
            code: code.clone(),
            message: record.failure_message.clone().unwrap_or_default(),
            failed_at: record.finished_at.map(timestamp),
        });
    Ok(pb::Order {
        id: record.id.to_string(),
        kind: order_kind_to(record.kind),
        status: order_status_to(record.status),
        status_key,
        status_message,
        details: Some(details_to(&record.details)),
        aws_account_id: record
            .aws_account_id
            .as_ref()
            .map(|id| id.as_str().to_owned())
            .unwrap_or_default(),
        query,
        failure,
        past_point_of_no_return: saga.past_pivot,
        created_at: Some(timestamp(record.created_at)),
        updated_at: Some(timestamp(record.updated_at.max(record.saga.updated_at))),
        finished_at: record.finished_at.map(timestamp),
        deadline: (!saga.past_pivot && !record.status.is_terminal())
            .then(|| timestamp(saga.deadline_at)),
        definition: definition.key(),
        tenant_id: record.tenant_id.to_string(),
        survey: record.survey.as_ref().map(|survey| pb::OrderSurvey {
            task_id: survey.task_id.to_string(),
            state: task_state_to(survey.state),
            answer: survey.answer.as_ref().map(survey_answer_to),
            deadline: Some(timestamp(survey.deadline)),
            resolved_at: survey.resolved_at.map(timestamp),
        }),
    })
}
