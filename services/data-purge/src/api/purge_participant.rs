use tenure_domain::{Problems, parse_id, required};
use tenure_grpc::Limits;
use tenure_proto::purge::v1 as pb;
use tenure_proto::purge::v1::purge_participant_server::{PurgeParticipant, PurgeParticipantServer};
use tonic::{Request, Response, Status};

use crate::api::context::{at, call, checked, finish, finish_keyed};
use crate::api::purge_service::read_scope;
use crate::app::PurgeApp;
use crate::convert;
use crate::domain::{DataClass, PurgeError, Scope};
use crate::own_data::{OWN_TABLES, SERVICE};

/// The full path of a `PurgeParticipant` method.
macro_rules! path {
    ($method:literal) => {
        concat!("/tenure.purge.v1.PurgeParticipant/", $method)
    };
}

/// Serves `tenure.purge.v1.PurgeParticipant` for data-purge's own records, so that its tables are
/// declared and counted like every other service's.
#[derive(Debug, Clone)]
pub(crate) struct PurgeParticipantHandler {
    app: PurgeApp,
}

impl PurgeParticipantHandler {
    pub(crate) fn new(app: PurgeApp) -> Self {
        Self { app }
    }

    /// The generated server with the process's message-size limits applied.
    pub(crate) fn into_server(self, limits: &Limits) -> PurgeParticipantServer<Self> {
        tenure_grpc::limited!(PurgeParticipantServer::new(self), limits)
    }
}

/// A participant request's purge, subject and classes, with every problem reported at once.
fn read_call(
    problems: &mut Problems,
    purge_id: &str,
    scope: Option<&pb::ParticipantScope>,
    classes: &[i32],
) -> Option<(uuid::Uuid, Scope, Vec<DataClass>)> {
    let purge_id = problems.check("purge_id", parse_id(purge_id));
    let scope = match scope {
        Some(scope) => read_scope(
            problems,
            "scope",
            Some(&pb::PurgeScope {
                kind: scope.kind,
                tenant_id: scope.tenant_id.clone(),
                aws_account_id: scope.aws_account_id.clone(),
            }),
        ),
        None => {
            problems.push(at("scope", required()));
            None
        }
    };
    let mut wanted = Vec::new();
    for (index, raw) in classes.iter().enumerate() {
        if let Some(class) =
            problems.check(format!("classes[{index}]"), convert::data_class_from(*raw))
        {
            wanted.push(class);
        }
    }
    Some((purge_id?, scope?, wanted))
}

/// A participant request's purge, subject and classes; a mutating one's key is checked with them, so
/// every problem is reported at once. The handlers then hold the subject to the tenant data-purge
/// acts for, as every other data owner does.
fn owner_call(
    purge_id: &str,
    scope: Option<&pb::ParticipantScope>,
    classes: &[i32],
    keyed: Option<&pb::ExecuteRequest>,
) -> Result<(uuid::Uuid, Scope, Vec<DataClass>), PurgeError> {
    let mut problems = Problems::new();
    let read = read_call(&mut problems, purge_id, scope, classes);
    match keyed {
        Some(request) => finish_keyed(problems, request)?,
        None => finish(problems, || ())?,
    }
    checked(read)
}

fn counts(entries: &[crate::domain::TableCount]) -> Vec<pb::TableCount> {
    entries.iter().map(convert::table_count_to).collect()
}

#[tonic::async_trait]
impl PurgeParticipant for PurgeParticipantHandler {
    async fn describe_data_classes(
        &self,
        request: Request<pb::DescribeDataClassesRequest>,
    ) -> Result<Response<pb::DescribeDataClassesResponse>, Status> {
        call(&request, path!("DescribeDataClasses"))?;
        let columns = OWN_TABLES
            .iter()
            .flat_map(|table| {
                table.columns.iter().map(|column| pb::ColumnClass {
                    table: table.table.to_owned(),
                    column: (*column).to_owned(),
                    data_class: convert::data_class_to(table.class),
                    owner_key: table.owner_key.to_owned(),
                })
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
        let call = call(&request, path!("Plan"))?;
        let request = request.into_inner();
        let (purge_id, scope, classes) = owner_call(
            &request.purge_id,
            request.scope.as_ref(),
            &request.classes,
            None,
        )?;
        let entries = self.app.own_plan(&call, purge_id, &scope, &classes).await?;
        Ok(Response::new(pb::PlanResponse {
            service: SERVICE.to_owned(),
            entries: counts(&entries),
        }))
    }

    async fn execute(
        &self,
        request: Request<pb::ExecuteRequest>,
    ) -> Result<Response<pb::ExecuteResponse>, Status> {
        let call = call(&request, path!("Execute"))?;
        let request = request.into_inner();
        let (purge_id, scope, classes) = owner_call(
            &request.purge_id,
            request.scope.as_ref(),
            &request.classes,
            Some(&request),
        )?;
        let entries = self
            .app
            .own_execute(&call, purge_id, &scope, &classes, &request.idempotency_key)
            .await?;
        Ok(Response::new(pb::ExecuteResponse {
            service: SERVICE.to_owned(),
            entries: counts(&entries),
        }))
    }

    async fn verify(
        &self,
        request: Request<pb::VerifyRequest>,
    ) -> Result<Response<pb::VerifyResponse>, Status> {
        let call = call(&request, path!("Verify"))?;
        let request = request.into_inner();
        let (purge_id, scope, classes) = owner_call(
            &request.purge_id,
            request.scope.as_ref(),
            &request.classes,
            None,
        )?;
        let residual = self
            .app
            .own_verify(&call, purge_id, &scope, &classes)
            .await?;
        Ok(Response::new(pb::VerifyResponse {
            service: SERVICE.to_owned(),
            residual: counts(&residual),
        }))
    }
}
