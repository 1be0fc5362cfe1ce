use prost::Message as _;
use tenure_db::idempotency::{self, IdempotencyScope};
use tenure_domain::{AwsAccountId, IdempotencyKey, Problems, SharedClock};
use tenure_grpc::{Limits, principal_from};
use tenure_proto::common::v1::DataClass;
use tenure_proto::purge::v1 as pb;
use tenure_proto::purge::v1::purge_participant_server::{PurgeParticipant, PurgeParticipantServer};
use tonic::{Request, Response, Status};

use super::status::invalid;
use crate::domain::error::ProvisioningError;
use crate::domain::validate;
use crate::store::{
    CONCERN_COLUMNS, CONCERN_TABLE, Executed, OPERATION_COLUMNS, PurgeCount, PurgeStore,
    PurgeSubject, REFERENCE_COLUMNS, REFERENCE_TABLE,
};

/// The service name in purge manifests.
const SERVICE: &str = "provisioning";

/// Every persisted column of provisioning with its data class and owner key (domain.md §8.1). The
/// operation journal, the accounts each operation concerns and the reference owners hold AWS-fetched
/// data about accounts; leases and
/// idempotency records are operational; the sandbox tables are the simulated AWS itself.
const COLUMNS: &[(&str, &[&str], DataClass, &str)] = &[
    (
        "operation",
        &OPERATION_COLUMNS,
        DataClass::AwsFetched,
        "tenant_id, concerned_account.aws_account_id",
    ),
    (
        CONCERN_TABLE,
        &CONCERN_COLUMNS,
        DataClass::AwsFetched,
        "tenant_id, aws_account_id",
    ),
    (
        REFERENCE_TABLE,
        &REFERENCE_COLUMNS,
        DataClass::AwsFetched,
        "tenant_id, reference, aws_account_id",
    ),
    (
        "operation_lease",
        &["lock_key", "operation_id", "expires_at"],
        DataClass::Operational,
        "operation_id",
    ),
    (
        "idempotency_record",
        &[
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
        DataClass::Operational,
        "tenant_id",
    ),
    (
        "sandbox_clock",
        &["id", "offset_ms"],
        DataClass::Operational,
        "id",
    ),
    (
        "rate_limit_bucket",
        &tenure_domain::purge::RATE_LIMIT_BUCKET_COLUMNS,
        DataClass::Operational,
        "bucket",
    ),
];

const SANDBOX_COLUMNS: [&str; 3] = ["id", "scope", "body"];

/// The method whose keys Execute records.
const EXECUTE_METHOD: &str = "/tenure.purge.v1.PurgeParticipant/Execute";

/// Serves `tenure.purge.v1.PurgeParticipant` for provisioning's data.
#[derive(Clone)]
pub(crate) struct PurgeParticipantHandler {
    store: PurgeStore,
    clock: SharedClock,
}

impl std::fmt::Debug for PurgeParticipantHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PurgeParticipantHandler")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

#[allow(
    clippy::result_large_err,
    reason = "tonic::Status is the error type of every handler"
)]
fn subject(scope: Option<&pb::ParticipantScope>, problems: &mut Problems) -> Option<PurgeSubject> {
    let Some(scope) = scope else {
        problems.check("scope", Err::<(), _>(validate::required()));
        return None;
    };
    let tenant_id = problems.check("scope.tenant_id", tenure_domain::parse_id(&scope.tenant_id));
    match pb::ScopeKind::try_from(scope.kind) {
        Ok(pb::ScopeKind::Account) => {
            let account = problems.check(
                "scope.aws_account_id",
                AwsAccountId::parse(&scope.aws_account_id),
            );
            Some(PurgeSubject::Account {
                tenant_id: tenant_id?,
                account: account?.to_string(),
            })
        }
        Ok(pb::ScopeKind::Tenant) => Some(PurgeSubject::Tenant {
            tenant_id: tenant_id?,
        }),
        _ => {
            problems.check("scope.kind", Err::<(), _>(validate::required()));
            None
        }
    }
}

/// Reads the requested classes; `true` when `aws_fetched` is among them (provisioning's only
/// purgeable class).
fn purges_aws_fetched(classes: &[i32], problems: &mut Problems) -> bool {
    let mut wanted = false;
    for (index, raw) in classes.iter().enumerate() {
        match DataClass::try_from(*raw) {
            Ok(DataClass::Unspecified) | Err(_) => {
                problems.check(
                    format!("classes[{index}]"),
                    Err::<(), _>(validate::required()),
                );
            }
            Ok(DataClass::AwsFetched) => wanted = true,
            Ok(_) => {}
        }
    }
    wanted
}

/// The subject and whether provisioning's class is purged, each violation recorded.
fn purge_scope(
    scope: Option<&pb::ParticipantScope>,
    classes: &[i32],
    problems: &mut Problems,
) -> Option<(PurgeSubject, bool)> {
    let subject = subject(scope, problems);
    let purged = purges_aws_fetched(classes, problems);
    Some((subject?, purged))
}

/// [`purge_scope`] of a request that carries nothing else.
#[allow(
    clippy::result_large_err,
    reason = "tonic::Status is the error type of every handler"
)]
fn scope_only(
    scope: Option<&pb::ParticipantScope>,
    classes: &[i32],
) -> Result<(PurgeSubject, bool), Status> {
    let mut problems = Problems::new();
    match (
        purge_scope(scope, classes, &mut problems),
        problems.is_empty(),
    ) {
        (Some(scope), true) => Ok(scope),
        _ => Err(invalid(problems)),
    }
}

/// Data-purge acts for one tenant at a time (`x-tenure-tenant`, quality.md §1.4); a subject in
/// another tenant is refused, as every other data owner refuses it, before anything is counted.
#[allow(
    clippy::result_large_err,
    reason = "tonic::Status is the error type of every handler"
)]
fn acting_for(subject: &PurgeSubject, tenant: Option<uuid::Uuid>) -> Result<(), Status> {
    let (PurgeSubject::Account { tenant_id, .. } | PurgeSubject::Tenant { tenant_id }) = subject;
    if tenant == Some(*tenant_id) {
        Ok(())
    } else {
        Err(Status::permission_denied(
            "the tenant is taken from your credentials",
        ))
    }
}

fn entry(count: &PurgeCount, action: pb::PurgeAction, rows: u64) -> pb::TableCount {
    pb::TableCount {
        service: SERVICE.to_owned(),
        data_class: DataClass::AwsFetched.into(),
        table: count.table.to_owned(),
        action: action.into(),
        rows,
        key_hash: count.key_hash.clone(),
    }
}

/// What Execute reports: per table, the rows deleted, keyed like the plan; nothing when the classes
/// leave provisioning's data alone (the plan lists those rows as kept).
fn execute_response(
    counts: &[PurgeCount],
    deleted: &[(&'static str, u64)],
    purged: bool,
) -> pb::ExecuteResponse {
    let entries = if purged {
        counts
            .iter()
            .map(|count| {
                let rows = deleted
                    .iter()
                    .find(|(table, _)| *table == count.table)
                    .map_or(0, |(_, rows)| *rows);
                entry(count, pb::PurgeAction::Delete, rows)
            })
            .collect()
    } else {
        Vec::new()
    };
    pb::ExecuteResponse {
        service: SERVICE.to_owned(),
        entries,
    }
}

impl PurgeParticipantHandler {
    pub(crate) fn new(store: PurgeStore, clock: SharedClock) -> Self {
        Self { store, clock }
    }

    /// The generated server with the process's message-size limits applied.
    pub(crate) fn into_server(self, limits: &Limits) -> PurgeParticipantServer<Self> {
        tenure_grpc::limited!(PurgeParticipantServer::new(self), limits)
    }

    async fn count(&self, subject: &PurgeSubject) -> Result<Vec<PurgeCount>, ProvisioningError> {
        Ok(self.store.count(subject).await?)
    }
}

#[tonic::async_trait]
impl PurgeParticipant for PurgeParticipantHandler {
    async fn describe_data_classes(
        &self,
        _request: Request<pb::DescribeDataClassesRequest>,
    ) -> Result<Response<pb::DescribeDataClassesResponse>, Status> {
        let mut columns = Vec::new();
        for (table, names, class, owner_key) in COLUMNS {
            for column in *names {
                columns.push(pb::ColumnClass {
                    table: (*table).to_owned(),
                    column: (*column).to_owned(),
                    data_class: (*class).into(),
                    owner_key: (*owner_key).to_owned(),
                });
            }
        }
        for table in crate::store::SANDBOX_TABLES {
            for column in SANDBOX_COLUMNS {
                columns.push(pb::ColumnClass {
                    table: table.to_owned(),
                    column: column.to_owned(),
                    data_class: DataClass::Operational.into(),
                    owner_key: "scope".to_owned(),
                });
            }
        }
        Ok(Response::new(pb::DescribeDataClassesResponse {
            service: SERVICE.to_owned(),
            columns,
        }))
    }

    async fn plan(
        &self,
        request: Request<pb::PlanRequest>,
    ) -> Result<Response<pb::PlanResponse>, Status> {
        let tenant = principal_from(&request)?.tenant_id;
        let message = request.into_inner();
        let (subject, purged) = scope_only(message.scope.as_ref(), &message.classes)?;
        acting_for(&subject, tenant)?;
        let counts = self.count(&subject).await?;
        let action = if purged {
            pb::PurgeAction::Delete
        } else {
            pb::PurgeAction::Keep
        };
        Ok(Response::new(pb::PlanResponse {
            service: SERVICE.to_owned(),
            entries: counts
                .iter()
                .map(|count| entry(count, action, count.rows))
                .collect(),
        }))
    }

    async fn execute(
        &self,
        request: Request<pb::ExecuteRequest>,
    ) -> Result<Response<pb::ExecuteResponse>, Status> {
        let principal = principal_from(&request)?;
        let (caller, tenant) = (principal.subject.clone(), principal.tenant_id);
        let message = request.into_inner();
        let mut problems = Problems::new();
        let key = problems.check(
            "idempotency_key",
            IdempotencyKey::parse(&message.idempotency_key),
        );
        let scope = purge_scope(message.scope.as_ref(), &message.classes, &mut problems);
        let (Some(key), Some((subject, purged)), true) = (key, scope, problems.is_empty()) else {
            return Err(invalid(problems));
        };
        acting_for(&subject, tenant)?;
        let scope = IdempotencyScope {
            // The subject's tenant, the one data-purge acts for, is part of the request hash.
            tenant_id: String::new(),
            method: EXECUTE_METHOD.to_owned(),
            key: key.as_str().to_owned(),
            caller,
        };
        let request_hash = idempotency::request_hash(&message.encode_to_vec());
        let executed = self
            .store
            .execute_once(
                &scope,
                &request_hash,
                self.clock.now(),
                &subject,
                purged,
                |counts, deleted| execute_response(counts, deleted, purged).encode_to_vec(),
            )
            .await
            .map_err(ProvisioningError::from)?;
        match executed {
            Executed::Response(encoded) => pb::ExecuteResponse::decode(encoded.as_slice())
                .map(Response::new)
                .map_err(|error| ProvisioningError::Internal(Box::new(error)).into()),
            Executed::KeyReused => Err(ProvisioningError::KeyReused.into()),
            Executed::InFlight => Err(ProvisioningError::KeyInFlight.into()),
        }
    }

    async fn verify(
        &self,
        request: Request<pb::VerifyRequest>,
    ) -> Result<Response<pb::VerifyResponse>, Status> {
        let tenant = principal_from(&request)?.tenant_id;
        let message = request.into_inner();
        let (subject, purged) = scope_only(message.scope.as_ref(), &message.classes)?;
        acting_for(&subject, tenant)?;
        let residual = if purged {
            self.count(&subject)
                .await?
                .iter()
                .filter(|count| count.rows > 0)
                .map(|count| entry(count, pb::PurgeAction::Delete, count.rows))
                .collect()
        } else {
            Vec::new()
        };
        Ok(Response::new(pb::VerifyResponse {
            service: SERVICE.to_owned(),
            residual,
        }))
    }
}
