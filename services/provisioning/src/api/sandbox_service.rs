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
        SandboxServiceServer::new(self)
            .max_decoding_message_size(limits.max_decoding_message_bytes)
            .max_encoding_message_size(limits.max_encoding_message_bytes)
    }
}

#[tonic::async_trait]
impl SandboxService for SandboxServiceHandler {}
