//! Row counts of every table the services own, read over SQL on the test database (as a role that
//! row-level security does not bind), so that a refused request that stored anything shows.

use std::collections::BTreeMap;

use sea_orm::{ConnectionTrait as _, DbBackend, Statement};
use tenure_grpc::ServiceKind;

use crate::stack::Stack;

/// Tables whose rows are not a request's effect: the sandbox's, which stand in for AWS itself; the
/// audit trails every operator call appends to by design (quality.md §1.8); what the background
/// workers write on their own schedule (saga attempts, stream bookkeeping, leases, migrations); and
/// the rate limiter's buckets, which every call moves.
fn counted(schema: &str, table: &str) -> bool {
    let background = [
        "audit",
        "migrations",
        "attempt",
        "lease",
        "stream_meta",
        "rate_limit",
    ];
    let sandbox = schema == "provisioning" && table.starts_with("sandbox_");
    !sandbox && !background.iter().any(|word| table.contains(word))
}

pub(crate) struct RowCounter {
    db: tenure_db::Db,
    query: String,
    pub(crate) tables: Vec<String>,
}

impl RowCounter {
    pub(crate) async fn open(stack: &Stack) -> Self {
        let db = stack.sql(ServiceKind::Orders).await;
        let schemas: Vec<sea_orm::Value> = ServiceKind::ALL
            .iter()
            .map(|kind| kind.schema().into())
            .collect();
        let rows = db
            .conn()
            .query_all_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT table_schema::text AS s, table_name::text AS t \
                 FROM information_schema.tables \
                 WHERE table_schema IN ($1, $2, $3, $4) AND table_type = 'BASE TABLE' \
                 ORDER BY 1, 2",
                schemas,
            ))
            .await
            .expect("catalogue");
        let mut tables = Vec::new();
        for row in rows {
            let schema: String = row.try_get("", "s").expect("schema");
            let table: String = row.try_get("", "t").expect("table");
            if counted(&schema, &table) {
                tables.push(format!("{schema}.{table}"));
            }
        }
        assert!(tables.len() > 10, "the services' tables: {tables:?}");
        let query = tables
            .iter()
            .map(|name| {
                let (schema, table) = name.split_once('.').expect("qualified");
                format!("SELECT '{name}' AS t, count(*) AS n FROM \"{schema}\".\"{table}\"")
            })
            .collect::<Vec<_>>()
            .join(" UNION ALL ");
        Self { db, query, tables }
    }

    /// Rows per table, now.
    pub(crate) async fn snapshot(&self) -> BTreeMap<String, i64> {
        let rows = self
            .db
            .conn()
            .query_all_raw(Statement::from_string(
                DbBackend::Postgres,
                self.query.clone(),
            ))
            .await
            .expect("row counts");
        rows.iter()
            .map(|row| {
                (
                    row.try_get::<String>("", "t").expect("table"),
                    row.try_get::<i64>("", "n").expect("count"),
                )
            })
            .collect()
    }
}

/// The tables whose counts changed between two snapshots, with the change.
pub(crate) fn changed(
    before: &BTreeMap<String, i64>,
    after: &BTreeMap<String, i64>,
) -> Vec<(String, i64)> {
    after
        .iter()
        .filter_map(|(table, count)| {
            let delta = count - before.get(table).copied().unwrap_or(0);
            (delta != 0).then(|| (table.clone(), delta))
        })
        .collect()
}
