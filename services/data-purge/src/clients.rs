//! Peers of data-purge: the `PurgeParticipant` data-owner interface of every service, which it asks to
//! plan, execute and verify deletions. Its own records answer through the same [`Participant`] port,
//! in process.

use std::sync::Arc;

use tenure_grpc::PeerChannel;
use tenure_proto::purge::v1 as pb;
use tenure_proto::purge::v1::purge_participant_client::PurgeParticipantClient;
use uuid::Uuid;

use crate::convert;
use crate::domain::{DataClass, PurgeError, Scope, TableCount};

/// What a data owner is asked about: one purge of one subject, for some classes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ParticipantCall<'a> {
    pub(crate) purge_id: Uuid,
    pub(crate) scope: &'a Scope,
    pub(crate) classes: &'a [DataClass],
}

/// A service that holds data of the subjects purges name, as the purge worker sees it: a peer over
/// gRPC or data-purge's own records in process. (`tenure_participant::PurgeData` is the other side:
/// what a service supplies to answer.)
#[async_trait::async_trait]
pub(crate) trait Participant: Send + Sync {
    /// The service's name, as it reports it in its counts.
    fn service(&self) -> &str;

    /// Counts what a purge would delete, pseudonymise or keep, changing nothing.
    async fn plan(&self, call: ParticipantCall<'_>) -> Result<Vec<TableCount>, PurgeError>;

    /// Deletes or pseudonymises; a repeat with the same key returns the first counts.
    async fn execute(
        &self,
        call: ParticipantCall<'_>,
        idempotency_key: &str,
    ) -> Result<Vec<TableCount>, PurgeError>;

    /// Counts what still holds data of the subject in the purged classes.
    async fn verify(&self, call: ParticipantCall<'_>) -> Result<Vec<TableCount>, PurgeError>;
}

/// The data owners a purge fans out to.
pub(crate) type Participants = Arc<[Arc<dyn Participant>]>;

/// Another service's `PurgeParticipant`, over gRPC with data-purge's service token.
#[derive(Debug, Clone)]
pub(crate) struct RemoteParticipant {
    service: String,
    channel: PeerChannel,
}

impl RemoteParticipant {
    pub(crate) fn new(channel: PeerChannel) -> Self {
        Self {
            service: channel.callee().name().to_owned(),
            channel,
        }
    }

    fn client(&self) -> PurgeParticipantClient<PeerChannel> {
        PurgeParticipantClient::new(self.channel.clone())
    }

    /// A peer's counts, checked: every line must come from the service asked, in known terms.
    fn counts(&self, entries: &[pb::TableCount]) -> Result<Vec<TableCount>, PurgeError> {
        entries
            .iter()
            .map(|entry| {
                let count = convert::table_count_from(entry).map_err(|_| {
                    PurgeError::internal("a data owner answered with an unknown class or action")
                })?;
                if count.service == self.service {
                    Ok(count)
                } else {
                    Err(PurgeError::internal(
                        "a data owner answered in another service's name",
                    ))
                }
            })
            .collect()
    }
}

/// A failed call to a data owner: worth retrying on the next pass whatever the code, since a purge
/// that cannot finish must stay visible as unfinished rather than be dropped. Only the code is kept:
/// it is what an operator needs, and it can carry no data of the subject.
fn peer_failure(service: &str, status: &tonic::Status) -> PurgeError {
    tracing::warn!(service, code = ?status.code(), "a data owner refused a purge call");
    PurgeError::OwnerFailed {
        service: service.to_owned(),
        code: format!("{:?}", status.code()),
    }
}

impl ParticipantCall<'_> {
    /// The request `build` makes of this call's purge id, scope and classes, sent for the subject's
    /// tenant.
    fn peer_request<T>(
        &self,
        build: impl FnOnce(String, Option<pb::ParticipantScope>, Vec<i32>) -> T,
    ) -> tonic::Request<T> {
        let message = build(
            self.purge_id.to_string(),
            Some(convert::participant_scope(self.scope)),
            convert::classes_to(self.classes),
        );
        PeerChannel::for_tenant(message, self.scope.tenant)
    }
}

impl RemoteParticipant {
    /// The checked counts of a peer's answer, which `entries` takes out of the response.
    fn answered<T>(
        &self,
        answer: Result<tonic::Response<T>, tonic::Status>,
        entries: impl FnOnce(T) -> Vec<pb::TableCount>,
    ) -> Result<Vec<TableCount>, PurgeError> {
        let response = answer.map_err(|status| peer_failure(&self.service, &status))?;
        self.counts(&entries(response.into_inner()))
    }
}

#[async_trait::async_trait]
impl Participant for RemoteParticipant {
    fn service(&self) -> &str {
        &self.service
    }

    async fn plan(&self, call: ParticipantCall<'_>) -> Result<Vec<TableCount>, PurgeError> {
        let request = call.peer_request(|purge_id, scope, classes| pb::PlanRequest {
            purge_id,
            scope,
            classes,
        });
        let answer = self.client().plan(request).await;
        self.answered(answer, |response| response.entries)
    }

    async fn execute(
        &self,
        call: ParticipantCall<'_>,
        idempotency_key: &str,
    ) -> Result<Vec<TableCount>, PurgeError> {
        let request = call.peer_request(|purge_id, scope, classes| pb::ExecuteRequest {
            idempotency_key: idempotency_key.to_owned(),
            purge_id,
            scope,
            classes,
        });
        let answer = self.client().execute(request).await;
        self.answered(answer, |response| response.entries)
    }

    async fn verify(&self, call: ParticipantCall<'_>) -> Result<Vec<TableCount>, PurgeError> {
        let request = call.peer_request(|purge_id, scope, classes| pb::VerifyRequest {
            purge_id,
            scope,
            classes,
        });
        let answer = self.client().verify(request).await;
        self.answered(answer, |response| response.residual)
    }
}
