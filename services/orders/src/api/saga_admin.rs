//! SagaAdmin: operators inspect and steer sagas. Every action needs a reason and a ticket, is refused
//! while a replica is in the middle of a call (ABORTED, retry), moves the saga's epoch so no stale
//! transition can commit after it, and leaves an audit row and an `operator.action_taken` event.

use tenure_domain::{FreeText, Problems, Ticket, parse_id};
use tenure_grpc::Limits;
use tenure_grpc::paging::Page;
use tenure_proto::orders::v1 as pb;
use tenure_proto::orders::v1::saga_admin_server::{SagaAdmin, SagaAdminServer};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::api::context::{Call, Orders, Subject, at, checked, finish, finish_keyed};
use crate::api::convert;
use crate::api::order_service::tasks::{append_events, audit_row, operator_event};
use crate::domain::OrdersError;
use crate::domain::catalogue::{self, Facts};
use crate::domain::order::{Failure, OrderStatus};
use crate::domain::saga::definition::SagaKind;
use crate::domain::saga::state::{Direction, EventDraft, EventPayload, SagaStatus, WaitReason};
use crate::store;
use crate::store::orders::{ListOrder, OrderFilter, OrderRecord, SagaUpdate};

/// The full path of a `SagaAdmin` method.
macro_rules! path {
    ($method:literal) => {
        concat!("/tenure.orders.v1.SagaAdmin/", $method)
    };
}

/// Serves `tenure.orders.v1.SagaAdmin`.
#[derive(Debug, Clone)]
pub(crate) struct SagaAdminHandler {
    app: Orders,
}

impl SagaAdminHandler {
    pub(crate) fn new(app: Orders) -> Self {
        Self { app }
    }

    /// The generated server with the process's message-size limits applied.
    pub(crate) fn into_server(self, limits: &Limits) -> SagaAdminServer<Self> {
        tenure_grpc::limited!(SagaAdminServer::new(self), limits)
    }
}

fn reply<T>(outcome: Result<T, OrdersError>) -> Result<Response<T>, Status> {
    outcome.map(Response::new).map_err(Status::from)
}

/// The reason and ticket every action carries.
fn justification(
    problems: &mut Problems,
    reason: &str,
    ticket: &str,
) -> (Option<FreeText>, Option<Ticket>) {
    (
        problems.check("reason", FreeText::operator_reason(reason)),
        problems.check("ticket", Ticket::parse(ticket)),
    )
}

impl Orders {
    async fn saga_view(
        &self,
        tx: &tenure_db::TenantTx,
        record: &OrderRecord,
    ) -> Result<pb::Saga, OrdersError> {
        let definition = convert::definition_of(&self.registry, record)?;
        let (steps, attempts) = store::orders::history(&**tx, record.saga.snapshot.id).await?;
        Ok(convert::saga(&definition, record, &steps, &attempts))
    }

    async fn get_saga(
        &self,
        call: &Call,
        request: pb::GetSagaRequest,
    ) -> Result<pb::GetSagaResponse, OrdersError> {
        let mut problems = Problems::new();
        let lookup = match &request.lookup {
            Some(pb::get_saga_request::Lookup::SagaId(raw)) => problems
                .check("saga_id", parse_id(raw))
                .map(|id| (true, id)),
            Some(pb::get_saga_request::Lookup::OrderId(raw)) => problems
                .check("order_id", parse_id(raw))
                .map(|id| (false, id)),
            None => {
                problems.push(at("lookup", tenure_domain::required()));
                None
            }
        };
        finish(problems, || ())?;
        let (by_saga, id) = checked(lookup)?;
        let (saga, record) = self
            .read(call.reach()?, async |tx| {
                let record = if by_saga {
                    store::orders::get_by_saga(tx, id).await?
                } else {
                    store::orders::get(tx, id).await?
                }
                .ok_or(OrdersError::NotFound("saga"))?;
                Ok((self.saga_view(tx, &record).await?, record))
            })
            .await?;
        // Operators' reads are audited too (quality.md §1.8).
        let tx = store::begin_engine(&self.db).await?;
        store::audit::record(
            &*tx,
            &audit_row(call, &record.saga.snapshot, record.tenant_id, "", ""),
            self.now(),
        )
        .await?;
        tx.commit().await?;
        Ok(pb::GetSagaResponse { saga: Some(saga) })
    }

    async fn list_sagas(
        &self,
        call: &Call,
        request: pb::ListSagasRequest,
    ) -> Result<pb::ListSagasResponse, OrdersError> {
        let mut problems = Problems::new();
        let mut statuses = Vec::new();
        for (index, raw) in request.statuses.iter().enumerate() {
            statuses.extend(problems.check(
                format!("statuses[{index}]"),
                convert::saga_status_from(*raw),
            ));
        }
        let kind = if request.definition.is_empty() {
            Some(None)
        } else {
            let name = request.definition.split('@').next().unwrap_or_default();
            match SagaKind::parse(name) {
                Some(kind) => Some(Some(kind)),
                None => {
                    problems.push(at(
                        "definition",
                        tenure_domain::field_problem(
                            "UNKNOWN_DEFINITION",
                            "name a definition such as account_create",
                            "TNR004",
                        ),
                    ));
                    None
                }
            }
        };
        let scope = format!(
            "{:?}|{}|{}",
            request.statuses, request.definition, request.stuck_for_seconds
        );
        let page = Page::read(
            &mut problems,
            call.method,
            (request.page_size, &request.page_token),
            scope,
        );
        finish(problems, || ())?;
        let (kind, page) = (checked(kind)?, checked(page)?);
        let filter = OrderFilter {
            saga_statuses: statuses,
            saga_kind: kind,
            unchanged_since: (request.stuck_for_seconds > 0).then(|| {
                self.now() - chrono::Duration::seconds(i64::from(request.stuck_for_seconds))
            }),
            ..OrderFilter::default()
        };
        self.read(call.reach()?, async |tx| {
            let rows = store::orders::list(
                &**tx,
                &filter,
                ListOrder::StalestFirst,
                page.request.offset,
                page.fetch_limit(),
            )
            .await?;
            let (rows, next_page_token) = page.of(rows);
            let mut sagas = Vec::with_capacity(rows.len());
            for record in &rows {
                sagas.push(self.saga_view(tx, record).await?);
            }
            Ok(pb::ListSagasResponse {
                sagas,
                next_page_token,
            })
        })
        .await
    }

    /// The saga an action targets, refused when it ended.
    async fn open_saga(tx: &tenure_db::TenantTx, id: Uuid) -> Result<OrderRecord, OrdersError> {
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

    async fn retry_now(
        &self,
        call: &Call,
        request: pb::RetryNowRequest,
    ) -> Result<pb::RetryNowResponse, OrdersError> {
        let mut problems = Problems::new();
        let id = problems.check("saga_id", parse_id(&request.saga_id));
        let (reason, ticket) = justification(&mut problems, &request.reason, &request.ticket);
        finish_keyed(problems, &request)?;
        let (id, reason, ticket) = (checked(id)?, checked(reason)?, checked(ticket)?);
        self.mutate(call, &request, async |tx, now| {
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
                pb::RetryNowResponse {
                    saga: Some(self.saga_view(tx, &updated).await?),
                },
                Some(Subject {
                    tenant: record.tenant_id,
                    order: record.id,
                }),
            ))
        })
        .await
    }

    async fn abort_saga(
        &self,
        call: &Call,
        request: pb::AbortSagaRequest,
    ) -> Result<pb::AbortSagaResponse, OrdersError> {
        let mut problems = Problems::new();
        let id = problems.check("saga_id", parse_id(&request.saga_id));
        let (reason, ticket) = justification(&mut problems, &request.reason, &request.ticket);
        finish_keyed(problems, &request)?;
        let (id, reason, ticket) = (checked(id)?, checked(reason)?, checked(ticket)?);
        self.mutate(call, &request, async |tx, now| {
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
                pb::AbortSagaResponse {
                    saga: Some(self.saga_view(tx, &updated).await?),
                },
                Some(Subject {
                    tenant: record.tenant_id,
                    order: record.id,
                }),
            ))
        })
        .await
    }
}

#[tonic::async_trait]
impl SagaAdmin for SagaAdminHandler {
    async fn get_saga(
        &self,
        request: Request<pb::GetSagaRequest>,
    ) -> Result<Response<pb::GetSagaResponse>, Status> {
        let call = self.app.call(&request, path!("GetSaga"))?;
        reply(self.app.get_saga(&call, request.into_inner()).await)
    }

    async fn list_sagas(
        &self,
        request: Request<pb::ListSagasRequest>,
    ) -> Result<Response<pb::ListSagasResponse>, Status> {
        let call = self.app.call(&request, path!("ListSagas"))?;
        reply(self.app.list_sagas(&call, request.into_inner()).await)
    }

    async fn retry_now(
        &self,
        request: Request<pb::RetryNowRequest>,
    ) -> Result<Response<pb::RetryNowResponse>, Status> {
        let call = self.app.call(&request, path!("RetryNow"))?;
        reply(self.app.retry_now(&call, request.into_inner()).await)
    }

    async fn abort_saga(
        &self,
        request: Request<pb::AbortSagaRequest>,
    ) -> Result<Response<pb::AbortSagaResponse>, Status> {
        let call = self.app.call(&request, path!("AbortSaga"))?;
        reply(self.app.abort_saga(&call, request.into_inner()).await)
    }
}
