//! The operation journal, the per-account leases and the owners of AWS references.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Condition, Expr, ExprTrait, OnConflict, Order, Query};
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

    /// Takes the lease of `lock_key` for the claimed `operation` until `until` (real time, like the
    /// claim), or renews it. False while another operation, or an older claim's stepper of this one,
    /// holds an unexpired lease.
    pub(crate) async fn acquire_lease(
        &self,
        lock_key: &str,
        operation: &Operation,
        real_now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, DbError> {
        let conn = self.db.conn();
        // An expired lease belongs to a holder that crashed or stalled, and the lease of an older
        // claim of the same operation to a stepper that lost it: neither protects anything any more.
        let stale = Query::delete()
            .from_table("operation_lease")
            .and_where(Expr::col("lock_key").eq(lock_key))
            .and_where(
                Expr::col("expires_at")
                    .lte(real_now)
                    .or(Expr::col("operation_id")
                        .eq(operation.id)
                        .and(Expr::col("claim_epoch").lte(operation.claim_epoch))),
            )
            .to_owned();
        conn.execute(&stale).await?;
        let insert = Query::insert()
            .into_table("operation_lease")
            .columns(["lock_key", "operation_id", "expires_at", "claim_epoch"])
            .values([
                Expr::val(lock_key),
                Expr::val(operation.id),
                Expr::val(until),
                Expr::val(operation.claim_epoch),
            ])
            .map_err(|error| DbError::with_source(ErrorKind::Other, "lease insert", error))?
            .on_conflict(OnConflict::column("lock_key").do_nothing().to_owned())
            .to_owned();
        Ok(conn.execute(&insert).await?.rows_affected() == 1)
    }

    /// Gives the lease of `lock_key` back, if the claim `operation` was stepped under still holds it:
    /// a stepper that lost its claim must not free the lease of the one that took over.
    pub(crate) async fn release_lease(
        &self,
        lock_key: &str,
        operation: &Operation,
    ) -> Result<(), DbError> {
        let delete = Query::delete()
            .from_table("operation_lease")
            .and_where(Expr::col("lock_key").eq(lock_key))
            .and_where(Expr::col("operation_id").eq(operation.id))
            .and_where(Expr::col("claim_epoch").eq(operation.claim_epoch))
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
        claim_epoch: row.try_get("", "claim_epoch")?,
    })
}

#[cfg(test)]
mod tests {
    //! Claims and fencing against a real PostgreSQL and SQLite: the engine's exclusion rests on these
    //! statements alone.
    #![allow(
        clippy::expect_used,
        clippy::panic,
        reason = "a failed setup step or expectation is a failed test"
    )]

    use chrono::{DateTime, Duration, TimeZone as _, Utc};
    use tenure_db::DatabaseSettings;
    use tenure_testkit::{TestDatabase, TestSqlite};

    use super::{Intent, OperationStore, Saved};
    use crate::domain::operation::{Operation, OperationRequest, OperationState};

    const CLAIM: Duration = Duration::seconds(60);

    async fn store(settings: &DatabaseSettings) -> OperationStore {
        crate::store::migrate(settings).await.expect("migrations");
        OperationStore::new(tenure_db::connect(settings).await.expect("connect"))
    }

    /// A business clock far ahead of the real one, as in a sandbox fast-forwarded by months.
    fn clocks() -> (DateTime<Utc>, DateTime<Utc>) {
        let real = Utc
            .with_ymd_and_hms(2030, 1, 1, 12, 0, 0)
            .single()
            .expect("a valid date");
        (real + Duration::days(90), real)
    }

    async fn created(
        store: &OperationStore,
        business: DateTime<Utc>,
        real: DateTime<Utc>,
    ) -> Operation {
        let intent = Operation::intent(
            "orders",
            None,
            &uuid::Uuid::new_v4().to_string(),
            vec![1, 2, 3],
            OperationRequest::CreateAccount {
                management_account: "111111111111".to_owned(),
                email: "fenced@example.com".to_owned(),
                account_name: "Fenced".to_owned(),
            },
            business,
        );
        match store
            .insert_intent(intent, real + CLAIM)
            .await
            .expect("insert")
        {
            Intent::Created(operation) => operation,
            Intent::Existing(_) => panic!("a fresh key found an operation"),
        }
    }

    async fn a_stale_stepper_cannot_write_over_a_newer_claim(settings: DatabaseSettings) {
        let store = store(&settings).await;
        let (business, real) = clocks();
        let creators = created(&store, business, real).await;

        // Due on the business clock, but its creator's claim is live in real time: jumping the
        // business clock by months does not free it.
        let leap = business + Duration::days(90);
        assert!(
            store
                .claim(
                    creators.id,
                    leap,
                    real + Duration::seconds(30),
                    real + Duration::seconds(90)
                )
                .await
                .expect("claim")
                .is_none()
        );
        assert!(
            store
                .due(leap, real + Duration::seconds(30), 10)
                .await
                .expect("due")
                .is_empty()
        );

        // Once it lapses in real time, claims take turns, each with the next epoch.
        let later = real + CLAIM + Duration::seconds(1);
        let stale = store
            .claim(creators.id, business, later, later + CLAIM)
            .await
            .expect("claim")
            .expect("the lapsed claim is taken over");
        assert_eq!(stale.claim_epoch, creators.claim_epoch + 1);
        assert!(
            store
                .claim(creators.id, business, later, later + CLAIM)
                .await
                .expect("claim")
                .is_none(),
            "two live claims"
        );
        let latest_at = later + CLAIM + Duration::seconds(1);
        let latest = store
            .claim(creators.id, business, latest_at, latest_at + CLAIM)
            .await
            .expect("claim")
            .expect("the second lapsed claim is taken over");
        assert_eq!(latest.claim_epoch, stale.claim_epoch + 1);

        // The latest stepper finishes the operation.
        let mut finished = latest.clone();
        finished.state = OperationState::Succeeded;
        finished.next_check_at = None;
        finished.aws_calls = 2;
        assert!(matches!(
            store.save(&finished).await.expect("save"),
            Saved::Written
        ));

        // The stale stepper's writes, mid-step or final, are refused and answered with the row.
        let mut older = stale.clone();
        older.state = OperationState::InProgress;
        older.aws_calls = 1;
        older.next_check_at = Some(business);
        for write in [store.checkpoint(&older).await, store.save(&older).await] {
            let Saved::Superseded(Some(stored)) = write.expect("write") else {
                panic!("a stale write went through");
            };
            assert_eq!(stored.state, OperationState::Succeeded);
            assert_eq!(stored.claim_epoch, latest.claim_epoch);
        }
        // The creator, two claims behind, fares no better.
        assert!(
            matches!(
                store.save(&creators).await.expect("save"),
                Saved::Superseded(Some(_))
            ),
            "the creator's save went through"
        );
        let stored = store.get(creators.id).await.expect("get").expect("stored");
        assert_eq!(stored.state, OperationState::Succeeded);
        assert_eq!(stored.aws_calls, 2);
        // A settled operation is never claimed again.
        let much_later = latest_at + Duration::days(1);
        assert!(
            store
                .claim(creators.id, leap, much_later, much_later + CLAIM)
                .await
                .expect("claim")
                .is_none()
        );
    }

    async fn a_saved_step_frees_the_operation_for_its_next_business_check(
        settings: DatabaseSettings,
    ) {
        let store = store(&settings).await;
        let (business, real) = clocks();
        let mut operation = created(&store, business, real).await;
        operation.next_check_at = Some(business + Duration::minutes(5));
        assert!(matches!(
            store.save(&operation).await.expect("save"),
            Saved::Written
        ));
        // The claim was given back; what decides now is the business due time alone.
        let before_due = business + Duration::minutes(4);
        assert!(
            store
                .claim(operation.id, before_due, real, real + CLAIM)
                .await
                .expect("claim")
                .is_none()
        );
        let after_due = business + Duration::minutes(6);
        assert_eq!(
            store.due(after_due, real, 10).await.expect("due"),
            vec![operation.id]
        );
        let next = store
            .claim(operation.id, after_due, real, real + CLAIM)
            .await
            .expect("claim")
            .expect("due and unclaimed");
        assert_eq!(next.claim_epoch, operation.claim_epoch + 1);
    }

    async fn a_lease_follows_the_latest_claim(settings: DatabaseSettings) {
        let store = store(&settings).await;
        let (business, real) = clocks();
        let creators = created(&store, business, real).await;
        let key = creators.request.lock_key();
        assert!(
            store
                .acquire_lease(&key, &creators, real, real + CLAIM)
                .await
                .expect("lease")
        );
        let later = real + CLAIM + Duration::seconds(1);
        let latest = store
            .claim(creators.id, business, later, later + CLAIM)
            .await
            .expect("claim")
            .expect("taken over");
        // The new stepper takes its operation's lease over; the stale one cannot take it back or free it.
        assert!(
            store
                .acquire_lease(&key, &latest, later, later + CLAIM)
                .await
                .expect("lease")
        );
        store.release_lease(&key, &creators).await.expect("release");
        assert!(
            !store
                .acquire_lease(&key, &creators, later, later + CLAIM)
                .await
                .expect("lease")
        );
        // The holder's lease keeps another operation on the same account out, until released.
        let other = created(&store, business, real).await;
        assert!(
            !store
                .acquire_lease(&key, &other, later, later + CLAIM)
                .await
                .expect("lease")
        );
        store.release_lease(&key, &latest).await.expect("release");
        assert!(
            store
                .acquire_lease(&key, &other, later, later + CLAIM)
                .await
                .expect("lease")
        );
    }

    macro_rules! on_both_databases {
        ($($case:ident),+ $(,)?) => {
            mod postgres {
                $(
                    #[tokio::test]
                    async fn $case() {
                        let database = super::TestDatabase::create().await.expect("test database");
                        super::$case(database.settings("provisioning")).await;
                    }
                )+
            }
            mod sqlite {
                $(
                    #[tokio::test]
                    async fn $case() {
                        let files = super::TestSqlite::create().expect("sqlite directory");
                        super::$case(files.settings("provisioning")).await;
                    }
                )+
            }
        };
    }

    on_both_databases!(
        a_stale_stepper_cannot_write_over_a_newer_claim,
        a_saved_step_frees_the_operation_for_its_next_business_check,
        a_lease_follows_the_latest_claim,
    );
}
