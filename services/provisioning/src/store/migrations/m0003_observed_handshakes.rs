use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

tenure_db::migration!(
    "The last state Tenure observed of a reference (a handshake's snapshot), so that \
     DescribeHandshake can still answer once AWS stops showing a terminal handshake after 30 \
     days (domain.md §6.3, §6.4).",
    |manager| {
        manager
            .alter_table(
                Table::alter()
                    .table("aws_reference")
                    .add_column(json_binary_null("observed"))
                    .to_owned(),
            )
            .await
    }
);
