//! Legal holds: set and released by operators who also hold the legal-hold permission (G7).

use tenure_domain::{FreeText, Ticket};
use uuid::Uuid;

use crate::app::{Answer, Call, Idempotent, PurgeApp};
use crate::domain::{LegalHold, PurgeError, PurgeEvent, PurgeState, Scope};
use crate::store;

/// The permission that setting or releasing a legal hold needs besides the operator role (G7).
const LEGAL_HOLD_PERMISSION: &str = "legal_hold";

impl Call {
    /// Refuses a caller who may not set or release legal holds. The API asks before it reads the
    /// request, so that such a caller learns nothing about its fields.
    pub(crate) fn may_hold(&self) -> Result<(), PurgeError> {
        self.require(LEGAL_HOLD_PERMISSION)
    }
}

impl PurgeApp {
    /// Places a hold on `scope`: every pending purge it covers stops where it stands until released.
    pub(crate) async fn set_hold(
        &self,
        call: &Call,
        scope: Scope,
        reason: FreeText,
        ticket: Ticket,
        idempotent: Idempotent<'_, LegalHold>,
    ) -> Result<Answer<LegalHold>, PurgeError> {
        call.may_hold()?;
        self.mutate(call, idempotent, async |tx, now| {
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
            Ok(hold)
        })
        .await
    }

    /// Releases the hold `id`; the purges no other active hold covers resume.
    pub(crate) async fn release_hold(
        &self,
        call: &Call,
        id: Uuid,
        reason: FreeText,
        ticket: Ticket,
        idempotent: Idempotent<'_, LegalHold>,
    ) -> Result<Answer<LegalHold>, PurgeError> {
        call.may_hold()?;
        self.mutate(call, idempotent, async |tx, now| {
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
            Ok(released)
        })
        .await
    }

    /// Up to `limit` holds from `offset`, only the active ones if asked.
    pub(crate) async fn holds(
        &self,
        active_only: bool,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<LegalHold>, PurgeError> {
        store::holds::list(self.db.conn(), active_only, offset, limit).await
    }
}
