//! SagaAdmin: operators inspect and steer sagas. The handlers check the request (every action needs a
//! reason and a ticket) and answer with the saga as the use cases in `app::saga_admin` leave it.

use prost::Message;
use tenure_domain::{FreeText, Problems, Ticket, parse_id};
use tenure_grpc::Limits;
use tenure_grpc::paging::Page;
use tenure_proto::Keyed;
use tenure_proto::orders::v1 as pb;
use tenure_proto::orders::v1::saga_admin_server::{SagaAdmin, SagaAdminServer};
use tonic::{Request, Response, Status};

use crate::api::context::{
    Call, Orders, at, checked, finish, finish_keyed, idempotent, reply as reply_with,
};
use crate::api::convert;
use crate::api::order_service::reading::record_order;
use crate::app::{Justification, SagaCommand, SagaHistory, SagaLookup, SagaQuery};
use crate::domain::OrdersError;
use crate::domain::saga::definition::SagaKind;

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

/// A saga as operators see it.
fn saga_view(history: &SagaHistory) -> pb::Saga {
    convert::saga(
        &history.definition,
        &history.record,
        &history.steps,
        &history.attempts,
    )
}

impl Orders {
    async fn get_saga(
        &self,
        call: &Call,
        request: pb::GetSagaRequest,
    ) -> Result<pb::GetSagaResponse, OrdersError> {
        let mut problems = Problems::new();
        let lookup = match &request.lookup {
            Some(pb::get_saga_request::Lookup::SagaId(raw)) => problems
                .check("saga_id", parse_id(raw))
                .map(SagaLookup::Saga),
            Some(pb::get_saga_request::Lookup::OrderId(raw)) => problems
                .check("order_id", parse_id(raw))
                .map(SagaLookup::Order),
            None => {
                problems.push(at("lookup", tenure_domain::required()));
                None
            }
        };
        finish(problems, || ())?;
        let history = self.saga(call, checked(lookup)?).await?;
        record_order(history.record.id);
        Ok(pb::GetSagaResponse {
            saga: Some(saga_view(&history)),
        })
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
        let page = Page::of_request(&mut problems, call.method, &request, scope);
        finish(problems, || ())?;
        let (kind, page) = (checked(kind)?, checked(page)?);
        let query = SagaQuery {
            statuses,
            kind,
            stuck_for: (request.stuck_for_seconds > 0)
                .then(|| chrono::Duration::seconds(i64::from(request.stuck_for_seconds))),
        };
        let rows = self
            .sagas(call, query, page.request.offset, page.fetch_limit())
            .await?;
        let (rows, next_page_token) = page.of(rows);
        Ok(pb::ListSagasResponse {
            sagas: rows.iter().map(saga_view).collect(),
            next_page_token,
        })
    }

    /// Runs an operator's `command` on the saga a request names, once per key, and answers with the
    /// saga as it then stands, wrapped by `respond`.
    async fn steer<Q, R>(
        &self,
        call: &Call,
        request: Q,
        command: SagaCommand,
        respond: fn(Option<pb::Saga>) -> R,
    ) -> Result<R, OrdersError>
    where
        Q: SagaAction,
        R: Message + Default,
    {
        let mut problems = Problems::new();
        let id = problems.check("saga_id", parse_id(request.saga_id()));
        let (reason, ticket) = justification(&mut problems, request.reason(), request.ticket());
        finish_keyed(problems, &request)?;
        let (id, reason, ticket) = (checked(id)?, checked(reason)?, checked(ticket)?);
        // An operator's retry or abort is part of the order's story: its span names the order.
        let to = |history: &SagaHistory| {
            record_order(history.record.id);
            Ok(respond(Some(saga_view(history))))
        };
        let encode = |history: &SagaHistory| to(history).map(|response| response.encode_to_vec());
        let justification = Justification { reason, ticket };
        let answer = self
            .steer_saga(
                call,
                idempotent(&request, &encode)?,
                id,
                command,
                justification,
            )
            .await?;
        reply_with(answer, to)
    }
}

/// A request that acts on one saga with an operator's reason and ticket.
trait SagaAction: Keyed + Send {
    fn saga_id(&self) -> &str;
    fn reason(&self) -> &str;
    fn ticket(&self) -> &str;
}

macro_rules! saga_action {
    ($($request:ty),+ $(,)?) => {
        $(impl SagaAction for $request {
            fn saga_id(&self) -> &str {
                &self.saga_id
            }

            fn reason(&self) -> &str {
                &self.reason
            }

            fn ticket(&self) -> &str {
                &self.ticket
            }
        })+
    };
}

saga_action!(pb::RetryNowRequest, pb::AbortSagaRequest);

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
        reply(
            self.app
                .steer(&call, request.into_inner(), SagaCommand::RetryNow, |saga| {
                    pb::RetryNowResponse { saga }
                })
                .await,
        )
    }

    async fn abort_saga(
        &self,
        request: Request<pb::AbortSagaRequest>,
    ) -> Result<Response<pb::AbortSagaResponse>, Status> {
        let call = self.app.call(&request, path!("AbortSaga"))?;
        reply(
            self.app
                .steer(&call, request.into_inner(), SagaCommand::Abort, |saga| {
                    pb::AbortSagaResponse { saga }
                })
                .await,
        )
    }
}
