//! data-purge as a data owner of its own records. Every table it keeps is `audit` or `operational`:
//! purge requests, holds, transitions, receipts and events hold ids, classes, counts, times and
//! operators' tickets, never an email or a name (domain.md §8.1), so a purge keeps them all. Its plan
//! still lists them, so a plan names every table of every service that holds anything of the subject.

use tenure_db::Db;
use tenure_domain::purge::{SurveyedTable, TableClass, table_class};

use crate::clients::{Participant, ParticipantCall};
use crate::domain::{DataClass, PurgeAction, PurgeError, Scope, TableCount};
use crate::store;
use crate::store::subject::{KeyType, Owner};

/// The name data-purge answers with.
pub(crate) const SERVICE: &str = "data-purge";

/// One table of the service: how its rows tie to a subject, its key, its class and its columns.
pub(crate) struct OwnTable {
    /// The table and its class; a purge keeps every one of them.
    pub(crate) entry: TableClass,
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
        entry: table_class("purge_request", DataClass::Audit, PurgeAction::Keep),
        owner: Some((Owner::Direct, ("id", KeyType::Uuid))),
        owner_key: "tenant_id",
        columns: &store::purges::COLUMNS,
    },
    OwnTable {
        entry: table_class("legal_hold", DataClass::Audit, PurgeAction::Keep),
        owner: Some((Owner::Direct, ("id", KeyType::Uuid))),
        owner_key: "tenant_id",
        columns: &LEGAL_HOLD_COLUMNS,
    },
    OwnTable {
        entry: table_class("purge_transition", DataClass::Audit, PurgeAction::Keep),
        owner: Some((Owner::ThroughPurge, ("id", KeyType::Integer))),
        owner_key: "tenant_id",
        columns: &store::purges::TRANSITION_COLUMNS,
    },
    OwnTable {
        entry: table_class("receipt", DataClass::Audit, PurgeAction::Keep),
        owner: Some((Owner::ThroughPurge, ("id", KeyType::Uuid))),
        owner_key: "tenant_id",
        columns: &store::receipts::COLUMNS,
    },
    OwnTable {
        entry: table_class("purge_event", DataClass::Audit, PurgeAction::Keep),
        owner: Some((Owner::Direct, ("event_id", KeyType::Uuid))),
        owner_key: "tenant_id",
        columns: &store::events::COLUMNS,
    },
    OwnTable {
        entry: table_class(
            "idempotency_record",
            DataClass::Operational,
            PurgeAction::Keep,
        ),
        owner: Some((Owner::IdempotencyTenant, ("key", KeyType::Text))),
        owner_key: "tenant_id",
        columns: &tenure_domain::purge::IDEMPOTENCY_RECORD_COLUMNS,
    },
    OwnTable {
        entry: table_class("receipt_key", DataClass::Operational, PurgeAction::Keep),
        owner: None,
        owner_key: "",
        columns: &["key_id", "public_key", "first_used_at"],
    },
    OwnTable {
        entry: table_class(
            "receipt_chain_head",
            DataClass::Operational,
            PurgeAction::Keep,
        ),
        owner: None,
        owner_key: "",
        columns: &["id", "last_sequence", "last_hash"],
    },
    OwnTable {
        entry: table_class("event_head", DataClass::Operational, PurgeAction::Keep),
        owner: None,
        owner_key: "",
        columns: &["id", "last_position"],
    },
    OwnTable {
        entry: table_class(
            "rate_limit_bucket",
            DataClass::Operational,
            PurgeAction::Keep,
        ),
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

impl OwnRecords {
    /// The keys of the subject's rows in every table that ties rows to a subject; a purge keeps them
    /// all. Read in a transaction that is rolled back.
    pub(crate) async fn survey(&self, scope: &Scope) -> Result<Vec<SurveyedTable>, PurgeError> {
        let tx = store::begin(&self.db).await?;
        let mut survey = Vec::new();
        for table in OWN_TABLES {
            let Some((owner, key)) = table.owner else {
                continue;
            };
            survey.push(SurveyedTable {
                entry: &table.entry,
                action: PurgeAction::Keep,
                keys: store::subject::row_keys(&*tx, table.entry.table, key, owner, scope).await?,
            });
        }
        tx.rollback().await?;
        Ok(survey)
    }
}

#[async_trait::async_trait]
impl Participant for OwnRecords {
    fn service(&self) -> &str {
        SERVICE
    }

    async fn plan(&self, call: ParticipantCall<'_>) -> Result<Vec<TableCount>, PurgeError> {
        Ok(self
            .survey(call.scope)
            .await?
            .into_iter()
            .map(|table| TableCount {
                service: SERVICE.to_owned(),
                data_class: table.entry.class,
                table: table.entry.table.to_owned(),
                action: table.action,
                rows: u64::try_from(table.keys.len()).unwrap_or(u64::MAX),
                key_hash: tenure_domain::purge::row_key_hash(&table.keys),
            })
            .collect())
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
