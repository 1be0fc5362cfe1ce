use tenure_grpc::Limits;
use tenure_proto::orders::v1::order_service_server::{OrderService, OrderServiceServer};

/// Serves `tenure.orders.v1.OrderService`.
///
/// Until the business logic of issue #6 lands, its RPCs answer UNIMPLEMENTED through the
/// generated defaults; health, reflection, authentication and the policy already apply to them.
#[derive(Debug, Clone, Default)]
pub(crate) struct OrderServiceHandler;

impl OrderServiceHandler {
    /// The generated server with the process's message-size limits applied.
    pub(crate) fn into_server(self, limits: &Limits) -> OrderServiceServer<Self> {
        tenure_grpc::limited!(OrderServiceServer::new(self), limits)
    }
}

#[tonic::async_trait]
impl OrderService for OrderServiceHandler {}
