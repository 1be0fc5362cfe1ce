//! The operation journal, the per-account leases and the owners of AWS references.

use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;
use sea_orm::sea_query::{Condition, Expr, ExprTrait, OnConflict, Order, Query};
use tenure_db::{Db, DbError, ErrorKind, TenantTx};
use uuid::Uuid;

use crate::domain::operation::{Operation, OperationState};

mod codec;
mod concerns;
mod leases;
mod references;

use codec::{decode, values};
pub(crate) use concerns::record_concerned_accounts;
use concerns::record_concerns;

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

/// The claim of an operation by one stepper, apart from the journal's columns: when the claim lapses,
/// in real time, and its fencing token.
const CLAIM_COLUMNS: [&str; 2] = ["claimed_until", "claim_epoch"];

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

/// What a fenced write of a stepped operation came to.
#[derive(Debug)]
pub(crate) enum Saved {
    /// The writer held the latest claim; the row is what it wrote.
    Written,
    /// Another stepper claimed the operation since: the row is left as that stepper made it, and here
    /// it is (`None` when it was purged meanwhile).
    Superseded(Option<Box<Operation>>),
}

pub(crate) use crate::domain::listing::OperationFilter;

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
    /// The row is born claimed by its creator until `claimed_until` (real time), under the operation's
    /// epoch, so that nobody else steps it while the creating request runs the first step.
    pub(crate) async fn insert_intent(
        &self,
        operation: Operation,
        claimed_until: DateTime<Utc>,
    ) -> Result<Intent, DbError> {
        let mut row = values(&operation)?;
        row.extend([Expr::val(claimed_until), Expr::val(operation.claim_epoch)]);
        let insert = Query::insert()
            .into_table(TABLE)
            .columns(OPERATION_COLUMNS.into_iter().chain(CLAIM_COLUMNS))
            .values(row)
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

    /// Writes the outcome of a step and gives the claim back, if the stepper still holds the latest
    /// claim (`operation.claim_epoch`).
    pub(crate) async fn save(&self, operation: &Operation) -> Result<Saved, DbError> {
        self.write_claimed(operation, true).await
    }

    /// Writes what a step learned so far (a call about to leave, a reference AWS returned) and keeps
    /// the claim for the rest of the step, if the stepper still holds the latest claim.
    pub(crate) async fn checkpoint(&self, operation: &Operation) -> Result<Saved, DbError> {
        self.write_claimed(operation, false).await
    }

    async fn write_claimed(&self, operation: &Operation, release: bool) -> Result<Saved, DbError> {
        let values = values(operation)?;
        let mut update = Query::update();
        update.table(TABLE);
        for (column, value) in OPERATION_COLUMNS.into_iter().zip(values).skip(1) {
            update.value(column, value);
        }
        if release {
            update.value("claimed_until", Expr::val(None::<DateTime<Utc>>));
        }
        update
            .and_where(Expr::col("id").eq(operation.id))
            .and_where(Expr::col("claim_epoch").eq(operation.claim_epoch));
        // What AWS answered may name more accounts (a created account, a handshake's target). They
        // go first and the set only grows, so a crash in between leaves no saved state whose
        // accounts are missing, and no transaction is needed on this hot path. A superseded stepper
        // adds only accounts AWS did name for this operation, which is still true.
        record_concerns(self.db.conn(), operation).await?;
        if self.db.conn().execute(&update).await?.rows_affected() == 1 {
            return Ok(Saved::Written);
        }
        Ok(Saved::Superseded(
            self.get(operation.id).await?.map(Box::new),
        ))
    }

    /// Takes the operation for one step, so that two workers (or a worker and a GetOperation) never
    /// step it at once: succeeds when it is due on the business clock at `business_now` and nobody's
    /// claim is live at `real_now`. The claim lasts until `claimed_until` (real time) or until the
    /// stepper saves, and comes with the next epoch; the operation is returned as it stands under that
    /// claim, carrying the epoch its writes must present. `None` when it is not due or someone else
    /// holds it.
    pub(crate) async fn claim(
        &self,
        id: Uuid,
        business_now: DateTime<Utc>,
        real_now: DateTime<Utc>,
        claimed_until: DateTime<Utc>,
    ) -> Result<Option<Operation>, DbError> {
        let conn = self.db.conn();
        let current = Query::select()
            .column("claim_epoch")
            .from(TABLE)
            .and_where(Expr::col("id").eq(id))
            .to_owned();
        let Some(row) = conn.query_one(&current).await? else {
            return Ok(None);
        };
        let previous: i64 = row.try_get("", "claim_epoch")?;
        let epoch = previous.saturating_add(1);
        // Compare-and-set on the epoch: of two steppers that read the same epoch, one wins.
        let update = Query::update()
            .table(TABLE)
            .value("claimed_until", claimed_until)
            .value("claim_epoch", epoch)
            .and_where(Expr::col("id").eq(id))
            .and_where(Expr::col("claim_epoch").eq(previous))
            .cond_where(claimable(business_now, real_now))
            .to_owned();
        if conn.execute(&update).await?.rows_affected() != 1 {
            return Ok(None);
        }
        // Read after the claim, so the copy includes every write of the previous holder; the epoch
        // filter finds nothing if the claim already lapsed and someone else took it.
        let claimed = select()
            .and_where(Expr::col("id").eq(id))
            .and_where(Expr::col("claim_epoch").eq(epoch))
            .to_owned();
        conn.query_one(&claimed)
            .await?
            .map(|row| decode(&row))
            .transpose()
    }

    /// Up to `limit` operations [`OperationStore::claim`] could take now, the most overdue first.
    pub(crate) async fn due(
        &self,
        business_now: DateTime<Utc>,
        real_now: DateTime<Utc>,
        limit: u64,
    ) -> Result<Vec<Uuid>, DbError> {
        let select = Query::select()
            .column("id")
            .from(TABLE)
            .cond_where(claimable(business_now, real_now))
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
}

/// Operations a stepper may claim: in flight, due on the business clock at `business_now`, and held
/// by no live claim at `real_now`.
fn claimable(business_now: DateTime<Utc>, real_now: DateTime<Utc>) -> Condition {
    Condition::all()
        .add(Expr::col("next_check_at").lte(business_now))
        .add(Expr::col("state").is_in([
            OperationState::InProgress.as_str(),
            OperationState::Deferred.as_str(),
        ]))
        .add(
            Expr::col("claimed_until")
                .is_null()
                .or(Expr::col("claimed_until").lte(real_now)),
        )
}

fn select() -> sea_orm::sea_query::SelectStatement {
    Query::select()
        .columns(OPERATION_COLUMNS)
        .column("claim_epoch")
        .from(TABLE)
        .to_owned()
}

#[cfg(test)]
mod tests;
