use tenure_grpc::Limits;
use tenure_proto::orders::v1::saga_admin_server::{SagaAdmin, SagaAdminServer};

/// Serves `tenure.orders.v1.SagaAdmin`.
///
/// Until the business logic of issue #6 lands, its RPCs answer UNIMPLEMENTED through the
/// generated defaults; health, reflection, authentication and the policy already apply to them.
#[derive(Debug, Clone, Default)]
pub(crate) struct SagaAdminHandler;

impl SagaAdminHandler {
    /// The generated server with the process's message-size limits applied.
    pub(crate) fn into_server(self, limits: &Limits) -> SagaAdminServer<Self> {
        tenure_grpc::limited!(SagaAdminServer::new(self), limits)
    }
}

#[tonic::async_trait]
impl SagaAdmin for SagaAdminHandler {}
