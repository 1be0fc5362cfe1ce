//! The purge vocabulary every data owner shares (domain.md §8.1): data classes, what a purge does to
//! a table's rows of a class, the registry of every persisted column, and the one rule that narrows
//! an action by scope. Each service lists its own tables; the rule is the same everywhere.

/// The data classes of domain.md §8.1. Stored (in purge requests and receipts) by their snake-case
/// names.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum DataClass {
    /// Data read from or sent to AWS about an account.
    AwsFetched,
    /// Cost and usage rows.
    CostData,
    /// Login information: emails, identity-provider subjects, who placed an order.
    LoginIdentity,
    /// The financial skeleton of orders. A tenant purge names it, and an owner must accept every
    /// class of the vocabulary even where it holds none.
    OrderRecord,
    /// What must outlive an account for its reopen window.
    AccountTombstone,
    /// Audit chains; never purged and free of personal data.
    Audit,
    /// Records that hold no customer data.
    Operational,
}

/// What a purge does to the rows of one table in one class, stored by its snake-case name.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum PurgeAction {
    /// The rows go.
    Delete,
    /// The rows stay with their personal fields emptied.
    Pseudonymise,
    /// The rows stay as they are.
    Keep,
}

/// Account or tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PurgeScope {
    /// One AWS account's data.
    Account,
    /// A whole tenant's data.
    Tenant,
}

/// One persisted column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ColumnClass {
    /// Its table.
    pub table: &'static str,
    /// The column.
    pub column: &'static str,
    /// Its class.
    pub class: DataClass,
    /// The key that ties its rows to a subject.
    pub owner_key: &'static str,
}

/// One table's columns: the key that ties its rows to a subject, and each column's class.
#[derive(Debug, Clone, Copy)]
pub struct TableColumns {
    /// The table.
    pub table: &'static str,
    /// The key that ties its rows to a subject.
    pub owner_key: &'static str,
    /// Every column with its class.
    pub columns: &'static [(&'static str, DataClass)],
}

/// The idempotency records of a service that files each stored response under the subject it names
/// (tenure-db's `AddIdempotencySubject`), so the row goes with that subject rather than with the call.
/// The response is registered as `aws_fetched`, the richest data a stored response holds (the root
/// email and name of an account); a customer caller is named by their identity-provider subject.
pub const SUBJECT_IDEMPOTENCY_RECORDS: TableColumns = {
    use DataClass::*;
    TableColumns {
        table: "idempotency_record",
        owner_key: "subject",
        columns: &[
            ("tenant_id", Operational),
            ("method", Operational),
            ("key", Operational),
            ("caller", LoginIdentity),
            ("request_hash", Operational),
            ("state", Operational),
            ("grpc_code", Operational),
            ("response", AwsFetched),
            ("created_at", Operational),
            ("expires_at", Operational),
            ("subject_tenant", Operational),
            ("subject", Operational),
        ],
    }
};

/// The columns of tenure-db's `idempotency_record` in a service that files no stored response under a
/// subject (see [`SUBJECT_IDEMPOTENCY_RECORDS`] for those that do).
pub const IDEMPOTENCY_RECORD_COLUMNS: [&str; 10] = [
    "tenant_id",
    "method",
    "key",
    "caller",
    "request_hash",
    "state",
    "grpc_code",
    "response",
    "created_at",
    "expires_at",
];

/// The columns of tenure-db's `rate_limit_bucket`, which every service keeps: a bucket per tenant (or a
/// digest of a subject) and class of method with its theoretical arrival time. Nothing in it is a
/// customer's data, so no purge touches it.
pub const RATE_LIMIT_BUCKET_COLUMNS: [&str; 3] = ["bucket", "class", "tat_micros"];

/// [`RATE_LIMIT_BUCKET_COLUMNS`] for the services that register tables as [`TableColumns`].
pub const RATE_LIMIT_BUCKETS: TableColumns = {
    use DataClass::*;
    TableColumns {
        table: "rate_limit_bucket",
        owner_key: "bucket",
        columns: &[
            ("bucket", Operational),
            ("class", Operational),
            ("tat_micros", Operational),
        ],
    }
};

/// One table's share of a class, and what purging that class does to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableClass {
    /// The table.
    pub table: &'static str,
    /// The class.
    pub class: DataClass,
    /// The action when the class is purged; [`action_for`] narrows it by scope.
    pub when_purged: PurgeAction,
}

/// A purge as a data owner receives it: which purge, over what subject, of which classes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurgeTarget {
    /// The purge.
    pub purge_id: uuid::Uuid,
    /// Account or tenant.
    pub scope: PurgeScope,
    /// The tenant that owns the data.
    pub tenant: uuid::Uuid,
    /// For account scope: the account.
    pub aws_account_id: Option<crate::AwsAccountId>,
    /// The classes to purge.
    pub classes: Vec<DataClass>,
}

/// A subject's rows in one table's share of a class, and what the purge does to them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SurveyedTable {
    /// The table and class.
    pub entry: &'static TableClass,
    /// What the purge does there.
    pub action: PurgeAction,
    /// The keys of the subject's rows in place.
    pub keys: Vec<String>,
}

/// What a purge did to one table: the keys of the subject's rows it found and how many it changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErasedTable {
    /// The table and class.
    pub entry: &'static TableClass,
    /// What the purge did there.
    pub action: PurgeAction,
    /// The keys of the rows found.
    pub keys: Vec<String>,
    /// The rows deleted or pseudonymised.
    pub affected: u64,
}

/// A registry entry: `table`'s rows of `class` get `when_purged` when the class is purged.
pub const fn table_class(
    table: &'static str,
    class: DataClass,
    when_purged: PurgeAction,
) -> TableClass {
    TableClass {
        table,
        class,
        when_purged,
    }
}

/// Every column of `tables`, table by table; a service's test compares it with the database
/// catalogue, so a new column cannot ship unregistered (G1).
pub fn columns(tables: &'static [TableColumns]) -> impl Iterator<Item = ColumnClass> {
    tables.iter().flat_map(|table| {
        table.columns.iter().map(|&(column, class)| ColumnClass {
            table: table.table,
            column,
            class,
            owner_key: table.owner_key,
        })
    })
}

/// What a purge of `scope` that asks for `requested` classes does to `entry`. Classes not asked for
/// are kept; login information survives an account-scope purge whatever is asked (domain.md §8.1,
/// guarantee 6); tombstones, audit and operational records are never purged.
pub fn action_for(scope: PurgeScope, requested: &[DataClass], entry: &TableClass) -> PurgeAction {
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

/// The survey of `tables` for `target`: each table with the keys of the subject's rows, which `keys`
/// reads, and what the purge does there.
///
/// # Errors
///
/// The first error of `keys`.
pub async fn survey<E, F>(
    tables: &'static [TableClass],
    target: &PurgeTarget,
    mut keys: impl FnMut(&'static TableClass) -> F,
) -> Result<Vec<SurveyedTable>, E>
where
    F: Future<Output = Result<Vec<String>, E>>,
{
    let mut survey = Vec::with_capacity(tables.len());
    for entry in tables {
        survey.push(SurveyedTable {
            entry,
            action: action_for(target.scope, &target.classes, entry),
            keys: keys(entry).await?,
        });
    }
    Ok(survey)
}

/// The purge of `target` over `tables`: for each table it does not keep, `erase` reads the keys of the
/// subject's rows and then deletes or pseudonymises them, answering the keys and the rows changed.
///
/// # Errors
///
/// The first error of `erase`.
pub async fn erase<E, F>(
    tables: &'static [TableClass],
    target: &PurgeTarget,
    mut erase: impl FnMut(&'static TableClass, PurgeAction) -> F,
) -> Result<Vec<ErasedTable>, E>
where
    F: Future<Output = Result<(Vec<String>, u64), E>>,
{
    let mut erased = Vec::new();
    for entry in tables {
        let action = action_for(target.scope, &target.classes, entry);
        if action == PurgeAction::Keep {
            continue;
        }
        let (keys, affected) = erase(entry, action).await?;
        erased.push(ErasedTable {
            entry,
            action,
            keys,
            affected,
        });
    }
    Ok(erased)
}

/// The key hash every data owner reports with its purge counts, so two plans, or a plan and an
/// execution, can be compared without shipping the keys themselves: SHA-256 over the row keys in
/// byte order, one per line, hex. The keys are sorted here, so the hash does not depend on the order
/// a query returned them in.
pub fn row_key_hash<K: AsRef<str>>(keys: impl IntoIterator<Item = K>) -> String {
    use sha2::{Digest as _, Sha256};
    let mut keys: Vec<K> = keys.into_iter().collect();
    keys.sort_by(|left, right| left.as_ref().cmp(right.as_ref()));
    let mut digest = Sha256::new();
    for key in &keys {
        digest.update(key.as_ref().as_bytes());
        digest.update(b"\n");
    }
    hex::encode(digest.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_purge_never_touches_login_identity_and_nothing_purges_audit() {
        let login = table_class("t", DataClass::LoginIdentity, PurgeAction::Delete);
        let audit = table_class("t", DataClass::Audit, PurgeAction::Delete);
        let fetched = table_class("t", DataClass::AwsFetched, PurgeAction::Pseudonymise);
        let everything = [
            DataClass::AwsFetched,
            DataClass::LoginIdentity,
            DataClass::Audit,
        ];
        assert_eq!(
            action_for(PurgeScope::Account, &everything, &login),
            PurgeAction::Keep
        );
        assert_eq!(
            action_for(PurgeScope::Tenant, &everything, &login),
            PurgeAction::Delete
        );
        assert_eq!(
            action_for(PurgeScope::Tenant, &everything, &audit),
            PurgeAction::Keep
        );
        assert_eq!(
            action_for(PurgeScope::Account, &everything, &fetched),
            PurgeAction::Pseudonymise
        );
        assert_eq!(
            action_for(PurgeScope::Account, &[], &fetched),
            PurgeAction::Keep
        );
    }

    #[test]
    fn the_row_key_hash_ignores_order_and_sees_every_key() {
        assert_eq!(row_key_hash(["b", "a"]), row_key_hash(["a", "b"]));
        assert_ne!(row_key_hash(["a", "b"]), row_key_hash(["a", "c"]));
        assert_ne!(row_key_hash(["ab"]), row_key_hash(["a", "b"]));
    }
}
