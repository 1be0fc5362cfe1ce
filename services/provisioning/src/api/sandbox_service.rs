use tenure_grpc::Limits;
use tenure_proto::provisioning::v1::sandbox_service_server::{
    SandboxService, SandboxServiceServer,
};

/// Serves `tenure.provisioning.v1.SandboxService`.
///
/// Until the business logic of issue #4 lands, its RPCs answer UNIMPLEMENTED through the
/// generated defaults; health, reflection, authentication and the policy already apply to them.
#[derive(Debug, Clone, Default)]
pub(crate) struct SandboxServiceHandler;

impl SandboxServiceHandler {
    /// The generated server with the process's message-size limits applied.
    pub(crate) fn into_server(self, limits: &Limits) -> SandboxServiceServer<Self> {
        tenure_grpc::limited!(SandboxServiceServer::new(self), limits)
    }
}

#[tonic::async_trait]
impl SandboxService for SandboxServiceHandler {}
