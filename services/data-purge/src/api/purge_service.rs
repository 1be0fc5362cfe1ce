//! Serves `tenure.purge.v1.PurgeService`: each handler authorizes the call, reads the request into
//! domain values (reporting every violation at once), runs one use case and encodes its answer.

use chrono::{DateTime, Utc};
use prost::Message as _;
use tenure_domain::{AwsAccountId, FreeText, Problems, Ticket, check_instant, parse_id, required};
use tenure_grpc::Limits;
use tenure_grpc::paging::Page;
use tenure_proto::purge::v1 as pb;
use tenure_proto::purge::v1::purge_service_server::{PurgeService, PurgeServiceServer};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::api::context::{at, call, checked, finish, finish_keyed, idempotent, reply};
use crate::app::{Call, CancelTarget, PurgeApp, SchedulePurge};
use crate::convert;
use crate::domain::{Purge, PurgeError, PurgeFilter, PurgeReason, Scope, ScopeKind};

/// The full path of a `PurgeService` method.
macro_rules! path {
    ($method:literal) => {
        concat!("/tenure.purge.v1.PurgeService/", $method)
    };
}

mod holds;
mod receipts;

/// Serves `tenure.purge.v1.PurgeService`.
#[derive(Debug, Clone)]
pub(crate) struct PurgeServiceHandler {
    app: PurgeApp,
}

impl PurgeServiceHandler {
    pub(crate) fn new(app: PurgeApp) -> Self {
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

/// A purge id, the only field of a read that names one purge.
fn read_purge_id(raw: &str) -> Result<Uuid, PurgeError> {
    let mut problems = Problems::new();
    let id = problems.check("purge_id", parse_id(raw));
    finish(problems, || ())?;
    checked(id)
}

/// A purge to schedule, read at `now`.
fn read_schedule(
    request: &pb::SchedulePurgeRequest,
    now: DateTime<Utc>,
) -> Result<SchedulePurge, PurgeError> {
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
            .map(Some),
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
    finish_keyed(problems, request)?;
    Ok(SchedulePurge {
        scope: checked(scope)?,
        reason: checked(reason)?,
        triggered_at: checked(triggered_at)?,
        ticket: checked(ticket)?,
        read_at: now,
    })
}

/// A list's filter, as asked (the use case narrows it to the caller's tenant), and its page.
fn read_list(
    call: &Call,
    request: &pb::ListPurgesRequest,
) -> Result<(PurgeFilter, Page), PurgeError> {
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
        if let Some(state) = problems.check(format!("states[{index}]"), convert::state_from(*raw)) {
            states.push(state);
        }
    }
    // A page token is bound to the caller's reach as well as the filter, so it cannot carry a
    // listing across tenants.
    let filter_text = format!(
        "{:?}|{}|{}|{:?}",
        call.reach()?,
        request.tenant_id,
        request.aws_account_id,
        request.states
    );
    let page = Page::of_request(&mut problems, call.method, request, filter_text);
    finish(problems, || ())?;
    let filter = PurgeFilter {
        tenant: checked(asked)?,
        states,
        account: checked(account)?,
    };
    Ok((filter, checked(page)?))
}

/// An expedite's purge, ticket and reason.
fn read_expedite(
    request: &pb::ExpeditePurgeRequest,
) -> Result<(Uuid, Ticket, FreeText), PurgeError> {
    let mut problems = Problems::new();
    let id = problems.check("purge_id", parse_id(&request.purge_id));
    let ticket = problems.check("ticket", Ticket::parse(&request.ticket));
    let reason = problems.check("reason", FreeText::operator_reason(&request.reason));
    finish_keyed(problems, request)?;
    Ok((checked(id)?, checked(ticket)?, checked(reason)?))
}

/// A cancel's target and reason.
fn read_cancel(request: &pb::CancelPurgeRequest) -> Result<(CancelTarget, FreeText), PurgeError> {
    let mut problems = Problems::new();
    let target = match &request.target {
        Some(pb::cancel_purge_request::Target::PurgeId(raw)) => problems
            .check("purge_id", parse_id(raw))
            .map(CancelTarget::Id),
        Some(pb::cancel_purge_request::Target::Scope(scope)) => {
            read_scope(&mut problems, "scope", Some(scope)).map(CancelTarget::Scope)
        }
        None => {
            problems.push(at("target", required()));
            None
        }
    };
    let reason = problems.check("reason", FreeText::reason(&request.reason));
    finish_keyed(problems, request)?;
    Ok((checked(target)?, checked(reason)?))
}

fn scheduled_to(purge: &Purge) -> pb::SchedulePurgeResponse {
    pb::SchedulePurgeResponse {
        purge: Some(convert::purge_to(purge)),
    }
}

fn expedited_to(purge: &Purge) -> pb::ExpeditePurgeResponse {
    pb::ExpeditePurgeResponse {
        purge: Some(convert::purge_to(purge)),
    }
}

fn cancelled_to(purge: &Option<Purge>) -> pb::CancelPurgeResponse {
    pb::CancelPurgeResponse {
        purge: purge.as_ref().map(convert::purge_to),
    }
}

#[tonic::async_trait]
impl PurgeService for PurgeServiceHandler {
    async fn schedule_purge(
        &self,
        request: Request<pb::SchedulePurgeRequest>,
    ) -> Result<Response<pb::SchedulePurgeResponse>, Status> {
        let call = call(&request, path!("SchedulePurge"))?;
        let request = request.into_inner();
        let input = read_schedule(&request, self.app.now())?;
        let encode = |purge: &Purge| scheduled_to(purge).encode_to_vec();
        let answer = self
            .app
            .schedule(&call, input, idempotent(&request, &encode)?)
            .await?;
        Ok(Response::new(reply(answer, scheduled_to)?))
    }

    async fn get_purge(
        &self,
        request: Request<pb::GetPurgeRequest>,
    ) -> Result<Response<pb::GetPurgeResponse>, Status> {
        let call = call(&request, path!("GetPurge"))?;
        let id = read_purge_id(&request.get_ref().purge_id)?;
        let purge = self.app.purge(&call, id).await?;
        Ok(Response::new(pb::GetPurgeResponse {
            purge: Some(convert::purge_to(&purge)),
        }))
    }

    async fn list_purges(
        &self,
        request: Request<pb::ListPurgesRequest>,
    ) -> Result<Response<pb::ListPurgesResponse>, Status> {
        let call = call(&request, path!("ListPurges"))?;
        let (filter, page) = read_list(&call, request.get_ref())?;
        let rows = self
            .app
            .purges(&call, filter, page.request.offset, page.fetch_limit())
            .await?;
        let (rows, next_page_token) = page.of(rows);
        Ok(Response::new(pb::ListPurgesResponse {
            purges: rows.iter().map(convert::purge_to).collect(),
            next_page_token,
        }))
    }

    async fn expedite_purge(
        &self,
        request: Request<pb::ExpeditePurgeRequest>,
    ) -> Result<Response<pb::ExpeditePurgeResponse>, Status> {
        let call = call(&request, path!("ExpeditePurge"))?;
        let request = request.into_inner();
        let (id, ticket, reason) = read_expedite(&request)?;
        let encode = |purge: &Purge| expedited_to(purge).encode_to_vec();
        let answer = self
            .app
            .expedite(&call, id, ticket, reason, idempotent(&request, &encode)?)
            .await?;
        Ok(Response::new(reply(answer, expedited_to)?))
    }

    async fn cancel_purge(
        &self,
        request: Request<pb::CancelPurgeRequest>,
    ) -> Result<Response<pb::CancelPurgeResponse>, Status> {
        let call = call(&request, path!("CancelPurge"))?;
        let request = request.into_inner();
        let (target, reason) = read_cancel(&request)?;
        let encode = |purge: &Option<Purge>| cancelled_to(purge).encode_to_vec();
        let answer = self
            .app
            .cancel(&call, target, reason, idempotent(&request, &encode)?)
            .await?;
        Ok(Response::new(reply(answer, cancelled_to)?))
    }

    async fn plan_purge(
        &self,
        request: Request<pb::PlanPurgeRequest>,
    ) -> Result<Response<pb::PlanPurgeResponse>, Status> {
        let call = call(&request, path!("PlanPurge"))?;
        let id = read_purge_id(&request.get_ref().purge_id)?;
        let plan = self.app.plan(&call, id).await?;
        Ok(Response::new(pb::PlanPurgeResponse {
            plan: Some(pb::PurgePlan {
                purge_id: plan.purge_id.to_string(),
                planned_at: Some(convert::timestamp(plan.planned_at)),
                manifest_hash: plan.manifest_hash,
                entries: plan.entries.iter().map(convert::table_count_to).collect(),
            }),
        }))
    }

    async fn set_legal_hold(
        &self,
        request: Request<pb::SetLegalHoldRequest>,
    ) -> Result<Response<pb::SetLegalHoldResponse>, Status> {
        self.set_hold(request).await
    }

    async fn release_legal_hold(
        &self,
        request: Request<pb::ReleaseLegalHoldRequest>,
    ) -> Result<Response<pb::ReleaseLegalHoldResponse>, Status> {
        self.release_hold(request).await
    }

    async fn list_legal_holds(
        &self,
        request: Request<pb::ListLegalHoldsRequest>,
    ) -> Result<Response<pb::ListLegalHoldsResponse>, Status> {
        self.list_holds(request).await
    }

    async fn get_receipt(
        &self,
        request: Request<pb::GetReceiptRequest>,
    ) -> Result<Response<pb::GetReceiptResponse>, Status> {
        self.receipt(request).await
    }

    async fn list_receipts(
        &self,
        request: Request<pb::ListReceiptsRequest>,
    ) -> Result<Response<pb::ListReceiptsResponse>, Status> {
        self.receipts(request).await
    }

    async fn verify_receipt_chain(
        &self,
        request: Request<pb::VerifyReceiptChainRequest>,
    ) -> Result<Response<pb::VerifyReceiptChainResponse>, Status> {
        self.verify_chain(request).await
    }
}
