//! The rows of the service's own tables that concern a subject, for its own data-owner answers.

use sea_orm::sea_query::{Expr, ExprTrait, Query, SimpleExpr};
use sea_orm::{ConnectionTrait, QueryResult};

use crate::domain::{PurgeError, Scope};
use crate::store::column;

/// How a table's rows are tied to a subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Owner {
    /// By its own `tenant_id` and, for account scope, its `aws_account_id`.
    Direct,
    /// By `tenant_id`, and for account scope through the purges of that account (`purge_id`).
    ThroughPurge,
    /// By the text `tenant_id` of an idempotency record; account scope has none of its own.
    IdempotencyTenant,
}

fn subject_filter(owner: Owner, scope: &Scope) -> SimpleExpr {
    let tenant = scope.tenant;
    match (owner, &scope.account) {
        (Owner::IdempotencyTenant, None) => Expr::col("tenant_id").eq(tenant.to_string()),
        (Owner::IdempotencyTenant, Some(_)) => Expr::val(false),
        (Owner::Direct | Owner::ThroughPurge, None) => Expr::col("tenant_id").eq(tenant),
        (Owner::Direct, Some(account)) => Expr::col("tenant_id")
            .eq(tenant)
            .and(Expr::col("aws_account_id").eq(account.as_str())),
        (Owner::ThroughPurge, Some(_)) => Expr::col("tenant_id").eq(tenant).and(
            Expr::col("purge_id").in_subquery(
                Query::select()
                    .column("id")
                    .from("purge_request")
                    .and_where(Expr::col("scope_key").eq(scope.key()))
                    .to_owned(),
            ),
        ),
    }
}

/// The type of a table's key column, read natively: SQLite keeps UUIDs as bytes, so a cast to text
/// would not give their usual form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyType {
    Uuid,
    Integer,
    Text,
}

/// The keys of `table`'s rows that concern `scope`, as text.
pub(crate) async fn row_keys(
    conn: &impl ConnectionTrait,
    table: &'static str,
    (key, key_type): (&'static str, KeyType),
    owner: Owner,
    scope: &Scope,
) -> Result<Vec<String>, PurgeError> {
    let select = Query::select()
        .column(key)
        .from(table)
        .and_where(subject_filter(owner, scope))
        .to_owned();
    conn.query_all(&select)
        .await?
        .iter()
        .map(|row: &QueryResult| match key_type {
            KeyType::Uuid => column::<uuid::Uuid>(row, key).map(|id| id.to_string()),
            KeyType::Integer => column::<i32>(row, key).map(|id| id.to_string()),
            KeyType::Text => column::<String>(row, key),
        })
        .collect()
}
