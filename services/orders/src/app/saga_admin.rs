//! Operators inspect and steer sagas. Every action needs a reason and a ticket, is refused while a
//! replica is in the middle of a call (ABORTED, retry), moves the saga's epoch so no stale transition
//! can commit after it, and leaves an audit row and an `operator.action_taken` event.

use std::sync::Arc;

use chrono::Duration;
use tenure_db::TenantTx;
use tenure_domain::{FreeText, Ticket};
use uuid::Uuid;

use crate::app::{
    Answer, Call, Idempotent, Orders, Subject, append_events, audit_row, definition_of,
    operator_event,
};
use crate::domain::OrdersError;
use crate::domain::catalogue::{self, Facts};
use crate::domain::order::{Failure, OrderStatus};
use crate::domain::records::{AttemptRow, ListOrder, OrderFilter, OrderRecord, StepRow};
use crate::domain::saga::definition::{Definition, Registry, SagaKind};
use crate::domain::saga::state::{Direction, EventDraft, EventPayload, SagaStatus, WaitReason};
use crate::store;
use crate::store::orders::SagaUpdate;

/// How an operator names a saga: by its own id or by its order's.
#[derive(Debug, Clone, Copy)]
pub(crate) enum SagaLookup {
    Saga(Uuid),
    Order(Uuid),
}

/// Which sagas an operator lists: by status and definition, and those unchanged for a while.
#[derive(Debug, Clone, Default)]
pub(crate) struct SagaQuery {
    pub(crate) statuses: Vec<SagaStatus>,
    pub(crate) kind: Option<SagaKind>,
    pub(crate) stuck_for: Option<Duration>,
}

/// A saga with its definition and history, read in one transaction.
#[derive(Debug)]
pub(crate) struct SagaHistory {
    pub(crate) record: OrderRecord,
    pub(crate) definition: Arc<Definition>,
    pub(crate) steps: Vec<StepRow>,
    pub(crate) attempts: Vec<AttemptRow>,
}

/// The reason and ticket an operator's action carries.
#[derive(Debug, Clone)]
pub(crate) struct Justification {
    pub(crate) reason: FreeText,
    pub(crate) ticket: Ticket,
}

/// What an operator does to a saga.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SagaCommand {
    /// Run its current step again now.
    RetryNow,
    /// End it: compensate what it did, or stop it where no compensation applies.
    Abort,
}

impl Orders {
    /// Runs an operator's `command` on the saga `id`, once per key.
    pub(crate) async fn steer_saga(
        &self,
        call: &Call,
        idempotent: Idempotent<'_, SagaHistory>,
        id: Uuid,
        command: SagaCommand,
        justification: Justification,
    ) -> Result<Answer<SagaHistory>, OrdersError> {
        match command {
            SagaCommand::RetryNow => self.retry(call, idempotent, id, justification).await,
            SagaCommand::Abort => self.abort(call, idempotent, id, justification).await,
        }
    }

    async fn saga_history(
        tx: &TenantTx,
        registry: &Registry,
        record: OrderRecord,
    ) -> Result<SagaHistory, OrdersError> {
        let definition = definition_of(registry, &record)?;
        let (steps, attempts) = store::orders::history(&**tx, record.saga.snapshot.id).await?;
        Ok(SagaHistory {
            record,
            definition,
            steps,
            attempts,
        })
    }

    /// One saga, as operators see it; the read is audited.
    pub(crate) async fn saga(
        &self,
        call: &Call,
        lookup: SagaLookup,
    ) -> Result<SagaHistory, OrdersError> {
        let history = self
            .read(call.reach()?, async |tx| {
                let record = match lookup {
                    SagaLookup::Saga(id) => store::orders::get_by_saga(tx, id).await?,
                    SagaLookup::Order(id) => store::orders::get(tx, id).await?,
                }
                .ok_or(OrdersError::NotFound("saga"))?;
                Self::saga_history(tx, &self.registry, record).await
            })
            .await?;
        let record = &history.record;
        // Operators' reads are audited too (quality.md §1.8).
        let tx = store::begin_engine(&self.db).await?;
        store::audit::record(
            &*tx,
            &audit_row(call, &record.saga.snapshot, record.tenant_id, "", ""),
            self.now(),
        )
        .await?;
        tx.commit().await?;
        Ok(history)
    }

    /// A page of the sagas `query` selects, stalest first.
    pub(crate) async fn sagas(
        &self,
        call: &Call,
        query: SagaQuery,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<SagaHistory>, OrdersError> {
        let filter = OrderFilter {
            saga_statuses: query.statuses,
            saga_kind: query.kind,
            unchanged_since: query.stuck_for.map(|stuck_for| self.now() - stuck_for),
            ..OrderFilter::default()
        };
        self.read(call.reach()?, async |tx| {
            let rows =
                store::orders::list(&**tx, &filter, ListOrder::StalestFirst, offset, limit).await?;
            let mut sagas = Vec::with_capacity(rows.len());
            for record in rows {
                sagas.push(Self::saga_history(tx, &self.registry, record).await?);
            }
            Ok(sagas)
        })
        .await
    }

    /// The saga an action targets, refused when it ended.
    async fn open_saga(tx: &TenantTx, id: Uuid) -> Result<OrderRecord, OrdersError> {
        let record = store::orders::get_by_saga(tx, id)
            .await?
            .ok_or(OrdersError::NotFound("saga"))?;
        if record.saga.snapshot.status.is_terminal() {
            return Err(OrdersError::precondition(
                "SAGA_ENDED",
                "This saga has already ended.",
            ));
        }
        Ok(record)
    }

    /// Runs a blocked or stuck saga's step again now.
    async fn retry(
        &self,
        call: &Call,
        idempotent: Idempotent<'_, SagaHistory>,
        id: Uuid,
        justification: Justification,
    ) -> Result<Answer<SagaHistory>, OrdersError> {
        let Justification { reason, ticket } = justification;
        self.mutate(call, idempotent, async |tx, now| {
            let record = Self::open_saga(tx, id).await?;
            let saga = &record.saga.snapshot;
            if saga.awaited_answer().is_some() {
                // Running the step again without the answer would only ask the same question.
                return Err(OrdersError::precondition(
                    "AWAITING_CUSTOMER_ANSWER",
                    "This saga waits for the customer's answer to its query; it runs again once \
                     the customer answers, or abort it.",
                ));
            }
            if !store::orders::take_over(&**tx, id, now, self.real_now()).await? {
                return Err(OrdersError::Busy);
            }
            let mut state = saga.state.clone();
            let status = match saga.status {
                SagaStatus::Blocked => {
                    state.failure = None;
                    state.last_error = None;
                    SagaStatus::Running
                }
                SagaStatus::CompensationStuck => SagaStatus::Compensating,
                other => other,
            };
            store::orders::update_saga(
                &**tx,
                id,
                &SagaUpdate {
                    status,
                    input: None,
                    state,
                    attempt: 0,
                    wait: Some(WaitReason {
                        kind: "operator".to_owned(),
                        node: saga.node,
                        since: now,
                        until: None,
                        detail: "retry requested by operations".to_owned(),
                    }),
                    finished_at: None,
                },
                0,
                now,
            )
            .await?;
            store::audit::record(
                &**tx,
                &audit_row(
                    call,
                    saga,
                    record.tenant_id,
                    reason.as_str(),
                    ticket.as_str(),
                ),
                now,
            )
            .await?;
            append_events(
                tx,
                saga,
                record.tenant_id,
                &[operator_event(call, ticket.as_str(), now)],
                now,
            )
            .await?;
            let updated = Self::open_saga(tx, id).await?;
            Ok((
                Self::saga_history(tx, &self.registry, updated).await?,
                Some(Subject {
                    tenant: record.tenant_id,
                    order: record.id,
                }),
            ))
        })
        .await
    }

    /// Stops a saga: before the point of no return it undoes what it did; past it the order fails.
    async fn abort(
        &self,
        call: &Call,
        idempotent: Idempotent<'_, SagaHistory>,
        id: Uuid,
        justification: Justification,
    ) -> Result<Answer<SagaHistory>, OrdersError> {
        let Justification { reason, ticket } = justification;
        self.mutate(call, idempotent, async |tx, now| {
            let record = Self::open_saga(tx, id).await?;
            let saga = &record.saga.snapshot;
            if !store::orders::take_over(&**tx, id, now, self.real_now()).await? {
                return Err(OrdersError::Busy);
            }
            let mut events = vec![operator_event(call, ticket.as_str(), now)];
            if saga.past_pivot {
                // Nothing is undone past the point of no return: the order fails, and its message
                // says what stays in place (domain.md §3.0).
                let message = catalogue::message("TNR905", &Facts::default());
                let mut state = saga.state.clone();
                state.failure = Some(Failure {
                    code: "TNR905".to_owned(),
                    message: message.clone(),
                    at: now,
                    node: saga.node,
                });
                events.push(EventDraft {
                    effective_at: now,
                    payload: EventPayload::OrderStatusChanged {
                        from: record.status,
                        to: OrderStatus::Failed,
                        status_key: "failed".to_owned(),
                        code: "TNR905".to_owned(),
                    },
                });
                store::orders::update_saga(
                    &**tx,
                    id,
                    &SagaUpdate {
                        status: SagaStatus::Aborted,
                        input: None,
                        state,
                        attempt: saga.attempt,
                        wait: None,
                        finished_at: Some(now),
                    },
                    0,
                    now,
                )
                .await?;
                store::orders::end_order(
                    &**tx,
                    record.id,
                    id,
                    OrderStatus::Failed,
                    "failed",
                    Some(("TNR905", &message)),
                    now,
                )
                .await?;
                store::tasks::cancel_open(&**tx, record.id, now).await?;
            } else if saga.direction == Direction::Do
                && !store::orders::request_cancel(&**tx, id, now).await?
            {
                return Err(OrdersError::precondition(
                    "SAGA_ENDED",
                    "This saga has already ended.",
                ));
            }
            store::audit::record(
                &**tx,
                &audit_row(
                    call,
                    saga,
                    record.tenant_id,
                    reason.as_str(),
                    ticket.as_str(),
                ),
                now,
            )
            .await?;
            append_events(tx, saga, record.tenant_id, &events, now).await?;
            let updated = store::orders::get_by_saga(tx, id)
                .await?
                .ok_or(OrdersError::internal("an aborted saga disappeared"))?;
            Ok((
                Self::saga_history(tx, &self.registry, updated).await?,
                Some(Subject {
                    tenant: record.tenant_id,
                    order: record.id,
                }),
            ))
        })
        .await
    }
}
