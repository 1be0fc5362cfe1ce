//! What provisioning holds about a purge subject (domain.md §8): the operation journal and the recorded
//! owners of AWS references are `aws_fetched`; leases and idempotency records are `operational` and hold
//! no customer data. The sandbox tables simulate AWS itself (they are AWS's data, not Tenure's), so a
//! purge leaves them alone, as it leaves real AWS alone.

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Query, SimpleExpr};
use sea_orm::{ConnectionTrait, QueryResult};
use tenure_db::idempotency::{self, Claim, IdempotencyScope};
use tenure_db::{Db, DbError, TenantTx};
use uuid::Uuid;

use super::operation_store::{CONCERN_TABLE, REFERENCE_TABLE};

/// How long an Execute key answers with its first response: longer than data-purge keeps retrying one
/// run of a purge.
const EXECUTE_KEY_TTL: Duration = Duration::days(30);

/// What an Execute came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Executed {
    /// The encoded response: just produced, or the first one for a replayed key.
    Response(Vec<u8>),
    /// The key was used for another request.
    KeyReused,
    /// The same request is being executed by another call.
    InFlight,
}

pub(crate) use crate::domain::purge::{PurgeSubject, TableKeys};

/// A column of a row's key: operation ids are UUIDs (a blob on SQLite), the others text.
#[derive(Debug, Clone, Copy)]
enum KeyColumn {
    Uuid(&'static str),
    Text(&'static str),
}

impl KeyColumn {
    fn name(self) -> &'static str {
        match self {
            Self::Uuid(name) | Self::Text(name) => name,
        }
    }

    fn read(self, row: &QueryResult) -> Result<String, DbError> {
        Ok(match self {
            Self::Uuid(name) => row.try_get::<Uuid>("", name)?.to_string(),
            Self::Text(name) => row.try_get::<String>("", name)?,
        })
    }
}

/// The `aws_fetched` tables and the columns that key their rows, in the order Execute deletes them:
/// an operation is found through the accounts it concerns, so those go after it.
const TABLES: [(&str, &[KeyColumn]); 3] = [
    ("operation", &[KeyColumn::Uuid("id")]),
    (
        CONCERN_TABLE,
        &[
            KeyColumn::Uuid("operation_id"),
            KeyColumn::Text("aws_account_id"),
        ],
    ),
    (REFERENCE_TABLE, &[KeyColumn::Text("reference")]),
];

/// Counts and deletes a subject's rows.
#[derive(Debug, Clone)]
pub(crate) struct PurgeStore {
    db: Db,
}

impl PurgeStore {
    /// A store over `db`.
    pub(crate) fn new(db: Db) -> Self {
        Self { db }
    }

    /// The subject's rows of `table`. For an account, that is every operation that concerns the
    /// account (names it, reports it or learned about it) with all its concerned accounts, and every
    /// reference that is the account or about it; always within the subject's tenant.
    fn matches(table: &str, subject: &PurgeSubject) -> SimpleExpr {
        let (tenant_id, account) = match subject {
            PurgeSubject::Account { tenant_id, account } => (tenant_id, Some(account.as_str())),
            PurgeSubject::Tenant { tenant_id } => (tenant_id, None),
        };
        let tenant = Expr::col("tenant_id").eq(*tenant_id);
        let Some(account) = account else {
            return tenant;
        };
        // Reads only the concern table, so that it still selects the same operations while Execute
        // deletes them.
        let concerning = Query::select()
            .column("operation_id")
            .from(CONCERN_TABLE)
            .and_where(Expr::col("aws_account_id").eq(account))
            .to_owned();
        match table {
            "operation" => tenant.and(Expr::col("id").in_subquery(concerning)),
            CONCERN_TABLE => tenant.and(Expr::col("operation_id").in_subquery(concerning)),
            _ => tenant.and(
                Expr::col("reference")
                    .eq(account)
                    .or(Expr::col("aws_account_id").eq(account)),
            ),
        }
    }

    /// The keys of the subject's `aws_fetched` rows per table (tables without rows included).
    pub(crate) async fn keys(&self, subject: &PurgeSubject) -> Result<Vec<TableKeys>, DbError> {
        Self::keys_in(self.db.conn(), subject).await
    }

    /// Reads the keys of the subject's rows and, when `purge`, deletes them, in one transaction with
    /// the claim and completion of the call's idempotency key, so that the keys name exactly the rows
    /// deleted and a replay of the key answers with the first response. `respond` encodes the response
    /// from the keys and the deleted rows per table.
    pub(crate) async fn execute_once(
        &self,
        key: &IdempotencyScope,
        request_hash: &[u8],
        now: DateTime<Utc>,
        subject: &PurgeSubject,
        purge: bool,
        respond: impl FnOnce(&[TableKeys], &[(&'static str, u64)]) -> Vec<u8>,
    ) -> Result<Executed, DbError> {
        // Provisioning's tables are not tenant-scoped by row-level security; the subject's tenant is
        // in every statement's filter instead.
        let tx = TenantTx::begin_unscoped(&self.db).await?;
        match idempotency::claim(&*tx, key, request_hash, now, EXECUTE_KEY_TTL).await? {
            Claim::Fresh => {}
            Claim::Replay { response, .. } => return Ok(Executed::Response(response)),
            Claim::Mismatch => return Ok(Executed::KeyReused),
            Claim::InFlight => return Ok(Executed::InFlight),
        }
        let keys = Self::keys_in(&*tx, subject).await?;
        let deleted = if purge {
            Self::delete_in(&*tx, subject).await?
        } else {
            Vec::new()
        };
        let response = respond(&keys, &deleted);
        idempotency::complete(&*tx, key, 0, &response).await?;
        tx.commit().await?;
        Ok(Executed::Response(response))
    }

    async fn keys_in(
        conn: &impl ConnectionTrait,
        subject: &PurgeSubject,
    ) -> Result<Vec<TableKeys>, DbError> {
        let mut tables = Vec::new();
        for (table, key) in TABLES {
            let columns = key.iter().map(|column| column.name());
            let select = Query::select()
                .columns(columns.clone())
                .from(table)
                .and_where(Self::matches(table, subject))
                .to_owned();
            let rows = conn.query_all(&select).await?;
            let mut keys = Vec::with_capacity(rows.len());
            for row in &rows {
                let parts = key
                    .iter()
                    .map(|column| column.read(row))
                    .collect::<Result<Vec<_>, _>>()?;
                keys.push(parts.join("/"));
            }
            tables.push(TableKeys { table, keys });
        }
        Ok(tables)
    }

    /// Deletes the subject's `aws_fetched` rows and returns how many went per table. Repeating it
    /// deletes nothing more.
    async fn delete_in(
        conn: &impl ConnectionTrait,
        subject: &PurgeSubject,
    ) -> Result<Vec<(&'static str, u64)>, DbError> {
        let mut deleted = Vec::new();
        for (table, _) in TABLES {
            let delete = Query::delete()
                .from_table(table)
                .and_where(Self::matches(table, subject))
                .to_owned();
            deleted.push((table, conn.execute(&delete).await?.rows_affected()));
        }
        Ok(deleted)
    }
}
