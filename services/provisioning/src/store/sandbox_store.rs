//! Persistence of the sandbox simulation: one JSON document per simulated AWS object, and the offset of
//! the simulated clock.

use sea_orm::ConnectionTrait;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tenure_db::{Db, DbError, ErrorKind};

/// The sandbox's tables, by the object they hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SandboxTable {
    Organization,
    Account,
    CreateAccountRequest,
    Handshake,
    Transfer,
    Stack,
    StackSet,
    StackInstance,
    StackSetOperation,
}

impl SandboxTable {
    fn name(self) -> &'static str {
        match self {
            Self::Organization => "sandbox_organization",
            Self::Account => "sandbox_account",
            Self::CreateAccountRequest => "sandbox_create_account_request",
            Self::Handshake => "sandbox_handshake",
            Self::Transfer => "sandbox_transfer",
            Self::Stack => "sandbox_stack",
            Self::StackSet => "sandbox_stack_set",
            Self::StackInstance => "sandbox_stack_instance",
            Self::StackSetOperation => "sandbox_stack_set_operation",
        }
    }
}

/// Reads and writes simulated AWS objects.
#[derive(Debug, Clone)]
pub(crate) struct SandboxStore {
    db: Db,
}

fn malformed(error: serde_json::Error) -> DbError {
    DbError::with_source(ErrorKind::Other, "sandbox object does not decode", error)
}

impl SandboxStore {
    /// A store over `db`.
    pub(crate) fn new(db: Db) -> Self {
        Self { db }
    }

    /// The object `id` of `table`.
    pub(crate) async fn get<T: DeserializeOwned>(
        &self,
        table: SandboxTable,
        id: &str,
    ) -> Result<Option<T>, DbError> {
        let select = Query::select()
            .column("body")
            .from(table.name())
            .and_where(Expr::col("id").eq(id))
            .to_owned();
        let Some(row) = self.db.conn().query_one(&select).await? else {
            return Ok(None);
        };
        let body: serde_json::Value = row.try_get("", "body")?;
        serde_json::from_value(body).map(Some).map_err(malformed)
    }

    /// Every object of `table` owned by `scope`, in id order.
    pub(crate) async fn list<T: DeserializeOwned>(
        &self,
        table: SandboxTable,
        scope: &str,
    ) -> Result<Vec<T>, DbError> {
        let select = Query::select()
            .column("body")
            .from(table.name())
            .and_where(Expr::col("scope").eq(scope))
            .order_by("id", sea_orm::sea_query::Order::Asc)
            .to_owned();
        let rows = self.db.conn().query_all(&select).await?;
        let mut objects = Vec::with_capacity(rows.len());
        for row in rows {
            let body: serde_json::Value = row.try_get("", "body")?;
            objects.push(serde_json::from_value(body).map_err(malformed)?);
        }
        Ok(objects)
    }

    /// Every object of `table`, whatever its scope, in id order.
    pub(crate) async fn list_all<T: DeserializeOwned>(
        &self,
        table: SandboxTable,
    ) -> Result<Vec<T>, DbError> {
        let select = Query::select()
            .column("body")
            .from(table.name())
            .order_by("id", sea_orm::sea_query::Order::Asc)
            .to_owned();
        let rows = self.db.conn().query_all(&select).await?;
        let mut objects = Vec::with_capacity(rows.len());
        for row in rows {
            let body: serde_json::Value = row.try_get("", "body")?;
            objects.push(serde_json::from_value(body).map_err(malformed)?);
        }
        Ok(objects)
    }

    /// Stores `object` as `id` of `table`, owned by `scope`.
    pub(crate) async fn put<T: Serialize>(
        &self,
        table: SandboxTable,
        id: &str,
        scope: &str,
        object: &T,
    ) -> Result<(), DbError> {
        let body = serde_json::to_value(object).map_err(malformed)?;
        let insert = Query::insert()
            .into_table(table.name())
            .columns(["id", "scope", "body"])
            .values([Expr::val(id), Expr::val(scope), Expr::val(body)])
            .map_err(|error| DbError::with_source(ErrorKind::Other, "sandbox insert", error))?
            .on_conflict(
                OnConflict::column("id")
                    .update_columns(["scope", "body"])
                    .to_owned(),
            )
            .to_owned();
        self.db.conn().execute(&insert).await?;
        Ok(())
    }

    /// Removes `id` from `table`.
    pub(crate) async fn delete(&self, table: SandboxTable, id: &str) -> Result<(), DbError> {
        let delete = Query::delete()
            .from_table(table.name())
            .and_where(Expr::col("id").eq(id))
            .to_owned();
        self.db.conn().execute(&delete).await?;
        Ok(())
    }

    /// The persisted clock offset in milliseconds (0 before the first AdvanceClock).
    pub(crate) async fn clock_offset_ms(&self) -> Result<i64, DbError> {
        let select = Query::select()
            .column("offset_ms")
            .from("sandbox_clock")
            .and_where(Expr::col("id").eq(1))
            .to_owned();
        match self.db.conn().query_one(&select).await? {
            Some(row) => Ok(row.try_get("", "offset_ms")?),
            None => Ok(0),
        }
    }

    /// Persists the clock offset.
    pub(crate) async fn set_clock_offset_ms(&self, offset_ms: i64) -> Result<(), DbError> {
        let insert = Query::insert()
            .into_table("sandbox_clock")
            .columns(["id", "offset_ms"])
            .values([Expr::val(1), Expr::val(offset_ms)])
            .map_err(|error| DbError::with_source(ErrorKind::Other, "clock insert", error))?
            .on_conflict(
                OnConflict::column("id")
                    .update_column("offset_ms")
                    .to_owned(),
            )
            .to_owned();
        self.db.conn().execute(&insert).await?;
        Ok(())
    }
}
