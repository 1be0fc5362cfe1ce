//! What every handler shares: the database, the clock, the engine, and the two shapes a call takes. A
//! read narrows to the caller's tenant; a mutation also claims its idempotency key and performs its
//! effect in the same transaction, so both commit or neither does.

use chrono::{DateTime, Duration, Utc};
use tenure_db::idempotency::{self, IdempotencyScope};
use tenure_db::{Db, TenantTx};
use tenure_domain::{Caller, CallerRole, SharedClock};
use tenure_proto::Keyed;
use tonic::{Request, Status};
use uuid::Uuid;

use crate::domain::{Actor, PurgeError};
use crate::purge_worker::PurgeWorker;
use crate::settings::ScheduleSettings;
use crate::store;

/// How long a client's key is remembered (quality.md §3.1 asks for at least 24 hours).
const CLIENT_KEY_TTL_DAYS: i64 = 7;

/// How long a service's key is remembered: longer than any saga that schedules or cancels a purge.
const SERVICE_KEY_TTL_DAYS: i64 = 180;

/// The service's shared state.
#[derive(Clone)]
pub(crate) struct Purges {
    pub(crate) db: Db,
    pub(crate) clock: SharedClock,
    pub(crate) engine: PurgeWorker,
    pub(crate) schedule: ScheduleSettings,
}

impl std::fmt::Debug for Purges {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Purges").finish_non_exhaustive()
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

impl Purges {
    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// The authenticated principal of `request` for `method` (`/pkg.Service/Method`).
    pub(crate) fn call<T>(
        &self,
        request: &Request<T>,
        method: &'static str,
    ) -> Result<Call, Status> {
        Ok(Call {
            caller: tenure_grpc::principal_from(request)?.caller(),
            method,
        })
    }

    /// Runs a mutating `effect` exactly once per idempotency key. A replay answers with the stored
    /// response; the same key with another request is refused. Failures store nothing, so a retry is
    /// evaluated afresh. After a commit that wrote stream events, open streams are woken.
    pub(crate) async fn mutate<Q, R>(
        &self,
        call: &Call,
        request: &Q,
        effect: impl AsyncFnOnce(&TenantTx, DateTime<Utc>) -> Result<R, PurgeError>,
    ) -> Result<R, PurgeError>
    where
        Q: Keyed,
        R: prost::Message + Default,
    {
        let key = key_of(request)?;
        let now = self.now();
        let scope = IdempotencyScope {
            tenant_id: call
                .caller
                .tenant
                .map(|tenant| tenant.to_string())
                .unwrap_or_default(),
            method: call.method.to_owned(),
            key: key.as_str().to_owned(),
            caller: call.caller.subject.clone(),
        };
        let ttl = match call.caller.role {
            CallerRole::Service => Duration::days(SERVICE_KEY_TTL_DAYS),
            _ => Duration::days(CLIENT_KEY_TTL_DAYS),
        };
        let hash = idempotency::request_hash(&request.canonical());
        let tx = store::begin(&self.db).await?;
        if let Some(stored) = idempotency::claim(&*tx, &scope, &hash, now, ttl)
            .await?
            .into_replay()?
        {
            return R::decode(stored.as_slice())
                .map_err(|error| PurgeError::Internal(Box::new(error)));
        }
        let response = effect(&tx, now).await?;
        idempotency::complete(&*tx, &scope, 0, &response.encode_to_vec()).await?;
        tx.commit().await?;
        self.engine.events_written.notify_waiters();
        Ok(response)
    }
}

tenure_grpc::request_checks!(PurgeError);
