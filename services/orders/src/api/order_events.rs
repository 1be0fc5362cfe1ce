use tenure_grpc::Limits;
use tenure_proto::orders::v1::order_events_server::{OrderEvents, OrderEventsServer};

/// Serves `tenure.orders.v1.OrderEvents`.
///
/// Until the business logic of issue #6 lands, its RPCs answer UNIMPLEMENTED through the
/// generated defaults; health, reflection, authentication and the policy already apply to them.
#[derive(Debug, Clone, Default)]
pub(crate) struct OrderEventsHandler;

impl OrderEventsHandler {
    /// The generated server with the process's message-size limits applied.
    pub(crate) fn into_server(self, limits: &Limits) -> OrderEventsServer<Self> {
        tenure_grpc::limited!(OrderEventsServer::new(self), limits)
    }
}

#[tonic::async_trait]
impl OrderEvents for OrderEventsHandler {}
