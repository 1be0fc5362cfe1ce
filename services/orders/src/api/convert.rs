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
use crate::domain::saga::advance::progress;
use crate::domain::saga::definition::{Definition, Registry};
use crate::domain::saga::node::{NodeSpec, StepOwner};
use crate::domain::saga::state::{
    Direction, EventPayload, QueryResume, SagaStatus, StepOutcomeKind,
};
use crate::store::events::StoredEvent;
use crate::store::orders::{AttemptRow, OrderRecord, StepRow};
use crate::store::tasks::{SurveyAnswer, TaskRecord};

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

fn owner_to(owner: StepOwner) -> i32 {
    (match owner {
        StepOwner::Automation => pb::StepOwner::Automation,
        StepOwner::Operations => pb::StepOwner::Operations,
        StepOwner::Customer => pb::StepOwner::Customer,
    }) as i32
}

fn is_bookkeeping(code: &str) -> bool {
    matches!(code, "OK" | "PENDING" | "PROGRESS" | "DEFERRED")
}

/// Every step of the order's definition with where it stands.
pub(crate) fn timeline(
    definition: &Definition,
    record: &OrderRecord,
    steps: &[StepRow],
    attempts: &[AttemptRow],
    tasks: &[TaskRecord],
) -> Vec<pb::OrderStep> {
    let saga = &record.saga.snapshot;
    let terminal = saga.status.is_terminal();
    definition
        .nodes
        .iter()
        .enumerate()
        .map(|(index, node)| {
            let forward = steps
                .iter()
                .filter(|step| step.node == index && step.direction == Direction::Do)
                .max_by_key(|step| step.input_rev);
            // A step whose effect was in flight when the saga turned back has an undo and no forward
            // record: it is undone all the same.
            let undone = steps.iter().any(|step| {
                step.node == index
                    && step.direction == Direction::Undo
                    && forward.is_none_or(|forward| step.input_rev == forward.input_rev)
            });
            let node_attempts: Vec<&AttemptRow> = attempts
                .iter()
                .filter(|attempt| attempt.node == index)
                .collect();
            let failed_here = saga
                .state
                .failure
                .as_ref()
                .is_some_and(|failure| failure.node == index);
            let current = index == saga.node && !terminal;
            let task = tasks.iter().rev().find(|task| task.node == index);
            let follow_up = task.filter(|_| node.is_follow_up());
            let state = if !node.applies(&saga.input) {
                pb::StepState::Skipped
            } else if let Some(follow_up) = follow_up {
                // The order went on at once; the step stands where its task stands.
                match follow_up.state {
                    TaskState::Open => pb::StepState::Waiting,
                    TaskState::Completed => pb::StepState::Done,
                    TaskState::Rejected | TaskState::Cancelled | TaskState::Expired => {
                        pb::StepState::Skipped
                    }
                }
            } else if undone {
                pb::StepState::Compensated
            } else if current && saga.direction == Direction::Undo {
                pb::StepState::Compensating
            } else if let Some(forward) = forward {
                if forward.outcome == StepOutcomeKind::Done.as_str() {
                    pb::StepState::Done
                } else {
                    pb::StepState::Skipped
                }
            } else if failed_here && (terminal || saga.direction == Direction::Undo) {
                pb::StepState::Failed
            } else if current {
                match saga.status {
                    SagaStatus::Running => pb::StepState::Running,
                    SagaStatus::Querying => pb::StepState::Querying,
                    SagaStatus::Blocked => pb::StepState::Failed,
                    _ => pb::StepState::Waiting,
                }
            } else {
                pb::StepState::Pending
            };
            let last_error = node_attempts
                .iter()
                .filter(|attempt| !is_bookkeeping(&attempt.code))
                .max_by_key(|attempt| attempt.finished_at);
            let waiting = current && saga.direction == Direction::Do;
            let follow_up_open = follow_up.filter(|task| task.state == TaskState::Open);
            pb::OrderStep {
                name: node.name.to_owned(),
                title: node.title.to_owned(),
                owner: owner_to(node.owner),
                state: state as i32,
                attempts: node_attempts
                    .iter()
                    .filter(|attempt| attempt.direction == Direction::Do)
                    .map(|attempt| attempt.attempt)
                    .max()
                    .unwrap_or(0),
                wait_reason: match follow_up_open {
                    Some(_) => "customer_task".to_owned(),
                    None => saga
                        .wait
                        .as_ref()
                        .filter(|_| waiting)
                        .map(|wait| wait.kind.clone())
                        .unwrap_or_default(),
                },
                wait_detail: match (follow_up, follow_up_open) {
                    (_, Some(_)) => {
                        "open until its deadline; the order does not wait for it".to_owned()
                    }
                    (Some(task), None) => follow_up_outcome(task.state).to_owned(),
                    (None, None) => saga
                        .wait
                        .as_ref()
                        .filter(|_| waiting)
                        .map(|wait| wait.detail.clone())
                        .unwrap_or_default(),
                },
                due_at: match follow_up_open {
                    Some(task) => Some(timestamp(task.deadline)),
                    None => record.saga.due_at.filter(|_| waiting).map(timestamp),
                },
                started_at: node_attempts
                    .iter()
                    .map(|attempt| attempt.started_at)
                    .min()
                    .or(forward.map(|forward| forward.finished_at))
                    .map(timestamp),
                finished_at: match follow_up {
                    Some(task) => task.resolved_at.map(timestamp),
                    None => forward.map(|forward| timestamp(forward.finished_at)),
                },
                is_pivot: matches!(node.spec, NodeSpec::Pivot),
                last_error_code: last_error
                    .map(|attempt| attempt.code.clone())
                    .unwrap_or_default(),
                last_error_message: last_error
                    .map(|attempt| attempt.message.clone())
                    .unwrap_or_default(),
                task_id: task.map(|task| task.id.to_string()).unwrap_or_default(),
            }
        })
        .collect()
}

/// How a follow-up that is no longer open ended, as the timeline explains it.
fn follow_up_outcome(state: TaskState) -> &'static str {
    match state {
        TaskState::Open => "",
        TaskState::Completed => "done",
        TaskState::Rejected => "declined",
        TaskState::Cancelled => "cancelled",
        TaskState::Expired => "not answered before its deadline",
    }
}

/// A manual task as the API shows it.
pub(crate) fn task(record: &TaskRecord) -> pb::Task {
    pb::Task {
        id: record.id.to_string(),
        order_id: record.order_id.to_string(),
        step: record.step.clone(),
        title: record.title.clone(),
        owner: task_owner_to(record.owner),
        state: task_state_to(record.state),
        created_at: Some(timestamp(record.created_at)),
        deadline: Some(timestamp(record.deadline)),
        resolved_at: record.resolved_at.map(timestamp),
        resolved_by: record
            .resolved_by_subject
            .as_ref()
            .map(|subject| common::Actor {
                subject: subject.clone(),
                role: match record.resolved_by_role.as_deref() {
                    Some("customer") => common::PrincipalRole::Customer as i32,
                    _ => common::PrincipalRole::Operator as i32,
                },
            }),
        note: record.note.clone(),
        tenant_id: record.tenant_id.to_string(),
        kind: task_kind_to(record.kind),
        instructions: crate::domain::catalogue::instructions(&record.step)
            .iter()
            .map(|line| (*line).to_owned())
            .collect(),
        blocks_order: record.blocks_order,
        survey: record.survey.as_ref().map(survey_answer_to),
    }
}

/// A saga as operators see it.
pub(crate) fn saga(
    definition: &Definition,
    record: &OrderRecord,
    steps: &[StepRow],
    attempts: &[AttemptRow],
) -> pb::Saga {
    let snapshot = &record.saga.snapshot;
    let step_name = |node: usize| {
        definition
            .nodes
            .get(node)
            .map_or("end", |node| node.name)
            .to_owned()
    };
    pb::Saga {
        id: snapshot.id.to_string(),
        order_id: record.id.to_string(),
        definition: definition.kind.as_str().to_owned(),
        definition_version: definition.version,
        status: saga_status_to(snapshot.status),
        step: step_name(snapshot.node),
        compensating: snapshot.direction == Direction::Undo,
        past_pivot: snapshot.past_pivot,
        attempt: snapshot.attempt,
        wait_reason: snapshot.wait.as_ref().map(|wait| pb::WaitReason {
            kind: wait.kind.clone(),
            step: step_name(wait.node),
            since: Some(timestamp(wait.since)),
            until: wait.until.map(timestamp),
            detail: wait.detail.clone(),
        }),
        due_at: record.saga.due_at.map(timestamp),
        lease_owner: record.saga.lease_owner.clone().unwrap_or_default(),
        created_at: Some(timestamp(record.saga.created_at)),
        updated_at: Some(timestamp(record.saga.updated_at)),
        finished_at: record.saga.finished_at.map(timestamp),
        finished_steps: steps
            .iter()
            .map(|step| match step.direction {
                Direction::Do => step_name(step.node),
                Direction::Undo => format!("{} (undone)", step_name(step.node)),
            })
            .collect(),
        recent_attempts: attempts
            .iter()
            .take(16)
            .map(|attempt| pb::SagaAttempt {
                step: step_name(attempt.node),
                undo: attempt.direction == Direction::Undo,
                attempt: attempt.attempt,
                started_at: Some(timestamp(attempt.started_at)),
                finished_at: Some(timestamp(attempt.finished_at)),
                status_code: attempt.code.clone(),
                reason: attempt.message.clone(),
                replica: attempt.replica.clone(),
            })
            .collect(),
        tenant_id: record.tenant_id.to_string(),
    }
}

/// An event of the stream.
pub(crate) fn event(stored: &StoredEvent) -> pb::OrderEvent {
    use pb::order_event::Payload;
    let payload = match &stored.payload {
        EventPayload::OrderPlaced {
            kind,
            aws_account_id,
        } => Some(Payload::OrderPlaced(pb::OrderPlaced {
            kind: OrderKind::parse(kind).map_or(0, order_kind_to),
            aws_account_id: aws_account_id
                .as_ref()
                .map(|id| id.as_str().to_owned())
                .unwrap_or_default(),
        })),
        EventPayload::OrderStatusChanged {
            from,
            to,
            status_key,
            code,
        } => Some(Payload::OrderStatusChanged(pb::OrderStatusChanged {
            from_status: order_status_to(*from),
            to_status: order_status_to(*to),
            status_key: status_key.clone(),
            code: code.clone(),
        })),
        EventPayload::AccountActivated {
            aws_account_id,
            relationship,
            billing_starts_at,
        } => Some(Payload::AccountActivated(pb::AccountActivated {
            aws_account_id: aws_account_id.as_str().to_owned(),
            relationship: relationship_to(*relationship),
            billing_starts_at: billing_starts_at.map(timestamp),
        })),
        EventPayload::AccountUnlinkScheduled {
            aws_account_id,
            billing_ends_at,
        } => Some(Payload::AccountUnlinkScheduled(
            pb::AccountUnlinkScheduled {
                aws_account_id: aws_account_id.as_str().to_owned(),
                billing_ends_at: Some(timestamp(*billing_ends_at)),
            },
        )),
        EventPayload::AccountUnlinked {
            aws_account_id,
            never_billed,
        } => Some(Payload::AccountUnlinked(pb::AccountUnlinked {
            aws_account_id: aws_account_id.as_str().to_owned(),
            never_billed: *never_billed,
        })),
        EventPayload::AccountClosed {
            aws_account_id,
            closed_at,
            reopen_until,
        } => Some(Payload::AccountClosed(pb::AccountClosed {
            aws_account_id: aws_account_id.as_str().to_owned(),
            closed_at: Some(timestamp(*closed_at)),
            reopen_until: Some(timestamp(*reopen_until)),
        })),
        EventPayload::PurgeScheduled {
            purge_id,
            aws_account_id,
            due_at,
        } => Some(Payload::PurgeScheduled(pb::PurgeScheduled {
            purge_id: purge_id.to_string(),
            aws_account_id: aws_account_id.as_str().to_owned(),
            due_at: Some(timestamp(*due_at)),
        })),
        EventPayload::OperatorActionTaken {
            action,
            actor_subject,
            actor_role,
            ticket,
        } => Some(Payload::OperatorActionTaken(pb::OperatorActionTaken {
            action: action.clone(),
            actor: Some(common::Actor {
                subject: actor_subject.clone(),
                role: match actor_role.as_str() {
                    "operator" => common::PrincipalRole::Operator as i32,
                    "customer" => common::PrincipalRole::Customer as i32,
                    _ => common::PrincipalRole::Unspecified as i32,
                },
            }),
            ticket: ticket.clone(),
        })),
        EventPayload::TaskOpened {
            task_id,
            step,
            owner,
        } => Some(Payload::TaskChanged(pb::TaskChanged {
            task_id: task_id.to_string(),
            step: step.clone(),
            owner: task_owner_to(*owner),
            state: pb::TaskState::Open as i32,
        })),
        EventPayload::TaskResolved {
            task_id,
            step,
            owner,
            state,
        } => Some(Payload::TaskChanged(pb::TaskChanged {
            task_id: task_id.to_string(),
            step: step.clone(),
            owner: task_owner_to(*owner),
            state: task_state_to(*state),
        })),
        EventPayload::SurveyAnswered { task_id, score } => {
            Some(Payload::SurveyChanged(pb::SurveyChanged {
                task_id: task_id.to_string(),
                state: pb::TaskState::Completed as i32,
                score: u32::from(*score),
            }))
        }
        EventPayload::SurveyNotAnswered { task_id, state } => {
            Some(Payload::SurveyChanged(pb::SurveyChanged {
                task_id: task_id.to_string(),
                state: task_state_to(*state),
                score: 0,
            }))
        }
        EventPayload::ProbeReached { .. } => None,
    };
    pb::OrderEvent {
        event_id: stored.event_id.to_string(),
        order_id: stored.order_id.to_string(),
        order_seq: u32::try_from(stored.order_seq).unwrap_or(0),
        r#type: stored.event_type.clone(),
        schema_version: u32::try_from(stored.schema_version).unwrap_or(0),
        effective_at: Some(timestamp(stored.effective_at)),
        recorded_at: Some(timestamp(stored.recorded_at)),
        position: stored.position.to_string(),
        tenant_id: stored.tenant_id.to_string(),
        trace_context: stored.trace.as_ref().map(|(traceparent, tracestate)| {
            common::TraceContext {
                traceparent: traceparent.clone(),
                tracestate: tracestate.clone(),
            }
        }),
        payload,
    }
}
