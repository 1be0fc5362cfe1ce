//! The purge policy of every persisted column (domain.md §8.1): which data class it belongs to, the
//! key that ties it to a subject, and what a purge of the class does to each table.

use uuid::Uuid;

/// What a mutating call's stored idempotency response is about. The response is a copy of what the
/// call returned, so it is purged with that subject (see the `idempotency_record` entries of
/// [`TABLES`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ResponseSubject {
    /// An account record: the response may hold its name, root email and other AWS-fetched data.
    Account(Uuid),
    /// A user: the response may hold their email, name and IdP subject.
    User(Uuid),
    /// A tenant as a whole: its display name, its first administrator.
    Tenant(Uuid),
    /// Nothing of a subject, e.g. a purge's own counts and key hashes.
    Nothing,
}

impl ResponseSubject {
    /// The stored subject (`aws_account:<record id>`), or `None` for [`ResponseSubject::Nothing`].
    pub(crate) fn key(self) -> Option<String> {
        match self {
            ResponseSubject::Account(id) => Some(account_subject(id)),
            ResponseSubject::User(id) => Some(format!("user:{id}")),
            ResponseSubject::Tenant(id) => Some(format!("tenant:{id}")),
            ResponseSubject::Nothing => None,
        }
    }
}

/// The stored subject of an account record, which an account-scope purge looks for.
pub(crate) fn account_subject(id: Uuid) -> String {
    format!("aws_account:{id}")
}

pub(crate) use tenure_domain::purge::{
    ColumnClass, DataClass, PurgeAction, PurgeScope, TableClass, TableColumns, table_class as table,
};

/// Every column of every table the service owns, table by table. A test compares it with the
/// database catalogue, so a new column cannot ship unregistered (G1).
const TABLE_COLUMNS: &[TableColumns] = {
    use DataClass::*;
    &[
        TableColumns {
            table: "tenant",
            owner_key: "id",
            columns: &[
                ("id", AccountTombstone),
                ("display_name", LoginIdentity),
                ("sector", AccountTombstone),
                ("resale_model", AccountTombstone),
                ("marketplace_ref", AccountTombstone),
                ("status", AccountTombstone),
                ("created_at", AccountTombstone),
                ("unsubscribed_at", AccountTombstone),
            ],
        },
        TableColumns {
            table: "app_user",
            owner_key: "tenant_id",
            columns: &[
                ("id", LoginIdentity),
                ("tenant_id", LoginIdentity),
                ("email", LoginIdentity),
                ("display_name", LoginIdentity),
                ("idp_subject", LoginIdentity),
                ("role", LoginIdentity),
                ("created_at", LoginIdentity),
            ],
        },
        TableColumns {
            table: "aws_account",
            owner_key: "aws_account_id",
            columns: &[
                ("id", AccountTombstone),
                ("tenant_id", AccountTombstone),
                ("aws_account_id", AccountTombstone),
                ("name", AwsFetched),
                ("root_email", AwsFetched),
                ("root_email_key", AwsFetched),
                ("role", AccountTombstone),
                ("relationship", AccountTombstone),
                ("organization_id", AwsFetched),
                ("parent_id", AwsFetched),
                ("management_account_id", AccountTombstone),
                ("joined_method", AccountTombstone),
                ("root_access", AccountTombstone),
                ("state", AccountTombstone),
                ("state_changed_at", AccountTombstone),
                ("active_order_id", AccountTombstone),
                ("closed_at", AccountTombstone),
                ("reopen_until", AccountTombstone),
                ("billing_starts_at", AccountTombstone),
                ("billing_ends_at", AccountTombstone),
                ("created_at", AccountTombstone),
                // A removal's dates and purge outlive the purge: they say why the data is gone.
                ("removed_at", AccountTombstone),
                ("removal_purge_id", AccountTombstone),
                ("removal_purge_due_at", AccountTombstone),
                ("removal_purged_at", AccountTombstone),
                // What billing reported as still to be paid is cost data, purged with the rest.
                ("open_balance_micros", CostData),
                ("open_balance_currency", CostData),
                ("open_balance_as_of", CostData),
            ],
        },
        TableColumns {
            table: "account_transition",
            owner_key: "account_id",
            columns: &[
                ("id", AccountTombstone),
                ("account_id", AccountTombstone),
                ("tenant_id", AccountTombstone),
                ("from_state", AccountTombstone),
                ("to_state", AccountTombstone),
                ("at", AccountTombstone),
                ("actor_subject", LoginIdentity),
                ("actor_role", AccountTombstone),
                ("reason", LoginIdentity),
                ("order_id", AccountTombstone),
            ],
        },
        TableColumns {
            table: "subscription",
            owner_key: "account_id",
            columns: &[
                ("id", AccountTombstone),
                ("tenant_id", AccountTombstone),
                ("account_id", AccountTombstone),
                ("marketplace_ref", AccountTombstone),
                ("status", AccountTombstone),
                ("started_at", AccountTombstone),
                ("terminated_at", AccountTombstone),
            ],
        },
        TableColumns {
            table: "account_details",
            owner_key: "account_id",
            columns: &[
                ("account_id", AwsFetched),
                ("tenant_id", AwsFetched),
                ("name", AwsFetched),
                ("email", AwsFetched),
                ("organization_path", AwsFetched),
                ("tags", AwsFetched),
                ("fetched_at", AwsFetched),
            ],
        },
        TableColumns {
            table: "cost_record",
            owner_key: "account_id",
            columns: &[
                ("id", CostData),
                ("account_id", CostData),
                ("tenant_id", CostData),
                ("period_start", CostData),
                ("period_end", CostData),
                ("service", CostData),
                ("amount_micros", CostData),
                ("currency", CostData),
            ],
        },
        TableColumns {
            table: "audit_event",
            owner_key: "target_tenant",
            columns: &[
                ("id", Audit),
                ("at", Audit),
                ("actor_subject", Audit),
                ("actor_role", Audit),
                ("target_tenant", Audit),
                ("action", Audit),
                ("target_kind", Audit),
                ("target_id", Audit),
                ("reason", Audit),
                ("ticket", Audit),
                ("outcome", Audit),
            ],
        },
        // A stored response goes with the subject it names: see the `idempotency_record` entries
        // of TABLES. For users and tenants it holds login identity rather than AWS-fetched data.
        tenure_domain::purge::SUBJECT_IDEMPOTENCY_RECORDS,
        tenure_domain::purge::RATE_LIMIT_BUCKETS,
    ]
};

/// Every column of every table the service owns (see [`TABLE_COLUMNS`]).
pub(crate) fn columns() -> impl Iterator<Item = ColumnClass> {
    tenure_domain::purge::columns(TABLE_COLUMNS)
}

/// The tables that hold a subject's data, per class, in the order a purge reports them. Tombstones
/// keep their rows: a purge removes the personal and AWS-fetched columns around them instead.
pub(crate) const TABLES: &[TableClass] = {
    use DataClass::*;
    use PurgeAction::*;
    &[
        table("account_details", AwsFetched, Delete),
        table("aws_account", AwsFetched, Pseudonymise),
        // Stored responses about account records: both scopes delete them with the record's
        // AWS-fetched data, so a replay can no longer return a purged name or root email.
        table("idempotency_record", AwsFetched, Delete),
        table("cost_record", CostData, Delete),
        // The open balance lives on the record, which stays: its columns are emptied.
        table("aws_account", CostData, Pseudonymise),
        table("app_user", LoginIdentity, Delete),
        table("tenant", LoginIdentity, Pseudonymise),
        table("account_transition", LoginIdentity, Pseudonymise),
        // Every other stored response of the tenant (users, the tenant itself, records older than
        // their subject column): they may hold login identity, so only a tenant purge deletes
        // them, and with the entry above it leaves none of the tenant's records.
        table("idempotency_record", LoginIdentity, Delete),
        table("aws_account", AccountTombstone, Keep),
        table("account_transition", AccountTombstone, Keep),
        table("subscription", AccountTombstone, Keep),
    ]
};
