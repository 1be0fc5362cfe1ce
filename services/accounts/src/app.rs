//! The use cases: what the service does for a caller, in domain terms. A use case takes validated
//! domain values and returns domain records; it narrows reads and writes to the caller's reach, owns
//! the transaction, writes the audit row and claims the idempotency key, and persists through
//! `store/`. A read runs in one transaction scoped to the caller's reach; a mutation also claims its
//! idempotency key, performs its effect and writes its audit row in the same transaction, so all of
//! them commit or none does. Nothing here names tonic, prost or the generated protobuf types: the API
//! decodes before a use case and encodes after it.

mod balances;
mod billing;
mod lifecycle;
mod participant;
mod records;
mod removal;
mod reservation;
mod tenants;

use chrono::{DateTime, Duration, Utc};
use tenure_db::idempotency::{self, IdempotencyScope, RecordSubject};
use tenure_db::{Db, TenantTx};
use tenure_domain::{AwsAccountId, Caller, CallerRole, SharedClock};
use uuid::Uuid;

use crate::domain::{Access, AccountsError, Audit, ResponseSubject, is_audited};
use crate::store;

pub(crate) use balances::BalanceReport;
pub(crate) use billing::{FetchedDetails, SubscriptionView};
pub(crate) use lifecycle::{Termination, TerminationCheck};
pub(crate) use records::{AccountRef, Activated, Activation, Attachment};
pub(crate) use removal::MembershipChange;
pub(crate) use reservation::{Reservation, Reserved};
pub(crate) use tenants::{CreatedTenant, NewTenant, TenantChange, Unsubscribed};

/// How long a client's key is remembered (quality.md §3.1 asks for at least 24 hours).
const CLIENT_KEY_TTL_DAYS: i64 = 7;

/// How long a saga step key is remembered: longer than the longest saga and its retries.
const SERVICE_KEY_TTL_DAYS: i64 = 180;

/// The service's shared state.
#[derive(Clone)]
pub(crate) struct Accounts {
    pub(crate) db: Db,
    pub(crate) clock: SharedClock,
    pub(crate) purge: crate::clients::PurgePeer,
}

impl std::fmt::Debug for Accounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Accounts")
            .field("db", &self.db)
            .finish_non_exhaustive()
    }
}

/// One authenticated call.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub(crate) caller: Caller,
    pub(crate) access: Access,
    /// The full gRPC path, which scopes idempotency keys.
    pub(crate) method: &'static str,
    /// The short method name recorded in the audit trail.
    pub(crate) action: &'static str,
}

/// The object a call acts on, for the audit trail (ids and codes only).
#[derive(Debug, Clone, Default)]
pub(crate) struct Target {
    pub(crate) kind: &'static str,
    pub(crate) id: String,
    pub(crate) reason: String,
    pub(crate) ticket: String,
}

impl Target {
    pub(crate) fn new(kind: &'static str, id: impl ToString) -> Self {
        Self {
            kind,
            id: id.to_string(),
            ..Self::default()
        }
    }

    pub(crate) fn because(mut self, reason: &str, ticket: &str) -> Self {
        self.reason = reason.to_owned();
        self.ticket = ticket.to_owned();
        self
    }
}

pub(crate) use tenure_db::idempotency::{Answer, Idempotent};

impl Accounts {
    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Runs `effect` in one transaction scoped to the caller's reach, recording operator reads in the
    /// audit trail (quality.md §1.8).
    pub(crate) async fn read<R>(
        &self,
        call: &Call,
        target: Target,
        effect: impl AsyncFnOnce(&TenantTx) -> Result<R, AccountsError>,
    ) -> Result<R, AccountsError> {
        let tenant = match call.access {
            Access::Tenant(tenant) => Some(tenant),
            Access::CrossTenant => None,
        };
        let tx = store::begin(&self.db, tenant).await?;
        let result = effect(&tx).await?;
        if is_audited(&call.caller, false) {
            store::audit::record(&tx, &self.audit(call, None, target), self.now()).await?;
        }
        tx.commit().await?;
        Ok(result)
    }

    /// Runs a mutating `effect` exactly once per idempotency key, in a transaction scoped to `tenant`
    /// (the tenant that owns what changes). A replay answers with the stored response; the same key
    /// with another request is refused. Failures store nothing, so a retry is evaluated afresh.
    ///
    /// `effect` also names what its response is about, and the stored response is filed under it,
    /// so the purge of that account record, user or tenant removes the copy too.
    pub(crate) async fn mutate<T>(
        &self,
        call: &Call,
        idempotent: Idempotent<'_, T>,
        tenant: Uuid,
        target: Target,
        effect: impl AsyncFnOnce(
            &TenantTx,
            DateTime<Utc>,
        ) -> Result<(T, ResponseSubject), AccountsError>,
    ) -> Result<Answer<T>, AccountsError> {
        let tx = TenantTx::begin(&self.db, tenant).await?;
        self.mutate_in(tx, Some(tenant), call, idempotent, target, effect)
            .await
    }

    /// Like [`Accounts::mutate`], in a transaction the caller opened because it reaches more than one
    /// tenant (a billing report); `tenant` is the one that owns what changes, when a single one does.
    pub(crate) async fn mutate_in<T>(
        &self,
        tx: TenantTx,
        tenant: Option<Uuid>,
        call: &Call,
        idempotent: Idempotent<'_, T>,
        target: Target,
        effect: impl AsyncFnOnce(
            &TenantTx,
            DateTime<Utc>,
        ) -> Result<(T, ResponseSubject), AccountsError>,
    ) -> Result<Answer<T>, AccountsError> {
        let now = self.now();
        let scope = IdempotencyScope {
            tenant_id: match call.access {
                Access::Tenant(own) => own.to_string(),
                Access::CrossTenant => String::new(),
            },
            method: call.method.to_owned(),
            key: idempotent.key.as_str().to_owned(),
            caller: call.caller.subject.clone(),
        };
        let ttl = match call.caller.role {
            CallerRole::Service => Duration::days(SERVICE_KEY_TTL_DAYS),
            _ => Duration::days(CLIENT_KEY_TTL_DAYS),
        };
        if let Some(stored) = idempotency::claim(&*tx, &scope, &idempotent.request_hash, now, ttl)
            .await?
            .into_replay()?
        {
            return Ok(Answer::Replay(stored));
        }
        let (value, subject) = effect(&tx, now).await?;
        if is_audited(&call.caller, true) {
            store::audit::record(&tx, &self.audit(call, tenant, target), now).await?;
        }
        let subject = subject.key().map(|subject| RecordSubject {
            tenant_id: tenant.map(|tenant| tenant.to_string()).unwrap_or_default(),
            subject,
        });
        idempotency::complete_for_subject(
            &*tx,
            &scope,
            0,
            &(idempotent.encode)(&value),
            subject.as_ref(),
        )
        .await?;
        tx.commit().await?;
        Ok(Answer::Fresh(value))
    }

    /// The tenant that owns account record `id`: the caller's own tenant, or for cross-tenant callers
    /// the owner looked up by id (NOT_FOUND when there is none).
    pub(crate) async fn tenant_of_account(
        &self,
        call: &Call,
        id: Uuid,
    ) -> Result<Uuid, AccountsError> {
        self.resolve(call, "account", async |tx| {
            store::accounts::owner_of_account(tx, id).await
        })
        .await
    }

    /// The tenant that owns the live record of an AWS account id.
    pub(crate) async fn tenant_of_live_account(
        &self,
        call: &Call,
        aws_account_id: &AwsAccountId,
    ) -> Result<Uuid, AccountsError> {
        self.resolve(call, "account", async |tx| {
            store::accounts::owner_of_live_account(tx, aws_account_id).await
        })
        .await
    }

    /// The tenant that owns subscription `id`.
    pub(crate) async fn tenant_of_subscription(
        &self,
        call: &Call,
        id: Uuid,
    ) -> Result<Uuid, AccountsError> {
        self.resolve(call, "subscription", async |tx| {
            store::accounts::owner_of_subscription(tx, id).await
        })
        .await
    }

    /// The tenant that owns user `id`.
    pub(crate) async fn tenant_of_user(
        &self,
        call: &Call,
        id: Uuid,
    ) -> Result<Uuid, AccountsError> {
        self.resolve(call, "user", async |tx| {
            Ok(store::tenants::find_user(tx, None, id)
                .await?
                .map(|user| user.tenant_id))
        })
        .await
    }

    async fn resolve(
        &self,
        call: &Call,
        kind: &'static str,
        lookup: impl AsyncFnOnce(&TenantTx) -> Result<Option<Uuid>, AccountsError>,
    ) -> Result<Uuid, AccountsError> {
        match call.access {
            // The effect then looks the object up inside this tenant: another tenant's id is simply
            // not found there, exactly like a random one.
            Access::Tenant(own) => Ok(own),
            Access::CrossTenant => {
                let tx = store::begin_cross_tenant(&self.db).await?;
                let owner = lookup(&tx).await?;
                tx.rollback().await?;
                owner.ok_or(AccountsError::NotFound(kind))
            }
        }
    }

    fn audit(&self, call: &Call, tenant: Option<Uuid>, target: Target) -> Audit {
        let mut audit = Audit::new(&call.caller, call.action, target.kind, target.id);
        audit.target_tenant = tenant;
        audit.reason = target.reason;
        audit.ticket = target.ticket;
        audit
    }
}
