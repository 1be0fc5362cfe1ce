//! What operators look at: manual tasks and sagas with their history.

use tenure_proto::common::v1 as common;
use tenure_proto::orders::v1 as pb;

use crate::domain::records::{AttemptRow, OrderRecord, StepRow, TaskRecord};
use crate::domain::saga::definition::Definition;
use crate::domain::saga::state::Direction;

use super::{
    saga_status_to, survey_answer_to, task_kind_to, task_owner_to, task_state_to, timestamp,
};

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
