//! What every handler shares: the database, the engine, the clocks and the peers, and the shapes a
//! call takes. A read runs in one transaction narrowed to the caller's reach; a mutation also claims
//! its idempotency key and performs its effect in the same transaction, so both commit or neither
//! does.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use tenure_db::idempotency::{self, IdempotencyScope, RecordSubject};
use tenure_db::{Db, TenantTx};
use tenure_domain::{Caller, CallerRole, SharedClock};
use tenure_grpc::{StreamSlot, StreamSlots};
use tenure_proto::Keyed;
use tonic::{Request, Status};
use uuid::Uuid;

use crate::clients::Peers;
use crate::domain::OrdersError;
use crate::domain::data_class::order_subject;
use crate::domain::saga::definition::Registry;
use crate::saga_runtime::SagaRuntime;
use crate::settings::OrdersSettings;
use crate::store::{self, Reach};

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
    /// The streams open on this replica, under their caps.
    pub(crate) streams: StreamCaps,
}

/// Caps on open streams (quality.md §1.7), per replica: `WatchOrder` per tenant, `Subscribe` per
/// principal.
#[derive(Debug, Clone)]
pub(crate) struct StreamCaps {
    watch: StreamSlots,
    events: StreamSlots,
}

impl StreamCaps {
    pub(crate) fn new(settings: &OrdersSettings) -> Self {
        let cap = |limit: u32| StreamSlots::new(usize::try_from(limit).unwrap_or(usize::MAX));
        Self {
            watch: cap(settings.limits.watch_streams_per_tenant),
            events: cap(settings.limits.event_streams_per_principal),
        }
    }

    /// A slot for one more `WatchOrder` of the caller's tenant (operators and billing, who have no
    /// tenant, count per subject).
    pub(crate) fn watch(&self, caller: &Caller) -> Result<StreamSlot, OrdersError> {
        let key = match caller.tenant {
            Some(tenant) => format!("tenant:{tenant}"),
            None => format!("subject:{}", caller.subject),
        };
        self.watch.acquire(key).ok_or_else(|| {
            OrdersError::TooManyStreams(format!(
                "{} watches of your orders are open already; close one of them first.",
                self.watch.limit()
            ))
        })
    }

    /// A slot for one more event subscription of the caller. A customer's subject is only unique
    /// within its tenant, so the tenant is part of the key.
    pub(crate) fn subscribe(&self, caller: &Caller) -> Result<StreamSlot, OrdersError> {
        let role = match caller.role {
            CallerRole::Customer => "customer",
            CallerRole::Operator => "operator",
            CallerRole::Billing => "billing",
            CallerRole::Service => "service",
        };
        let tenant = caller.tenant.map(|tenant| tenant.to_string());
        let key = format!("{role}:{}:{}", tenant.unwrap_or_default(), caller.subject);
        self.events.acquire(key).ok_or_else(|| {
            OrdersError::TooManyStreams(format!(
                "You already have {} event subscriptions open; close one of them first.",
                self.events.limit()
            ))
        })
    }
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
    pub(crate) async fn mutate<Q, R>(
        &self,
        call: &Call,
        request: &Q,
        effect: impl AsyncFnOnce(&TenantTx, DateTime<Utc>) -> Result<(R, Option<Subject>), OrdersError>,
    ) -> Result<R, OrdersError>
    where
        Q: Keyed,
        R: prost::Message + Default,
    {
        let key = key_of(request)?;
        let now = self.now();
        let tenant = match call.reach()? {
            Reach::Tenant(tenant) => Some(tenant),
            Reach::AllTenants => None,
        };
        let scope = IdempotencyScope {
            tenant_id: tenant.map(|tenant| tenant.to_string()).unwrap_or_default(),
            method: call.method.to_owned(),
            key: key.as_str().to_owned(),
            caller: call.caller.subject.clone(),
        };
        let hash = idempotency::request_hash(&request.canonical());
        let tx = match tenant {
            Some(tenant) => TenantTx::begin(&self.db, tenant).await?,
            None => store::begin_engine(&self.db).await?,
        };
        if let Some(stored) = idempotency::claim(
            &*tx,
            &scope,
            &hash,
            now,
            Duration::days(CLIENT_KEY_TTL_DAYS),
        )
        .await?
        .into_replay()?
        {
            return R::decode(stored.as_slice())
                .map_err(|error| OrdersError::Internal(Box::new(error)));
        }
        let (response, subject) = effect(&tx, now).await?;
        let subject = subject.map(|subject| RecordSubject {
            tenant_id: subject.tenant.to_string(),
            subject: order_subject(subject.order),
        });
        idempotency::complete_for_subject(
            &*tx,
            &scope,
            0,
            &response.encode_to_vec(),
            subject.as_ref(),
        )
        .await?;
        tx.commit().await?;
        self.engine.wake();
        self.engine.events_committed();
        Ok(response)
    }
}

/// The order a stored response is about; `None` for responses that hold nothing of a subject (a
/// purge's own counts).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Subject {
    pub(crate) tenant: Uuid,
    pub(crate) order: Uuid,
}

tenure_grpc::request_checks!(OrdersError);
