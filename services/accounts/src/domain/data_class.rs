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

/// The data classes of domain.md §8.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum DataClass {
    AwsFetched,
    CostData,
    LoginIdentity,
    AccountTombstone,
    Audit,
    Operational,
}

/// What a purge does to the rows of one table in one class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PurgeAction {
    Delete,
    Pseudonymise,
    Keep,
}

/// Account or tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PurgeScope {
    Account,
    Tenant,
}

/// One persisted column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ColumnClass {
    pub(crate) table: &'static str,
    pub(crate) column: &'static str,
    pub(crate) class: DataClass,
    pub(crate) owner_key: &'static str,
}

/// One table's share of a class, and what purging that class does to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TableClass {
    pub(crate) table: &'static str,
    pub(crate) class: DataClass,
    /// The action when the class is purged; [`action_for`] narrows it by scope.
    pub(crate) when_purged: PurgeAction,
}

const fn column(
    table: &'static str,
    column: &'static str,
    class: DataClass,
    owner_key: &'static str,
) -> ColumnClass {
    ColumnClass {
        table,
        column,
        class,
        owner_key,
    }
}

/// Every column of every table the service owns. A test compares it with the database catalogue, so a
/// new column cannot ship unregistered (G1).
pub(crate) const COLUMNS: &[ColumnClass] = {
    use DataClass::*;
    &[
        column("tenant", "id", AccountTombstone, "id"),
        column("tenant", "display_name", LoginIdentity, "id"),
        column("tenant", "sector", AccountTombstone, "id"),
        column("tenant", "resale_model", AccountTombstone, "id"),
        column("tenant", "marketplace_ref", AccountTombstone, "id"),
        column("tenant", "status", AccountTombstone, "id"),
        column("tenant", "created_at", AccountTombstone, "id"),
        column("tenant", "unsubscribed_at", AccountTombstone, "id"),
        column("app_user", "id", LoginIdentity, "tenant_id"),
        column("app_user", "tenant_id", LoginIdentity, "tenant_id"),
        column("app_user", "email", LoginIdentity, "tenant_id"),
        column("app_user", "display_name", LoginIdentity, "tenant_id"),
        column("app_user", "idp_subject", LoginIdentity, "tenant_id"),
        column("app_user", "role", LoginIdentity, "tenant_id"),
        column("app_user", "created_at", LoginIdentity, "tenant_id"),
        column("aws_account", "id", AccountTombstone, "aws_account_id"),
        column(
            "aws_account",
            "tenant_id",
            AccountTombstone,
            "aws_account_id",
        ),
        column(
            "aws_account",
            "aws_account_id",
            AccountTombstone,
            "aws_account_id",
        ),
        column("aws_account", "name", AwsFetched, "aws_account_id"),
        column("aws_account", "root_email", AwsFetched, "aws_account_id"),
        column(
            "aws_account",
            "root_email_key",
            AwsFetched,
            "aws_account_id",
        ),
        column("aws_account", "role", AccountTombstone, "aws_account_id"),
        column(
            "aws_account",
            "relationship",
            AccountTombstone,
            "aws_account_id",
        ),
        column(
            "aws_account",
            "organization_id",
            AwsFetched,
            "aws_account_id",
        ),
        column("aws_account", "parent_id", AwsFetched, "aws_account_id"),
        column(
            "aws_account",
            "management_account_id",
            AccountTombstone,
            "aws_account_id",
        ),
        column(
            "aws_account",
            "joined_method",
            AccountTombstone,
            "aws_account_id",
        ),
        column(
            "aws_account",
            "root_access",
            AccountTombstone,
            "aws_account_id",
        ),
        column("aws_account", "state", AccountTombstone, "aws_account_id"),
        column(
            "aws_account",
            "state_changed_at",
            AccountTombstone,
            "aws_account_id",
        ),
        column(
            "aws_account",
            "active_order_id",
            AccountTombstone,
            "aws_account_id",
        ),
        column(
            "aws_account",
            "closed_at",
            AccountTombstone,
            "aws_account_id",
        ),
        column(
            "aws_account",
            "reopen_until",
            AccountTombstone,
            "aws_account_id",
        ),
        column(
            "aws_account",
            "billing_starts_at",
            AccountTombstone,
            "aws_account_id",
        ),
        column(
            "aws_account",
            "billing_ends_at",
            AccountTombstone,
            "aws_account_id",
        ),
        column(
            "aws_account",
            "created_at",
            AccountTombstone,
            "aws_account_id",
        ),
        column("account_transition", "id", AccountTombstone, "account_id"),
        column(
            "account_transition",
            "account_id",
            AccountTombstone,
            "account_id",
        ),
        column(
            "account_transition",
            "tenant_id",
            AccountTombstone,
            "account_id",
        ),
        column(
            "account_transition",
            "from_state",
            AccountTombstone,
            "account_id",
        ),
        column(
            "account_transition",
            "to_state",
            AccountTombstone,
            "account_id",
        ),
        column("account_transition", "at", AccountTombstone, "account_id"),
        column(
            "account_transition",
            "actor_subject",
            LoginIdentity,
            "account_id",
        ),
        column(
            "account_transition",
            "actor_role",
            AccountTombstone,
            "account_id",
        ),
        column("account_transition", "reason", LoginIdentity, "account_id"),
        column(
            "account_transition",
            "order_id",
            AccountTombstone,
            "account_id",
        ),
        column("subscription", "id", AccountTombstone, "account_id"),
        column("subscription", "tenant_id", AccountTombstone, "account_id"),
        column("subscription", "account_id", AccountTombstone, "account_id"),
        column(
            "subscription",
            "marketplace_ref",
            AccountTombstone,
            "account_id",
        ),
        column("subscription", "status", AccountTombstone, "account_id"),
        column("subscription", "started_at", AccountTombstone, "account_id"),
        column(
            "subscription",
            "terminated_at",
            AccountTombstone,
            "account_id",
        ),
        column("account_details", "account_id", AwsFetched, "account_id"),
        column("account_details", "tenant_id", AwsFetched, "account_id"),
        column("account_details", "name", AwsFetched, "account_id"),
        column("account_details", "email", AwsFetched, "account_id"),
        column(
            "account_details",
            "organization_path",
            AwsFetched,
            "account_id",
        ),
        column("account_details", "tags", AwsFetched, "account_id"),
        column("account_details", "fetched_at", AwsFetched, "account_id"),
        column("cost_record", "id", CostData, "account_id"),
        column("cost_record", "account_id", CostData, "account_id"),
        column("cost_record", "tenant_id", CostData, "account_id"),
        column("cost_record", "period_start", CostData, "account_id"),
        column("cost_record", "period_end", CostData, "account_id"),
        column("cost_record", "service", CostData, "account_id"),
        column("cost_record", "amount_micros", CostData, "account_id"),
        column("cost_record", "currency", CostData, "account_id"),
        column("audit_event", "id", Audit, "target_tenant"),
        column("audit_event", "at", Audit, "target_tenant"),
        column("audit_event", "actor_subject", Audit, "target_tenant"),
        column("audit_event", "actor_role", Audit, "target_tenant"),
        column("audit_event", "target_tenant", Audit, "target_tenant"),
        column("audit_event", "action", Audit, "target_tenant"),
        column("audit_event", "target_kind", Audit, "target_tenant"),
        column("audit_event", "target_id", Audit, "target_tenant"),
        column("audit_event", "reason", Audit, "target_tenant"),
        column("audit_event", "ticket", Audit, "target_tenant"),
        column("audit_event", "outcome", Audit, "target_tenant"),
        // A stored response copies what its call returned, so the row goes with the subject it
        // names (`owner_key`), not with the call: see the `idempotency_record` entries of TABLES.
        // The response is registered as `aws_fetched`, the richest data it holds (root email and
        // name of an account record); for users and tenants it holds login identity instead.
        column("idempotency_record", "tenant_id", Operational, "subject"),
        column("idempotency_record", "method", Operational, "subject"),
        column("idempotency_record", "key", Operational, "subject"),
        // A customer caller is named by their IdP subject.
        column("idempotency_record", "caller", LoginIdentity, "subject"),
        column("idempotency_record", "request_hash", Operational, "subject"),
        column("idempotency_record", "state", Operational, "subject"),
        column("idempotency_record", "grpc_code", Operational, "subject"),
        column("idempotency_record", "response", AwsFetched, "subject"),
        column("idempotency_record", "created_at", Operational, "subject"),
        column("idempotency_record", "expires_at", Operational, "subject"),
        column(
            "idempotency_record",
            "subject_tenant",
            Operational,
            "subject",
        ),
        column("idempotency_record", "subject", Operational, "subject"),
    ]
};

/// The tables that hold a subject's data, per class, in the order a purge reports them. Tombstones
/// keep their rows: a purge removes the personal and AWS-fetched columns around them instead.
pub(crate) const TABLES: &[TableClass] = {
    use DataClass::*;
    use PurgeAction::*;
    &[
        TableClass {
            table: "account_details",
            class: AwsFetched,
            when_purged: Delete,
        },
        TableClass {
            table: "aws_account",
            class: AwsFetched,
            when_purged: Pseudonymise,
        },
        // Stored responses about account records: both scopes delete them with the record's
        // AWS-fetched data, so a replay can no longer return a purged name or root email.
        TableClass {
            table: "idempotency_record",
            class: AwsFetched,
            when_purged: Delete,
        },
        TableClass {
            table: "cost_record",
            class: CostData,
            when_purged: Delete,
        },
        TableClass {
            table: "app_user",
            class: LoginIdentity,
            when_purged: Delete,
        },
        TableClass {
            table: "tenant",
            class: LoginIdentity,
            when_purged: Pseudonymise,
        },
        TableClass {
            table: "account_transition",
            class: LoginIdentity,
            when_purged: Pseudonymise,
        },
        // Every other stored response of the tenant (users, the tenant itself, records older than
        // their subject column): they may hold login identity, so only a tenant purge deletes
        // them, and with the entry above it leaves none of the tenant's records.
        TableClass {
            table: "idempotency_record",
            class: LoginIdentity,
            when_purged: Delete,
        },
        TableClass {
            table: "aws_account",
            class: AccountTombstone,
            when_purged: Keep,
        },
        TableClass {
            table: "account_transition",
            class: AccountTombstone,
            when_purged: Keep,
        },
        TableClass {
            table: "subscription",
            class: AccountTombstone,
            when_purged: Keep,
        },
    ]
};

/// What a purge of `scope` that asks for `requested` classes does to `entry`. Classes not asked for
/// are kept; login information survives an account-scope purge whatever is asked (domain.md §8.1,
/// guarantee 6); tombstones, audit and operational records are never purged here.
pub(crate) fn action_for(
    scope: PurgeScope,
    requested: &[DataClass],
    entry: &TableClass,
) -> PurgeAction {
    let never_purged = matches!(
        entry.class,
        DataClass::AccountTombstone | DataClass::Audit | DataClass::Operational
    );
    let login_kept = entry.class == DataClass::LoginIdentity && scope == PurgeScope::Account;
    if never_purged || login_kept || !requested.contains(&entry.class) {
        PurgeAction::Keep
    } else {
        entry.when_purged
    }
}
