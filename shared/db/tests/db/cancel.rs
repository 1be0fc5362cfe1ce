//! A caller that goes away mid-transaction (a stream subscriber disconnecting, a timeout) drops the
//! transaction's future at whatever await it had reached. The pooled connection must come back
//! outside any transaction, or the next borrower's statements run inside one nobody will end.

use std::future::Future;
use std::task::Poll;

use sea_orm::{
    AccessMode, ConnectionTrait as _, DbBackend, IsolationLevel, Statement, TransactionTrait as _,
};

use crate::support::{connect, migrated_postgres};

async fn transaction_id(db: &tenure_db::Db) -> String {
    let row = db
        .conn()
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT pg_current_xact_id()::text AS id",
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get("", "id").unwrap()
}

/// Polls `future` up to `polls` times, letting the runtime drive I/O in between, and drops it if it
/// has not finished by then. Whether it finished.
async fn poll_then_drop<F: Future>(future: F, polls: usize) -> bool {
    let mut future = std::pin::pin!(future);
    for _ in 0..polls {
        let polled = std::future::poll_fn(|cx| Poll::Ready(future.as_mut().poll(cx))).await;
        if polled.is_ready() {
            return true;
        }
        tokio::task::yield_now().await;
    }
    false
}

#[tokio::test]
async fn a_transaction_dropped_at_any_await_leaves_its_connection_outside_a_transaction() {
    let (_database, mut settings) = migrated_postgres().await;
    // One connection, so every check below runs on the connection the dropped work used.
    settings.max_connections = 1;
    let db = connect(&settings).await;
    let (mut dropped, mut finished) = (0, 0);
    for polls in 1..=300 {
        let read = async {
            let tx = db
                .conn()
                .begin_with_config(
                    Some(IsolationLevel::RepeatableRead),
                    Some(AccessMode::ReadOnly),
                )
                .await
                .unwrap();
            tx.query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT count(*) FROM widget",
            ))
            .await
            .unwrap();
            tx.commit().await.unwrap();
        };
        if poll_then_drop(read, polls).await {
            finished += 1;
        } else {
            dropped += 1;
        }
        // Outside a transaction block each statement is a transaction of its own, with its own id.
        let first = transaction_id(&db).await;
        let second = transaction_id(&db).await;
        assert_ne!(
            first, second,
            "after dropping the read at poll {polls} the connection is still in a transaction"
        );
    }
    assert!(
        dropped > 0 && finished > 0,
        "every await point was crossed: {dropped} dropped, {finished} finished"
    );
}
