use tenure_grpc::Limits;
use tenure_proto::provisioning::v1::provisioning_service_server::{
    ProvisioningService, ProvisioningServiceServer,
};

/// Serves `tenure.provisioning.v1.ProvisioningService`.
///
/// Until the business logic of issue #4 lands, its RPCs answer UNIMPLEMENTED through the
/// generated defaults; health, reflection, authentication and the policy already apply to them.
#[derive(Debug, Clone, Default)]
pub(crate) struct ProvisioningServiceHandler;

impl ProvisioningServiceHandler {
    /// The generated server with the process's message-size limits applied.
    pub(crate) fn into_server(self, limits: &Limits) -> ProvisioningServiceServer<Self> {
        tenure_grpc::limited!(ProvisioningServiceServer::new(self), limits)
    }
}

#[tonic::async_trait]
impl ProvisioningService for ProvisioningServiceHandler {}
