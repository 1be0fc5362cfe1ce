//! The owners of AWS references and the last state Tenure saw of each.

use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};
use tenure_db::{DbError, ErrorKind};
use uuid::Uuid;

use super::codec::{json, malformed};
use super::{OperationStore, REFERENCE_TABLE};

impl OperationStore {
    /// Records that `management_account` owns `reference` (a member account, `h-…` or `rt-…`) and
    /// that the reference is about `account` (the member, the handshake's target, the transfer's
    /// source).
    pub(crate) async fn record_reference(
        &self,
        reference: &str,
        management_account: &str,
        tenant_id: Option<Uuid>,
        account: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), DbError> {
        let insert = Query::insert()
            .into_table(REFERENCE_TABLE)
            .columns([
                "reference",
                "management_account_id",
                "tenant_id",
                "recorded_at",
                "aws_account_id",
            ])
            .values([
                Expr::val(reference),
                Expr::val(management_account),
                Expr::val(tenant_id),
                Expr::val(now),
                Expr::val(account),
            ])
            .map_err(|error| DbError::with_source(ErrorKind::Other, "reference insert", error))?
            .on_conflict(
                OnConflict::column("reference")
                    .update_columns([
                        "management_account_id",
                        "tenant_id",
                        "recorded_at",
                        "aws_account_id",
                    ])
                    .to_owned(),
            )
            .to_owned();
        self.db.conn().execute(&insert).await?;
        Ok(())
    }

    /// Keeps `observed` as the last state Tenure saw of `reference`. Only references Tenure recorded
    /// (those it created or sent) are kept; others are AWS's business.
    pub(crate) async fn record_observation(
        &self,
        reference: &str,
        observed: &impl serde::Serialize,
    ) -> Result<(), DbError> {
        let update = Query::update()
            .table(REFERENCE_TABLE)
            .value("observed", json(observed)?)
            .and_where(Expr::col("reference").eq(reference))
            .to_owned();
        self.db.conn().execute(&update).await?;
        Ok(())
    }

    /// The last state recorded for `reference` by [`OperationStore::record_observation`].
    pub(crate) async fn observation<T: serde::de::DeserializeOwned>(
        &self,
        reference: &str,
    ) -> Result<Option<T>, DbError> {
        let select = Query::select()
            .column("observed")
            .from(REFERENCE_TABLE)
            .and_where(Expr::col("reference").eq(reference))
            .to_owned();
        let Some(row) = self.db.conn().query_one(&select).await? else {
            return Ok(None);
        };
        let observed: Option<serde_json::Value> = row.try_get("", "observed")?;
        observed
            .map(|value| serde_json::from_value(value).map_err(|_| malformed("stored observation")))
            .transpose()
    }

    /// The management account recorded for `reference`.
    pub(crate) async fn reference_owner(&self, reference: &str) -> Result<Option<String>, DbError> {
        let select = Query::select()
            .column("management_account_id")
            .from(REFERENCE_TABLE)
            .and_where(Expr::col("reference").eq(reference))
            .to_owned();
        match self.db.conn().query_one(&select).await? {
            Some(row) => Ok(Some(row.try_get("", "management_account_id")?)),
            None => Ok(None),
        }
    }
}
