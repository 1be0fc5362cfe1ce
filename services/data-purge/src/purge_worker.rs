//! The purge worker: fires due purges, plans them across every data owner, fans the execution out with
//! one idempotency key per purge and owner, verifies that nothing is left, and seals the receipt.
//!
//! Every step is safe to repeat. A worker claims a purge for a lease (real time) with a fencing epoch;
//! all its writes present that epoch, so a worker that stalled past its lease cannot overwrite the one
//! that took over. The plan is stored before the first deletion, and owners answer a repeated
//! `Execute` with their first counts, so a purge killed half-way and run again completes with the
//! same receipt.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use tenure_db::Db;
use tenure_domain::SharedClock;
use uuid::Uuid;

use crate::clients::{ParticipantCall, Participants};
use crate::domain::{
    Actor, ChainLink, DataClass, Purge, PurgeAction, PurgeError, PurgeEvent, PurgeState,
    PurgeStreamEvent, ReceiptBody, ReceiptEntry, ReceiptSigner, StoredReceipt, TableCount,
    Transition, chain_hash, manifest_hash,
};
use crate::metrics::PurgeGauges;
use crate::settings::WorkerSettings;
use crate::store;

/// What one pass of the worker did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Pass {
    pub(crate) fell_due: usize,
    pub(crate) completed: usize,
    pub(crate) unfinished: usize,
}

/// The purge worker and the plan every operator's dry run shares with it.
#[derive(Clone)]
pub(crate) struct PurgeWorker {
    pub(crate) db: Db,
    /// Business time: due times and deadlines.
    pub(crate) clock: SharedClock,
    /// Real time: claims and leases, which measure whether a worker is alive.
    pub(crate) lease_clock: SharedClock,
    pub(crate) settings: WorkerSettings,
    pub(crate) owners: Participants,
    pub(crate) signer: Arc<ReceiptSigner>,
    pub(crate) gauges: PurgeGauges,
    /// Woken after every commit that appends an event, so open streams deliver at once.
    pub(crate) events_written: Arc<tokio::sync::Notify>,
}

impl std::fmt::Debug for PurgeWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PurgeWorker")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// The idempotency key of one purge's execution at one data owner: the same on every attempt.
pub(crate) fn execution_key(purge: Uuid, service: &str) -> String {
    format!("purge-{}-{service}", purge.simple())
}

/// An event for the stream about `purge`, stamped with the current trace.
pub(crate) fn stream_event(
    purge: &Purge,
    event_type: &'static str,
    now: DateTime<Utc>,
) -> PurgeStreamEvent {
    PurgeStreamEvent {
        position: 0,
        event_id: Uuid::new_v4(),
        purge_id: purge.id,
        tenant_id: purge.scope.tenant,
        event_type,
        effective_at: now,
        recorded_at: now,
        scope_kind: purge.scope.kind(),
        aws_account_id: purge.scope.account.clone(),
        classes: purge.classes.clone(),
        due_at: Some(purge.due_at),
        receipt_id: purge.receipt_id,
        traceparent: tenure_telemetry::current_traceparent(),
    }
}

/// One state change to write: what happened, who did it, why, and what the stream hears of it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Change<'a> {
    pub(crate) event: PurgeEvent,
    pub(crate) actor: &'a Actor,
    /// The reason and the ticket given, if any.
    pub(crate) why: (Option<&'a str>, Option<&'a str>),
    /// The stream event to append, if the change is announced.
    pub(crate) stream: Option<&'static str>,
    pub(crate) now: DateTime<Utc>,
    /// Whether the worker lets its claim go with this write.
    pub(crate) release_claim: bool,
}

impl<'a> Change<'a> {
    /// A change made by `actor`, not announced on the stream.
    pub(crate) fn by(event: PurgeEvent, actor: &'a Actor, now: DateTime<Utc>) -> Self {
        Self {
            event,
            actor,
            why: (None, None),
            stream: None,
            now,
            release_claim: false,
        }
    }
}

/// Writes a state change: the row (if nobody changed it since it was read), the audit transition and,
/// when given, the stream event, all in `conn`'s transaction.
pub(crate) async fn write_transition(
    conn: &impl sea_orm::ConnectionTrait,
    before: &Purge,
    after: &Purge,
    change: Change<'_>,
) -> Result<(), PurgeError> {
    if !store::purges::save(
        conn,
        after,
        before.state,
        before.claim_epoch,
        change.release_claim,
    )
    .await?
    {
        return Err(PurgeError::Concurrent);
    }
    store::purges::record_transition(
        conn,
        after,
        &Transition {
            from: Some(before.state),
            to: after.state,
            event: change.event.as_str(),
            actor: change.actor,
            reason: change.why.0,
            ticket: change.why.1,
        },
        tenure_telemetry::current_trace_id(),
        change.now,
    )
    .await?;
    if let Some(event_type) = change.stream {
        store::events::append(conn, &stream_event(after, event_type, change.now)).await?;
    }
    Ok(())
}

impl PurgeWorker {
    fn lease_until(&self) -> DateTime<Utc> {
        let lease = i64::try_from(self.settings.lease_secs).unwrap_or(60);
        self.lease_clock.now() + Duration::seconds(lease)
    }

    /// Asks every data owner what `purge` would delete, pseudonymise or keep.
    pub(crate) async fn plan(&self, purge: &Purge) -> Result<Vec<TableCount>, PurgeError> {
        let call = ParticipantCall {
            purge_id: purge.id,
            scope: &purge.scope,
            classes: &purge.classes,
        };
        let mut entries = Vec::new();
        for owner in self.owners.iter() {
            entries.extend(owner.plan(call).await?);
        }
        Ok(entries)
    }

    /// One pass: scheduled purges whose time has come fall due, then due and unfinished purges run.
    pub(crate) async fn run_pass(&self) -> Result<Pass, PurgeError> {
        let mut pass = Pass::default();
        let now = self.clock.now();
        let worker = Actor::worker();
        for purge in store::purges::fallen_due(self.db.conn(), now, self.settings.batch).await? {
            let tx = store::begin(&self.db).await?;
            let after = Purge {
                state: purge.state.after(PurgeEvent::FallDue, purge.started())?,
                ..purge.clone()
            };
            let written = write_transition(
                &*tx,
                &purge,
                &after,
                Change::by(PurgeEvent::FallDue, &worker, now),
            )
            .await;
            match written {
                Ok(()) => {
                    tx.commit().await?;
                    pass.fell_due += 1;
                }
                // A hold or a cancel got there first; the purge is no longer scheduled.
                Err(PurgeError::Concurrent) => tx.rollback().await?,
                Err(error) => return Err(error),
            }
        }
        let real_now = self.lease_clock.now();
        for id in store::purges::claimable(self.db.conn(), real_now, self.settings.batch).await? {
            let Some(purge) =
                store::purges::claim(self.db.conn(), id, real_now, self.lease_until()).await?
            else {
                continue;
            };
            let epoch = purge.claim_epoch;
            match self.execute(purge).await {
                Ok(true) => pass.completed += 1,
                Ok(false) => pass.unfinished += 1,
                Err(error) => {
                    pass.unfinished += 1;
                    tracing::warn!(purge_id = %id, error = %error, "purge attempt stopped; it runs again on a later pass");
                    store::purges::release(self.db.conn(), id, epoch, &attempt_error(&error), 0)
                        .await?;
                }
            }
        }
        self.refresh_gauges().await?;
        Ok(pass)
    }

    /// Sets `purge_overdue` and `purge_residual_rows` from the database.
    pub(crate) async fn refresh_gauges(&self) -> Result<(), PurgeError> {
        let overdue = store::purges::overdue(self.db.conn(), self.clock.now()).await?;
        let residual = store::purges::residual_rows(self.db.conn()).await?;
        self.gauges.set(overdue, residual);
        Ok(())
    }

    /// Runs a claimed purge as far as it goes: true when it completed.
    async fn execute(&self, mut purge: Purge) -> Result<bool, PurgeError> {
        let now = self.clock.now();
        if purge.state == PurgeState::Due {
            // The plan is made once, before the first deletion, and kept: a resumed purge follows
            // the plan it started with, so its receipt compares against what was promised.
            let plan = match &purge.plan {
                Some(plan) => plan.clone(),
                None => self.plan(&purge).await?,
            };
            let after = Purge {
                state: purge.state.after(PurgeEvent::Start, purge.started())?,
                started_at: purge.started_at.or(Some(now)),
                manifest_hash: Some(manifest_hash(&plan)),
                plan: Some(plan),
                last_error: None,
                ..purge.clone()
            };
            let tx = store::begin(&self.db).await?;
            write_transition(
                &*tx,
                &purge,
                &after,
                Change::by(PurgeEvent::Start, &Actor::worker(), now),
            )
            .await?;
            tx.commit().await?;
            purge = after;
        }
        let call = ParticipantCall {
            purge_id: purge.id,
            scope: &purge.scope,
            classes: &purge.classes,
        };
        let mut executed = Vec::new();
        for owner in self.owners.iter() {
            // Between owners the worker checks that it still holds the purge and that no hold
            // arrived: a hold stops a running purge at the next owner.
            if !store::purges::renew(
                self.db.conn(),
                purge.id,
                purge.claim_epoch,
                self.lease_until(),
            )
            .await?
            {
                return Err(PurgeError::Concurrent);
            }
            match store::purges::get(self.db.conn(), purge.id, None).await? {
                Some(current) if current.state == PurgeState::Running => {}
                _ => {
                    store::purges::release(
                        self.db.conn(),
                        purge.id,
                        purge.claim_epoch,
                        "a legal hold stopped the purge between data owners",
                        0,
                    )
                    .await?;
                    return Ok(false);
                }
            }
            executed.extend(
                owner
                    .execute(call, &execution_key(purge.id, owner.service()))
                    .await?,
            );
        }
        let mut residual = 0u64;
        for owner in self.owners.iter() {
            residual += owner
                .verify(call)
                .await?
                .iter()
                .map(|count| count.rows)
                .sum::<u64>();
        }
        if residual > 0 {
            tracing::error!(purge_id = %purge.id, residual, "rows remain after the purge executed");
            store::purges::release(
                self.db.conn(),
                purge.id,
                purge.claim_epoch,
                "residual rows remain after execution",
                residual,
            )
            .await?;
            return Ok(false);
        }
        self.complete(&purge, &executed).await?;
        Ok(true)
    }

    /// Seals the receipt, completes the purge and announces `data.erased`, in one transaction.
    async fn complete(&self, purge: &Purge, executed: &[TableCount]) -> Result<(), PurgeError> {
        let now = self.clock.now();
        let worker = Actor::worker();
        let receipt_id = Uuid::new_v4();
        let after = Purge {
            state: purge.state.after(PurgeEvent::Complete, purge.started())?,
            completed_at: Some(now),
            receipt_id: Some(receipt_id),
            residual_rows: 0,
            last_error: None,
            ..purge.clone()
        };
        let tx = store::begin(&self.db).await?;
        let previous = store::receipts::chain_head(&*tx).await?;
        let body = ReceiptBody {
            id: receipt_id,
            purge_id: purge.id,
            sequence: previous.sequence + 1,
            scope_kind: purge.scope.kind(),
            tenant_id: purge.scope.tenant,
            account_key_hash: purge
                .scope
                .account
                .as_ref()
                .map(|account| self.signer.account_key_hash(account))
                .unwrap_or_default(),
            requested_at: purge.requested_at,
            due_at: purge.due_at,
            started_at: purge.started_at.unwrap_or(now),
            completed_at: now,
            entries: receipt_entries(purge.plan.as_deref().unwrap_or_default(), executed),
            manifest_hash: purge.manifest_hash.clone().unwrap_or_default(),
            residual_rows: 0,
            holds: purge.holds.clone(),
        };
        let stored = self.seal(&previous, &body)?;
        store::receipts::register_key(
            &*tx,
            self.signer.key_id(),
            &self.signer.public_key_hex(),
            now,
        )
        .await?;
        store::receipts::append(&*tx, &previous, &body, &stored).await?;
        write_transition(
            &*tx,
            purge,
            &after,
            Change {
                stream: Some("data.erased"),
                release_claim: true,
                ..Change::by(PurgeEvent::Complete, &worker, now)
            },
        )
        .await?;
        tx.commit().await?;
        self.events_written.notify_waiters();
        tracing::info!(purge_id = %purge.id, receipt_id = %receipt_id, "purge completed");
        Ok(())
    }

    fn seal(&self, previous: &ChainLink, body: &ReceiptBody) -> Result<StoredReceipt, PurgeError> {
        let canonical_body = body.canonical()?;
        let hash = chain_hash(&previous.hash, &canonical_body);
        Ok(StoredReceipt {
            signature: self.signer.sign(&hash),
            key_id: self.signer.key_id().to_owned(),
            previous_hash: previous.hash.clone(),
            hash,
            canonical_body,
        })
    }
}

/// Why an attempt stopped, in fixed words (a peer's message could echo data).
fn attempt_error(error: &PurgeError) -> String {
    match error {
        PurgeError::OwnerFailed { .. } => error.to_string(),
        PurgeError::Unavailable(_) => "a data owner or the database was unavailable".to_owned(),
        PurgeError::Concurrent => "another worker or a hold changed the purge".to_owned(),
        _ => "internal error".to_owned(),
    }
}

/// The receipt's lines: per owner, class and action, what the plan listed and what execution did.
fn receipt_entries(plan: &[TableCount], executed: &[TableCount]) -> Vec<ReceiptEntry> {
    let mut lines: BTreeMap<(String, DataClass, PurgeAction), (u64, u64)> = BTreeMap::new();
    let acted = |entry: &&TableCount| entry.action != PurgeAction::Keep;
    for entry in plan.iter().filter(acted) {
        let line = lines
            .entry((entry.service.clone(), entry.data_class, entry.action))
            .or_default();
        line.0 += entry.rows;
    }
    for entry in executed.iter().filter(acted) {
        let line = lines
            .entry((entry.service.clone(), entry.data_class, entry.action))
            .or_default();
        line.1 += entry.rows;
    }
    lines
        .into_iter()
        .map(
            |((service, data_class, action), (planned_rows, affected_rows))| ReceiptEntry {
                service,
                data_class,
                action,
                planned_rows,
                affected_rows,
            },
        )
        .collect()
}
