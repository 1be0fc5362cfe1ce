//! Events of the order stream as the contracts carry them.

use tenure_proto::common::v1 as common;
use tenure_proto::orders::v1 as pb;

use crate::domain::order::OrderKind;
use crate::domain::saga::state::EventPayload;
use crate::domain::stream::StoredEvent;

use super::{
    order_kind_to, order_status_to, relationship_to, task_owner_to, task_state_to, timestamp,
};

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
