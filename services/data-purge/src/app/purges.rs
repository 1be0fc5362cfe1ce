//! Purge requests: scheduled by the services that remove a customer or an account, read by their
//! tenant, expedited by operators, cancelled while nothing was deleted yet, and planned on demand.

use chrono::{DateTime, Utc};
use tenure_db::TenantTx;
use tenure_domain::{FreeText, Ticket};
use uuid::Uuid;

use crate::app::{Answer, Call, Idempotent, PurgeApp};
use crate::domain::{
    Purge, PurgeError, PurgeEvent, PurgeFilter, PurgeReason, PurgeState, Schedule, Scope,
    TableCount, Transition, manifest_hash, policy_classes,
};
use crate::purge_worker::{Change, stream_event, write_transition};
use crate::store;

/// A purge to schedule, as the API read it.
#[derive(Debug, Clone)]
pub(crate) struct SchedulePurge {
    pub(crate) scope: Scope,
    pub(crate) reason: PurgeReason,
    pub(crate) triggered_at: DateTime<Utc>,
    pub(crate) ticket: Option<Ticket>,
    /// When the request was read: the instant its trigger was checked against, from which a support
    /// request falls due.
    pub(crate) read_at: DateTime<Utc>,
}

/// Which purge a cancel names.
#[derive(Debug, Clone)]
pub(crate) enum CancelTarget {
    Id(Uuid),
    /// The subject's pending purge, if it has one.
    Scope(Scope),
}

/// What a purge would do if it ran now, owner by owner.
#[derive(Debug, Clone)]
pub(crate) struct PurgePlan {
    pub(crate) purge_id: Uuid,
    pub(crate) planned_at: DateTime<Utc>,
    pub(crate) manifest_hash: String,
    pub(crate) entries: Vec<TableCount>,
}

impl PurgeApp {
    /// Schedules a purge of `input.scope`, or answers with the one already pending for it. Under an
    /// active legal hold it starts held.
    pub(crate) async fn schedule(
        &self,
        call: &Call,
        input: SchedulePurge,
        idempotent: Idempotent<'_, Purge>,
    ) -> Result<Answer<Purge>, PurgeError> {
        let SchedulePurge {
            scope,
            reason,
            triggered_at,
            ticket,
            read_at,
        } = input;
        let ticket = ticket.map(|ticket| ticket.as_str().to_owned());
        // A service acting for one tenant schedules that tenant's purges only.
        call.tenant_filter(Some(scope.tenant))?;
        let schedule = Schedule::of(&self.schedule, scope.kind(), reason, triggered_at, read_at);
        self.mutate(call, idempotent, async |tx, now| {
            if let Some(pending) = store::purges::pending_for(&**tx, &scope).await? {
                return Ok(pending);
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
                &Transition {
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
            store::events::append(&**tx, &stream_event(&purge, "purge.scheduled", now)).await?;
            if purge.state == PurgeState::Held {
                store::events::append(&**tx, &stream_event(&purge, "purge.blocked_by_hold", now))
                    .await?;
            }
            tracing::info!(purge_id = %purge.id, scope = purge.scope.kind().as_str(), "purge scheduled");
            Ok(purge)
        })
        .await
    }

    /// The purge `id`, if the caller may see it; another tenant's answers like a missing one.
    pub(crate) async fn purge(&self, call: &Call, id: Uuid) -> Result<Purge, PurgeError> {
        store::purges::get(self.db.conn(), id, call.reach()?)
            .await?
            .ok_or(PurgeError::NotFound("purge"))
    }

    /// Up to `limit` purges from `offset`, oldest first, narrowed to the caller's tenant.
    pub(crate) async fn purges(
        &self,
        call: &Call,
        filter: PurgeFilter,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<Purge>, PurgeError> {
        let filter = PurgeFilter {
            tenant: call.tenant_filter(filter.tenant)?,
            ..filter
        };
        store::purges::list(self.db.conn(), &filter, offset, limit).await
    }

    /// Applies `event` to the purge `id` as `call`'s actor, in the mutation's transaction.
    #[allow(
        clippy::too_many_arguments,
        reason = "each is one fact of the transition"
    )]
    pub(super) async fn change(
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

    /// Makes a scheduled purge due now, on an operator's ticket. Only a purge that would otherwise
    /// fall due later can be expedited.
    pub(crate) async fn expedite(
        &self,
        call: &Call,
        id: Uuid,
        ticket: Ticket,
        reason: FreeText,
        idempotent: Idempotent<'_, Purge>,
    ) -> Result<Answer<Purge>, PurgeError> {
        self.mutate(call, idempotent, async |tx, now| {
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
            Ok(after)
        })
        .await
    }

    /// Cancels the purge `target` names. Nothing pending for a scope answers `None`; a purge already
    /// cancelled answers as it stands.
    pub(crate) async fn cancel(
        &self,
        call: &Call,
        target: CancelTarget,
        reason: FreeText,
        idempotent: Idempotent<'_, Option<Purge>>,
    ) -> Result<Answer<Option<Purge>>, PurgeError> {
        // A service acting for one tenant cancels that tenant's purges only; another tenant's id
        // answers like a missing one.
        let reach = call.reach()?;
        if let CancelTarget::Scope(scope) = &target {
            call.tenant_filter(Some(scope.tenant))?;
        }
        self.mutate(call, idempotent, async |tx, now| {
            let purge = match &target {
                CancelTarget::Id(id) => Some(
                    store::purges::get(&**tx, *id, reach)
                        .await?
                        .ok_or(PurgeError::NotFound("purge"))?,
                ),
                CancelTarget::Scope(scope) => store::purges::pending_for(&**tx, scope).await?,
            };
            let Some(purge) = purge else {
                return Ok(None);
            };
            if purge.state == PurgeState::Cancelled {
                return Ok(Some(purge));
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
            Ok(Some(after))
        })
        .await
    }

    /// Asks every data owner what the purge `id` would do if it ran now.
    pub(crate) async fn plan(&self, call: &Call, id: Uuid) -> Result<PurgePlan, PurgeError> {
        let purge = self.purge(call, id).await?;
        let entries = self.worker.plan(&purge).await?;
        Ok(PurgePlan {
            purge_id: purge.id,
            planned_at: self.now(),
            manifest_hash: manifest_hash(&entries),
            entries,
        })
    }
}
