//! Legal holds: set and released by operators who also hold the legal-hold permission (G7).

use prost::Message as _;
use tenure_domain::{FreeText, Problems, Ticket, parse_id};
use tenure_grpc::paging::Page;
use tenure_proto::purge::v1 as pb;
use tonic::{Request, Response, Status};

use crate::api::context::{call, checked, finish, finish_keyed, idempotent, reply};
use crate::convert;
use crate::domain::LegalHold;

use super::{PurgeServiceHandler, read_scope};

fn placed_to(hold: &LegalHold) -> pb::SetLegalHoldResponse {
    pb::SetLegalHoldResponse {
        hold: Some(convert::hold_to(hold)),
    }
}

fn released_to(hold: &LegalHold) -> pb::ReleaseLegalHoldResponse {
    pb::ReleaseLegalHoldResponse {
        hold: Some(convert::hold_to(hold)),
    }
}

impl PurgeServiceHandler {
    pub(super) async fn set_hold(
        &self,
        request: Request<pb::SetLegalHoldRequest>,
    ) -> Result<Response<pb::SetLegalHoldResponse>, Status> {
        let call = call(&request, path!("SetLegalHold"))?;
        call.may_hold()?;
        let request = request.into_inner();
        let mut problems = Problems::new();
        let scope = read_scope(&mut problems, "scope", request.scope.as_ref());
        let reason = problems.check("reason", FreeText::operator_reason(&request.reason));
        let ticket = problems.check("ticket", Ticket::parse(&request.ticket));
        finish_keyed(problems, &request)?;
        let (scope, reason, ticket) = (checked(scope)?, checked(reason)?, checked(ticket)?);
        let encode = |hold: &LegalHold| placed_to(hold).encode_to_vec();
        let answer = self
            .app
            .set_hold(&call, scope, reason, ticket, idempotent(&request, &encode)?)
            .await?;
        Ok(Response::new(reply(answer, placed_to)?))
    }

    pub(super) async fn release_hold(
        &self,
        request: Request<pb::ReleaseLegalHoldRequest>,
    ) -> Result<Response<pb::ReleaseLegalHoldResponse>, Status> {
        let call = call(&request, path!("ReleaseLegalHold"))?;
        call.may_hold()?;
        let request = request.into_inner();
        let mut problems = Problems::new();
        let id = problems.check("hold_id", parse_id(&request.hold_id));
        let reason = problems.check("reason", FreeText::operator_reason(&request.reason));
        let ticket = problems.check("ticket", Ticket::parse(&request.ticket));
        finish_keyed(problems, &request)?;
        let (id, reason, ticket) = (checked(id)?, checked(reason)?, checked(ticket)?);
        let encode = |hold: &LegalHold| released_to(hold).encode_to_vec();
        let answer = self
            .app
            .release_hold(&call, id, reason, ticket, idempotent(&request, &encode)?)
            .await?;
        Ok(Response::new(reply(answer, released_to)?))
    }

    pub(super) async fn list_holds(
        &self,
        request: Request<pb::ListLegalHoldsRequest>,
    ) -> Result<Response<pb::ListLegalHoldsResponse>, Status> {
        let call = call(&request, path!("ListLegalHolds"))?;
        let request = request.into_inner();
        let mut problems = Problems::new();
        let page = Page::of_request(
            &mut problems,
            call.method,
            &request,
            format!("{}", request.active_only),
        );
        finish(problems, || ())?;
        let page = checked(page)?;
        let rows = self
            .app
            .holds(request.active_only, page.request.offset, page.fetch_limit())
            .await?;
        let (rows, next_page_token) = page.of(rows);
        Ok(Response::new(pb::ListLegalHoldsResponse {
            holds: rows.iter().map(convert::hold_to).collect(),
            next_page_token,
        }))
    }
}
