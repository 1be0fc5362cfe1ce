//! The use cases: what the service does for a caller, in domain terms. A use case takes validated
//! domain values and returns domain records; it narrows reads and writes to the caller's tenant,
//! checks permissions, owns the transaction and writes through `store/` and the worker's transitions.
//! Nothing here names tonic, prost or the generated protobuf types: the API decodes before a use case
//! and encodes after it.

mod events;
mod holds;
mod participant;
mod purges;
mod receipts;

use chrono::{DateTime, Duration, Utc};
use tenure_db::idempotency::{self, IdempotencyScope};
use tenure_db::{Db, TenantTx};
use tenure_domain::{Caller, CallerRole, SharedClock};
use uuid::Uuid;

use crate::domain::{Actor, PurgeError};
use crate::own_data::OwnRecords;
use crate::purge_worker::PurgeWorker;
use crate::settings::ScheduleSettings;
use crate::store;

pub(crate) use purges::{CancelTarget, SchedulePurge};

/// How long a client's key is remembered (quality.md §3.1 asks for at least 24 hours).
const CLIENT_KEY_TTL_DAYS: i64 = 7;

/// How long a service's key is remembered: longer than any saga that schedules or cancels a purge.
const SERVICE_KEY_TTL_DAYS: i64 = 180;

/// The service's shared state.
#[derive(Clone)]
pub(crate) struct PurgeApp {
    pub(crate) db: Db,
    pub(crate) clock: SharedClock,
    pub(crate) worker: PurgeWorker,
    pub(crate) schedule: ScheduleSettings,
    /// The service's own records, which it declares and counts like every other data owner.
    pub(crate) records: OwnRecords,
}

impl std::fmt::Debug for PurgeApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PurgeApp").finish_non_exhaustive()
    }
}

/// One authenticated call.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub(crate) caller: Caller,
    /// The full gRPC path, which scopes idempotency keys and page tokens.
    pub(crate) method: &'static str,
}

impl Call {
    /// The tenant a call is narrowed to: a customer's own, the one a service acts for (its
    /// `x-tenure-tenant`, quality.md §1.4), nobody's for the cross-tenant roles.
    pub(crate) fn reach(&self) -> Result<Option<Uuid>, PurgeError> {
        match self.caller.role {
            CallerRole::Customer => self
                .caller
                .tenant
                .map(Some)
                .ok_or(PurgeError::ForeignTenant),
            CallerRole::Service => Ok(self.caller.tenant),
            _ => Ok(None),
        }
    }

    /// Narrows an optional tenant filter from a request: customers, and services acting for a
    /// tenant, may only name their own.
    pub(crate) fn tenant_filter(&self, asked: Option<Uuid>) -> Result<Option<Uuid>, PurgeError> {
        match (self.reach()?, asked) {
            (Some(own), Some(asked)) if asked != own => Err(PurgeError::ForeignTenant),
            (Some(own), _) => Ok(Some(own)),
            (None, asked) => Ok(asked),
        }
    }

    pub(crate) fn actor(&self) -> Actor {
        Actor {
            subject: self.caller.subject.clone(),
            role: self.caller.role,
        }
    }

    /// Refuses a caller without `permission` (legal holds).
    pub(crate) fn require(&self, permission: &'static str) -> Result<(), PurgeError> {
        if self.caller.has_permission(permission) {
            Ok(())
        } else {
            Err(PurgeError::MissingPermission(permission))
        }
    }
}

pub(crate) use tenure_db::idempotency::{Answer, Idempotent};

impl PurgeApp {
    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Runs a mutating `effect` exactly once per idempotency key, in one transaction with the claim
    /// of the key, so both commit or neither does. A replay answers with the stored response; the
    /// same key with another request is refused. Failures store nothing, so a retry is evaluated
    /// afresh. After a commit that wrote stream events, open streams are woken.
    pub(crate) async fn mutate<T>(
        &self,
        call: &Call,
        idempotent: Idempotent<'_, T>,
        effect: impl AsyncFnOnce(&TenantTx, DateTime<Utc>) -> Result<T, PurgeError>,
    ) -> Result<Answer<T>, PurgeError> {
        let now = self.now();
        let scope = IdempotencyScope {
            tenant_id: call
                .caller
                .tenant
                .map(|tenant| tenant.to_string())
                .unwrap_or_default(),
            method: call.method.to_owned(),
            key: idempotent.key.as_str().to_owned(),
            caller: call.caller.subject.clone(),
        };
        let ttl = match call.caller.role {
            CallerRole::Service => Duration::days(SERVICE_KEY_TTL_DAYS),
            _ => Duration::days(CLIENT_KEY_TTL_DAYS),
        };
        let tx = store::begin(&self.db).await?;
        if let Some(stored) = idempotency::claim(&*tx, &scope, &idempotent.request_hash, now, ttl)
            .await?
            .into_replay()?
        {
            return Ok(Answer::Replay(stored));
        }
        let value = effect(&tx, now).await?;
        idempotency::complete(&*tx, &scope, 0, &(idempotent.encode)(&value)).await?;
        tx.commit().await?;
        self.worker.events_written.notify_waiters();
        Ok(Answer::Fresh(value))
    }
}
