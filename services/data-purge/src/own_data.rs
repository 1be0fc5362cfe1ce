//! data-purge as a data owner of its own records. Every table it keeps is `audit` or `operational`:
//! purge requests, holds, transitions, receipts and events hold ids, classes, counts, times and
//! operators' tickets, never an email or a name (domain.md §8.1), so a purge keeps them all. Its plan
//! still lists them, so a plan names every table of every service that holds anything of the subject.

use tenure_db::Db;

use crate::clients::{Participant, ParticipantCall};
use crate::domain::{DataClass, PurgeAction, PurgeError, TableCount};
use crate::store;
use crate::store::subject::{KeyType, Owner};

/// The name data-purge answers with.
pub(crate) const SERVICE: &str = "data-purge";

/// One table of the service: how its rows tie to a subject, its key, its class and its columns.
pub(crate) struct OwnTable {
    pub(crate) table: &'static str,
    pub(crate) class: DataClass,
    /// How rows tie to a subject and the key that names a row; `None` for tables that hold nothing
    /// of any subject (counters, keys).
    pub(crate) owner: Option<(Owner, (&'static str, KeyType))>,
    pub(crate) owner_key: &'static str,
    pub(crate) columns: &'static [&'static str],
}

/// A hold's columns: those it is written with, then what its release records.
const LEGAL_HOLD_COLUMNS: [&str; 14] = {
    let mut columns = [""; 14];
    let mut index = 0;
    while index < store::holds::COLUMNS.len() {
        columns[index] = store::holds::COLUMNS[index];
        index += 1;
    }
    columns[12] = store::holds::RELEASE_COLUMNS[0];
    columns[13] = store::holds::RELEASE_COLUMNS[1];
    columns
};

/// Every table and column the service persists. A test compares it with the database catalogue, so a
/// new column cannot ship unregistered (G1).
pub(crate) const OWN_TABLES: &[OwnTable] = &[
    OwnTable {
        table: "purge_request",
        class: DataClass::Audit,
        owner: Some((Owner::Direct, ("id", KeyType::Uuid))),
        owner_key: "tenant_id",
        columns: &store::purges::COLUMNS,
    },
    OwnTable {
        table: "legal_hold",
        class: DataClass::Audit,
        owner: Some((Owner::Direct, ("id", KeyType::Uuid))),
        owner_key: "tenant_id",
        columns: &LEGAL_HOLD_COLUMNS,
    },
    OwnTable {
        table: "purge_transition",
        class: DataClass::Audit,
        owner: Some((Owner::ThroughPurge, ("id", KeyType::Integer))),
        owner_key: "tenant_id",
        columns: &[
            "id",
            "purge_id",
            "tenant_id",
            "from_state",
            "to_state",
            "event",
            "actor",
            "actor_role",
            "reason",
            "ticket",
            "trace_id",
            "at",
        ],
    },
    OwnTable {
        table: "receipt",
        class: DataClass::Audit,
        owner: Some((Owner::ThroughPurge, ("id", KeyType::Uuid))),
        owner_key: "tenant_id",
        columns: &[
            "id",
            "purge_id",
            "sequence",
            "tenant_id",
            "body",
            "previous_hash",
            "hash",
            "signature",
            "key_id",
        ],
    },
    OwnTable {
        table: "purge_event",
        class: DataClass::Audit,
        owner: Some((Owner::Direct, ("event_id", KeyType::Uuid))),
        owner_key: "tenant_id",
        columns: &store::events::COLUMNS,
    },
    OwnTable {
        table: "idempotency_record",
        class: DataClass::Operational,
        owner: Some((Owner::IdempotencyTenant, ("key", KeyType::Text))),
        owner_key: "tenant_id",
        columns: &[
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
        ],
    },
    OwnTable {
        table: "receipt_key",
        class: DataClass::Operational,
        owner: None,
        owner_key: "",
        columns: &["key_id", "public_key", "first_used_at"],
    },
    OwnTable {
        table: "receipt_chain_head",
        class: DataClass::Operational,
        owner: None,
        owner_key: "",
        columns: &["id", "last_sequence", "last_hash"],
    },
    OwnTable {
        table: "event_head",
        class: DataClass::Operational,
        owner: None,
        owner_key: "",
        columns: &["id", "last_position"],
    },
    OwnTable {
        table: "rate_limit_bucket",
        class: DataClass::Operational,
        owner: None,
        owner_key: "",
        columns: &tenure_domain::purge::RATE_LIMIT_BUCKET_COLUMNS,
    },
];

/// The service's own records, answering as a data owner in process.
#[derive(Debug, Clone)]
pub(crate) struct OwnRecords {
    db: Db,
}

impl OwnRecords {
    pub(crate) fn new(db: Db) -> Self {
        Self { db }
    }
}

#[async_trait::async_trait]
impl Participant for OwnRecords {
    fn service(&self) -> &str {
        SERVICE
    }

    async fn plan(&self, call: ParticipantCall<'_>) -> Result<Vec<TableCount>, PurgeError> {
        let tx = store::begin(&self.db).await?;
        let mut counts = Vec::new();
        for table in OWN_TABLES {
            let Some((owner, key)) = table.owner else {
                continue;
            };
            let keys = store::subject::row_keys(&*tx, table.table, key, owner, call.scope).await?;
            counts.push(TableCount {
                service: SERVICE.to_owned(),
                data_class: table.class,
                table: table.table.to_owned(),
                action: PurgeAction::Keep,
                rows: u64::try_from(keys.len()).unwrap_or(u64::MAX),
                key_hash: tenure_domain::purge::row_key_hash(&keys),
            });
        }
        tx.rollback().await?;
        Ok(counts)
    }

    /// Nothing the service keeps belongs to a purgeable class, so there is nothing to delete.
    async fn execute(
        &self,
        _call: ParticipantCall<'_>,
        _idempotency_key: &str,
    ) -> Result<Vec<TableCount>, PurgeError> {
        Ok(Vec::new())
    }

    /// Nothing the service keeps belongs to a purgeable class, so nothing can remain.
    async fn verify(&self, _call: ParticipantCall<'_>) -> Result<Vec<TableCount>, PurgeError> {
        Ok(Vec::new())
    }
}
