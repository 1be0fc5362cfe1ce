//! The per-account leases that keep two operations from acting on one account at once.

use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};
use tenure_db::{DbError, ErrorKind};

use super::OperationStore;
use crate::domain::operation::Operation;

impl OperationStore {
    /// Takes the lease of `lock_key` for the claimed `operation` until `until` (real time, like the
    /// claim), or renews it. False while another operation, or an older claim's stepper of this one,
    /// holds an unexpired lease.
    pub(crate) async fn acquire_lease(
        &self,
        lock_key: &str,
        operation: &Operation,
        real_now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, DbError> {
        let conn = self.db.conn();
        // An expired lease belongs to a holder that crashed or stalled, and the lease of an older
        // claim of the same operation to a stepper that lost it: neither protects anything any more.
        let stale = Query::delete()
            .from_table("operation_lease")
            .and_where(Expr::col("lock_key").eq(lock_key))
            .and_where(
                Expr::col("expires_at")
                    .lte(real_now)
                    .or(Expr::col("operation_id")
                        .eq(operation.id)
                        .and(Expr::col("claim_epoch").lte(operation.claim_epoch))),
            )
            .to_owned();
        conn.execute(&stale).await?;
        let insert = Query::insert()
            .into_table("operation_lease")
            .columns(["lock_key", "operation_id", "expires_at", "claim_epoch"])
            .values([
                Expr::val(lock_key),
                Expr::val(operation.id),
                Expr::val(until),
                Expr::val(operation.claim_epoch),
            ])
            .map_err(|error| DbError::with_source(ErrorKind::Other, "lease insert", error))?
            .on_conflict(OnConflict::column("lock_key").do_nothing().to_owned())
            .to_owned();
        Ok(conn.execute(&insert).await?.rows_affected() == 1)
    }

    /// Gives the lease of `lock_key` back, if the claim `operation` was stepped under still holds it:
    /// a stepper that lost its claim must not free the lease of the one that took over.
    pub(crate) async fn release_lease(
        &self,
        lock_key: &str,
        operation: &Operation,
    ) -> Result<(), DbError> {
        let delete = Query::delete()
            .from_table("operation_lease")
            .and_where(Expr::col("lock_key").eq(lock_key))
            .and_where(Expr::col("operation_id").eq(operation.id))
            .and_where(Expr::col("claim_epoch").eq(operation.claim_epoch))
            .to_owned();
        self.db.conn().execute(&delete).await?;
        Ok(())
    }
}
