//! The purge event outbox. Events are written in the transaction of the change they announce, and
//! take their position from a one-row counter: on PostgreSQL the counter's row lock is held until
//! commit, so positions become visible strictly in order and a reader that has seen position `n` has
//! seen every position below it. Purge events are rare, so serialising their writers costs nothing
//! worth the snapshot bookkeeping the much busier order stream needs.

use sea_orm::sea_query::{Expr, ExprTrait, Order, Query};
use sea_orm::{ConnectionTrait, QueryResult, Statement};
use tenure_domain::AwsAccountId;

use crate::domain::{PurgeError, PurgeStreamEvent, SCHEMA_VERSION, ScopeKind};
use crate::store::{account_column, all_rows, column, insert_row, json, optional_time, to_json};

const TABLE: &str = "purge_event";

/// Every column of the outbox, in the order [`append`] writes them.
pub(crate) const COLUMNS: [&str; 15] = [
    "position",
    "event_id",
    "purge_id",
    "tenant_id",
    "event_type",
    "schema_version",
    "effective_at",
    "recorded_at",
    "scope_kind",
    "aws_account_id",
    "classes",
    "due_at",
    "receipt_id",
    "traceparent",
    "tracestate",
];

/// The event types of the stream, as billing systems know them.
pub(crate) const EVENT_TYPES: [&str; 4] = [
    "purge.scheduled",
    "purge.cancelled",
    "purge.blocked_by_hold",
    "data.erased",
];

/// Appends `event` at the next position, which it returns.
pub(crate) async fn append(
    conn: &impl ConnectionTrait,
    event: &PurgeStreamEvent,
) -> Result<u64, PurgeError> {
    let backend = conn.get_database_backend();
    let next = conn
        .query_one_raw(Statement::from_string(
            backend,
            "UPDATE event_head SET last_position = last_position + 1 WHERE id = 1 \
             RETURNING last_position",
        ))
        .await?
        .ok_or(PurgeError::internal(
            "the event position counter is missing",
        ))?;
    let position: i64 = column(&next, "last_position")?;
    let (traceparent, tracestate) = match &event.traceparent {
        Some((parent, state)) => (Some(parent.clone()), Some(state.clone())),
        None => (None, None),
    };
    insert_row(
        conn,
        TABLE,
        COLUMNS,
        [
            Expr::val(position),
            Expr::val(event.event_id),
            Expr::val(event.purge_id),
            Expr::val(event.tenant_id),
            Expr::val(event.event_type),
            Expr::val(SCHEMA_VERSION),
            Expr::val(event.effective_at),
            Expr::val(event.recorded_at),
            Expr::val(event.scope_kind.as_str()),
            Expr::val(event.aws_account_id.as_ref().map(AwsAccountId::to_string)),
            Expr::val(to_json(&event.classes)?),
            Expr::val(event.due_at),
            Expr::val(event.receipt_id),
            Expr::val(traceparent),
            Expr::val(tracestate),
        ],
    )
    .await?;
    Ok(u64::try_from(position).unwrap_or(0))
}

fn from_row(row: &QueryResult) -> Result<PurgeStreamEvent, PurgeError> {
    let broken = |what: &'static str| PurgeError::internal(what);
    let raw_type: String = column(row, "event_type")?;
    let event_type = EVENT_TYPES
        .into_iter()
        .find(|known| *known == raw_type)
        .ok_or(broken("a stored event type is unknown"))?;
    let position: i64 = column(row, "position")?;
    let traceparent: Option<String> = column(row, "traceparent")?;
    let tracestate: Option<String> = column(row, "tracestate")?;
    Ok(PurgeStreamEvent {
        position: u64::try_from(position).unwrap_or(0),
        event_id: column(row, "event_id")?,
        purge_id: column(row, "purge_id")?,
        tenant_id: column(row, "tenant_id")?,
        event_type,
        effective_at: column(row, "effective_at")?,
        recorded_at: column(row, "recorded_at")?,
        scope_kind: ScopeKind::parse(&column::<String>(row, "scope_kind")?)
            .ok_or(broken("a stored scope kind is unknown"))?,
        aws_account_id: account_column(row, "aws_account_id")?,
        classes: json(&column::<String>(row, "classes")?)?,
        due_at: optional_time(row, "due_at")?,
        receipt_id: column(row, "receipt_id")?,
        traceparent: traceparent.map(|parent| (parent, tracestate.unwrap_or_default())),
    })
}

/// Up to `limit` events after `position`, in order.
pub(crate) async fn after(
    conn: &impl ConnectionTrait,
    position: u64,
    limit: u64,
) -> Result<Vec<PurgeStreamEvent>, PurgeError> {
    let select = Query::select()
        .columns(COLUMNS)
        .from(TABLE)
        .and_where(Expr::col("position").gt(i64::try_from(position).unwrap_or(i64::MAX)))
        .order_by("position", Order::Asc)
        .limit(limit)
        .to_owned();
    all_rows(conn, &select, from_row).await
}

/// The position of the latest committed event; 0 before the first.
pub(crate) async fn latest(conn: &impl ConnectionTrait) -> Result<u64, PurgeError> {
    let select = Query::select()
        .column("last_position")
        .from("event_head")
        .and_where(Expr::col("id").eq(1))
        .to_owned();
    let position: i64 = match conn.query_one(&select).await? {
        Some(row) => column(&row, "last_position")?,
        None => 0,
    };
    Ok(u64::try_from(position).unwrap_or(0))
}
