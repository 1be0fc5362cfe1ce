use tenure_grpc::Limits;
use tenure_proto::orders::v1 as pb;
use tenure_proto::orders::v1::order_service_server::{OrderService, OrderServiceServer};
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

use crate::api::StreamCaps;
use crate::api::context::Orders;
use crate::domain::OrdersError;

mod placing;
pub(crate) mod reading;
mod steering;
pub(crate) mod tasks;

/// The full path of an `OrderService` method.
macro_rules! path {
    ($method:literal) => {
        concat!("/tenure.orders.v1.OrderService/", $method)
    };
}

/// Serves `tenure.orders.v1.OrderService`: each method narrows the principal, runs one use case and
/// maps its outcome.
#[derive(Debug, Clone)]
pub(crate) struct OrderServiceHandler {
    app: Orders,
    streams: StreamCaps,
    draining: CancellationToken,
}

impl OrderServiceHandler {
    pub(crate) fn new(app: Orders, streams: StreamCaps, draining: CancellationToken) -> Self {
        Self {
            app,
            streams,
            draining,
        }
    }

    /// The generated server with the process's message-size limits applied.
    pub(crate) fn into_server(self, limits: &Limits) -> OrderServiceServer<Self> {
        tenure_grpc::limited!(OrderServiceServer::new(self), limits)
    }
}

fn reply<T>(outcome: Result<T, OrdersError>) -> Result<Response<T>, Status> {
    outcome.map(Response::new).map_err(Status::from)
}

#[tonic::async_trait]
impl OrderService for OrderServiceHandler {
    async fn create_order(
        &self,
        request: Request<pb::CreateOrderRequest>,
    ) -> Result<Response<pb::CreateOrderResponse>, Status> {
        let call = self.app.call(&request, path!("CreateOrder"))?;
        reply(self.app.create_order(&call, request.into_inner()).await)
    }

    async fn get_order(
        &self,
        request: Request<pb::GetOrderRequest>,
    ) -> Result<Response<pb::GetOrderResponse>, Status> {
        let call = self.app.call(&request, path!("GetOrder"))?;
        reply(self.app.get_order(&call, request.into_inner()).await)
    }

    async fn list_orders(
        &self,
        request: Request<pb::ListOrdersRequest>,
    ) -> Result<Response<pb::ListOrdersResponse>, Status> {
        let call = self.app.call(&request, path!("ListOrders"))?;
        reply(self.app.list_orders(&call, request.into_inner()).await)
    }

    async fn get_order_timeline(
        &self,
        request: Request<pb::GetOrderTimelineRequest>,
    ) -> Result<Response<pb::GetOrderTimelineResponse>, Status> {
        let call = self.app.call(&request, path!("GetOrderTimeline"))?;
        reply(
            self.app
                .get_order_timeline(&call, request.into_inner())
                .await,
        )
    }

    async fn watch_order(
        &self,
        request: Request<pb::WatchOrderRequest>,
    ) -> Result<Response<reading::WatchStream>, Status> {
        let call = self.app.call(&request, path!("WatchOrder"))?;
        reply(
            self.app
                .watch_order(
                    &call,
                    request.into_inner(),
                    &self.streams,
                    self.draining.clone(),
                )
                .await,
        )
    }

    async fn cancel_order(
        &self,
        request: Request<pb::CancelOrderRequest>,
    ) -> Result<Response<pb::CancelOrderResponse>, Status> {
        let call = self.app.call(&request, path!("CancelOrder"))?;
        reply(self.app.cancel_order(&call, request.into_inner()).await)
    }

    async fn answer_order_query(
        &self,
        request: Request<pb::AnswerOrderQueryRequest>,
    ) -> Result<Response<pb::AnswerOrderQueryResponse>, Status> {
        let call = self.app.call(&request, path!("AnswerOrderQuery"))?;
        reply(
            self.app
                .answer_order_query(&call, request.into_inner())
                .await,
        )
    }

    async fn signal_order(
        &self,
        request: Request<pb::SignalOrderRequest>,
    ) -> Result<Response<pb::SignalOrderResponse>, Status> {
        let call = self.app.call(&request, path!("SignalOrder"))?;
        reply(self.app.signal_order(&call, request.into_inner()).await)
    }

    async fn list_tasks(
        &self,
        request: Request<pb::ListTasksRequest>,
    ) -> Result<Response<pb::ListTasksResponse>, Status> {
        let call = self.app.call(&request, path!("ListTasks"))?;
        reply(self.app.list_tasks(&call, request.into_inner()).await)
    }

    async fn complete_task(
        &self,
        request: Request<pb::CompleteTaskRequest>,
    ) -> Result<Response<pb::CompleteTaskResponse>, Status> {
        let call = self.app.call(&request, path!("CompleteTask"))?;
        reply(self.app.complete_task(&call, request.into_inner()).await)
    }
}
