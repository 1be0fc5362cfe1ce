//! Legal holds: set and released by operators who also hold the legal-hold permission (G7).

use tenure_domain::{FreeText, Problems, Ticket, parse_id};
use tenure_grpc::paging::Page;
use tenure_proto::purge::v1 as pb;
use uuid::Uuid;

use crate::api::context::{Call, Purges, checked, finish, finish_keyed};
use crate::convert;
use crate::domain::{LegalHold, PurgeError, PurgeEvent, PurgeState};
use crate::store;

use super::{LEGAL_HOLD_PERMISSION, read_scope};

impl Purges {
    pub(super) async fn set_hold(
        &self,
        call: &Call,
        request: pb::SetLegalHoldRequest,
    ) -> Result<pb::SetLegalHoldResponse, PurgeError> {
        call.require(LEGAL_HOLD_PERMISSION)?;
        let mut problems = Problems::new();
        let scope = read_scope(&mut problems, "scope", request.scope.as_ref());
        let reason = problems.check("reason", FreeText::operator_reason(&request.reason));
        let ticket = problems.check("ticket", Ticket::parse(&request.ticket));
        finish_keyed(problems, &request)?;
        let (scope, reason, ticket) = (checked(scope)?, checked(reason)?, checked(ticket)?);
        self.mutate(call, &request, async |tx, now| {
            let hold = LegalHold {
                id: Uuid::new_v4(),
                scope: scope.clone(),
                reason: reason.as_str().to_owned(),
                ticket: ticket.as_str().to_owned(),
                placed_by: call.actor(),
                placed_at: now,
                released_by: None,
                released_at: None,
            };
            store::holds::insert(&**tx, &hold).await?;
            for purge in store::purges::pending_in_tenant(&**tx, scope.tenant).await? {
                if !scope.holds(&purge.scope) {
                    continue;
                }
                if purge.state == PurgeState::Held {
                    // Already held by another hold: remember this one too, for the receipt.
                    let mut after = purge.clone();
                    after.holds.push(hold.id);
                    if !store::purges::save(&**tx, &after, purge.state, purge.claim_epoch, false)
                        .await?
                    {
                        return Err(PurgeError::Concurrent);
                    }
                    continue;
                }
                self.change(
                    tx,
                    call,
                    purge,
                    PurgeEvent::Hold,
                    (Some(reason.as_str()), Some(ticket.as_str())),
                    Some("purge.blocked_by_hold"),
                    now,
                    |purge| purge.holds.push(hold.id),
                )
                .await?;
            }
            tracing::info!(hold_id = %hold.id, "legal hold placed");
            Ok(pb::SetLegalHoldResponse {
                hold: Some(convert::hold_to(&hold)),
            })
        })
        .await
    }

    pub(super) async fn release_hold(
        &self,
        call: &Call,
        request: pb::ReleaseLegalHoldRequest,
    ) -> Result<pb::ReleaseLegalHoldResponse, PurgeError> {
        call.require(LEGAL_HOLD_PERMISSION)?;
        let mut problems = Problems::new();
        let id = problems.check("hold_id", parse_id(&request.hold_id));
        let reason = problems.check("reason", FreeText::operator_reason(&request.reason));
        let ticket = problems.check("ticket", Ticket::parse(&request.ticket));
        finish_keyed(problems, &request)?;
        let (id, reason, ticket) = (checked(id)?, checked(reason)?, checked(ticket)?);
        self.mutate(call, &request, async |tx, now| {
            let hold = store::holds::get(&**tx, id)
                .await?
                .ok_or(PurgeError::NotFound("legal hold"))?;
            if !store::holds::release(
                &**tx,
                id,
                &call.actor(),
                reason.as_str(),
                ticket.as_str(),
                now,
            )
            .await?
            {
                return Err(PurgeError::HoldReleased);
            }
            let still_active = store::holds::active_in_tenant(&**tx, hold.scope.tenant).await?;
            for purge in store::purges::pending_in_tenant(&**tx, hold.scope.tenant).await? {
                let blocked = still_active
                    .iter()
                    .any(|other| other.scope.holds(&purge.scope));
                if purge.state != PurgeState::Held || !hold.scope.holds(&purge.scope) || blocked {
                    continue;
                }
                self.change(
                    tx,
                    call,
                    purge,
                    PurgeEvent::Release,
                    (Some(reason.as_str()), Some(ticket.as_str())),
                    None,
                    now,
                    |_| {},
                )
                .await?;
            }
            let released = store::holds::get(&**tx, id)
                .await?
                .ok_or(PurgeError::NotFound("legal hold"))?;
            tracing::info!(hold_id = %id, "legal hold released");
            Ok(pb::ReleaseLegalHoldResponse {
                hold: Some(convert::hold_to(&released)),
            })
        })
        .await
    }

    pub(super) async fn list_holds(
        &self,
        call: &Call,
        request: pb::ListLegalHoldsRequest,
    ) -> Result<pb::ListLegalHoldsResponse, PurgeError> {
        let mut problems = Problems::new();
        let page = Page::read(
            &mut problems,
            call.method,
            (request.page_size, &request.page_token),
            format!("{}", request.active_only),
        );
        finish(problems, || ())?;
        let page = checked(page)?;
        let rows = store::holds::list(
            self.db.conn(),
            request.active_only,
            page.request.offset,
            page.fetch_limit(),
        )
        .await?;
        let (rows, next_page_token) = page.of(rows);
        Ok(pb::ListLegalHoldsResponse {
            holds: rows.iter().map(convert::hold_to).collect(),
            next_page_token,
        })
    }
}
