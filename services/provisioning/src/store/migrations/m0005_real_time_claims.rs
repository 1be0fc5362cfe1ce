use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

tenure_db::migration!(
    "Claims and leases on real time, with a fencing token. `next_check_at` stays the business \
     time at which an operation is due (simulated in the sandbox, where AdvanceClock jumps by \
     days), while `claimed_until` measures how long a stepper may hold the operation in real \
     elapsed time, and `claim_epoch` lets a write through only from the stepper holding the \
     latest claim.",
    |manager| {
        // One column per statement: SQLite alters one column at a time.
        manager
            .alter_table(
                Table::alter()
                    .table("operation")
                    .add_column(timestamp_with_time_zone_null("claimed_until"))
                    .to_owned(),
            )
            .await?;
        for table in ["operation", "operation_lease"] {
            manager
                .alter_table(
                    Table::alter()
                        .table(table)
                        .add_column(big_integer("claim_epoch").default(0).take())
                        .to_owned(),
                )
                .await?;
        }
        // The leases written before expire on the business clock (in the sandbox possibly days ahead
        // of real time) and carry no epoch, so no stepper could release them. A lease lives for one
        // step only, and migrations run before this version's engines start, so none of theirs is
        // lost. (A replica of the previous version must not keep stepping beside this one: it
        // ignores the real-time claims.)
        manager
            .get_connection()
            .execute(&Query::delete().from_table("operation_lease").to_owned())
            .await?;
        Ok(())
    }
);
