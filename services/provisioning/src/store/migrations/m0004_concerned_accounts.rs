use sea_orm::ConnectionTrait;
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use uuid::Uuid;

use crate::domain::operation::{OperationRequest, Progress, concerned_accounts};
use crate::store::operation_store::{CONCERN_TABLE, REFERENCE_TABLE, record_concerned_accounts};

tenure_db::migration!(
    "The accounts each operation concerns and the account each recorded reference is about, \
     so that an account-scope purge takes every operation and reference that names the \
     account (domain.md §8), not only those that report it; filled in for what is already \
     stored.",
    |manager| {
        manager
            .create_table(
                Table::create()
                    .table(CONCERN_TABLE)
                    .col(uuid("operation_id"))
                    .col(uuid_null("tenant_id"))
                    .col(text("aws_account_id"))
                    .primary_key(
                        Index::create()
                            .name("concerned_account_pkey")
                            .col("operation_id")
                            .col("aws_account_id"),
                    )
                    .to_owned(),
            )
            .await?;
        tenure_db::create_index(
            manager,
            "concerned_account_account",
            CONCERN_TABLE,
            &["aws_account_id"],
            tenure_db::IndexKind::Plain,
        )
        .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(REFERENCE_TABLE)
                    .add_column(text_null("aws_account_id"))
                    .to_owned(),
            )
            .await?;
        backfill(manager.get_connection()).await
    }
);

/// An operation as far as its accounts go.
struct Stored {
    id: Uuid,
    tenant_id: Option<Uuid>,
    reported: Option<String>,
    request: OperationRequest,
    progress: Progress,
}

fn custom(error: impl std::fmt::Display) -> DbErr {
    DbErr::Custom(format!("filling operation accounts: {error}"))
}

/// Records the accounts of the operations stored before this migration, references first, so that an
/// operation naming a reference (CancelHandshake) finds the reference's account.
async fn backfill(conn: &impl ConnectionTrait) -> Result<(), DbErr> {
    let select = Query::select()
        .columns(["id", "tenant_id", "aws_account_id", "request", "result"])
        .from("operation")
        .to_owned();
    let mut stored = Vec::new();
    for row in conn.query_all(&select).await? {
        let request: serde_json::Value = row.try_get("", "request")?;
        let progress: Option<serde_json::Value> = row.try_get("", "result")?;
        stored.push(Stored {
            id: row.try_get("", "id")?,
            tenant_id: row.try_get("", "tenant_id")?,
            reported: row.try_get("", "aws_account_id")?,
            request: serde_json::from_value(request).map_err(custom)?,
            progress: progress
                .map(serde_json::from_value)
                .transpose()
                .map_err(custom)?
                .unwrap_or_default(),
        });
    }
    // A reference recorded by an operation is about the account the operation reports.
    for operation in &stored {
        let Some(account) = &operation.reported else {
            continue;
        };
        let handshake = operation.progress.handshake.as_ref();
        let transfer = operation.progress.transfer.as_ref();
        let references = [
            Some(account.as_str()),
            handshake.map(|handshake| handshake.id.as_str()),
            transfer.map(|transfer| transfer.id.as_str()),
        ];
        let update = Query::update()
            .table(REFERENCE_TABLE)
            .value("aws_account_id", account.as_str())
            .and_where(Expr::col("reference").is_in(references.into_iter().flatten()))
            .to_owned();
        conn.execute(&update).await?;
    }
    for operation in stored {
        let accounts = concerned_accounts(
            &operation.request,
            operation.reported.as_deref(),
            &operation.progress,
        );
        record_concerned_accounts(
            conn,
            operation.id,
            operation.tenant_id,
            &operation.request,
            accounts,
        )
        .await
        .map_err(custom)?;
    }
    Ok(())
}
