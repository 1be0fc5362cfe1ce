//! The use cases: what the service does for a caller, in domain terms. A use case takes validated
//! domain values and returns domain records; it narrows reads and writes to the caller's reach, asks
//! the peers what it depends on, owns the transaction and writes through `store/`. Nothing here names
//! tonic, prost or the generated protobuf types: the API decodes before a use case and encodes after
//! it.

mod event_stream;
mod participant;
mod placing;
mod reading;
mod saga_admin;
mod steering;
mod tasks;

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use tenure_db::idempotency::{self, IdempotencyScope, RecordSubject};
use tenure_db::{Db, TenantTx};
use tenure_domain::{Caller, CallerRole, IdempotencyKey, SharedClock};
use uuid::Uuid;

use crate::clients::Peers;
use crate::domain::OrdersError;
use crate::domain::data_class::order_subject;
use crate::domain::records::{OrderRecord, Reach};
use crate::domain::saga::definition::{Definition, Registry};
use crate::saga_runtime::SagaRuntime;
use crate::settings::OrdersSettings;
use crate::store;

pub(crate) use event_stream::{StreamRequest, StreamStart};
pub(crate) use placing::{PlaceOrder, lock_refusal};
pub(crate) use saga_admin::{Justification, SagaCommand, SagaHistory, SagaLookup, SagaQuery};
pub(crate) use steering::CustomerAnswer;
pub(crate) use tasks::{ResolveTask, append_events, audit_row, operator_event, owned_by};

/// The definition an order runs.
pub(crate) fn definition_of(
    registry: &Registry,
    record: &OrderRecord,
) -> Result<Arc<Definition>, OrdersError> {
    registry
        .get(record.saga.kind, record.saga.version)
        .ok_or(OrdersError::internal(
            "an order runs a definition this replica lacks",
        ))
}

/// How long a client's key is remembered (quality.md §3.1 asks for at least 24 hours).
const CLIENT_KEY_TTL_DAYS: i64 = 7;

/// The service's shared state.
#[derive(Clone)]
pub(crate) struct Orders {
    pub(crate) db: Db,
    pub(crate) engine: SagaRuntime,
    pub(crate) registry: Arc<Registry>,
    pub(crate) clock: SharedClock,
    /// `None` when the service runs alone: orders are then refused.
    pub(crate) peers: Option<Peers>,
    pub(crate) settings: Arc<OrdersSettings>,
}

impl std::fmt::Debug for Orders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Orders").finish_non_exhaustive()
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
    /// What the caller may see: a customer's own tenant; every tenant for operators and billing.
    pub(crate) fn reach(&self) -> Result<Reach, OrdersError> {
        match self.caller.role {
            CallerRole::Customer | CallerRole::Service => self
                .caller
                .tenant
                .map(Reach::Tenant)
                .ok_or(OrdersError::ForeignTenant),
            CallerRole::Operator | CallerRole::Billing => Ok(Reach::AllTenants),
        }
    }

    /// Narrows an optional tenant filter from a request: customers may only name their own tenant.
    pub(crate) fn tenant_filter(&self, asked: Option<Uuid>) -> Result<Option<Uuid>, OrdersError> {
        match (self.reach()?, asked) {
            (Reach::Tenant(own), Some(asked)) if asked != own => Err(OrdersError::ForeignTenant),
            (Reach::Tenant(own), _) => Ok(Some(own)),
            (Reach::AllTenants, asked) => Ok(asked),
        }
    }

    /// The caller's tenant, for calls only customers make.
    pub(crate) fn tenant(&self) -> Result<Uuid, OrdersError> {
        match self.reach()? {
            Reach::Tenant(tenant) => Ok(tenant),
            Reach::AllTenants => Err(OrdersError::ForeignTenant),
        }
    }

    /// The short method name, as the audit trail records it.
    pub(crate) fn action(&self) -> &'static str {
        self.method.rsplit('/').next().unwrap_or(self.method)
    }
}

/// The shared [`tenure_db::idempotency::Idempotent`], but with an encoder that may fail: an order
/// whose saga definition this replica lacks has no view, and then nothing commits.
pub(crate) struct Idempotent<'a, T> {
    pub(crate) key: IdempotencyKey,
    pub(crate) request_hash: Vec<u8>,
    pub(crate) encode: &'a (dyn Fn(&T) -> Result<Vec<u8>, OrdersError> + Send + Sync),
}

pub(crate) use tenure_db::idempotency::Answer;

/// The order a stored response is about; `None` for responses that hold nothing of a subject (a
/// purge's own counts).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Subject {
    pub(crate) tenant: Uuid,
    pub(crate) order: Uuid,
}

impl Orders {
    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// The peers, which placing an order needs.
    pub(crate) fn peers(&self) -> Result<&Peers, OrdersError> {
        self.peers.as_ref().ok_or_else(|| {
            OrdersError::precondition(
                "NO_PEERS",
                "this orders instance runs without accounts, provisioning and data-purge",
            )
        })
    }

    /// Real time, for leases.
    pub(crate) fn real_now(&self) -> DateTime<Utc> {
        self.engine.real_clock.now()
    }

    /// The order `id` within `reach`; NOT_FOUND for another tenant's, exactly as for a missing one.
    pub(crate) async fn order_in(tx: &TenantTx, id: Uuid) -> Result<OrderRecord, OrdersError> {
        store::orders::get(tx, id)
            .await?
            .ok_or(OrdersError::NotFound("order"))
    }

    /// Runs `effect` in one transaction narrowed to `reach`, rolled back after: reads change nothing.
    pub(crate) async fn read<R>(
        &self,
        reach: Reach,
        effect: impl AsyncFnOnce(&TenantTx) -> Result<R, OrdersError>,
    ) -> Result<R, OrdersError> {
        let tx = store::begin(&self.db, reach).await?;
        let result = effect(&tx).await;
        tx.rollback().await?;
        result
    }

    /// Runs a mutating `effect` on an order exactly once per idempotency key, in a transaction
    /// scoped to the order's tenant (customers act in their own; operators' changes run in the
    /// engine's reach, since they act for any tenant). A replay answers with the stored response; the
    /// same key with another request is refused; failures store nothing. The stored response copies
    /// an order view, so it is filed under the order for the purge of its data.
    pub(crate) async fn mutate<T>(
        &self,
        call: &Call,
        idempotent: Idempotent<'_, T>,
        effect: impl AsyncFnOnce(&TenantTx, DateTime<Utc>) -> Result<(T, Option<Subject>), OrdersError>,
    ) -> Result<Answer<T>, OrdersError> {
        let now = self.now();
        let tenant = match call.reach()? {
            Reach::Tenant(tenant) => Some(tenant),
            Reach::AllTenants => None,
        };
        let scope = IdempotencyScope {
            tenant_id: tenant.map(|tenant| tenant.to_string()).unwrap_or_default(),
            method: call.method.to_owned(),
            key: idempotent.key.as_str().to_owned(),
            caller: call.caller.subject.clone(),
        };
        let tx = match tenant {
            Some(tenant) => TenantTx::begin(&self.db, tenant).await?,
            None => store::begin_engine(&self.db).await?,
        };
        if let Some(stored) = idempotency::claim(
            &*tx,
            &scope,
            &idempotent.request_hash,
            now,
            Duration::days(CLIENT_KEY_TTL_DAYS),
        )
        .await?
        .into_replay()?
        {
            return Ok(Answer::Replay(stored));
        }
        let (value, subject) = effect(&tx, now).await?;
        let subject = subject.map(|subject| RecordSubject {
            tenant_id: subject.tenant.to_string(),
            subject: order_subject(subject.order),
        });
        idempotency::complete_for_subject(
            &*tx,
            &scope,
            0,
            &(idempotent.encode)(&value)?,
            subject.as_ref(),
        )
        .await?;
        tx.commit().await?;
        self.engine.wake();
        self.engine.events_committed();
        Ok(Answer::Fresh(value))
    }
}
