use tenure_grpc::Limits;
use tenure_proto::purge::v1::purge_service_server::{PurgeService, PurgeServiceServer};

/// Serves `tenure.purge.v1.PurgeService`.
///
/// Until the business logic of issue #5 lands, its RPCs answer UNIMPLEMENTED through the
/// generated defaults; health, reflection, authentication and the policy already apply to them.
#[derive(Debug, Clone, Default)]
pub(crate) struct PurgeServiceHandler;

impl PurgeServiceHandler {
    /// The generated server with the process's message-size limits applied.
    pub(crate) fn into_server(self, limits: &Limits) -> PurgeServiceServer<Self> {
        tenure_grpc::limited!(PurgeServiceServer::new(self), limits)
    }
}

#[tonic::async_trait]
impl PurgeService for PurgeServiceHandler {}
