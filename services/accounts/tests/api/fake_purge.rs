//! A stand-in for data-purge on the same test host, behind its real authentication and a policy that
//! admits the accounts service: it keeps schedules and cancellations in memory with data-purge's rules
//! (one key, one answer; a scope with a pending purge answers with it; a purge that started cannot be
//! cancelled) and lets a test start a purge. The real service's behaviour is the end-to-end suite's.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use prost_types::Timestamp;
use tenure_grpc::{MethodPolicy, Role};
use tenure_proto::purge::v1 as purge;
use tenure_proto::purge::v1::purge_service_server::{PurgeService, PurgeServiceServer};
use tonic::{Request, Response, Status};
use uuid::Uuid;

/// The purge period of an account removal in data-purge's default policy.
pub(crate) const PURGE_DAYS: i64 = 30;

/// One purge as the fake keeps it.
#[derive(Debug, Clone)]
pub(crate) struct Recorded {
    pub(crate) purge: purge::Purge,
    /// The tenant the caller acted for (`x-tenure-tenant`).
    pub(crate) acting_tenant: Option<Uuid>,
}

#[derive(Debug, Default)]
struct State {
    purges: HashMap<String, Recorded>,
    schedule_answers: HashMap<String, String>,
    cancel_answers: HashMap<String, Option<String>>,
    schedule_calls: usize,
    cancel_calls: usize,
}

/// The fake's memory, shared with the test.
#[derive(Debug, Clone, Default)]
pub(crate) struct FakePurge {
    state: Arc<Mutex<State>>,
}

impl FakePurge {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("fake purge state")
    }

    /// The purge with `id`.
    pub(crate) fn get(&self, id: &str) -> Recorded {
        self.lock().purges.get(id).cloned().expect("a known purge")
    }

    /// Starts purge `id`, as data-purge does when it falls due.
    pub(crate) fn start(&self, id: &str) {
        let mut state = self.lock();
        let recorded = state.purges.get_mut(id).expect("a known purge");
        recorded.purge.state = purge::PurgeState::Running as i32;
    }

    /// How many SchedulePurge and CancelPurge calls arrived, replays included.
    pub(crate) fn calls(&self) -> (usize, usize) {
        let state = self.lock();
        (state.schedule_calls, state.cancel_calls)
    }

    /// The number of distinct purges scheduled.
    pub(crate) fn purges(&self) -> usize {
        self.lock().purges.len()
    }

    /// The gRPC service, with the policy that admits accounts.
    pub(crate) fn server(&self) -> PurgeServiceServer<Self> {
        PurgeServiceServer::new(self.clone())
    }
}

/// Who may call the fake: the accounts service, as in data-purge's own policy.
pub(crate) const POLICY: &[MethodPolicy] = &[
    MethodPolicy {
        method: "/tenure.purge.v1.PurgeService/SchedulePurge",
        roles: &[Role::Service],
        service_callers: &["accounts"],
        service_across_tenants: false,
    },
    MethodPolicy {
        method: "/tenure.purge.v1.PurgeService/CancelPurge",
        roles: &[Role::Service],
        service_callers: &["accounts"],
        service_across_tenants: false,
    },
];

fn acting_tenant<T>(request: &Request<T>) -> Result<Option<Uuid>, Status> {
    Ok(tenure_grpc::principal_from(request)?.tenant_id)
}

fn pending(state: i32) -> bool {
    state == purge::PurgeState::Scheduled as i32 || state == purge::PurgeState::Held as i32
}

#[tonic::async_trait]
impl PurgeService for FakePurge {
    async fn schedule_purge(
        &self,
        request: Request<purge::SchedulePurgeRequest>,
    ) -> Result<Response<purge::SchedulePurgeResponse>, Status> {
        let acting = acting_tenant(&request)?;
        let request = request.into_inner();
        let mut state = self.lock();
        state.schedule_calls += 1;
        if let Some(id) = state.schedule_answers.get(&request.idempotency_key) {
            let purge = state.purges[id].purge.clone();
            return Ok(Response::new(purge::SchedulePurgeResponse {
                purge: Some(purge),
            }));
        }
        let scope = request
            .scope
            .ok_or_else(|| Status::invalid_argument("scope"))?;
        let triggered_at = request
            .triggered_at
            .ok_or_else(|| Status::invalid_argument("triggered_at"))?;
        let existing = state
            .purges
            .values()
            .find(|recorded| {
                recorded.purge.scope.as_ref() == Some(&scope) && pending(recorded.purge.state)
            })
            .map(|recorded| recorded.purge.clone());
        let purge = match existing {
            Some(purge) => purge,
            None => {
                let purge = purge::Purge {
                    id: Uuid::new_v4().to_string(),
                    scope: Some(scope),
                    reason: request.reason,
                    state: purge::PurgeState::Scheduled as i32,
                    triggered_at: Some(triggered_at),
                    due_at: Some(Timestamp {
                        seconds: triggered_at.seconds + PURGE_DAYS * 24 * 3600,
                        nanos: triggered_at.nanos,
                    }),
                    ..Default::default()
                };
                state.purges.insert(
                    purge.id.clone(),
                    Recorded {
                        purge: purge.clone(),
                        acting_tenant: acting,
                    },
                );
                purge
            }
        };
        state
            .schedule_answers
            .insert(request.idempotency_key, purge.id.clone());
        Ok(Response::new(purge::SchedulePurgeResponse {
            purge: Some(purge),
        }))
    }

    async fn cancel_purge(
        &self,
        request: Request<purge::CancelPurgeRequest>,
    ) -> Result<Response<purge::CancelPurgeResponse>, Status> {
        let request = request.into_inner();
        let mut state = self.lock();
        state.cancel_calls += 1;
        if let Some(answer) = state.cancel_answers.get(&request.idempotency_key) {
            let purge = answer.as_ref().map(|id| state.purges[id].purge.clone());
            return Ok(Response::new(purge::CancelPurgeResponse { purge }));
        }
        let id = match request.target {
            Some(purge::cancel_purge_request::Target::PurgeId(id)) => {
                if !state.purges.contains_key(&id) {
                    return Err(Status::not_found("purge not found"));
                }
                Some(id)
            }
            Some(purge::cancel_purge_request::Target::Scope(scope)) => state
                .purges
                .values()
                .find(|recorded| {
                    recorded.purge.scope.as_ref() == Some(&scope) && pending(recorded.purge.state)
                })
                .map(|recorded| recorded.purge.id.clone()),
            None => return Err(Status::invalid_argument("target")),
        };
        if let Some(id) = &id {
            let recorded = state.purges.get_mut(id).expect("known");
            if pending(recorded.purge.state) {
                recorded.purge.state = purge::PurgeState::Cancelled as i32;
            } else if recorded.purge.state != purge::PurgeState::Cancelled as i32 {
                return Err(Status::failed_precondition(
                    "the purge has started; it cannot be cancelled",
                ));
            }
        }
        state
            .cancel_answers
            .insert(request.idempotency_key, id.clone());
        let purge = id.map(|id| state.purges[&id].purge.clone());
        Ok(Response::new(purge::CancelPurgeResponse { purge }))
    }
}
