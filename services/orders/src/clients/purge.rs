//! The data-purge peer: scheduling the purge of a removed account's data.

use tenure_grpc::PeerChannel;
use tenure_proto::purge::v1 as purge;
use tenure_proto::purge::v1::purge_service_client::PurgeServiceClient;
use uuid::Uuid;

use super::actions::{done, terminate_facts};
use super::status::{answered, broken};
use super::{PeerPort, Step, instant, request, timestamp};
use crate::domain::saga::port::StepCall;
use crate::domain::saga::state::{PurgeFacts, SagaState};

impl PeerPort {
    fn purges(&self) -> PurgeServiceClient<PeerChannel> {
        PurgeServiceClient::new(self.peers.purge.clone())
    }

    pub(super) async fn schedule_purge(&self, call: &StepCall) -> Step {
        let (aws_account_id, ..) = terminate_facts(call)?;
        let triggered_at = call.state.removed_at.unwrap_or(call.now);
        let scheduled = answered(
            self.purges()
                .schedule_purge(request(
                    call,
                    Some(call.effect.key),
                    purge::SchedulePurgeRequest {
                        idempotency_key: call.effect.key.to_string(),
                        scope: Some(purge::PurgeScope {
                            kind: purge::ScopeKind::Account as i32,
                            tenant_id: call.tenant_id.to_string(),
                            aws_account_id: aws_account_id.as_str().to_owned(),
                        }),
                        reason: purge::PurgeReason::AccountRemoved as i32,
                        triggered_at: Some(timestamp(triggered_at)),
                        ticket: String::new(),
                    },
                ))
                .await,
        )?;
        let scheduled = scheduled
            .purge
            .ok_or_else(|| broken("data-purge answered no purge"))?;
        let (Ok(id), Some(due_at)) = (
            scheduled.id.parse::<Uuid>(),
            instant(scheduled.due_at.as_ref()),
        ) else {
            return Err(broken("data-purge answered a malformed purge"));
        };
        Ok(done(SagaState {
            purge: Some(PurgeFacts { id, due_at }),
            ..SagaState::default()
        }))
    }
}
