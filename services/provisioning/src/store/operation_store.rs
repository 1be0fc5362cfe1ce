//! The operation journal, the per-account leases and the owners of AWS references.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Order, Query};
use sea_orm::{ConnectionTrait, QueryResult};
use tenure_db::{Db, DbError, ErrorKind, TenantTx};
use uuid::Uuid;

use crate::domain::operation::{
    Operation, OperationError, OperationKind, OperationRequest, OperationState, Progress,
};

const TABLE: &str = "operation";
/// The operation journal's columns, in the order [`values`] writes them.
pub(crate) const OPERATION_COLUMNS: [&str; 17] = [
    "id",
    "tenant_id",
    "kind",
    "state",
    "idempotency_key",
    "caller",
    "request_hash",
    "aws_account_id",
    "request",
    "result",
    "error_code",
    "aws_code",
    "error_message",
    "aws_calls",
    "next_check_at",
    "created_at",
    "updated_at",
];

/// The accounts each operation concerns, one row per account, so that an account-scope purge finds
/// every operation that names the account, not only the one it reports.
pub(crate) const CONCERN_TABLE: &str = "concerned_account";
pub(crate) const CONCERN_COLUMNS: [&str; 3] = ["operation_id", "tenant_id", "aws_account_id"];

/// The recorded owners of AWS references, and the account each reference is about.
pub(crate) const REFERENCE_TABLE: &str = "aws_reference";
pub(crate) const REFERENCE_COLUMNS: [&str; 6] = [
    "reference",
    "management_account_id",
    "tenant_id",
    "recorded_at",
    "observed",
    "aws_account_id",
];

/// What inserting an intent found.
#[derive(Debug)]
pub(crate) enum Intent {
    /// The operation is new and persisted.
    Created(Operation),
    /// The caller used this key before: the stored operation (its request hash may differ).
    Existing(Operation),
}

/// Filters of ListOperations.
#[derive(Debug, Clone, Default)]
pub(crate) struct OperationFilter {
    pub(crate) tenant_id: Option<Uuid>,
    pub(crate) aws_account_id: Option<String>,
    pub(crate) kind: Option<OperationKind>,
    pub(crate) state: Option<OperationState>,
    /// Keyset position: operations strictly older than this (created_at, id).
    pub(crate) before: Option<(DateTime<Utc>, Uuid)>,
}

/// Persistence of operations.
#[derive(Debug, Clone)]
pub(crate) struct OperationStore {
    db: Db,
}

impl OperationStore {
    /// A store over `db`.
    pub(crate) fn new(db: Db) -> Self {
        Self { db }
    }

    /// Persists the intent of `operation` before any AWS call, unless the caller already used the key.
    pub(crate) async fn insert_intent(&self, operation: Operation) -> Result<Intent, DbError> {
        let insert = Query::insert()
            .into_table(TABLE)
            .columns(OPERATION_COLUMNS)
            .values(values(&operation)?)
            .map_err(|error| DbError::with_source(ErrorKind::Other, "operation insert", error))?
            .on_conflict(
                OnConflict::columns(["caller", "idempotency_key"])
                    .do_nothing()
                    .to_owned(),
            )
            .to_owned();
        let tx = TenantTx::begin_unscoped(&self.db).await?;
        let inserted = tx.execute(&insert).await?.rows_affected() == 1;
        if inserted {
            record_concerns(&*tx, &operation).await?;
        }
        tx.commit().await?;
        if inserted {
            return Ok(Intent::Created(operation));
        }
        let existing = self
            .find_by_key(&operation.caller, &operation.idempotency_key)
            .await?
            .ok_or_else(|| DbError::new(ErrorKind::Serialization, "operation vanished"))?;
        Ok(Intent::Existing(existing))
    }

    /// The operation `caller` started with `key`.
    pub(crate) async fn find_by_key(
        &self,
        caller: &str,
        key: &str,
    ) -> Result<Option<Operation>, DbError> {
        let select = select()
            .and_where(Expr::col("caller").eq(caller))
            .and_where(Expr::col("idempotency_key").eq(key))
            .to_owned();
        self.db
            .conn()
            .query_one(&select)
            .await?
            .map(|row| decode(&row))
            .transpose()
    }

    /// The operation `id`.
    pub(crate) async fn get(&self, id: Uuid) -> Result<Option<Operation>, DbError> {
        let select = select().and_where(Expr::col("id").eq(id)).to_owned();
        self.db
            .conn()
            .query_one(&select)
            .await?
            .map(|row| decode(&row))
            .transpose()
    }

    /// Writes everything that changed about `operation`.
    pub(crate) async fn save(&self, operation: &Operation) -> Result<(), DbError> {
        let values = values(operation)?;
        let mut update = Query::update();
        update.table(TABLE);
        for (column, value) in OPERATION_COLUMNS.into_iter().zip(values).skip(1) {
            update.value(column, value);
        }
        update.and_where(Expr::col("id").eq(operation.id));
        // What AWS answered may name more accounts (a created account, a handshake's target). They
        // go first and the set only grows, so a crash in between leaves no saved state whose
        // accounts are missing, and no transaction is needed on this hot path.
        record_concerns(self.db.conn(), operation).await?;
        self.db.conn().execute(&update).await?;
        Ok(())
    }

    /// Takes the operation for one step: moves its next check to `until` if it was due at `now`, so that
    /// two workers (or a worker and a GetOperation) never step the same operation at once. False when
    /// someone else holds it or it is not due.
    pub(crate) async fn claim(
        &self,
        id: Uuid,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, DbError> {
        let update = Query::update()
            .table(TABLE)
            .value("next_check_at", until)
            .and_where(Expr::col("id").eq(id))
            .and_where(Expr::col("next_check_at").lte(now))
            .and_where(Expr::col("state").is_in([
                OperationState::InProgress.as_str(),
                OperationState::Deferred.as_str(),
            ]))
            .to_owned();
        Ok(self.db.conn().execute(&update).await?.rows_affected() == 1)
    }

    /// Up to `limit` operations whose next check is due at `now`, the most overdue first.
    pub(crate) async fn due(&self, now: DateTime<Utc>, limit: u64) -> Result<Vec<Uuid>, DbError> {
        let select = Query::select()
            .column("id")
            .from(TABLE)
            .and_where(Expr::col("next_check_at").lte(now))
            .and_where(Expr::col("state").is_in([
                OperationState::InProgress.as_str(),
                OperationState::Deferred.as_str(),
            ]))
            .order_by("next_check_at", Order::Asc)
            .limit(limit)
            .to_owned();
        let rows = self.db.conn().query_all(&select).await?;
        rows.iter()
            .map(|row| row.try_get::<Uuid>("", "id").map_err(DbError::from))
            .collect()
    }

    /// One page of operations matching `filter`, newest first.
    pub(crate) async fn list(
        &self,
        filter: &OperationFilter,
        limit: u64,
    ) -> Result<Vec<Operation>, DbError> {
        let mut select = select();
        if let Some(tenant) = filter.tenant_id {
            select.and_where(Expr::col("tenant_id").eq(tenant));
        }
        if let Some(account) = &filter.aws_account_id {
            select.and_where(Expr::col("aws_account_id").eq(account.as_str()));
        }
        if let Some(kind) = filter.kind {
            select.and_where(Expr::col("kind").eq(kind.as_str()));
        }
        if let Some(state) = filter.state {
            select.and_where(Expr::col("state").eq(state.as_str()));
        }
        if let Some((created_at, id)) = filter.before {
            select.and_where(
                Expr::col("created_at")
                    .lt(created_at)
                    .or(Expr::col("created_at")
                        .eq(created_at)
                        .and(Expr::col("id").lt(id))),
            );
        }
        select
            .order_by("created_at", Order::Desc)
            .order_by("id", Order::Desc)
            .limit(limit);
        let rows = self.db.conn().query_all(&select).await?;
        rows.iter().map(decode).collect()
    }

    /// Takes the lease of `lock_key` for `operation_id` until `until`, or renews it. False while another
    /// operation holds an unexpired lease.
    pub(crate) async fn acquire_lease(
        &self,
        lock_key: &str,
        operation_id: Uuid,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, DbError> {
        let conn = self.db.conn();
        // An expired lease belongs to a holder that crashed or stalled; it no longer protects anything.
        let expired = Query::delete()
            .from_table("operation_lease")
            .and_where(Expr::col("lock_key").eq(lock_key))
            .and_where(
                Expr::col("expires_at")
                    .lte(now)
                    .or(Expr::col("operation_id").eq(operation_id)),
            )
            .to_owned();
        conn.execute(&expired).await?;
        let insert = Query::insert()
            .into_table("operation_lease")
            .columns(["lock_key", "operation_id", "expires_at"])
            .values([
                Expr::val(lock_key),
                Expr::val(operation_id),
                Expr::val(until),
            ])
            .map_err(|error| DbError::with_source(ErrorKind::Other, "lease insert", error))?
            .on_conflict(OnConflict::column("lock_key").do_nothing().to_owned())
            .to_owned();
        Ok(conn.execute(&insert).await?.rows_affected() == 1)
    }

    /// Gives the lease of `lock_key` back, if `operation_id` still holds it.
    pub(crate) async fn release_lease(
        &self,
        lock_key: &str,
        operation_id: Uuid,
    ) -> Result<(), DbError> {
        let delete = Query::delete()
            .from_table("operation_lease")
            .and_where(Expr::col("lock_key").eq(lock_key))
            .and_where(Expr::col("operation_id").eq(operation_id))
            .to_owned();
        self.db.conn().execute(&delete).await?;
        Ok(())
    }

    /// Records that `management_account` owns `reference` (a member account, `h-…` or `rt-…`) and
    /// that the reference is about `account` (the member, the handshake's target, the transfer's
    /// source).
    pub(crate) async fn record_reference(
        &self,
        reference: &str,
        management_account: &str,
        tenant_id: Option<Uuid>,
        account: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), DbError> {
        let insert = Query::insert()
            .into_table(REFERENCE_TABLE)
            .columns([
                "reference",
                "management_account_id",
                "tenant_id",
                "recorded_at",
                "aws_account_id",
            ])
            .values([
                Expr::val(reference),
                Expr::val(management_account),
                Expr::val(tenant_id),
                Expr::val(now),
                Expr::val(account),
            ])
            .map_err(|error| DbError::with_source(ErrorKind::Other, "reference insert", error))?
            .on_conflict(
                OnConflict::column("reference")
                    .update_columns([
                        "management_account_id",
                        "tenant_id",
                        "recorded_at",
                        "aws_account_id",
                    ])
                    .to_owned(),
            )
            .to_owned();
        self.db.conn().execute(&insert).await?;
        Ok(())
    }

    /// Keeps `observed` as the last state Tenure saw of `reference`. Only references Tenure recorded
    /// (those it created or sent) are kept; others are AWS's business.
    pub(crate) async fn record_observation(
        &self,
        reference: &str,
        observed: &impl serde::Serialize,
    ) -> Result<(), DbError> {
        let update = Query::update()
            .table(REFERENCE_TABLE)
            .value("observed", json(observed)?)
            .and_where(Expr::col("reference").eq(reference))
            .to_owned();
        self.db.conn().execute(&update).await?;
        Ok(())
    }

    /// The last state recorded for `reference` by [`OperationStore::record_observation`].
    pub(crate) async fn observation<T: serde::de::DeserializeOwned>(
        &self,
        reference: &str,
    ) -> Result<Option<T>, DbError> {
        let select = Query::select()
            .column("observed")
            .from(REFERENCE_TABLE)
            .and_where(Expr::col("reference").eq(reference))
            .to_owned();
        let Some(row) = self.db.conn().query_one(&select).await? else {
            return Ok(None);
        };
        let observed: Option<serde_json::Value> = row.try_get("", "observed")?;
        observed
            .map(|value| serde_json::from_value(value).map_err(|_| malformed("stored observation")))
            .transpose()
    }

    /// The management account recorded for `reference`.
    pub(crate) async fn reference_owner(&self, reference: &str) -> Result<Option<String>, DbError> {
        let select = Query::select()
            .column("management_account_id")
            .from(REFERENCE_TABLE)
            .and_where(Expr::col("reference").eq(reference))
            .to_owned();
        match self.db.conn().query_one(&select).await? {
            Some(row) => Ok(Some(row.try_get("", "management_account_id")?)),
            None => Ok(None),
        }
    }
}

/// Adds the accounts `operation` concerns to its set: those it names or learned, and the account
/// recorded for the reference it names. The set only grows, so a repeat adds nothing.
async fn record_concerns(
    conn: &impl ConnectionTrait,
    operation: &Operation,
) -> Result<(), DbError> {
    record_concerned_accounts(
        conn,
        operation.id,
        operation.tenant_id,
        &operation.request,
        operation.concerned_accounts(),
    )
    .await
}

/// Adds `accounts`, and the account recorded for the reference `request` names, to the set of the
/// operation `operation_id`.
pub(crate) async fn record_concerned_accounts(
    conn: &impl ConnectionTrait,
    operation_id: Uuid,
    tenant_id: Option<Uuid>,
    request: &OperationRequest,
    mut accounts: BTreeSet<String>,
) -> Result<(), DbError> {
    if let Some(reference) = request.reference() {
        let select = Query::select()
            .column("aws_account_id")
            .from(REFERENCE_TABLE)
            .and_where(Expr::col("reference").eq(reference))
            .and_where(Expr::col("aws_account_id").is_not_null())
            .to_owned();
        if let Some(row) = conn.query_one(&select).await? {
            accounts.insert(row.try_get("", "aws_account_id")?);
        }
    }
    if accounts.is_empty() {
        return Ok(());
    }
    let mut insert = Query::insert();
    insert.into_table(CONCERN_TABLE).columns(CONCERN_COLUMNS);
    for account in accounts {
        insert
            .values([
                Expr::val(operation_id),
                Expr::val(tenant_id),
                Expr::val(account),
            ])
            .map_err(|error| DbError::with_source(ErrorKind::Other, "concern insert", error))?;
    }
    insert.on_conflict(
        OnConflict::columns(["operation_id", "aws_account_id"])
            .do_nothing()
            .to_owned(),
    );
    conn.execute(&insert).await?;
    Ok(())
}

fn select() -> sea_orm::sea_query::SelectStatement {
    Query::select()
        .columns(OPERATION_COLUMNS)
        .from(TABLE)
        .to_owned()
}

fn json<T: serde::Serialize>(value: &T) -> Result<serde_json::Value, DbError> {
    serde_json::to_value(value)
        .map_err(|error| DbError::with_source(ErrorKind::Other, "encoding an operation", error))
}

fn values(operation: &Operation) -> Result<Vec<Expr>, DbError> {
    let error = operation.error.as_ref();
    Ok(vec![
        Expr::val(operation.id),
        Expr::val(operation.tenant_id),
        Expr::val(operation.kind().as_str()),
        Expr::val(operation.state.as_str()),
        Expr::val(operation.idempotency_key.as_str()),
        Expr::val(operation.caller.as_str()),
        Expr::val(operation.request_hash.clone()),
        Expr::val(operation.aws_account_id.clone()),
        Expr::val(json(&operation.request)?),
        Expr::val(Some(json(&operation.progress)?)),
        Expr::val(error.and_then(|error| error.code.clone())),
        Expr::val(error.and_then(|error| error.aws_code.clone())),
        Expr::val(error.map(|error| error.message.clone())),
        Expr::val(i32::try_from(operation.aws_calls).unwrap_or(i32::MAX)),
        Expr::val(operation.next_check_at),
        Expr::val(operation.created_at),
        Expr::val(operation.updated_at),
    ])
}

fn malformed(what: &'static str) -> DbError {
    DbError::new(ErrorKind::Other, what)
}

fn decode(row: &QueryResult) -> Result<Operation, DbError> {
    let request: serde_json::Value = row.try_get("", "request")?;
    let request: OperationRequest =
        serde_json::from_value(request).map_err(|_| malformed("stored operation request"))?;
    let progress: Option<serde_json::Value> = row.try_get("", "result")?;
    let progress: Progress = match progress {
        Some(value) => {
            serde_json::from_value(value).map_err(|_| malformed("stored operation progress"))?
        }
        None => Progress::default(),
    };
    let state: String = row.try_get("", "state")?;
    let state = OperationState::parse(&state).ok_or_else(|| malformed("stored state"))?;
    let error_message: Option<String> = row.try_get("", "error_message")?;
    let error = error_message.map(|message| -> Result<OperationError, DbError> {
        Ok(OperationError {
            code: row.try_get("", "error_code")?,
            aws_code: row.try_get("", "aws_code")?,
            message,
        })
    });
    let aws_calls: i32 = row.try_get("", "aws_calls")?;
    Ok(Operation {
        id: row.try_get("", "id")?,
        tenant_id: row.try_get("", "tenant_id")?,
        caller: row.try_get("", "caller")?,
        idempotency_key: row.try_get("", "idempotency_key")?,
        request_hash: row.try_get("", "request_hash")?,
        request,
        state,
        aws_account_id: row.try_get("", "aws_account_id")?,
        progress,
        error: error.transpose()?,
        aws_calls: u32::try_from(aws_calls).unwrap_or_default(),
        next_check_at: row.try_get("", "next_check_at")?,
        created_at: row.try_get("", "created_at")?,
        updated_at: row.try_get("", "updated_at")?,
    })
}
