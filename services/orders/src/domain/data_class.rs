//! The purge policy of every column orders keeps (domain.md §8.1): which class it belongs to, the key
//! that ties it to a subject, and what a purge of each class does per table. Orders are the financial
//! skeleton billing relies on, so a purge empties their personal and AWS-fetched fields and keeps the
//! rows; the event stream carries ids and codes only and is kept whole.

use uuid::Uuid;

pub(crate) use tenure_domain::purge::{
    ColumnClass, DataClass, PurgeAction, PurgeScope, TableClass, TableColumns, table_class,
};

/// The subject stored with a mutating call's response (an order view holds the order's details).
pub(crate) fn order_subject(order_id: Uuid) -> String {
    format!("order:{order_id}")
}

/// Every column of every table the service owns. A test compares it with the database catalogue,
/// so a new column cannot ship unregistered (G1).
const TABLE_COLUMNS: &[TableColumns] = {
    use DataClass::*;
    &[
        TableColumns {
            table: "customer_order",
            owner_key: "tenant_id",
            columns: &[
                ("id", OrderRecord),
                ("tenant_id", OrderRecord),
                ("kind", OrderRecord),
                ("status", OrderRecord),
                ("status_key", OrderRecord),
                ("aws_account_id", OrderRecord),
                // Root email and account name of a new account; the support contact and the
                // termination reason are the customer's words (pseudonymised by a tenant purge).
                ("details", AwsFetched),
                ("placed_by", LoginIdentity),
                ("idempotency_key", Operational),
                ("request_hash", Operational),
                ("failure_code", OrderRecord),
                // A rejected manual step quotes the operator's note.
                ("failure_message", OrderRecord),
                ("created_at", OrderRecord),
                ("updated_at", OrderRecord),
                ("finished_at", OrderRecord),
            ],
        },
        TableColumns {
            table: "saga",
            owner_key: "tenant_id",
            columns: &[
                ("id", Operational),
                ("order_id", Operational),
                ("tenant_id", Operational),
                ("kind", Operational),
                ("def_version", Operational),
                ("status", Operational),
                ("node", Operational),
                ("direction", Operational),
                ("past_pivot", Operational),
                ("input", AwsFetched),
                ("input_rev", Operational),
                // AWS identifiers (handshakes, transfers, the platform organization).
                ("state", AwsFetched),
                ("attempt", Operational),
                ("wait_reason", Operational),
                ("event_seq", Operational),
                ("cancel_requested_at", Operational),
                ("deadline_at", Operational),
                ("traceparent", Operational),
                ("tracestate", Operational),
                ("created_at", Operational),
                ("updated_at", Operational),
                ("finished_at", Operational),
            ],
        },
        TableColumns {
            table: "saga_task",
            owner_key: "saga_id",
            columns: &[
                ("saga_id", Operational),
                ("def_key", Operational),
                ("due_at", Operational),
                ("lease_owner", Operational),
                ("lease_epoch", Operational),
                ("lease_until", Operational),
            ],
        },
        TableColumns {
            table: "saga_lock",
            owner_key: "saga_id",
            columns: &[
                // `root-email:<address>` while a new-account order runs.
                ("resource_key", AwsFetched),
                ("saga_id", Operational),
                ("acquired_at", Operational),
            ],
        },
        TableColumns {
            table: "saga_step",
            owner_key: "saga_id",
            columns: &[
                ("saga_id", Operational),
                ("node", Operational),
                ("direction", Operational),
                ("input_rev", Operational),
                ("outcome", Operational),
                ("output", AwsFetched),
                ("idempotency_key", Operational),
                ("finished_at", Operational),
            ],
        },
        TableColumns {
            table: "saga_attempt",
            owner_key: "saga_id",
            columns: &[
                ("saga_id", Operational),
                ("node", Operational),
                ("direction", Operational),
                ("slot", Operational),
                ("attempt", Operational),
                ("started_at", Operational),
                ("finished_at", Operational),
                ("code", Operational),
                ("message", Operational),
                ("replica", Operational),
            ],
        },
        TableColumns {
            table: "order_task",
            owner_key: "tenant_id",
            columns: &[
                ("id", OrderRecord),
                ("tenant_id", OrderRecord),
                ("order_id", OrderRecord),
                ("node", OrderRecord),
                ("input_rev", OrderRecord),
                ("step", OrderRecord),
                ("title", OrderRecord),
                ("owner", OrderRecord),
                ("state", OrderRecord),
                ("created_at", OrderRecord),
                ("deadline", OrderRecord),
                ("resolved_at", OrderRecord),
                ("resolved_by_subject", LoginIdentity),
                ("resolved_by_role", OrderRecord),
                ("note", LoginIdentity),
                ("kind", OrderRecord),
                ("blocks_order", OrderRecord),
                ("survey_score", OrderRecord),
                // The customer's own words, like an operator's note.
                ("survey_comment", LoginIdentity),
            ],
        },
        TableColumns {
            table: "saga_audit",
            owner_key: "tenant_id",
            columns: &[
                ("id", Audit),
                ("saga_id", Audit),
                ("order_id", Audit),
                ("tenant_id", Audit),
                ("at", Audit),
                ("actor_subject", Audit),
                ("actor_role", Audit),
                ("action", Audit),
                ("reason", Audit),
                ("ticket", Audit),
                ("outcome", Audit),
                ("trace_id", Audit),
            ],
        },
        // Ids, codes and timestamps only (domain.md §4.5): billing's record of what happened.
        TableColumns {
            table: "order_event",
            owner_key: "tenant_id",
            columns: &[
                ("id", OrderRecord),
                ("epoch", OrderRecord),
                ("tx", OrderRecord),
                ("event_id", OrderRecord),
                ("order_id", OrderRecord),
                ("tenant_id", OrderRecord),
                ("order_seq", OrderRecord),
                ("event_type", OrderRecord),
                ("schema_version", OrderRecord),
                ("payload", OrderRecord),
                ("effective_at", OrderRecord),
                ("recorded_at", OrderRecord),
                ("traceparent", Operational),
                ("tracestate", Operational),
            ],
        },
        TableColumns {
            table: "stream_meta",
            owner_key: "id",
            columns: &[("id", Operational), ("epoch", Operational)],
        },
        TableColumns {
            table: "event_subscription",
            owner_key: "owner",
            columns: &[
                ("owner", Operational),
                ("name", Operational),
                ("position", Operational),
                ("updated_at", Operational),
            ],
        },
        // A stored response copies an order view, details included: it goes with the order.
        tenure_domain::purge::SUBJECT_IDEMPOTENCY_RECORDS,
        tenure_domain::purge::RATE_LIMIT_BUCKETS,
    ]
};

/// Every column of every table the service owns.
pub(crate) fn columns() -> impl Iterator<Item = ColumnClass> {
    tenure_domain::purge::columns(TABLE_COLUMNS)
}

/// The tables that hold a subject's data, per class, in the order a purge reports them.
pub(crate) const TABLES: &[TableClass] = {
    use DataClass::*;
    use PurgeAction::*;
    &[
        table_class("customer_order", AwsFetched, Pseudonymise),
        table_class("saga", AwsFetched, Pseudonymise),
        table_class("saga_step", AwsFetched, Pseudonymise),
        table_class("saga_lock", AwsFetched, Delete),
        table_class("idempotency_record", AwsFetched, Delete),
        table_class("customer_order", LoginIdentity, Pseudonymise),
        table_class("order_task", LoginIdentity, Pseudonymise),
        table_class("idempotency_record", LoginIdentity, Delete),
        table_class("customer_order", OrderRecord, Pseudonymise),
        table_class("order_event", OrderRecord, Keep),
    ]
};
