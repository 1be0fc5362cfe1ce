//! Purge requests: their schedule, claims, plan and outcome, and the audit trail of every transition.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{
    Condition, Expr, ExprTrait, Func, Order, Query, SelectStatement, SimpleExpr,
};
use sea_orm::{ConnectionTrait, QueryResult};
use uuid::Uuid;

use crate::domain::{
    Purge, PurgeError, PurgeFilter, PurgeReason, PurgeState, Scope, ScopeKind, Transition,
};
use crate::store::{account_column, column, insert_row, json, optional_time, to_json};

const TABLE: &str = "purge_request";

/// Every column, in the order [`values`] writes them.
/// The columns of a purge's transition, its serial id first (the database assigns it).
pub(crate) const TRANSITION_COLUMNS: [&str; 12] = [
    "id",
    "purge_id",
    "tenant_id",
    "from_state",
    "to_state",
    "event",
    "actor",
    "actor_role",
    "reason",
    "ticket",
    "trace_id",
    "at",
];

pub(crate) const COLUMNS: [&str; 25] = [
    "id",
    "tenant_id",
    "scope_kind",
    "aws_account_id",
    "scope_key",
    "reason",
    "state",
    "classes",
    "ticket",
    "requested_at",
    "triggered_at",
    "due_at",
    "deadline",
    "started_at",
    "completed_at",
    "cancelled_at",
    "expedite_ticket",
    "plan",
    "manifest_hash",
    "receipt_id",
    "claim_epoch",
    "claimed_until",
    "residual_rows",
    "last_error",
    "holds",
];

fn values(purge: &Purge) -> Result<Vec<SimpleExpr>, PurgeError> {
    let plan = purge.plan.as_ref().map(to_json).transpose()?;
    Ok(vec![
        Expr::val(purge.id),
        Expr::val(purge.scope.tenant),
        Expr::val(purge.scope.kind().as_str()),
        Expr::val(
            purge
                .scope
                .account
                .as_ref()
                .map(|id| id.as_str().to_owned()),
        ),
        Expr::val(purge.scope.key()),
        Expr::val(purge.reason.as_str()),
        Expr::val(purge.state.as_str()),
        Expr::val(to_json(&purge.classes)?),
        Expr::val(purge.ticket.clone()),
        Expr::val(purge.requested_at),
        Expr::val(purge.triggered_at),
        Expr::val(purge.due_at),
        Expr::val(purge.deadline),
        Expr::val(purge.started_at),
        Expr::val(purge.completed_at),
        Expr::val(purge.cancelled_at),
        Expr::val(purge.expedite_ticket.clone()),
        Expr::val(plan),
        Expr::val(purge.manifest_hash.clone()),
        Expr::val(purge.receipt_id),
        Expr::val(purge.claim_epoch),
        Expr::val(None::<DateTime<Utc>>),
        Expr::val(i64::try_from(purge.residual_rows).unwrap_or(i64::MAX)),
        Expr::val(purge.last_error.clone()),
        Expr::val(to_json(&purge.holds)?),
    ])
}

fn from_row(row: &QueryResult) -> Result<Purge, PurgeError> {
    let broken = |what: &'static str| PurgeError::internal(what);
    let kind = ScopeKind::parse(&column::<String>(row, "scope_kind")?)
        .ok_or(broken("a stored scope kind is unknown"))?;
    let tenant: Uuid = column(row, "tenant_id")?;
    let scope = match kind {
        ScopeKind::Tenant => Scope::tenant(tenant),
        ScopeKind::Account => {
            let account = account_column(row, "aws_account_id")?
                .ok_or(broken("a stored account purge has no account id"))?;
            Scope::account(tenant, account)
        }
    };
    let plan: Option<String> = column(row, "plan")?;
    let residual: i64 = column(row, "residual_rows")?;
    Ok(Purge {
        id: column(row, "id")?,
        scope,
        reason: PurgeReason::parse(&column::<String>(row, "reason")?)
            .ok_or(broken("a stored purge reason is unknown"))?,
        state: PurgeState::parse(&column::<String>(row, "state")?)
            .ok_or(broken("a stored purge state is unknown"))?,
        classes: json(&column::<String>(row, "classes")?)?,
        ticket: column(row, "ticket")?,
        requested_at: column(row, "requested_at")?,
        triggered_at: column(row, "triggered_at")?,
        due_at: column(row, "due_at")?,
        deadline: column(row, "deadline")?,
        started_at: optional_time(row, "started_at")?,
        completed_at: optional_time(row, "completed_at")?,
        cancelled_at: optional_time(row, "cancelled_at")?,
        expedite_ticket: column(row, "expedite_ticket")?,
        plan: plan.as_deref().map(json).transpose()?,
        manifest_hash: column(row, "manifest_hash")?,
        receipt_id: column(row, "receipt_id")?,
        claim_epoch: column(row, "claim_epoch")?,
        residual_rows: u64::try_from(residual).unwrap_or(0),
        last_error: column(row, "last_error")?,
        holds: json(&column::<String>(row, "holds")?)?,
    })
}

fn select() -> SelectStatement {
    Query::select().columns(COLUMNS).from(TABLE).to_owned()
}

async fn fetch_all(
    conn: &impl ConnectionTrait,
    select: &SelectStatement,
) -> Result<Vec<Purge>, PurgeError> {
    conn.query_all(select).await?.iter().map(from_row).collect()
}

async fn fetch_one(
    conn: &impl ConnectionTrait,
    select: &SelectStatement,
) -> Result<Option<Purge>, PurgeError> {
    conn.query_one(select)
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

/// Stores a new purge. A second pending purge for the same scope violates the pending-scope index.
pub(crate) async fn insert(conn: &impl ConnectionTrait, purge: &Purge) -> Result<(), PurgeError> {
    insert_row(conn, TABLE, COLUMNS, values(purge)?).await?;
    Ok(())
}

/// One purge; `tenant` narrows a customer's read to its own tenant, so another tenant's id answers
/// like a missing one.
pub(crate) async fn get(
    conn: &impl ConnectionTrait,
    id: Uuid,
    tenant: Option<Uuid>,
) -> Result<Option<Purge>, PurgeError> {
    let mut select = select();
    select.and_where(Expr::col("id").eq(id));
    if let Some(tenant) = tenant {
        select.and_where(Expr::col("tenant_id").eq(tenant));
    }
    fetch_one(conn, &select).await
}

/// The pending purge of a scope, if any.
pub(crate) async fn pending_for(
    conn: &impl ConnectionTrait,
    scope: &Scope,
) -> Result<Option<Purge>, PurgeError> {
    let mut select = select();
    select
        .and_where(Expr::col("scope_key").eq(scope.key()))
        .and_where(Expr::col("state").is_in(PurgeState::PENDING.map(PurgeState::as_str)));
    fetch_one(conn, &select).await
}

/// The pending purges of a tenant, of any scope (for holds).
pub(crate) async fn pending_in_tenant(
    conn: &impl ConnectionTrait,
    tenant: Uuid,
) -> Result<Vec<Purge>, PurgeError> {
    let mut select = select();
    select
        .and_where(Expr::col("tenant_id").eq(tenant))
        .and_where(Expr::col("state").is_in(PurgeState::PENDING.map(PurgeState::as_str)))
        .order_by("requested_at", Order::Asc);
    fetch_all(conn, &select).await
}

/// One page of purges, oldest first.
pub(crate) async fn list(
    conn: &impl ConnectionTrait,
    filter: &PurgeFilter,
    offset: u64,
    limit: u64,
) -> Result<Vec<Purge>, PurgeError> {
    let mut select = select();
    if let Some(tenant) = filter.tenant {
        select.and_where(Expr::col("tenant_id").eq(tenant));
    }
    if !filter.states.is_empty() {
        select
            .and_where(Expr::col("state").is_in(filter.states.iter().map(|state| state.as_str())));
    }
    if let Some(account) = &filter.account {
        select.and_where(Expr::col("aws_account_id").eq(account.as_str()));
    }
    select
        .order_by("requested_at", Order::Asc)
        .order_by("id", Order::Asc)
        .offset(offset)
        .limit(limit);
    fetch_all(conn, &select).await
}

/// Writes `purge` over the stored row if nobody changed the row since it was read in `expected`
/// state under `expected_epoch`; false when someone did (a hold, a cancel, another worker's claim).
/// The write keeps the current claim unless `release` is set.
pub(crate) async fn save(
    conn: &impl ConnectionTrait,
    purge: &Purge,
    expected: PurgeState,
    expected_epoch: i64,
    release: bool,
) -> Result<bool, PurgeError> {
    let mut update = Query::update();
    update.table(TABLE);
    for (column, value) in COLUMNS.into_iter().zip(values(purge)?) {
        if column == "id" || (column == "claimed_until" && !release) {
            continue;
        }
        update.value(column, value);
    }
    update
        .and_where(Expr::col("id").eq(purge.id))
        .and_where(Expr::col("state").eq(expected.as_str()))
        .and_where(Expr::col("claim_epoch").eq(expected_epoch));
    Ok(conn.execute(&update).await?.rows_affected() == 1)
}

/// Appends a transition to the audit trail.
pub(crate) async fn record_transition(
    conn: &impl ConnectionTrait,
    purge: &Purge,
    transition: &Transition<'_>,
    trace_id: Option<String>,
    at: DateTime<Utc>,
) -> Result<(), PurgeError> {
    insert_row(
        conn,
        "purge_transition",
        TRANSITION_COLUMNS.into_iter().skip(1),
        [
            Expr::val(purge.id),
            Expr::val(purge.scope.tenant),
            Expr::val(transition.from.map(|state| state.as_str().to_owned())),
            Expr::val(transition.to.as_str()),
            Expr::val(transition.event),
            Expr::val(transition.actor.subject.as_str()),
            Expr::val(transition.actor.role_name()),
            Expr::val(transition.reason.map(str::to_owned)),
            Expr::val(transition.ticket.map(str::to_owned)),
            Expr::val(trace_id),
            Expr::val(at),
        ],
    )
    .await?;
    Ok(())
}

/// Scheduled purges whose due time has passed on the business clock.
pub(crate) async fn fallen_due(
    conn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<Purge>, PurgeError> {
    let mut select = select();
    select
        .and_where(Expr::col("state").eq(PurgeState::Scheduled.as_str()))
        .and_where(Expr::col("due_at").lte(now))
        .order_by("due_at", Order::Asc)
        .limit(limit);
    fetch_all(conn, &select).await
}

fn unclaimed(real_now: DateTime<Utc>) -> Condition {
    Condition::any()
        .add(Expr::col("claimed_until").is_null())
        .add(Expr::col("claimed_until").lt(real_now))
}

/// Due or running purges nobody holds a live claim on, at `real_now`.
pub(crate) async fn claimable(
    conn: &impl ConnectionTrait,
    real_now: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<Uuid>, PurgeError> {
    let select = Query::select()
        .column("id")
        .from(TABLE)
        .and_where(
            Expr::col("state").is_in([PurgeState::Due.as_str(), PurgeState::Running.as_str()]),
        )
        .cond_where(unclaimed(real_now))
        .order_by("due_at", Order::Asc)
        .limit(limit)
        .to_owned();
    conn.query_all(&select)
        .await?
        .iter()
        .map(|row| column(row, "id"))
        .collect()
}

/// Takes a purge for execution until `until` (real time) with the next fencing epoch, if it is still
/// due or running and nobody's claim is live; the purge as it stands under the new claim.
pub(crate) async fn claim(
    conn: &impl ConnectionTrait,
    id: Uuid,
    real_now: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Option<Purge>, PurgeError> {
    let Some(current) = get(conn, id, None).await? else {
        return Ok(None);
    };
    let epoch = current.claim_epoch.saturating_add(1);
    let update = Query::update()
        .table(TABLE)
        .value("claimed_until", until)
        .value("claim_epoch", epoch)
        .and_where(Expr::col("id").eq(id))
        .and_where(Expr::col("claim_epoch").eq(current.claim_epoch))
        .and_where(
            Expr::col("state").is_in([PurgeState::Due.as_str(), PurgeState::Running.as_str()]),
        )
        .cond_where(unclaimed(real_now))
        .to_owned();
    if conn.execute(&update).await?.rows_affected() != 1 {
        return Ok(None);
    }
    Ok(Some(Purge {
        claim_epoch: epoch,
        ..current
    }))
}

/// Extends a claim the worker still holds; false when it lost it.
pub(crate) async fn renew(
    conn: &impl ConnectionTrait,
    id: Uuid,
    epoch: i64,
    until: DateTime<Utc>,
) -> Result<bool, PurgeError> {
    let update = Query::update()
        .table(TABLE)
        .value("claimed_until", until)
        .and_where(Expr::col("id").eq(id))
        .and_where(Expr::col("claim_epoch").eq(epoch))
        .to_owned();
    Ok(conn.execute(&update).await?.rows_affected() == 1)
}

/// Records why an attempt stopped and lets the purge go for the next pass.
pub(crate) async fn release(
    conn: &impl ConnectionTrait,
    id: Uuid,
    epoch: i64,
    error: &str,
    residual_rows: u64,
) -> Result<(), PurgeError> {
    let update = Query::update()
        .table(TABLE)
        .value("claimed_until", None::<DateTime<Utc>>)
        .value("last_error", error)
        .value(
            "residual_rows",
            i64::try_from(residual_rows).unwrap_or(i64::MAX),
        )
        .and_where(Expr::col("id").eq(id))
        .and_where(Expr::col("claim_epoch").eq(epoch))
        .to_owned();
    conn.execute(&update).await?;
    Ok(())
}

/// Pending purges, held ones aside, whose policy deadline has passed: `purge_overdue`.
pub(crate) async fn overdue(
    conn: &impl ConnectionTrait,
    now: DateTime<Utc>,
) -> Result<u64, PurgeError> {
    count(
        conn,
        Condition::all()
            .add(Expr::col("state").is_in([
                PurgeState::Scheduled.as_str(),
                PurgeState::Due.as_str(),
                PurgeState::Running.as_str(),
            ]))
            .add(Expr::col("deadline").lt(now)),
    )
    .await
}

/// Rows the latest verification of unfinished purges still found: `purge_residual_rows`.
pub(crate) async fn residual_rows(conn: &impl ConnectionTrait) -> Result<u64, PurgeError> {
    let select = Query::select()
        // PostgreSQL sums bigints into numeric; the cast keeps one integer type on both backends.
        .expr_as(
            Expr::cust("COALESCE(CAST(SUM(residual_rows) AS BIGINT), 0)"),
            "total",
        )
        .from(TABLE)
        .and_where(Expr::col("state").eq(PurgeState::Running.as_str()))
        .to_owned();
    let total: i64 = match conn.query_one(&select).await? {
        Some(row) => column(&row, "total")?,
        None => 0,
    };
    Ok(u64::try_from(total).unwrap_or(0))
}

async fn count(conn: &impl ConnectionTrait, condition: Condition) -> Result<u64, PurgeError> {
    let select = Query::select()
        .expr_as(Func::count(Expr::col("id")), "rows")
        .from(TABLE)
        .cond_where(condition)
        .to_owned();
    let rows: i64 = match conn.query_one(&select).await? {
        Some(row) => column(&row, "rows")?,
        None => 0,
    };
    Ok(u64::try_from(rows).unwrap_or(0))
}
