//! Manual steps resolved by their owner role only (operations staff or the customer), each
//! resolution audited and announced on the stream; and the expiry of follow-ups (the satisfaction
//! survey) that nobody resolved in time.

use std::time::Duration;

use tenure_db::TenantTx;
use tenure_domain::{CallerRole, FreeText, field_problem};
use uuid::Uuid;

use crate::app::{Answer, Call, Idempotent, Orders, Subject};
use crate::domain::OrdersError;
use crate::domain::order::{TaskKind, TaskOwner, TaskState};
use crate::domain::records::{Reach, SurveyAnswer, TaskRecord};
use crate::domain::saga::state::{EventDraft, EventPayload};
use crate::store;
use crate::store::audit::AuditRow;
use crate::store::tasks::{Resolution, TaskFilter};

/// How many follow-ups one sweep expires at most; the next sweep takes the rest.
const EXPIRY_BATCH: u64 = 100;

/// A checked resolution of a task by its owner.
#[derive(Debug, Clone)]
pub(crate) struct ResolveTask {
    pub(crate) task_id: Uuid,
    pub(crate) outcome: TaskState,
    pub(crate) note: FreeText,
    pub(crate) survey: Option<SurveyAnswer>,
}

/// What a task of `kind` accepts: a survey is completed with an answer, nothing else carries one.
fn check_answer_fits(
    kind: TaskKind,
    outcome: TaskState,
    survey: Option<&SurveyAnswer>,
) -> Result<(), OrdersError> {
    let problem = match (kind, outcome, survey) {
        (TaskKind::Survey, TaskState::Completed, None) => field_problem(
            "REQUIRED",
            "a survey is completed with its answer; reject it to decline",
            "TNR004",
        ),
        (TaskKind::Action, _, Some(_)) | (TaskKind::Survey, TaskState::Rejected, Some(_)) => {
            field_problem(
                "UNSUPPORTED_COMBINATION",
                "only a completed survey carries an answer",
                "TNR008",
            )
        }
        _ => return Ok(()),
    };
    let mut problem = problem;
    problem.field = "survey".to_owned();
    Err(OrdersError::invalid(problem))
}

/// The tasks a caller's role owns.
pub(crate) fn owned_by(call: &Call) -> Result<TaskOwner, OrdersError> {
    match call.caller.role {
        CallerRole::Customer => Ok(TaskOwner::Customer),
        CallerRole::Operator => Ok(TaskOwner::Operations),
        CallerRole::Billing | CallerRole::Service => Err(OrdersError::Forbidden(
            "only a task's owner role resolves it",
        )),
    }
}

impl Orders {
    /// A page of the tasks the caller's role owns within its reach, in `state`, of one order if
    /// `order` names it.
    pub(crate) async fn tasks(
        &self,
        call: &Call,
        state: TaskState,
        order: Option<Uuid>,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<TaskRecord>, OrdersError> {
        let owner = owned_by(call)?;
        let reach = call.reach()?;
        let filter = TaskFilter {
            owner,
            tenant: match reach {
                Reach::Tenant(tenant) => Some(tenant),
                Reach::AllTenants => None,
            },
            state,
            order,
        };
        self.read(reach, async |tx| {
            store::tasks::list(&**tx, &filter, offset, limit).await
        })
        .await
    }

    /// Resolves a task as its owner, once per key; resolving it again the same way answers the task
    /// as it is.
    pub(crate) async fn resolve_task(
        &self,
        call: &Call,
        idempotent: Idempotent<'_, TaskRecord>,
        request: ResolveTask,
    ) -> Result<Answer<TaskRecord>, OrdersError> {
        let ResolveTask {
            task_id,
            outcome,
            note,
            survey,
        } = request;
        let owner = owned_by(call)?;
        self.mutate(call, idempotent, async |tx, now| {
            let task = store::tasks::get(tx, task_id)
                .await?
                .ok_or(OrdersError::NotFound("task"))?;
            if task.owner != owner {
                return Err(OrdersError::Forbidden(match task.owner {
                    TaskOwner::Operations => "this task belongs to operations staff",
                    TaskOwner::Customer => "this task belongs to the customer",
                }));
            }
            let subject = Subject {
                tenant: task.tenant_id,
                order: task.order_id,
            };
            if task.state != TaskState::Open {
                if task.state == outcome {
                    return Ok((task, Some(subject)));
                }
                return Err(OrdersError::precondition(
                    "TASK_RESOLVED",
                    match task.state {
                        TaskState::Expired => "This task expired before it was resolved.",
                        _ => "This task was already resolved.",
                    },
                ));
            }
            check_answer_fits(task.kind, outcome, survey.as_ref())?;
            let order = Self::order_in(tx, task.order_id).await?;
            let saga_id = order.saga.snapshot.id;
            // A follow-up never holds its saga, which may have ended long ago: nothing to wake.
            if task.blocks_order
                && !store::orders::take_over(&**tx, saga_id, now, self.real_now()).await?
            {
                return Err(OrdersError::Busy);
            }
            let role = match call.caller.role {
                CallerRole::Customer => "customer",
                _ => "operator",
            };
            store::tasks::resolve(
                &**tx,
                task_id,
                &Resolution {
                    state: outcome,
                    subject: &call.caller.subject,
                    role,
                    note: note.as_str(),
                    survey: survey.as_ref(),
                },
                now,
            )
            .await?;
            let mut events = resolution_events(&task, outcome, survey.as_ref(), now);
            if call.caller.role == CallerRole::Operator {
                events.push(operator_event(call, "", now));
                store::audit::record(
                    &**tx,
                    &audit_row(
                        call,
                        &order.saga.snapshot,
                        task.tenant_id,
                        note.as_str(),
                        "",
                    ),
                    now,
                )
                .await?;
            }
            append_events(tx, &order.saga.snapshot, task.tenant_id, &events, now).await?;
            let resolved = store::tasks::get(tx, task_id)
                .await?
                .ok_or(OrdersError::internal("a resolved task disappeared"))?;
            Ok((resolved, Some(subject)))
        })
        .await
    }
}

impl Orders {
    /// The follow-up expiry worker: every `interval`, follow-ups whose deadline passed while open
    /// (a survey nobody answered) expire, each announced on the stream. They never held their order,
    /// so expiring one changes nothing else.
    pub(crate) async fn expire_follow_ups(
        self,
        interval: Duration,
        draining: tokio_util::sync::CancellationToken,
    ) {
        loop {
            if let Err(error) = self.expire_due_follow_ups().await {
                tracing::warn!(error = %error, "expiring follow-ups failed; trying again");
            }
            tokio::select! {
                () = draining.cancelled() => break,
                () = tokio::time::sleep(interval) => {}
            }
        }
    }

    async fn expire_due_follow_ups(&self) -> Result<(), OrdersError> {
        let now = self.now();
        let due = {
            let tx = store::begin_engine(&self.db).await?;
            let due = store::tasks::due_follow_ups(&*tx, now, EXPIRY_BATCH).await?;
            tx.rollback().await?;
            due
        };
        for task in due {
            let tx = TenantTx::begin(&self.db, task.tenant_id).await?;
            if !store::tasks::expire(&*tx, task.id, now).await? {
                tx.rollback().await?;
                continue;
            }
            let order = Self::order_in(&tx, task.order_id).await?;
            let events = resolution_events(&task, TaskState::Expired, None, now);
            append_events(&tx, &order.saga.snapshot, task.tenant_id, &events, now).await?;
            tx.commit().await?;
            tracing::info!(task_id = %task.id, order_id = %task.order_id, step = %task.step, "follow-up expired");
        }
        self.engine.events_committed();
        Ok(())
    }
}

/// What the stream says when a task is resolved: `task.resolved`, and for a survey whether it was
/// answered (with its score; the comment is free text and stays on the order).
fn resolution_events(
    task: &TaskRecord,
    state: TaskState,
    survey: Option<&SurveyAnswer>,
    now: chrono::DateTime<chrono::Utc>,
) -> Vec<EventDraft> {
    let mut events = vec![EventDraft {
        effective_at: now,
        payload: EventPayload::TaskResolved {
            task_id: task.id,
            step: task.step.clone(),
            owner: task.owner,
            state,
        },
    }];
    if task.kind == TaskKind::Survey {
        events.push(EventDraft {
            effective_at: now,
            payload: match survey {
                Some(answer) => EventPayload::SurveyAnswered {
                    task_id: task.id,
                    score: answer.score,
                },
                None => EventPayload::SurveyNotAnswered {
                    task_id: task.id,
                    state,
                },
            },
        });
    }
    events
}

/// `operator.action_taken` for an operator's action.
pub(crate) fn operator_event(
    call: &Call,
    ticket: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> EventDraft {
    EventDraft {
        effective_at: now,
        payload: EventPayload::OperatorActionTaken {
            action: snake(call.action()),
            actor_subject: call.caller.subject.clone(),
            actor_role: "operator".to_owned(),
            ticket: ticket.to_owned(),
        },
    }
}

/// The audit row of an operator's action on a saga.
pub(crate) fn audit_row(
    call: &Call,
    saga: &crate::domain::saga::advance::SagaSnapshot,
    tenant: Uuid,
    reason: &str,
    ticket: &str,
) -> AuditRow {
    AuditRow {
        saga_id: saga.id,
        order_id: saga.order_id,
        tenant_id: tenant,
        actor_subject: call.caller.subject.clone(),
        actor_role: "operator".to_owned(),
        action: call.action().to_owned(),
        reason: reason.to_owned(),
        ticket: ticket.to_owned(),
    }
}

/// Appends events an action produced, numbered after the saga's last.
pub(crate) async fn append_events(
    tx: &TenantTx,
    saga: &crate::domain::saga::advance::SagaSnapshot,
    tenant: Uuid,
    events: &[EventDraft],
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), OrdersError> {
    let added = i32::try_from(events.len()).unwrap_or(i32::MAX);
    let last = store::orders::reserve_events(&**tx, saga.id, added).await?;
    store::events::append(
        &**tx,
        saga.order_id,
        tenant,
        last - added + 1,
        events,
        now,
        tenure_telemetry::current_traceparent().as_ref(),
    )
    .await
}

/// `RetryNow` as `retry_now`: method names as event and audit vocabulary.
pub(crate) fn snake(method: &str) -> String {
    let mut snake = String::with_capacity(method.len() + 4);
    for (index, character) in method.chars().enumerate() {
        if character.is_ascii_uppercase() {
            if index > 0 {
                snake.push('_');
            }
            snake.push(character.to_ascii_lowercase());
        } else {
            snake.push(character);
        }
    }
    snake
}
