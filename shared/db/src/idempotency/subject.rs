//! Whose data a stored response holds, so a purge finds those copies too (domain.md §8).
//!
//! A record's own `tenant_id` cannot answer that: it is `''` for operators and tenant-less services,
//! whose calls still return a tenant's data. So a completed record also names the tenant that owns
//! the data and the subject inside it (`aws_account:<record id>`, `user:<id>`, ...), and a purge
//! selects a tenant's records by those, optionally narrowed to some subjects. Only `done` records
//! are ever selected: an `in_flight` one holds no response yet and still guards an effect in
//! progress, so deleting it would let a duplicate run that effect twice.

use sea_orm::sea_query::{ColumnDef, Expr, ExprTrait, Func, Index, Query, Table};
use sea_orm::{ConnectionTrait, DbErr};
use sea_orm_migration::{MigrationName, MigrationTrait, SchemaManager, async_trait};

use super::{IdempotencyRecord, IdempotencyScope, STATE_DONE, store_outcome};
use crate::DbError;

/// What a completed call's response is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RecordSubject {
    /// The tenant that owns the data, as the text `tenant_id` columns hold it (a hyphenated UUID).
    pub tenant_id: String,
    /// The subject inside the tenant, `<kind>:<id>`, e.g. `aws_account:<record uuid>`.
    pub subject: String,
}

/// Which of a tenant's `done` records a purge selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubjectSelection<'a> {
    /// Every record of the tenant.
    All,
    /// The records about one of these subjects.
    Only(&'a [String]),
    /// The records about none of these subjects, records without a subject included; with
    /// [`SubjectSelection::Only`] of the same list it splits a tenant's records in two.
    Except(&'a [String]),
}

/// The primary key of one record, for a purge's key hash.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RecordKey {
    /// The record's `tenant_id` (`''` for calls without a tenant).
    pub tenant_id: String,
    /// The full gRPC method.
    pub method: String,
    /// The client's idempotency key.
    pub key: String,
}

/// Adds the nullable `subject_tenant` and `subject` columns and their index to a table made by
/// [`super::CreateIdempotencyRecord`]. A service adds it to its migrator, after that one, when it
/// completes records with [`complete_for_subject`].
///
/// Records that exist when it runs have no subject. Those keyed by a tenant are attributed to it,
/// so a tenant-scope purge still finds them; those without a tenant cannot be attributed and leave
/// by expiry alone.
#[derive(Debug, Clone, Copy, Default)]
pub struct AddIdempotencySubject;

impl MigrationName for AddIdempotencySubject {
    fn name(&self) -> &str {
        "tenure_db_0002_idempotency_subject"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for AddIdempotencySubject {
    #[allow(
        elided_lifetimes_in_paths,
        reason = "async_trait needs the trait's late-bound elided lifetime; a named one is refused"
    )]
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite's ALTER TABLE adds a single column at a time.
        for column in [IdempotencyRecord::SubjectTenant, IdempotencyRecord::Subject] {
            manager
                .alter_table(
                    Table::alter()
                        .table(IdempotencyRecord::Table)
                        .add_column(ColumnDef::new(column).text().null())
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("idempotency_record_subject")
                    .table(IdempotencyRecord::Table)
                    .col(IdempotencyRecord::SubjectTenant)
                    .col(IdempotencyRecord::Subject)
                    .to_owned(),
            )
            .await?;
        let attribute_existing = Query::update()
            .table(IdempotencyRecord::Table)
            .value(
                IdempotencyRecord::SubjectTenant,
                Expr::col(IdempotencyRecord::TenantId),
            )
            .and_where(Expr::col(IdempotencyRecord::TenantId).ne(""))
            .and_where(Expr::col(IdempotencyRecord::State).eq(STATE_DONE))
            .to_owned();
        manager
            .get_connection()
            .execute(&attribute_existing)
            .await?;
        Ok(())
    }
}

/// Like [`super::complete`], also recording what the response is about (`None`: nothing any purge
/// must find, e.g. a purge's own bookkeeping). A re-claimed expired record loses its old subject
/// here. Needs [`AddIdempotencySubject`].
///
/// # Errors
///
/// As [`super::complete`].
pub async fn complete_for_subject(
    conn: &impl ConnectionTrait,
    scope: &IdempotencyScope,
    grpc_code: i32,
    response: &[u8],
    subject: Option<&RecordSubject>,
) -> Result<(), DbError> {
    store_outcome(conn, scope, grpc_code, response, |update| {
        update
            .value(
                IdempotencyRecord::SubjectTenant,
                subject.map(|subject| subject.tenant_id.clone()),
            )
            .value(
                IdempotencyRecord::Subject,
                subject.map(|subject| subject.subject.clone()),
            );
    })
    .await
}

/// The keys of the tenant's records that `selection` picks, sorted. Run it on the transaction that
/// then deletes them, so the two see the same rows.
///
/// # Errors
///
/// The classified database failure.
pub async fn tenant_record_keys(
    conn: &impl ConnectionTrait,
    tenant_id: &str,
    selection: SubjectSelection<'_>,
) -> Result<Vec<RecordKey>, DbError> {
    let select = Query::select()
        .columns([
            IdempotencyRecord::TenantId,
            IdempotencyRecord::Method,
            IdempotencyRecord::Key,
        ])
        .from(IdempotencyRecord::Table)
        .and_where(selected(tenant_id, selection))
        .to_owned();
    let mut keys = conn
        .query_all(&select)
        .await?
        .iter()
        .map(|row| {
            Ok(RecordKey {
                tenant_id: row.try_get("", "tenant_id")?,
                method: row.try_get("", "method")?,
                key: row.try_get("", "key")?,
            })
        })
        .collect::<Result<Vec<_>, DbErr>>()?;
    keys.sort();
    Ok(keys)
}

/// How many of the tenant's records `selection` picks, for a verification's residual count.
///
/// # Errors
///
/// The classified database failure.
pub async fn count_tenant_records(
    conn: &impl ConnectionTrait,
    tenant_id: &str,
    selection: SubjectSelection<'_>,
) -> Result<u64, DbError> {
    let select = Query::select()
        .expr_as(Func::count(Expr::col(IdempotencyRecord::Key)), "records")
        .from(IdempotencyRecord::Table)
        .and_where(selected(tenant_id, selection))
        .to_owned();
    let records: i64 = match conn.query_one(&select).await? {
        Some(row) => row.try_get("", "records")?,
        None => 0,
    };
    Ok(u64::try_from(records).unwrap_or(0))
}

/// Deletes the tenant's records that `selection` picks and returns how many went; a repeat deletes
/// nothing. A replay of a deleted key is then a new request.
///
/// # Errors
///
/// The classified database failure.
pub async fn delete_tenant_records(
    conn: &impl ConnectionTrait,
    tenant_id: &str,
    selection: SubjectSelection<'_>,
) -> Result<u64, DbError> {
    let delete = Query::delete()
        .from_table(IdempotencyRecord::Table)
        .and_where(selected(tenant_id, selection))
        .to_owned();
    Ok(conn.execute(&delete).await?.rows_affected())
}

fn selected(tenant_id: &str, selection: SubjectSelection<'_>) -> Expr {
    let of_tenant = Expr::col(IdempotencyRecord::SubjectTenant)
        .eq(tenant_id)
        .and(Expr::col(IdempotencyRecord::State).eq(STATE_DONE));
    let subject = || Expr::col(IdempotencyRecord::Subject);
    match selection {
        SubjectSelection::All => of_tenant,
        SubjectSelection::Only(subjects) => {
            of_tenant.and(subject().is_in(subjects.iter().map(String::as_str)))
        }
        SubjectSelection::Except(subjects) => of_tenant.and(
            subject()
                .is_null()
                .or(subject().is_not_in(subjects.iter().map(String::as_str))),
        ),
    }
}
