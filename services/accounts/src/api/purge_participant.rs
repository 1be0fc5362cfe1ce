use tenure_grpc::Limits;
use tenure_proto::purge::v1::purge_participant_server::{PurgeParticipant, PurgeParticipantServer};

/// Serves `tenure.purge.v1.PurgeParticipant`.
///
/// Until the business logic of issue #3 lands, its RPCs answer UNIMPLEMENTED through the
/// generated defaults; health, reflection, authentication and the policy already apply to them.
#[derive(Debug, Clone, Default)]
pub(crate) struct PurgeParticipantHandler;

impl PurgeParticipantHandler {
    /// The generated server with the process's message-size limits applied.
    pub(crate) fn into_server(self, limits: &Limits) -> PurgeParticipantServer<Self> {
        tenure_grpc::limited!(PurgeParticipantServer::new(self), limits)
    }
}

#[tonic::async_trait]
impl PurgeParticipant for PurgeParticipantHandler {}
