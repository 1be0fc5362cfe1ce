use tenure_grpc::Limits;
use tenure_proto::purge::v1::purge_events_server::{PurgeEvents, PurgeEventsServer};

/// Serves `tenure.purge.v1.PurgeEvents`.
///
/// Until the business logic of issue #5 lands, its RPCs answer UNIMPLEMENTED through the
/// generated defaults; health, reflection, authentication and the policy already apply to them.
#[derive(Debug, Clone, Default)]
pub(crate) struct PurgeEventsHandler;

impl PurgeEventsHandler {
    /// The generated server with the process's message-size limits applied.
    pub(crate) fn into_server(self, limits: &Limits) -> PurgeEventsServer<Self> {
        tenure_grpc::limited!(PurgeEventsServer::new(self), limits)
    }
}

#[tonic::async_trait]
impl PurgeEvents for PurgeEventsHandler {}
