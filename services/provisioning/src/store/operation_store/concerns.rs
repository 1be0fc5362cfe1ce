//! The accounts each operation concerns, by which a purge finds it.

use std::collections::BTreeSet;

use sea_orm::ConnectionTrait;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};
use tenure_db::{DbError, ErrorKind};
use uuid::Uuid;

use super::{CONCERN_COLUMNS, CONCERN_TABLE, REFERENCE_TABLE};
use crate::domain::operation::{Operation, OperationRequest};

/// Adds the accounts `operation` concerns to its set: those it names or learned, and the account
/// recorded for the reference it names. The set only grows, so a repeat adds nothing.
pub(super) async fn record_concerns(
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
