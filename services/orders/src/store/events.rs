//! The order event outbox (sagas.md §6). Events are written in the transaction of the transition
//! they announce, numbered per order under the saga's row lock, so `order_seq` is gap-free.
//!
//! Reading in commit order: a `bigserial` id is taken at insert, and transactions commit in any
//! order, so a reader at id 102 could miss 101 committing later. On PostgreSQL each row records its
//! writer's transaction id (`xid8`); readers order by `(epoch, tx, id)` and only read rows below the
//! oldest transaction still running (`pg_snapshot_xmin`): nothing can commit behind such a cursor any
//! more. Older epochs (before a logical restore restarted the xid counter) are closed and read whole.
//! SQLite allows one writer at a time, so there the row id is commit order.

use chrono::{DateTime, Utc};
use sea_orm::{
    AccessMode, ConnectionTrait, DbBackend, IsolationLevel, TransactionTrait as _, Value,
};
use tenure_db::Db;
use uuid::Uuid;

use crate::domain::OrdersError;
use crate::domain::saga::advance::event_id;
use crate::domain::saga::state::EventDraft;
use crate::domain::stream::{EventFilter, Page, Position, PositionBackend, StoredEvent};
use crate::store::transition::{Binder, Gate};
use crate::store::{column, json_column, placeholders, statement, time, to_json, unsigned};

/// The payloads' schema version.
pub(crate) const SCHEMA_VERSION: i32 = 1;

/// The kind of position a stream on `backend` hands out.
pub(crate) fn position_backend(backend: DbBackend) -> PositionBackend {
    match backend {
        DbBackend::Sqlite => PositionBackend::Sqlite,
        _ => PositionBackend::Postgres,
    }
}

/// The kind of position the stream of `db` hands out.
pub(crate) fn backend_of(db: &Db) -> PositionBackend {
    position_backend(db.conn().get_database_backend())
}

/// Appends `drafts` as events `first_seq..` of `order_id`. The caller has moved the saga's
/// `event_seq` past them under the row lock.
pub(crate) async fn append(
    conn: &impl ConnectionTrait,
    order_id: Uuid,
    tenant_id: Uuid,
    first_seq: i32,
    drafts: &[EventDraft],
    recorded_at: DateTime<Utc>,
    trace: Option<&(String, String)>,
) -> Result<(), OrdersError> {
    if drafts.is_empty() {
        return Ok(());
    }
    let mut b = Binder::default();
    let sql = insert_write(
        &mut b,
        Gate::Alone,
        &EventRows {
            order_id,
            tenant_id,
            first_seq,
            drafts,
            recorded_at,
            trace,
        },
    )?;
    conn.execute_raw(b.statement(conn.get_database_backend(), &sql))
        .await?;
    Ok(())
}

/// Events `first_seq..` of one order, recorded together.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EventRows<'a> {
    pub(crate) order_id: Uuid,
    pub(crate) tenant_id: Uuid,
    pub(crate) first_seq: i32,
    pub(crate) drafts: &'a [EventDraft],
    pub(crate) recorded_at: DateTime<Utc>,
    pub(crate) trace: Option<&'a (String, String)>,
}

/// The outbox rows of `rows` (at least one), in the stream's current epoch. They are inserted in
/// their order's sequence, so the row ids the stream orders by within a transaction follow it.
pub(crate) fn insert_write(
    b: &mut Binder,
    gate: Gate,
    rows: &EventRows<'_>,
) -> Result<String, OrdersError> {
    let mut selects = Vec::with_capacity(rows.drafts.len());
    for (offset, draft) in (0i32..).zip(rows.drafts) {
        let seq = rows.first_seq + offset;
        selects.push(format!(
            "SELECT {} AS event_id, {} AS order_id, {} AS tenant_id, {} AS order_seq, \
             {} AS event_type, {} AS schema_version, {} AS payload, {} AS effective_at, \
             {} AS recorded_at, {} AS traceparent, {} AS tracestate",
            b.bind(event_id(rows.order_id, seq)),
            b.bind(rows.order_id),
            b.bind(rows.tenant_id),
            b.bind(seq),
            b.bind(draft.payload.event_type()),
            b.bind(SCHEMA_VERSION),
            b.bind(to_json(&draft.payload)?),
            b.bind(draft.effective_at),
            b.bind(rows.recorded_at),
            b.bind(rows.trace.map(|(parent, _)| parent.clone())),
            b.bind(rows.trace.map(|(_, state)| state.clone())),
        ));
    }
    Ok(format!(
        "INSERT INTO order_event (epoch, event_id, order_id, tenant_id, order_seq, event_type, \
         schema_version, payload, effective_at, recorded_at, traceparent, tracestate) \
         SELECT stream_meta.epoch, v.event_id, v.order_id, v.tenant_id, v.order_seq, \
         v.event_type, v.schema_version, v.payload, v.effective_at, v.recorded_at, \
         v.traceparent, v.tracestate FROM stream_meta{}, ({}) AS v \
         WHERE stream_meta.id = 1 ORDER BY v.order_seq",
        gate.join(),
        selects.join(" UNION ALL "),
    ))
}

const EVENT_COLUMNS: &str = "id, epoch, event_id, order_id, tenant_id, order_seq, event_type, \
                             schema_version, payload, effective_at, recorded_at, traceparent, \
                             tracestate";

/// Up to `limit` events after `after` that match `filter`, in commit order. The page and the head the
/// cursor may jump to when it is short are read in one snapshot, so nothing commits between them.
pub(crate) async fn page(
    db: &Db,
    after: Position,
    limit: u64,
    filter: &EventFilter,
) -> Result<Page, OrdersError> {
    let conn = db.conn();
    let backend = conn.get_database_backend();
    // SQLite's transactions are serializable already and it has no read-only mode; asking it for
    // either only earns a warning per poll.
    let tx = match backend {
        DbBackend::Sqlite => conn.begin().await?,
        _ => {
            conn.begin_with_config(
                Some(IsolationLevel::RepeatableRead),
                Some(AccessMode::ReadOnly),
            )
            .await?
        }
    };
    let current_epoch = current_epoch(&tx).await?;
    let (mut values, mut conditions): (Vec<Value>, Vec<String>) = (Vec::new(), Vec::new());
    visible_after(backend, after, current_epoch, &mut values, &mut conditions);
    if let Some(tenant) = filter.tenant {
        let tenant = bind(tenant.into(), &mut values);
        conditions.push(format!("tenant_id = {tenant}"));
    }
    if !filter.types.is_empty() {
        let first = values.len() + 1;
        values.extend(filter.types.iter().map(|kind| Value::from(kind.as_str())));
        conditions.push(format!(
            "event_type IN ({})",
            placeholders(first, filter.types.len())
        ));
    }
    if !filter.orders.is_empty() {
        let first = values.len() + 1;
        values.extend(filter.orders.iter().map(|order| Value::from(*order)));
        conditions.push(format!(
            "order_id IN ({})",
            placeholders(first, filter.orders.len())
        ));
    }
    let limit_value = bind(i64::try_from(limit).unwrap_or(i64::MAX).into(), &mut values);
    let order = match backend {
        DbBackend::Postgres => "epoch, tx, id",
        _ => "epoch, id",
    };
    let sql = format!(
        "SELECT {EVENT_COLUMNS}, {} FROM order_event WHERE {} ORDER BY {order} \
         LIMIT {limit_value}",
        tx_text_column(backend),
        conditions.join(" AND ")
    );
    let rows = tx.query_all_raw(statement(backend, &sql, values)).await?;
    let events = rows
        .iter()
        .map(|row| stored_event(row, backend))
        .collect::<Result<Vec<_>, OrdersError>>()?;
    let caught_up = u64::try_from(events.len()).unwrap_or(u64::MAX) < limit;
    let mut position = events.last().map_or(after, |event| event.position);
    let mut held_back = false;
    if caught_up {
        // Everything the filter skipped up to the head is behind the reader too.
        if let Some(head) = head_in(&tx, backend, current_epoch).await?
            && head > position
        {
            position = head;
        }
        if events.is_empty() {
            held_back = any_held_back(&tx, backend, current_epoch).await?;
        }
    }
    tx.commit().await?;
    Ok(Page {
        events,
        position,
        caught_up,
        held_back,
    })
}

/// Whether this snapshot holds committed rows above its horizon: their writers ended, but one that
/// started before them has not.
async fn any_held_back(
    conn: &impl ConnectionTrait,
    backend: DbBackend,
    epoch: i32,
) -> Result<bool, OrdersError> {
    if backend != DbBackend::Postgres {
        return Ok(false);
    }
    let row = conn
        .query_one_raw(statement(
            backend,
            &format!("SELECT EXISTS (SELECT 1 FROM order_event WHERE {HELD_BACK}) AS held"),
            vec![epoch.into()],
        ))
        .await?;
    row.map_or(Ok(false), |row| column(&row, "held"))
}

fn bind(value: Value, values: &mut Vec<Value>) -> String {
    values.push(value);
    format!("${}", values.len())
}

/// The conditions for events after `after` that a reader may see now: on PostgreSQL only those
/// below the oldest transaction still running, since nothing can commit behind them any more.
fn visible_after(
    backend: DbBackend,
    after: Position,
    current_epoch: i32,
    values: &mut Vec<Value>,
    conditions: &mut Vec<String>,
) {
    match backend {
        DbBackend::Postgres => {
            let epoch = bind(after.epoch.into(), values);
            let position_tx = bind(after.tx.to_string().into(), values);
            let id = bind(after.id.into(), values);
            let current = bind(current_epoch.into(), values);
            conditions.push(format!(
                "(epoch, tx, id) > ({epoch}, {position_tx}::text::xid8, {id})"
            ));
            conditions.push(format!(
                "(epoch < {current} OR tx < pg_snapshot_xmin(pg_current_snapshot()))"
            ));
        }
        _ => {
            let epoch = bind(after.epoch.into(), values);
            let id = bind(after.id.into(), values);
            conditions.push(format!(
                "(epoch > {epoch} OR (epoch = {epoch} AND id > {id}))"
            ));
        }
    }
}

/// On PostgreSQL, the rows of epoch `$1` a reader's snapshot holds above its horizon: committed, yet
/// behind a transaction that started before them and is still open.
const HELD_BACK: &str = "epoch = $1 AND tx >= pg_snapshot_xmin(pg_current_snapshot())";

/// Committed events no reader can see yet, because a transaction older than theirs is still open
/// somewhere on the server (always 0 on SQLite, whose readers see every commit).
pub(crate) async fn held_back(db: &Db) -> Result<u64, OrdersError> {
    let conn = db.conn();
    let backend = conn.get_database_backend();
    if backend != DbBackend::Postgres {
        return Ok(0);
    }
    let epoch = current_epoch(conn).await?;
    let row = conn
        .query_one_raw(statement(
            backend,
            &format!("SELECT count(*) AS n FROM order_event WHERE {HELD_BACK}"),
            vec![epoch.into()],
        ))
        .await?;
    row.map_or(Ok(0), |row| unsigned(column::<i64>(&row, "n")?))
}

/// The events the furthest-behind named subscription has yet to acknowledge, counted up to `cap`
/// per subscription so that a forgotten one costs a bounded read.
pub(crate) async fn largest_subscription_backlog(db: &Db, cap: u64) -> Result<u64, OrdersError> {
    let conn = db.conn();
    let backend = conn.get_database_backend();
    let epoch = current_epoch(conn).await?;
    let positions = conn
        .query_all_raw(statement(
            backend,
            "SELECT position FROM event_subscription",
            Vec::new(),
        ))
        .await?
        .iter()
        .map(|row| column::<String>(row, "position"))
        .collect::<Result<Vec<_>, _>>()?;
    let mut largest = 0;
    for position in positions
        .iter()
        .filter_map(|raw| raw.parse::<Position>().ok())
    {
        let (mut values, mut conditions) = (Vec::new(), Vec::new());
        visible_after(backend, position, epoch, &mut values, &mut conditions);
        let limit = bind(i64::try_from(cap).unwrap_or(i64::MAX).into(), &mut values);
        let sql = format!(
            "SELECT count(*) AS n FROM (SELECT 1 FROM order_event WHERE {} LIMIT {limit}) AS behind",
            conditions.join(" AND ")
        );
        if let Some(row) = conn.query_one_raw(statement(backend, &sql, values)).await? {
            largest = largest.max(unsigned::<u64>(column::<i64>(&row, "n")?)?);
        }
    }
    Ok(largest)
}

/// The position of the latest event a reader may see now.
pub(crate) async fn head(db: &Db) -> Result<Position, OrdersError> {
    let conn = db.conn();
    let backend = conn.get_database_backend();
    let epoch = current_epoch(conn).await?;
    Ok(head_in(conn, backend, epoch)
        .await?
        .unwrap_or_else(|| Position::origin(position_backend(backend))))
}

async fn head_in(
    conn: &impl ConnectionTrait,
    backend: DbBackend,
    epoch: i32,
) -> Result<Option<Position>, OrdersError> {
    let sql = match backend {
        DbBackend::Postgres => {
            "WHERE epoch = $1 AND tx < pg_snapshot_xmin(pg_current_snapshot()) \
             ORDER BY tx DESC, id DESC LIMIT 1"
        }
        _ => "WHERE epoch = $1 ORDER BY id DESC LIMIT 1",
    };
    let sql = format!(
        "SELECT id, epoch, {} FROM order_event {sql}",
        tx_text_column(backend)
    );
    let row = conn
        .query_one_raw(statement(backend, &sql, vec![epoch.into()]))
        .await?;
    row.map(|row| position_of(&row, backend)).transpose()
}

/// The first position at or after `since` (a replay by time starts slightly early; consumers
/// de-duplicate on `event_id`).
pub(crate) async fn position_before(
    db: &Db,
    since: DateTime<Utc>,
) -> Result<Position, OrdersError> {
    let conn = db.conn();
    let backend = conn.get_database_backend();
    let order = match backend {
        DbBackend::Postgres => "epoch DESC, tx DESC, id DESC",
        _ => "epoch DESC, id DESC",
    };
    let sql = format!(
        "SELECT id, epoch, {} FROM order_event WHERE recorded_at < $1 ORDER BY {order} LIMIT 1",
        tx_text_column(backend)
    );
    let row = conn
        .query_one_raw(statement(backend, &sql, vec![since.into()]))
        .await?;
    Ok(row
        .map(|row| position_of(&row, backend))
        .transpose()?
        .unwrap_or_else(|| Position::origin(position_backend(backend))))
}

async fn current_epoch(conn: &impl ConnectionTrait) -> Result<i32, OrdersError> {
    let backend = conn.get_database_backend();
    let row = conn
        .query_one_raw(statement(
            backend,
            "SELECT epoch FROM stream_meta WHERE id = 1",
            Vec::new(),
        ))
        .await?
        .ok_or(OrdersError::internal("the stream epoch is missing"))?;
    column(&row, "epoch")
}

/// The name a position's transaction id is read under. It must differ from `tx`: an `ORDER BY tx`
/// would otherwise sort by this text (so "10000" before "9999") while the cursor compares `xid8`
/// numbers, and a reader paging across a power of ten would skip rows.
const TX_TEXT: &str = "tx_text";

/// The select expression for [`TX_TEXT`]: `xid8` has no sea-orm type, so it travels as text.
fn tx_text_column(backend: DbBackend) -> String {
    match backend {
        DbBackend::Postgres => format!("tx::text AS {TX_TEXT}"),
        _ => format!("0 AS {TX_TEXT}"),
    }
}

fn position_of(row: &sea_orm::QueryResult, backend: DbBackend) -> Result<Position, OrdersError> {
    let tx = match backend {
        DbBackend::Postgres => column::<String>(row, TX_TEXT)?
            .parse::<u64>()
            .map_err(|_| OrdersError::internal("a transaction id is not a number"))?,
        _ => 0,
    };
    Ok(Position {
        backend: position_backend(backend),
        epoch: column(row, "epoch")?,
        tx,
        id: column(row, "id")?,
    })
}

fn stored_event(
    row: &sea_orm::QueryResult,
    backend: DbBackend,
) -> Result<StoredEvent, OrdersError> {
    let traceparent: Option<String> = column(row, "traceparent")?;
    let tracestate: Option<String> = column(row, "tracestate")?;
    Ok(StoredEvent {
        position: position_of(row, backend)?,
        event_id: column(row, "event_id")?,
        order_id: column(row, "order_id")?,
        tenant_id: column(row, "tenant_id")?,
        order_seq: column(row, "order_seq")?,
        event_type: column(row, "event_type")?,
        schema_version: column(row, "schema_version")?,
        payload: json_column(row, "payload")?,
        effective_at: time(row, "effective_at")?,
        recorded_at: time(row, "recorded_at")?,
        trace: traceparent.map(|parent| (parent, tracestate.unwrap_or_default())),
    })
}

/// The acknowledged position of a named subscription, if it exists.
pub(crate) async fn subscription(
    db: &Db,
    owner: &str,
    name: &str,
) -> Result<Option<Position>, OrdersError> {
    let conn = db.conn();
    let backend = conn.get_database_backend();
    let row = conn
        .query_one_raw(statement(
            backend,
            "SELECT position FROM event_subscription WHERE owner = $1 AND name = $2",
            vec![owner.into(), name.into()],
        ))
        .await?;
    row.map(|row| {
        column::<String>(&row, "position")?
            .parse::<Position>()
            .map_err(|()| OrdersError::internal("a stored cursor is malformed"))
    })
    .transpose()
}

/// Moves a named subscription's cursor (creating it), never backwards.
pub(crate) async fn acknowledge(
    db: &Db,
    owner: &str,
    name: &str,
    position: Position,
    now: DateTime<Utc>,
) -> Result<(), OrdersError> {
    let conn = db.conn();
    let backend = conn.get_database_backend();
    let tx = conn.begin().await?;
    let current = tx
        .query_one_raw(statement(
            backend,
            "SELECT position FROM event_subscription WHERE owner = $1 AND name = $2",
            vec![owner.into(), name.into()],
        ))
        .await?
        .map(|row| column::<String>(&row, "position"))
        .transpose()?
        .and_then(|raw| raw.parse::<Position>().ok());
    if current.is_none_or(|current| position > current) {
        tx.execute_raw(statement(
            backend,
            "INSERT INTO event_subscription (owner, name, position, updated_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (owner, name) DO UPDATE \
             SET position = excluded.position, updated_at = excluded.updated_at",
            vec![
                owner.into(),
                name.into(),
                position.to_string().into(),
                now.into(),
            ],
        ))
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::expect_used,
        clippy::panic,
        reason = "a failed setup step or expectation is a failed test"
    )]

    use super::*;
    use crate::domain::saga::state::EventPayload;

    /// A fresh orders schema on PostgreSQL; the database lives as long as the returned guard.
    async fn migrated() -> (tenure_testkit::TestDatabase, Db) {
        let database = tenure_testkit::TestDatabase::create()
            .await
            .expect("test database");
        let settings = database.settings("orders");
        crate::store::migrate(&settings).await.expect("migrations");
        let db = tenure_db::connect(&settings).await.expect("connect");
        (database, db)
    }

    fn recorded_at() -> DateTime<Utc> {
        DateTime::from_timestamp(1_900_000_000, 0).expect("a valid instant")
    }

    /// Appends a new order's events, one per name in `accounts`, which reads tell apart by it.
    async fn append_named(conn: &impl ConnectionTrait, accounts: &[String]) {
        let drafts: Vec<EventDraft> = accounts
            .iter()
            .map(|account| EventDraft {
                effective_at: recorded_at(),
                payload: EventPayload::AccountUnlinked {
                    aws_account_id: tenure_domain::AwsAccountId::parse(account)
                        .expect("a 12-digit name"),
                    never_billed: false,
                },
            })
            .collect();
        append(
            conn,
            Uuid::new_v4(),
            Uuid::new_v4(),
            1,
            &drafts,
            recorded_at(),
            None,
        )
        .await
        .expect("append");
    }

    fn names(page: &Page) -> Vec<String> {
        page.events
            .iter()
            .map(|event| match &event.payload {
                EventPayload::AccountUnlinked { aws_account_id, .. } => {
                    aws_account_id.as_str().to_owned()
                }
                other => panic!("unexpected {other:?}"),
            })
            .collect()
    }

    /// Outbox rows whose writers' transaction ids straddle powers of ten, as they do on every cluster
    /// sooner or later, read back through every way the stream positions itself.
    #[tokio::test]
    async fn the_stream_reads_in_numeric_transaction_order_across_powers_of_ten() {
        let (_database, db) = migrated().await;
        let conn = db.conn();
        let horizon = conn
            .query_one_raw(statement(
                DbBackend::Postgres,
                "SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS xmin",
                Vec::new(),
            ))
            .await
            .expect("horizon")
            .expect("a row");
        let horizon: u64 = column::<String>(&horizon, "xmin")
            .expect("xmin")
            .parse()
            .expect("a number");
        // Every id below the horizon has finished, so rows stamped with them are readable at once.
        let mut ids: Vec<u64> = (1..=9)
            .map(|power| 10u64.pow(power))
            .flat_map(|power| [power - 1, power])
            .filter(|id| *id < horizon)
            .collect();
        assert!(ids.len() >= 4, "the horizon {horizon} is below 100");
        // Stored in an order that neither numeric nor text sorting gives back by accident.
        ids.reverse();
        // Account ids are 12 digits; xid8 would read the zero padding as an octal prefix.
        let named: Vec<String> = ids.iter().map(|id| format!("{id:012}")).collect();
        append_named(conn, &named).await;
        conn.execute_raw(statement(
            DbBackend::Postgres,
            "UPDATE order_event SET tx = ltrim(payload->>'aws_account_id', '0')::xid8",
            Vec::new(),
        ))
        .await
        .expect("stamp the transaction ids");

        let mut numeric = ids.clone();
        numeric.sort_unstable();
        let mut read = Vec::new();
        let mut position = Position::origin(PositionBackend::Postgres);
        loop {
            let page = page(&db, position, 2, &EventFilter::default())
                .await
                .expect("page");
            read.extend(page.events.iter().map(|event| event.position.tx));
            assert!(page.position >= position, "the cursor went backwards");
            position = page.position;
            if page.caught_up {
                break;
            }
        }
        assert_eq!(read, numeric, "paged two at a time");
        let last = position;
        assert_eq!(last.tx, *numeric.last().expect("rows"));
        assert_eq!(head(&db).await.expect("head"), last);
        assert_eq!(
            position_before(&db, recorded_at() + chrono::Duration::seconds(1))
                .await
                .expect("by time"),
            last
        );
        db.close().await.ok();
    }

    /// The ordering trap (sagas.md §6.2): a transaction that is still open when a later one commits
    /// its events may commit events of its own below them, so readers see neither until it ends, and
    /// are told that something is waiting.
    #[tokio::test]
    async fn events_behind_an_open_older_transaction_wait_for_it_and_say_so() {
        let (_database, db) = migrated().await;
        let older = db.conn().begin().await.expect("begin");
        let (older_name, newer_name) = ("000000000001", "000000000002");
        append_named(&older, &[older_name.to_owned()]).await;
        append_named(db.conn(), &[newer_name.to_owned()]).await;
        let origin = Position::origin(PositionBackend::Postgres);

        let waiting = page(&db, origin, 10, &EventFilter::default())
            .await
            .expect("page");
        assert!(waiting.events.is_empty() && waiting.caught_up && waiting.held_back);
        assert_eq!(
            waiting.position, origin,
            "the cursor stays below the open one"
        );
        assert_eq!(held_back(&db).await.expect("held back"), 1);

        older.commit().await.expect("commit");
        // The horizon is the whole server's: other tests' transactions may hold it a while longer.
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
        let both = loop {
            let read = page(&db, origin, 10, &EventFilter::default())
                .await
                .expect("page");
            if !read.events.is_empty() || tokio::time::Instant::now() >= deadline {
                break read;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        };
        assert_eq!(
            names(&both),
            [older_name, newer_name],
            "in commit-safe order"
        );
        assert!(both.caught_up && !both.held_back);
        db.close().await.ok();
    }

    #[test]
    fn positions_round_trip_and_refuse_what_the_stream_never_hands_out() {
        let position = Position {
            backend: PositionBackend::Postgres,
            epoch: 2,
            tx: 9_000_000_123,
            id: 77,
        };
        assert_eq!(position.to_string().parse::<Position>(), Ok(position));
        for bad in ["", "p1.2", "x1.2.3", "p1.2.3.4", "p-1.2.3", "s1.a.3", "17"] {
            assert!(bad.parse::<Position>().is_err(), "{bad}");
        }
        let later = Position { id: 78, ..position };
        assert!(later > position);
    }
}
