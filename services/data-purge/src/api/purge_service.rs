use chrono::{DateTime, Utc};
use tenure_db::TenantTx;
use tenure_domain::{AwsAccountId, FreeText, Problems, Ticket, check_instant, parse_id, required};
use tenure_grpc::Limits;
use tenure_grpc::paging::Page;
use tenure_proto::purge::v1 as pb;
use tenure_proto::purge::v1::purge_service_server::{PurgeService, PurgeServiceServer};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::api::context::{Call, Purges, at, checked, finish, finish_keyed};
use crate::convert;
use crate::domain::{
    Purge, PurgeError, PurgeEvent, PurgeReason, PurgeState, Schedule, Scope, ScopeKind,
    manifest_hash, policy_classes,
};
use crate::purge_worker::{Change, write_transition};
use crate::store;
use crate::store::purges::PurgeFilter;

mod holds;
mod receipts;

/// The permission that setting or releasing a legal hold needs besides the operator role (G7).
const LEGAL_HOLD_PERMISSION: &str = "legal_hold";

/// The full path of a `PurgeService` method.
macro_rules! path {
    ($method:literal) => {
        concat!("/tenure.purge.v1.PurgeService/", $method)
    };
}

/// Serves `tenure.purge.v1.PurgeService`.
#[derive(Debug, Clone)]
pub(crate) struct PurgeServiceHandler {
    app: Purges,
}

impl PurgeServiceHandler {
    pub(crate) fn new(app: Purges) -> Self {
        Self { app }
    }

    /// The generated server with the process's message-size limits applied.
    pub(crate) fn into_server(self, limits: &Limits) -> PurgeServiceServer<Self> {
        tenure_grpc::limited!(PurgeServiceServer::new(self), limits)
    }
}

/// Reads a scope, recording problems under `field`.
pub(crate) fn read_scope(
    problems: &mut Problems,
    field: &str,
    scope: Option<&pb::PurgeScope>,
) -> Option<Scope> {
    let Some(scope) = scope else {
        problems.push(at(field, required()));
        return None;
    };
    let kind = problems.check(
        format!("{field}.kind"),
        convert::scope_kind_from(scope.kind),
    );
    let tenant = problems.check(format!("{field}.tenant_id"), parse_id(&scope.tenant_id));
    match kind? {
        ScopeKind::Account => {
            let account = problems.check(
                format!("{field}.aws_account_id"),
                AwsAccountId::parse(&scope.aws_account_id),
            );
            Some(Scope::account(tenant?, account?))
        }
        ScopeKind::Tenant => {
            if !scope.aws_account_id.is_empty() {
                problems.push(at(
                    format!("{field}.aws_account_id"),
                    tenure_domain::field_problem(
                        "NOT_ALLOWED",
                        "a tenant scope names no account",
                        "TNR004",
                    ),
                ));
                return None;
            }
            Some(Scope::tenant(tenant?))
        }
    }
}

impl Purges {
    async fn schedule(
        &self,
        call: &Call,
        request: pb::SchedulePurgeRequest,
    ) -> Result<pb::SchedulePurgeResponse, PurgeError> {
        let now = self.now();
        let mut problems = Problems::new();
        let scope = read_scope(&mut problems, "scope", request.scope.as_ref());
        let reason = problems.check("reason", convert::reason_from(request.reason));
        // A trigger may lie ahead (up to check_instant's 400 days): unlinking a billing transfer ends
        // it at the end of the month, and the purge must count from that end, not from the request.
        let triggered_at = match &request.triggered_at {
            None => Some(now),
            Some(at) => problems.check(
                "triggered_at",
                convert::instant(at).and_then(|at| check_instant(at, now)),
            ),
        };
        let ticket = match (reason, request.ticket.is_empty()) {
            (Some(PurgeReason::SupportRequest), _) | (_, false) => problems
                .check("ticket", Ticket::parse(&request.ticket))
                .map(|ticket| Some(ticket.as_str().to_owned())),
            _ => Some(None),
        };
        if let (Some(scope), Some(reason)) = (&scope, reason)
            && !reason.fits(scope.kind())
        {
            problems.push(at(
                "reason",
                tenure_domain::field_problem(
                    "REASON_SCOPE_MISMATCH",
                    "an account removal purges an account, an unsubscribe purges a tenant",
                    "TNR004",
                ),
            ));
        }
        finish_keyed(problems, &request)?;
        let (scope, reason, triggered_at, ticket) = (
            checked(scope)?,
            checked(reason)?,
            checked(triggered_at)?,
            checked(ticket)?,
        );
        // A service acting for one tenant schedules that tenant's purges only.
        call.tenant_filter(Some(scope.tenant))?;
        let schedule = Schedule::of(&self.schedule, scope.kind(), reason, triggered_at, now);
        self.mutate(call, &request, async |tx, now| {
            if let Some(pending) = store::purges::pending_for(&**tx, &scope).await? {
                return Ok(pb::SchedulePurgeResponse {
                    purge: Some(convert::purge_to(&pending)),
                });
            }
            let holds: Vec<Uuid> = store::holds::active_in_tenant(&**tx, scope.tenant)
                .await?
                .iter()
                .filter(|hold| hold.scope.holds(&scope))
                .map(|hold| hold.id)
                .collect();
            let purge = Purge {
                id: Uuid::new_v4(),
                classes: policy_classes(scope.kind()),
                scope: scope.clone(),
                reason,
                state: if holds.is_empty() {
                    PurgeState::Scheduled
                } else {
                    PurgeState::Held
                },
                ticket: ticket.clone(),
                requested_at: now,
                triggered_at,
                due_at: schedule.due_at,
                deadline: schedule.deadline,
                started_at: None,
                completed_at: None,
                cancelled_at: None,
                expedite_ticket: None,
                plan: None,
                manifest_hash: None,
                receipt_id: None,
                claim_epoch: 0,
                residual_rows: 0,
                last_error: None,
                holds,
            };
            store::purges::insert(&**tx, &purge).await?;
            let actor = call.actor();
            store::purges::record_transition(
                &**tx,
                &purge,
                &crate::domain::Transition {
                    from: None,
                    to: purge.state,
                    event: "schedule",
                    actor: &actor,
                    reason: Some(reason.as_str()),
                    ticket: ticket.as_deref(),
                },
                tenure_telemetry::current_trace_id(),
                now,
            )
            .await?;
            store::events::append(
                &**tx,
                &crate::purge_worker::stream_event(&purge, "purge.scheduled", now),
            )
            .await?;
            if purge.state == PurgeState::Held {
                store::events::append(
                    &**tx,
                    &crate::purge_worker::stream_event(&purge, "purge.blocked_by_hold", now),
                )
                .await?;
            }
            tracing::info!(purge_id = %purge.id, scope = purge.scope.kind().as_str(), "purge scheduled");
            Ok(pb::SchedulePurgeResponse {
                purge: Some(convert::purge_to(&purge)),
            })
        })
        .await
    }

    async fn find(&self, call: &Call, raw_id: &str) -> Result<Purge, PurgeError> {
        let mut problems = Problems::new();
        let id = problems.check("purge_id", parse_id(raw_id));
        finish(problems, || ())?;
        store::purges::get(self.db.conn(), checked(id)?, call.reach()?)
            .await?
            .ok_or(PurgeError::NotFound("purge"))
    }

    async fn list(
        &self,
        call: &Call,
        request: pb::ListPurgesRequest,
    ) -> Result<pb::ListPurgesResponse, PurgeError> {
        let mut problems = Problems::new();
        let asked = if request.tenant_id.is_empty() {
            Some(None)
        } else {
            problems
                .check("tenant_id", parse_id(&request.tenant_id))
                .map(Some)
        };
        let account = if request.aws_account_id.is_empty() {
            Some(None)
        } else {
            problems
                .check(
                    "aws_account_id",
                    AwsAccountId::parse(&request.aws_account_id),
                )
                .map(Some)
        };
        let mut states = Vec::new();
        for (index, raw) in request.states.iter().enumerate() {
            if let Some(state) =
                problems.check(format!("states[{index}]"), convert::state_from(*raw))
            {
                states.push(state);
            }
        }
        let filter_text = format!(
            "{:?}|{}|{}|{:?}",
            call.reach()?,
            request.tenant_id,
            request.aws_account_id,
            request.states
        );
        let page = Page::read(
            &mut problems,
            call.method,
            (request.page_size, &request.page_token),
            filter_text,
        );
        finish(problems, || ())?;
        let page = checked(page)?;
        let filter = PurgeFilter {
            tenant: call.tenant_filter(checked(asked)?)?,
            states,
            account: checked(account)?,
        };
        let rows = store::purges::list(
            self.db.conn(),
            &filter,
            page.request.offset,
            page.fetch_limit(),
        )
        .await?;
        let (rows, next_page_token) = page.of(rows);
        Ok(pb::ListPurgesResponse {
            purges: rows.iter().map(convert::purge_to).collect(),
            next_page_token,
        })
    }

    /// Applies `event` to the purge `id` as `call`'s actor, in the mutation's transaction.
    #[allow(
        clippy::too_many_arguments,
        reason = "each is one fact of the transition"
    )]
    async fn change(
        &self,
        tx: &TenantTx,
        call: &Call,
        purge: Purge,
        event: PurgeEvent,
        why: (Option<&str>, Option<&str>),
        stream: Option<&'static str>,
        now: DateTime<Utc>,
        edit: impl FnOnce(&mut Purge),
    ) -> Result<Purge, PurgeError> {
        let mut after = Purge {
            state: purge.state.after(event, purge.started())?,
            ..purge.clone()
        };
        edit(&mut after);
        let actor = call.actor();
        write_transition(
            &**tx,
            &purge,
            &after,
            Change {
                why,
                stream,
                ..Change::by(event, &actor, now)
            },
        )
        .await?;
        Ok(after)
    }

    async fn expedite(
        &self,
        call: &Call,
        request: pb::ExpeditePurgeRequest,
    ) -> Result<pb::ExpeditePurgeResponse, PurgeError> {
        let mut problems = Problems::new();
        let id = problems.check("purge_id", parse_id(&request.purge_id));
        let ticket = problems.check("ticket", Ticket::parse(&request.ticket));
        let reason = problems.check("reason", FreeText::operator_reason(&request.reason));
        finish_keyed(problems, &request)?;
        let (id, ticket, reason) = (checked(id)?, checked(ticket)?, checked(reason)?);
        self.mutate(call, &request, async |tx, now| {
            let purge = store::purges::get(&**tx, id, None)
                .await?
                .ok_or(PurgeError::NotFound("purge"))?;
            match purge.state {
                PurgeState::Held => return Err(PurgeError::Held),
                PurgeState::Scheduled if purge.due_at > now => {}
                PurgeState::Scheduled | PurgeState::Due | PurgeState::Running => {
                    return Err(PurgeError::WouldPostpone);
                }
                PurgeState::Completed | PurgeState::Cancelled => {
                    return Err(PurgeError::WrongState {
                        state: purge.state,
                        event: PurgeEvent::Expedite,
                        started: purge.started(),
                    });
                }
            }
            let after = self
                .change(
                    tx,
                    call,
                    purge,
                    PurgeEvent::Expedite,
                    (Some(reason.as_str()), Some(ticket.as_str())),
                    None,
                    now,
                    |purge| {
                        purge.due_at = now;
                        purge.expedite_ticket = Some(ticket.as_str().to_owned());
                    },
                )
                .await?;
            tracing::info!(purge_id = %after.id, "purge expedited");
            Ok(pb::ExpeditePurgeResponse {
                purge: Some(convert::purge_to(&after)),
            })
        })
        .await
    }

    async fn cancel(
        &self,
        call: &Call,
        request: pb::CancelPurgeRequest,
    ) -> Result<pb::CancelPurgeResponse, PurgeError> {
        enum Target {
            Id(Uuid),
            Scope(Scope),
        }
        let mut problems = Problems::new();
        let target = match &request.target {
            Some(pb::cancel_purge_request::Target::PurgeId(raw)) => {
                problems.check("purge_id", parse_id(raw)).map(Target::Id)
            }
            Some(pb::cancel_purge_request::Target::Scope(scope)) => {
                read_scope(&mut problems, "scope", Some(scope)).map(Target::Scope)
            }
            None => {
                problems.push(at("target", required()));
                None
            }
        };
        let reason = problems.check("reason", FreeText::reason(&request.reason));
        finish_keyed(problems, &request)?;
        let (target, reason) = (checked(target)?, checked(reason)?);
        // A service acting for one tenant cancels that tenant's purges only; another tenant's id
        // answers like a missing one.
        let reach = call.reach()?;
        if let Target::Scope(scope) = &target {
            call.tenant_filter(Some(scope.tenant))?;
        }
        self.mutate(call, &request, async |tx, now| {
            let purge = match &target {
                Target::Id(id) => Some(
                    store::purges::get(&**tx, *id, reach)
                        .await?
                        .ok_or(PurgeError::NotFound("purge"))?,
                ),
                Target::Scope(scope) => store::purges::pending_for(&**tx, scope).await?,
            };
            let Some(purge) = purge else {
                return Ok(pb::CancelPurgeResponse { purge: None });
            };
            if purge.state == PurgeState::Cancelled {
                return Ok(pb::CancelPurgeResponse {
                    purge: Some(convert::purge_to(&purge)),
                });
            }
            let why = (Some(reason.as_str()).filter(|text| !text.is_empty()), None);
            let after = self
                .change(
                    tx,
                    call,
                    purge,
                    PurgeEvent::Cancel,
                    why,
                    Some("purge.cancelled"),
                    now,
                    |purge| purge.cancelled_at = Some(now),
                )
                .await?;
            tracing::info!(purge_id = %after.id, "purge cancelled");
            Ok(pb::CancelPurgeResponse {
                purge: Some(convert::purge_to(&after)),
            })
        })
        .await
    }

    async fn plan(
        &self,
        call: &Call,
        request: pb::PlanPurgeRequest,
    ) -> Result<pb::PlanPurgeResponse, PurgeError> {
        let purge = self.find(call, &request.purge_id).await?;
        let entries = self.engine.plan(&purge).await?;
        Ok(pb::PlanPurgeResponse {
            plan: Some(pb::PurgePlan {
                purge_id: purge.id.to_string(),
                planned_at: Some(convert::timestamp(self.now())),
                manifest_hash: manifest_hash(&entries),
                entries: entries.iter().map(convert::table_count_to).collect(),
            }),
        })
    }
}

#[tonic::async_trait]
impl PurgeService for PurgeServiceHandler {
    async fn schedule_purge(
        &self,
        request: Request<pb::SchedulePurgeRequest>,
    ) -> Result<Response<pb::SchedulePurgeResponse>, Status> {
        let call = self.app.call(&request, path!("SchedulePurge"))?;
        Ok(Response::new(
            self.app.schedule(&call, request.into_inner()).await?,
        ))
    }

    async fn get_purge(
        &self,
        request: Request<pb::GetPurgeRequest>,
    ) -> Result<Response<pb::GetPurgeResponse>, Status> {
        let call = self.app.call(&request, path!("GetPurge"))?;
        let purge = self.app.find(&call, &request.get_ref().purge_id).await?;
        Ok(Response::new(pb::GetPurgeResponse {
            purge: Some(convert::purge_to(&purge)),
        }))
    }

    async fn list_purges(
        &self,
        request: Request<pb::ListPurgesRequest>,
    ) -> Result<Response<pb::ListPurgesResponse>, Status> {
        let call = self.app.call(&request, path!("ListPurges"))?;
        Ok(Response::new(
            self.app.list(&call, request.into_inner()).await?,
        ))
    }

    async fn expedite_purge(
        &self,
        request: Request<pb::ExpeditePurgeRequest>,
    ) -> Result<Response<pb::ExpeditePurgeResponse>, Status> {
        let call = self.app.call(&request, path!("ExpeditePurge"))?;
        Ok(Response::new(
            self.app.expedite(&call, request.into_inner()).await?,
        ))
    }

    async fn cancel_purge(
        &self,
        request: Request<pb::CancelPurgeRequest>,
    ) -> Result<Response<pb::CancelPurgeResponse>, Status> {
        let call = self.app.call(&request, path!("CancelPurge"))?;
        Ok(Response::new(
            self.app.cancel(&call, request.into_inner()).await?,
        ))
    }

    async fn plan_purge(
        &self,
        request: Request<pb::PlanPurgeRequest>,
    ) -> Result<Response<pb::PlanPurgeResponse>, Status> {
        let call = self.app.call(&request, path!("PlanPurge"))?;
        Ok(Response::new(
            self.app.plan(&call, request.into_inner()).await?,
        ))
    }

    async fn set_legal_hold(
        &self,
        request: Request<pb::SetLegalHoldRequest>,
    ) -> Result<Response<pb::SetLegalHoldResponse>, Status> {
        let call = self.app.call(&request, path!("SetLegalHold"))?;
        Ok(Response::new(
            self.app.set_hold(&call, request.into_inner()).await?,
        ))
    }

    async fn release_legal_hold(
        &self,
        request: Request<pb::ReleaseLegalHoldRequest>,
    ) -> Result<Response<pb::ReleaseLegalHoldResponse>, Status> {
        let call = self.app.call(&request, path!("ReleaseLegalHold"))?;
        Ok(Response::new(
            self.app.release_hold(&call, request.into_inner()).await?,
        ))
    }

    async fn list_legal_holds(
        &self,
        request: Request<pb::ListLegalHoldsRequest>,
    ) -> Result<Response<pb::ListLegalHoldsResponse>, Status> {
        let call = self.app.call(&request, path!("ListLegalHolds"))?;
        Ok(Response::new(
            self.app.list_holds(&call, request.into_inner()).await?,
        ))
    }

    async fn get_receipt(
        &self,
        request: Request<pb::GetReceiptRequest>,
    ) -> Result<Response<pb::GetReceiptResponse>, Status> {
        let call = self.app.call(&request, path!("GetReceipt"))?;
        Ok(Response::new(
            self.app.receipt(&call, request.into_inner()).await?,
        ))
    }

    async fn list_receipts(
        &self,
        request: Request<pb::ListReceiptsRequest>,
    ) -> Result<Response<pb::ListReceiptsResponse>, Status> {
        let call = self.app.call(&request, path!("ListReceipts"))?;
        Ok(Response::new(
            self.app.receipts(&call, request.into_inner()).await?,
        ))
    }

    async fn verify_receipt_chain(
        &self,
        request: Request<pb::VerifyReceiptChainRequest>,
    ) -> Result<Response<pb::VerifyReceiptChainResponse>, Status> {
        self.app.call(&request, path!("VerifyReceiptChain"))?;
        Ok(Response::new(self.app.verify_chain().await?))
    }
}
