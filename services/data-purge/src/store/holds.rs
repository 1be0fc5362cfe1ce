//! Legal holds.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Order, Query, SelectStatement};
use sea_orm::{ConnectionTrait, QueryResult};
use uuid::Uuid;

use crate::domain::{Actor, LegalHold, PurgeError, Scope, ScopeKind};
use crate::store::{account_column, all_rows, column, insert_row, optional_time};

const TABLE: &str = "legal_hold";

/// The columns a hold is written and read with; a release adds [`RELEASE_COLUMNS`].
pub(crate) const COLUMNS: [&str; 12] = [
    "id",
    "tenant_id",
    "scope_kind",
    "aws_account_id",
    "reason",
    "ticket",
    "placed_by",
    "placed_by_role",
    "placed_at",
    "released_by",
    "released_by_role",
    "released_at",
];

/// What a release records besides who and when.
pub(crate) const RELEASE_COLUMNS: [&str; 2] = ["release_reason", "release_ticket"];

fn from_row(row: &QueryResult) -> Result<LegalHold, PurgeError> {
    let broken = |what: &'static str| PurgeError::internal(what);
    let tenant: Uuid = column(row, "tenant_id")?;
    let scope = match ScopeKind::parse(&column::<String>(row, "scope_kind")?) {
        Some(ScopeKind::Tenant) => Scope::tenant(tenant),
        Some(ScopeKind::Account) => {
            let account = account_column(row, "aws_account_id")?
                .ok_or(broken("a stored account hold has no account id"))?;
            Scope::account(tenant, account)
        }
        None => return Err(broken("a stored scope kind is unknown")),
    };
    let actor = |subject: &str, role: &str| -> Result<Option<Actor>, PurgeError> {
        let subject: Option<String> = column(row, subject)?;
        let role: Option<String> = column(row, role)?;
        match (subject, role) {
            (Some(subject), Some(role)) => Actor::stored(subject, &role)
                .map(Some)
                .ok_or(broken("a stored caller role is unknown")),
            _ => Ok(None),
        }
    };
    Ok(LegalHold {
        id: column(row, "id")?,
        scope,
        reason: column(row, "reason")?,
        ticket: column(row, "ticket")?,
        placed_by: actor("placed_by", "placed_by_role")?
            .ok_or(broken("a stored hold has no author"))?,
        placed_at: column(row, "placed_at")?,
        released_by: actor("released_by", "released_by_role")?,
        released_at: optional_time(row, "released_at")?,
    })
}

fn select() -> SelectStatement {
    Query::select().columns(COLUMNS).from(TABLE).to_owned()
}

/// Stores a new hold.
pub(crate) async fn insert(
    conn: &impl ConnectionTrait,
    hold: &LegalHold,
) -> Result<(), PurgeError> {
    insert_row(
        conn,
        TABLE,
        COLUMNS,
        [
            Expr::val(hold.id),
            Expr::val(hold.scope.tenant),
            Expr::val(hold.scope.kind().as_str()),
            Expr::val(hold.scope.account.as_ref().map(|id| id.as_str().to_owned())),
            Expr::val(hold.reason.as_str()),
            Expr::val(hold.ticket.as_str()),
            Expr::val(hold.placed_by.subject.as_str()),
            Expr::val(hold.placed_by.role_name()),
            Expr::val(hold.placed_at),
            Expr::val(None::<String>),
            Expr::val(None::<String>),
            Expr::val(None::<DateTime<Utc>>),
        ],
    )
    .await?;
    Ok(())
}

/// One hold.
pub(crate) async fn get(
    conn: &impl ConnectionTrait,
    id: Uuid,
) -> Result<Option<LegalHold>, PurgeError> {
    let mut select = select();
    select.and_where(Expr::col("id").eq(id));
    conn.query_one(&select)
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

/// Marks a hold released, if it was still active; false when it was not.
pub(crate) async fn release(
    conn: &impl ConnectionTrait,
    id: Uuid,
    by: &Actor,
    reason: &str,
    ticket: &str,
    at: DateTime<Utc>,
) -> Result<bool, PurgeError> {
    let update = Query::update()
        .table(TABLE)
        .value("released_by", by.subject.as_str())
        .value("released_by_role", by.role_name())
        .value("released_at", at)
        .value(RELEASE_COLUMNS[0], reason)
        .value(RELEASE_COLUMNS[1], ticket)
        .and_where(Expr::col("id").eq(id))
        .and_where(Expr::col("released_at").is_null())
        .to_owned();
    Ok(conn.execute(&update).await?.rows_affected() == 1)
}

/// The holds in force in a tenant.
pub(crate) async fn active_in_tenant(
    conn: &impl ConnectionTrait,
    tenant: Uuid,
) -> Result<Vec<LegalHold>, PurgeError> {
    let mut select = select();
    select
        .and_where(Expr::col("tenant_id").eq(tenant))
        .and_where(Expr::col("released_at").is_null())
        .order_by("placed_at", Order::Asc);
    all_rows(conn, &select, from_row).await
}

/// One page of holds, oldest first.
pub(crate) async fn list(
    conn: &impl ConnectionTrait,
    active_only: bool,
    offset: u64,
    limit: u64,
) -> Result<Vec<LegalHold>, PurgeError> {
    let mut select = select();
    if active_only {
        select.and_where(Expr::col("released_at").is_null());
    }
    select
        .order_by("placed_at", Order::Asc)
        .order_by("id", Order::Asc)
        .offset(offset)
        .limit(limit);
    all_rows(conn, &select, from_row).await
}
