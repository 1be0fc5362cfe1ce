//! Receipts, the head of their chain, and the public keys they were signed with.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Order, Query, SelectStatement};
use sea_orm::{ConnectionTrait, QueryResult};
use uuid::Uuid;

use crate::domain::{ChainLink, PurgeError, ReceiptBody, StoredReceipt};
use crate::store::{all_rows, column, insert_row};

const TABLE: &str = "receipt";

/// The columns of a receipt, as it is written.
pub(crate) const COLUMNS: [&str; 9] = [
    "id",
    "purge_id",
    "sequence",
    "tenant_id",
    "body",
    "previous_hash",
    "hash",
    "signature",
    "key_id",
];

fn from_row(row: &QueryResult) -> Result<StoredReceipt, PurgeError> {
    Ok(StoredReceipt {
        canonical_body: column(row, "body")?,
        previous_hash: column(row, "previous_hash")?,
        hash: column(row, "hash")?,
        signature: column(row, "signature")?,
        key_id: column(row, "key_id")?,
    })
}

fn select() -> SelectStatement {
    Query::select()
        .columns(["body", "previous_hash", "hash", "signature", "key_id"])
        .from(TABLE)
        .to_owned()
}

/// The end of the chain.
pub(crate) async fn chain_head(conn: &impl ConnectionTrait) -> Result<ChainLink, PurgeError> {
    let select = Query::select()
        .columns(["last_sequence", "last_hash"])
        .from("receipt_chain_head")
        .and_where(Expr::col("id").eq(1))
        .to_owned();
    let row = conn
        .query_one(&select)
        .await?
        .ok_or(PurgeError::internal("the receipt chain head is missing"))?;
    let sequence: i64 = column(&row, "last_sequence")?;
    Ok(ChainLink {
        sequence: u64::try_from(sequence).unwrap_or(0),
        hash: column(&row, "last_hash")?,
    })
}

/// Appends a receipt after `previous`, moving the chain head with a compare-and-set so that two
/// purges completing at once cannot both link to the same predecessor: the loser's transaction fails
/// and its purge completes on the next pass. On PostgreSQL the update also locks the head row until
/// commit, which serialises appends.
pub(crate) async fn append(
    conn: &impl ConnectionTrait,
    previous: &ChainLink,
    body: &ReceiptBody,
    stored: &StoredReceipt,
) -> Result<(), PurgeError> {
    let sequence = i64::try_from(body.sequence).unwrap_or(i64::MAX);
    let advance = Query::update()
        .table("receipt_chain_head")
        .value("last_sequence", sequence)
        .value("last_hash", stored.hash.as_str())
        .and_where(Expr::col("id").eq(1))
        .and_where(
            Expr::col("last_sequence").eq(i64::try_from(previous.sequence).unwrap_or(i64::MAX)),
        )
        .to_owned();
    if conn.execute(&advance).await?.rows_affected() != 1 {
        return Err(PurgeError::Concurrent);
    }
    insert_row(
        conn,
        TABLE,
        COLUMNS,
        [
            Expr::val(body.id),
            Expr::val(body.purge_id),
            Expr::val(sequence),
            Expr::val(body.tenant_id),
            Expr::val(stored.canonical_body.as_str()),
            Expr::val(stored.previous_hash.as_str()),
            Expr::val(stored.hash.as_str()),
            Expr::val(stored.signature.as_str()),
            Expr::val(stored.key_id.as_str()),
        ],
    )
    .await?;
    Ok(())
}

/// The receipt of a purge; `tenant` narrows a customer's read to its own tenant.
pub(crate) async fn for_purge(
    conn: &impl ConnectionTrait,
    purge: Uuid,
    tenant: Option<Uuid>,
) -> Result<Option<StoredReceipt>, PurgeError> {
    let mut select = select();
    select.and_where(Expr::col("purge_id").eq(purge));
    if let Some(tenant) = tenant {
        select.and_where(Expr::col("tenant_id").eq(tenant));
    }
    conn.query_one(&select)
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

/// One page of receipts in chain order.
pub(crate) async fn list(
    conn: &impl ConnectionTrait,
    tenant: Option<Uuid>,
    offset: u64,
    limit: u64,
) -> Result<Vec<StoredReceipt>, PurgeError> {
    let mut select = select();
    if let Some(tenant) = tenant {
        select.and_where(Expr::col("tenant_id").eq(tenant));
    }
    select
        .order_by("sequence", Order::Asc)
        .offset(offset)
        .limit(limit);
    all_rows(conn, &select, from_row).await
}

/// Receipts after `sequence`, in chain order, for the chain verification.
pub(crate) async fn after(
    conn: &impl ConnectionTrait,
    sequence: u64,
    limit: u64,
) -> Result<Vec<StoredReceipt>, PurgeError> {
    let mut select = select();
    select
        .and_where(Expr::col("sequence").gt(i64::try_from(sequence).unwrap_or(i64::MAX)))
        .order_by("sequence", Order::Asc)
        .limit(limit);
    all_rows(conn, &select, from_row).await
}

/// Records the public key of `key_id` the first time it signs; a different key under a known id is
/// refused, since receipts it signed could no longer be told apart.
pub(crate) async fn register_key(
    conn: &impl ConnectionTrait,
    key_id: &str,
    public_key: &str,
    now: DateTime<Utc>,
) -> Result<(), PurgeError> {
    let insert = Query::insert()
        .into_table("receipt_key")
        .columns(["key_id", "public_key", "first_used_at"])
        .values([Expr::val(key_id), Expr::val(public_key), Expr::val(now)])
        .map_err(|error| PurgeError::Internal(Box::new(error)))?
        .on_conflict(OnConflict::column("key_id").do_nothing().to_owned())
        .to_owned();
    conn.execute(&insert).await?;
    match public_key_of(conn, key_id).await? {
        Some(stored) if stored == public_key => Ok(()),
        _ => Err(PurgeError::internal(
            "the receipt key id names another public key; give the new key a new id",
        )),
    }
}

/// The public key a key id stands for.
pub(crate) async fn public_key_of(
    conn: &impl ConnectionTrait,
    key_id: &str,
) -> Result<Option<String>, PurgeError> {
    let select = Query::select()
        .column("public_key")
        .from("receipt_key")
        .and_where(Expr::col("key_id").eq(key_id))
        .to_owned();
    conn.query_one(&select)
        .await?
        .as_ref()
        .map(|row| column(row, "public_key"))
        .transpose()
}
