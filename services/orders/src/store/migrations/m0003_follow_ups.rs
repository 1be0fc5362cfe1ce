use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

tenure_db::migration!(
    "Tasks that never hold their order (the satisfaction survey, closing an unlinked account \
     as root) and the survey's answer. Every existing task holds its order and asks for an \
     action.",
    |manager| {
        // One column per statement: SQLite alters a table one change at a time.
        let columns = [
            text("kind").default("action").to_owned(),
            boolean("blocks_order").default(true).to_owned(),
            integer_null("survey_score"),
            text_null("survey_comment"),
        ];
        for mut column in columns {
            manager
                .alter_table(
                    Table::alter()
                        .table("order_task")
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
);
