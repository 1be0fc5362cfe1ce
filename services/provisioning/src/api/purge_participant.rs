use prost::Message as _;
use tenure_db::idempotency;
use tenure_domain::{AwsAccountId, IdempotencyKey, Problems};
use tenure_grpc::Limits;
use tenure_proto::common::v1::DataClass;
use tenure_proto::purge::v1 as pb;
use tenure_proto::purge::v1::purge_participant_server::{PurgeParticipant, PurgeParticipantServer};
use tonic::{Request, Response, Status};

use super::context::call_of;
use super::status::invalid;
use crate::app::{Answer, Execution, Idempotent, Provisioning};
use crate::domain::error::ProvisioningError;
use crate::domain::purge::{PurgeCount, PurgeSubject};
use crate::domain::validate;

/// The service name in purge manifests.
const SERVICE: &str = "provisioning";

/// Serves `tenure.purge.v1.PurgeParticipant` for provisioning's data.
#[derive(Debug, Clone)]
pub(crate) struct PurgeParticipantHandler {
    app: Provisioning,
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
                account: account?,
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
fn execute_response(execution: &Execution) -> pb::ExecuteResponse {
    let Execution {
        counts,
        deleted,
        purged,
    } = execution;
    let entries = if *purged {
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
    pub(crate) fn new(app: Provisioning) -> Self {
        Self { app }
    }

    /// The generated server with the process's message-size limits applied.
    pub(crate) fn into_server(self, limits: &Limits) -> PurgeParticipantServer<Self> {
        tenure_grpc::limited!(PurgeParticipantServer::new(self), limits)
    }
}

#[tonic::async_trait]
impl PurgeParticipant for PurgeParticipantHandler {
    async fn describe_data_classes(
        &self,
        _request: Request<pb::DescribeDataClassesRequest>,
    ) -> Result<Response<pb::DescribeDataClassesResponse>, Status> {
        let columns = self
            .app
            .data_classes()
            .into_iter()
            .map(|column| pb::ColumnClass {
                table: column.table.to_owned(),
                column: column.column.to_owned(),
                data_class: data_class_to_pb(column.class).into(),
                owner_key: column.owner_key.to_owned(),
            })
            .collect();
        Ok(Response::new(pb::DescribeDataClassesResponse {
            service: SERVICE.to_owned(),
            columns,
        }))
    }

    async fn plan(
        &self,
        request: Request<pb::PlanRequest>,
    ) -> Result<Response<pb::PlanResponse>, Status> {
        let call = call_of(&request)?;
        let message = request.into_inner();
        let (subject, purged) = scope_only(message.scope.as_ref(), &message.classes)?;
        let counts = self.app.purge_counts(&call, &subject).await?;
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
        let call = call_of(&request)?;
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
        let encode = |execution: &Execution| execute_response(execution).encode_to_vec();
        let idempotent = Idempotent {
            key,
            request_hash: idempotency::request_hash(&message.encode_to_vec()),
            encode: &encode,
        };
        let answer = self
            .app
            .execute_purge(&call, &subject, purged, idempotent)
            .await?;
        match answer {
            Answer::Fresh(execution) => Ok(Response::new(execute_response(&execution))),
            Answer::Replay(stored) => pb::ExecuteResponse::decode(stored.as_slice())
                .map(Response::new)
                .map_err(|error| ProvisioningError::Internal(Box::new(error)).into()),
        }
    }

    async fn verify(
        &self,
        request: Request<pb::VerifyRequest>,
    ) -> Result<Response<pb::VerifyResponse>, Status> {
        let call = call_of(&request)?;
        let message = request.into_inner();
        let (subject, purged) = scope_only(message.scope.as_ref(), &message.classes)?;
        let residual = self
            .app
            .purge_residue(&call, &subject, purged)
            .await?
            .iter()
            .map(|count| entry(count, pb::PurgeAction::Delete, count.rows))
            .collect();
        Ok(Response::new(pb::VerifyResponse {
            service: SERVICE.to_owned(),
            residual,
        }))
    }
}

/// The wire form of a domain data class.
fn data_class_to_pb(class: tenure_domain::purge::DataClass) -> DataClass {
    use tenure_domain::purge::DataClass as Domain;
    match class {
        Domain::AwsFetched => DataClass::AwsFetched,
        Domain::CostData => DataClass::CostData,
        Domain::LoginIdentity => DataClass::LoginIdentity,
        Domain::OrderRecord => DataClass::OrderRecord,
        Domain::AccountTombstone => DataClass::AccountTombstone,
        Domain::Audit => DataClass::Audit,
        Domain::Operational => DataClass::Operational,
    }
}
