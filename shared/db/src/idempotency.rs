//! Idempotency records, shared by every service (sagas.md §4, quality.md §3.1).
//!
//! A mutating call claims `(tenant, method, key)` with [`claim`] inside the transaction that
//! performs its effect, and stores its outcome with [`complete`] before that transaction commits,
//! so the record and the effect commit or vanish together. A duplicate then gets the stored answer
//! ([`Claim::Replay`]), a reused key with another request gets [`Claim::Mismatch`], and a duplicate
//! that overlaps an effect committed in two steps (provisioning's AWS calls) gets
//! [`Claim::InFlight`]. On PostgreSQL a duplicate racing an uncommitted claim waits on the key and
//! then sees the committed row.
//!
//! The table is portable: text keys (`tenant_id` is `''` for calls without a tenant), bytes for
//! hashes and responses. It carries no row-level security, since its `tenant_id` is text and the
//! key already includes the tenant. Times are parameters from the caller's clock.
//!
//! A stored response is a copy of what the call returned, personal data included, so a service
//! whose responses hold a subject's data completes with [`complete_for_subject`] (after adding
//! [`AddIdempotencySubject`] to its migrator) and purges those copies with the subject's other
//! rows (see [`delete_tenant_records`]).

mod subject;

pub use subject::{
    AddIdempotencySubject, RecordKey, RecordSubject, SubjectSelection, complete_for_subject,
    count_tenant_records, delete_tenant_records, tenant_record_keys,
};

use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::sea_query::{
    ColumnDef, Expr, ExprTrait, Index, IndexCreateStatement, OnConflict, Query, Table,
    TableCreateStatement, UpdateStatement,
};
use sea_orm::{ConnectionTrait, DbErr, DeriveIden};
use sea_orm_migration::{MigrationName, MigrationTrait, SchemaManager, async_trait};
use sha2::{Digest, Sha256};

use crate::{DbError, ErrorKind};

/// Who may replay what: client keys are scoped by tenant and method; internal step keys also
/// record the calling service.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyScope {
    /// The tenant of the call, or `''` when the call has none.
    pub tenant_id: String,
    /// The full gRPC method, e.g. `/tenure.accounts.v1.AccountService/ReserveAccount`.
    pub method: String,
    /// The client's `idempotency_key`.
    pub key: String,
    /// The calling principal (a service name or the customer's subject).
    pub caller: String,
}

/// The outcome of [`claim`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The key is new (or its old record had expired): perform the effect, then [`complete`].
    Fresh,
    /// The same request already finished: answer with the stored code and response, byte for byte.
    Replay {
        /// The stored gRPC status code (0 for OK).
        grpc_code: i32,
        /// The stored encoded response (or status details).
        response: Vec<u8>,
    },
    /// The key was used by another caller or for another request: `FAILED_PRECONDITION` with
    /// `IDEMPOTENCY_KEY_REUSED`.
    Mismatch,
    /// The same request is still in progress (its record committed as `in_flight`): `ABORTED`,
    /// which clients retry.
    InFlight,
}

/// Why a claimed key cannot go ahead: what [`Claim::into_replay`] refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ClaimRefused {
    /// [`Claim::Mismatch`]: `FAILED_PRECONDITION` with `IDEMPOTENCY_KEY_REUSED`.
    #[error("the idempotency key was used for another request")]
    KeyReused,
    /// [`Claim::InFlight`]: `ABORTED`, which clients retry.
    #[error("the first request with this idempotency key is still running")]
    KeyInFlight,
    /// A stored non-OK outcome, which services that store only successes never write.
    #[error("an idempotency record holds a failure")]
    StoredFailure,
}

impl Claim {
    /// The one reading every service makes of a claim: go ahead (`None`), answer with the stored
    /// response (`Some`), or refuse.
    ///
    /// # Errors
    ///
    /// The [`ClaimRefused`] reason for a mismatch, a call in flight or a stored failure.
    pub fn into_replay(self) -> Result<Option<Vec<u8>>, ClaimRefused> {
        match self {
            Claim::Fresh => Ok(None),
            Claim::Replay {
                grpc_code: 0,
                response,
            } => Ok(Some(response)),
            Claim::Replay { .. } => Err(ClaimRefused::StoredFailure),
            Claim::Mismatch => Err(ClaimRefused::KeyReused),
            Claim::InFlight => Err(ClaimRefused::KeyInFlight),
        }
    }
}

const STATE_IN_FLIGHT: &str = "in_flight";
const STATE_DONE: &str = "done";

/// How often [`claim`] retries when the row it conflicted with vanished before it could read it
/// (deleted as expired, or rolled back, in between).
const CLAIM_ATTEMPTS: usize = 3;

#[derive(DeriveIden)]
enum IdempotencyRecord {
    Table,
    TenantId,
    Method,
    Key,
    Caller,
    RequestHash,
    State,
    GrpcCode,
    Response,
    CreatedAt,
    ExpiresAt,
    /// Added by [`AddIdempotencySubject`].
    SubjectTenant,
    /// Added by [`AddIdempotencySubject`].
    Subject,
}

/// What a use case needs to run once per idempotency key: the key, the hash of the request it came
/// with (the same key with another request is refused), and how to store its answer. The API supplies
/// `encode` as the exact bytes it sends for a fresh answer, so a replay answers byte for byte what
/// the first call did, while the application layer never learns the wire format.
pub struct Idempotent<'a, T> {
    /// The caller's key.
    pub key: tenure_domain::IdempotencyKey,
    /// [`request_hash`] of the request as sent.
    pub request_hash: Vec<u8>,
    /// The bytes stored for a fresh answer.
    pub encode: &'a (dyn Fn(&T) -> Vec<u8> + Send + Sync),
}

/// The outcome of an idempotent use case: the value it produced now, or the stored answer of the
/// first call with the same key.
#[derive(Debug)]
pub enum Answer<T> {
    /// Produced by this call, and stored.
    Fresh(T),
    /// The bytes the first call with this key stored.
    Replay(Vec<u8>),
}

/// The `request_hash` every service stores: SHA-256 of the request's canonical encoding (the
/// protobuf message with its idempotency-key field cleared, and no map fields, so the bytes are
/// deterministic).
pub fn request_hash(canonical_request: &[u8]) -> Vec<u8> {
    Sha256::digest(canonical_request).to_vec()
}

/// `CREATE TABLE idempotency_record`, portable to PostgreSQL and SQLite. Shipped migrations never
/// change, so a later change to the table is a new migration, not an edit here.
pub fn create_idempotency_table() -> TableCreateStatement {
    Table::create()
        .table(IdempotencyRecord::Table)
        .col(
            ColumnDef::new(IdempotencyRecord::TenantId)
                .text()
                .not_null(),
        )
        .col(ColumnDef::new(IdempotencyRecord::Method).text().not_null())
        .col(ColumnDef::new(IdempotencyRecord::Key).text().not_null())
        .col(ColumnDef::new(IdempotencyRecord::Caller).text().not_null())
        .col(
            ColumnDef::new(IdempotencyRecord::RequestHash)
                .blob()
                .not_null(),
        )
        .col(ColumnDef::new(IdempotencyRecord::State).text().not_null())
        .col(ColumnDef::new(IdempotencyRecord::GrpcCode).integer().null())
        .col(ColumnDef::new(IdempotencyRecord::Response).blob().null())
        .col(
            ColumnDef::new(IdempotencyRecord::CreatedAt)
                .timestamp_with_time_zone()
                .not_null(),
        )
        .col(
            ColumnDef::new(IdempotencyRecord::ExpiresAt)
                .timestamp_with_time_zone()
                .not_null(),
        )
        .primary_key(
            Index::create()
                .col(IdempotencyRecord::TenantId)
                .col(IdempotencyRecord::Method)
                .col(IdempotencyRecord::Key),
        )
        .to_owned()
}

/// `CREATE INDEX idempotency_record_expiry`, which [`delete_expired`] walks.
pub fn create_idempotency_expiry_index() -> IndexCreateStatement {
    Index::create()
        .name("idempotency_record_expiry")
        .table(IdempotencyRecord::Table)
        .col(IdempotencyRecord::ExpiresAt)
        .to_owned()
}

/// The migration creating the table and its index, ready for a service's [`migrator!`](crate::migrator)
/// list: every mutating RPC records its idempotency key in the same transaction as its effect.
#[derive(Debug, Clone, Copy, Default)]
pub struct CreateIdempotencyRecord;

impl MigrationName for CreateIdempotencyRecord {
    fn name(&self) -> &str {
        "tenure_db_0001_idempotency_record"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for CreateIdempotencyRecord {
    #[allow(
        elided_lifetimes_in_paths,
        reason = "async_trait needs the trait's late-bound elided lifetime; a named one is refused"
    )]
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.create_table(create_idempotency_table()).await?;
        manager
            .create_index(create_idempotency_expiry_index())
            .await
    }
}

/// Claims `scope` for a request whose canonical encoding hashes to `request_hash`, keeping the
/// record until `now + ttl`. Run it on the transaction that performs the effect.
///
/// The insert is `INSERT … ON CONFLICT DO UPDATE … WHERE expires_at <= now`: a live record is left
/// alone (and then read to decide between replay, mismatch and in-flight), an expired one that
/// [`delete_expired`] has not reached yet is replaced as if it were gone.
///
/// # Errors
///
/// The classified database failure; [`ErrorKind::Other`] when `now + ttl` overflows or a stored
/// record is malformed.
pub async fn claim(
    conn: &impl ConnectionTrait,
    scope: &IdempotencyScope,
    request_hash: &[u8],
    now: DateTime<Utc>,
    ttl: TimeDelta,
) -> Result<Claim, DbError> {
    let expires_at = now
        .checked_add_signed(ttl)
        .ok_or_else(|| DbError::new(ErrorKind::Other, "idempotency expiry out of range"))?;
    let insert = Query::insert()
        .into_table(IdempotencyRecord::Table)
        .columns([
            IdempotencyRecord::TenantId,
            IdempotencyRecord::Method,
            IdempotencyRecord::Key,
            IdempotencyRecord::Caller,
            IdempotencyRecord::RequestHash,
            IdempotencyRecord::State,
            IdempotencyRecord::GrpcCode,
            IdempotencyRecord::Response,
            IdempotencyRecord::CreatedAt,
            IdempotencyRecord::ExpiresAt,
        ])
        .values([
            Expr::val(scope.tenant_id.as_str()),
            Expr::val(scope.method.as_str()),
            Expr::val(scope.key.as_str()),
            Expr::val(scope.caller.as_str()),
            Expr::val(request_hash.to_vec()),
            Expr::val(STATE_IN_FLIGHT),
            Expr::val(Option::<i32>::None),
            Expr::val(Option::<Vec<u8>>::None),
            Expr::val(now),
            Expr::val(expires_at),
        ])
        .map_err(|error| {
            DbError::with_source(ErrorKind::Other, "idempotency insert malformed", error)
        })?
        .on_conflict(
            OnConflict::columns([
                IdempotencyRecord::TenantId,
                IdempotencyRecord::Method,
                IdempotencyRecord::Key,
            ])
            .update_columns([
                IdempotencyRecord::Caller,
                IdempotencyRecord::RequestHash,
                IdempotencyRecord::State,
                IdempotencyRecord::GrpcCode,
                IdempotencyRecord::Response,
                IdempotencyRecord::CreatedAt,
                IdempotencyRecord::ExpiresAt,
            ])
            .action_and_where(
                Expr::col((IdempotencyRecord::Table, IdempotencyRecord::ExpiresAt)).lte(now),
            )
            .to_owned(),
        )
        .to_owned();

    for _ in 0..CLAIM_ATTEMPTS {
        if conn.execute(&insert).await?.rows_affected() == 1 {
            return Ok(Claim::Fresh);
        }
        if let Some(existing) = read_existing(conn, scope, request_hash).await? {
            return Ok(existing);
        }
    }
    Err(DbError::new(
        ErrorKind::Serialization,
        "idempotency record kept changing while being claimed",
    ))
}

/// Stores the outcome of the claimed call (`grpc_code` 0 for OK, the encoded response) and marks
/// the record `done`. Run it before the effect's transaction commits. A response that holds a
/// subject's data should use [`complete_for_subject`] instead, so a purge can find it.
///
/// # Errors
///
/// [`ErrorKind::NotFound`] when no `in_flight` record exists for `scope` (never claimed, already
/// completed, or claimed on another transaction that rolled back); otherwise the classified
/// database failure.
pub async fn complete(
    conn: &impl ConnectionTrait,
    scope: &IdempotencyScope,
    grpc_code: i32,
    response: &[u8],
) -> Result<(), DbError> {
    store_outcome(conn, scope, grpc_code, response, |_| {}).await
}

/// The one way a record becomes `done`; `extra` adds columns to the same update.
async fn store_outcome(
    conn: &impl ConnectionTrait,
    scope: &IdempotencyScope,
    grpc_code: i32,
    response: &[u8],
    extra: impl FnOnce(&mut UpdateStatement),
) -> Result<(), DbError> {
    let mut update = Query::update()
        .table(IdempotencyRecord::Table)
        .value(IdempotencyRecord::State, STATE_DONE)
        .value(IdempotencyRecord::GrpcCode, grpc_code)
        .value(IdempotencyRecord::Response, response.to_vec())
        .and_where(key_matches(scope))
        .and_where(Expr::col(IdempotencyRecord::State).eq(STATE_IN_FLIGHT))
        .to_owned();
    extra(&mut update);
    if conn.execute(&update).await?.rows_affected() == 1 {
        Ok(())
    } else {
        Err(DbError::new(
            ErrorKind::NotFound,
            "no in-flight idempotency record for this key",
        ))
    }
}

/// Deletes up to `batch` records whose expiry is at or before `now`, oldest first, and returns how
/// many went. The daily job calls it until it returns less than `batch`, committing in between so
/// no transaction grows large.
///
/// # Errors
///
/// The classified database failure.
pub async fn delete_expired(
    conn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    batch: u64,
) -> Result<u64, DbError> {
    let expired = Query::select()
        .columns([
            IdempotencyRecord::TenantId,
            IdempotencyRecord::Method,
            IdempotencyRecord::Key,
        ])
        .from(IdempotencyRecord::Table)
        .and_where(Expr::col(IdempotencyRecord::ExpiresAt).lte(now))
        .order_by(IdempotencyRecord::ExpiresAt, sea_orm::sea_query::Order::Asc)
        .limit(batch)
        .to_owned();
    let delete = Query::delete()
        .from_table(IdempotencyRecord::Table)
        .and_where(
            Expr::tuple([
                Expr::col(IdempotencyRecord::TenantId),
                Expr::col(IdempotencyRecord::Method),
                Expr::col(IdempotencyRecord::Key),
            ])
            .in_subquery(expired),
        )
        .to_owned();
    Ok(conn.execute(&delete).await?.rows_affected())
}

fn key_matches(scope: &IdempotencyScope) -> Expr {
    Expr::col(IdempotencyRecord::TenantId)
        .eq(scope.tenant_id.as_str())
        .and(Expr::col(IdempotencyRecord::Method).eq(scope.method.as_str()))
        .and(Expr::col(IdempotencyRecord::Key).eq(scope.key.as_str()))
}

/// Decides what an existing record means for this request; `None` when the row is gone.
async fn read_existing(
    conn: &impl ConnectionTrait,
    scope: &IdempotencyScope,
    request_hash: &[u8],
) -> Result<Option<Claim>, DbError> {
    let select = Query::select()
        .columns([
            IdempotencyRecord::Caller,
            IdempotencyRecord::RequestHash,
            IdempotencyRecord::State,
            IdempotencyRecord::GrpcCode,
            IdempotencyRecord::Response,
        ])
        .from(IdempotencyRecord::Table)
        .and_where(key_matches(scope))
        .to_owned();
    let Some(row) = conn.query_one(&select).await? else {
        return Ok(None);
    };
    let caller: String = row.try_get("", "caller")?;
    let stored_hash: Vec<u8> = row.try_get("", "request_hash")?;
    if caller != scope.caller || stored_hash != request_hash {
        return Ok(Some(Claim::Mismatch));
    }
    let state: String = row.try_get("", "state")?;
    match state.as_str() {
        STATE_IN_FLIGHT => Ok(Some(Claim::InFlight)),
        STATE_DONE => {
            let grpc_code: Option<i32> = row.try_get("", "grpc_code")?;
            let response: Option<Vec<u8>> = row.try_get("", "response")?;
            let Some(grpc_code) = grpc_code else {
                return Err(DbError::new(
                    ErrorKind::Other,
                    "done idempotency record has no status code",
                ));
            };
            Ok(Some(Claim::Replay {
                grpc_code,
                response: response.unwrap_or_default(),
            }))
        }
        _ => Err(DbError::new(
            ErrorKind::Other,
            "idempotency record has an unknown state",
        )),
    }
}
