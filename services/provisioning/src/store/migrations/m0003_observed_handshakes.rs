use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

/// The last state Tenure observed of a reference (a handshake's snapshot), so that DescribeHandshake can
/// still answer once AWS stops showing a terminal handshake after 30 days (domain.md §6.3, §6.4).
#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
#[allow(
    elided_lifetimes_in_paths,
    reason = "the trait elides the manager's lifetime; naming it breaks the async_trait expansion"
)]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("aws_reference")
                    .add_column(json_binary_null("observed"))
                    .to_owned(),
            )
            .await
    }
}
