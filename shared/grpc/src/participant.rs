//! The wire side of `tenure.purge.v1.PurgeParticipant` that every data owner shares: reading a Plan,
//! Execute or Verify request into one validated target, the data-class and action conversions, and
//! the counts a participant answers with. What a service deletes stays its own business.

use tenure_domain::purge::{ColumnClass, DataClass, PurgeAction, PurgeScope, TableClass};
use tenure_domain::{AwsAccountId, FieldProblem, Problems, parse_id, required};
use tenure_proto::purge::v1 as pb;
use tenure_proto::purge::v1::purge_participant_server::{PurgeParticipant, PurgeParticipantServer};
use uuid::Uuid;

crate::enum_conversion!(data_class_from, data_class_to, tenure_proto::common::v1::DataClass => DataClass {
    AwsFetched <=> AwsFetched, CostData <=> CostData, LoginIdentity <=> LoginIdentity,
    OrderRecord <=> OrderRecord, AccountTombstone <=> AccountTombstone, Audit <=> Audit,
    Operational <=> Operational,
});
crate::enum_conversion!(purge_action_from, purge_action_to, pb::PurgeAction => PurgeAction {
    Delete <=> Delete, Pseudonymise <=> Pseudonymise, Keep <=> Keep,
});

/// The proto number of a data class.
pub fn class_number(class: DataClass) -> i32 {
    data_class_to(class)
}

/// The proto number of a purge action.
pub fn action_number(action: PurgeAction) -> i32 {
    purge_action_to(action)
}

/// A data class from its proto number; `UNSPECIFIED` and unknown numbers are refused (TNR004).
pub fn class_from_number(raw: i32) -> Result<DataClass, FieldProblem> {
    data_class_from(raw)
}

/// A validated participant request: which purge, over what subject, of which classes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurgeTarget {
    /// The purge.
    pub purge_id: Uuid,
    /// Account or tenant.
    pub scope: PurgeScope,
    /// The tenant that owns the data.
    pub tenant: Uuid,
    /// For account scope: the account.
    pub aws_account_id: Option<AwsAccountId>,
    /// The classes to purge.
    pub classes: Vec<DataClass>,
}

/// Plan, Execute and Verify requests: which purge, over what scope, of which classes.
pub trait PurgeRequest {
    /// The purge id as sent.
    fn purge_id(&self) -> &str;
    /// The subject as sent.
    fn scope(&self) -> Option<&pb::ParticipantScope>;
    /// The classes as sent.
    fn classes(&self) -> &[i32];
}

macro_rules! purge_request {
    ($($request:ty),+ $(,)?) => {
        $(impl PurgeRequest for $request {
            fn purge_id(&self) -> &str {
                &self.purge_id
            }

            fn scope(&self) -> Option<&pb::ParticipantScope> {
                self.scope.as_ref()
            }

            fn classes(&self) -> &[i32] {
                &self.classes
            }
        })+
    };
}

purge_request!(pb::PlanRequest, pb::ExecuteRequest, pb::VerifyRequest);

/// Reads a participant request, recording every problem under its field; `None` when a field the
/// target needs is invalid.
pub fn purge_target(problems: &mut Problems, request: &impl PurgeRequest) -> Option<PurgeTarget> {
    let purge_id = problems.check("purge_id", parse_id(request.purge_id()));
    let mut classes = Vec::new();
    for (index, raw) in request.classes().iter().enumerate() {
        if let Some(class) = problems.check(format!("classes[{index}]"), data_class_from(*raw)) {
            classes.push(class);
        }
    }
    let Some(scope) = request.scope() else {
        problems.check("scope", Err::<(), _>(required()));
        return None;
    };
    let kind = match pb::ScopeKind::try_from(scope.kind) {
        Ok(pb::ScopeKind::Account) => Some(PurgeScope::Account),
        Ok(pb::ScopeKind::Tenant) => Some(PurgeScope::Tenant),
        _ => problems.check("scope.kind", Err(required())),
    };
    let tenant = problems.check("scope.tenant_id", parse_id(&scope.tenant_id));
    let aws_account_id = match kind {
        Some(PurgeScope::Account) => problems
            .check(
                "scope.aws_account_id",
                AwsAccountId::parse(&scope.aws_account_id),
            )
            .map(Some),
        _ => Some(None),
    };
    Some(PurgeTarget {
        purge_id: purge_id?,
        scope: kind?,
        tenant: tenant?,
        aws_account_id: aws_account_id?,
        classes,
    })
}

/// The count a participant reports for one table and class: `rows` rows, whose keys are `keys`.
pub fn table_count<K: AsRef<str>>(
    service: &str,
    entry: &TableClass,
    action: PurgeAction,
    keys: impl IntoIterator<Item = K>,
    rows: u64,
) -> pb::TableCount {
    pb::TableCount {
        service: service.to_owned(),
        data_class: data_class_to(entry.class),
        table: entry.table.to_owned(),
        action: purge_action_to(action),
        rows,
        key_hash: tenure_domain::purge::row_key_hash(keys),
    }
}

/// A subject's rows in one table's share of a class, and what the purge does to them.
#[derive(Debug, Clone)]
pub struct SurveyedTable {
    /// The table and class.
    pub entry: &'static TableClass,
    /// What the purge does there.
    pub action: PurgeAction,
    /// The keys of the subject's rows still in place.
    pub keys: Vec<String>,
}

impl SurveyedTable {
    /// The count of the rows still in place.
    pub fn count(&self, service: &str) -> pb::TableCount {
        table_count(
            service,
            self.entry,
            self.action,
            &self.keys,
            u64::try_from(self.keys.len()).unwrap_or(u64::MAX),
        )
    }
}

/// Plan's answer: every table, with the rows a purge would touch there.
pub fn plan_answer(service: &str, survey: &[SurveyedTable]) -> pb::PlanResponse {
    pb::PlanResponse {
        service: service.to_owned(),
        entries: survey.iter().map(|table| table.count(service)).collect(),
    }
}

/// Verify's answer: the rows a purge should have removed or emptied and that are still there.
pub fn verify_answer(service: &str, survey: &[SurveyedTable]) -> pb::VerifyResponse {
    pb::VerifyResponse {
        service: service.to_owned(),
        residual: survey
            .iter()
            .filter(|table| table.action != PurgeAction::Keep && !table.keys.is_empty())
            .map(|table| table.count(service))
            .collect(),
    }
}

/// A service that owns data a purge reaches and answers data-purge through [`ParticipantService`].
#[tonic::async_trait]
pub trait DataOwner: Send + Sync + 'static {
    /// The name the service answers with.
    const SERVICE: &'static str;
    /// An authorized call.
    type Call: Send + Sync;
    /// What the service's errors become on the wire.
    type Error: Into<tonic::Status>;

    /// Every column the service persists, with its class.
    fn columns(&self) -> Vec<ColumnClass>;

    /// Authenticates and authorizes a call to `method` (the full gRPC path).
    ///
    /// # Errors
    ///
    /// The caller is not who may call `method`.
    fn authorize<T>(
        &self,
        request: &tonic::Request<T>,
        method: &'static str,
    ) -> Result<Self::Call, tonic::Status>;

    /// What a purge would touch, in a transaction that changes nothing.
    async fn plan(
        &self,
        call: &Self::Call,
        request: pb::PlanRequest,
    ) -> Result<pb::PlanResponse, Self::Error>;

    /// The purge, once per idempotency key.
    async fn execute(
        &self,
        call: &Self::Call,
        request: pb::ExecuteRequest,
    ) -> Result<pb::ExecuteResponse, Self::Error>;

    /// What is left of the subject that the purge should have removed.
    async fn verify(
        &self,
        call: &Self::Call,
        request: pb::VerifyRequest,
    ) -> Result<pb::VerifyResponse, Self::Error>;
}

/// Serves `tenure.purge.v1.PurgeParticipant` for a [`DataOwner`].
#[derive(Debug, Clone)]
pub struct ParticipantService<O> {
    owner: O,
}

impl<O: DataOwner> ParticipantService<O> {
    /// The generated server for `owner`, with the process's message-size limits applied.
    pub fn server(owner: O, limits: &crate::Limits) -> PurgeParticipantServer<Self> {
        crate::limited!(PurgeParticipantServer::new(Self { owner }), limits)
    }
}

/// The full path of a `PurgeParticipant` method.
macro_rules! participant_path {
    ($method:literal) => {
        concat!("/tenure.purge.v1.PurgeParticipant/", $method)
    };
}

#[tonic::async_trait]
impl<O: DataOwner> PurgeParticipant for ParticipantService<O> {
    async fn describe_data_classes(
        &self,
        request: tonic::Request<pb::DescribeDataClassesRequest>,
    ) -> Result<tonic::Response<pb::DescribeDataClassesResponse>, tonic::Status> {
        self.owner
            .authorize(&request, participant_path!("DescribeDataClasses"))?;
        Ok(tonic::Response::new(describe(
            O::SERVICE,
            self.owner.columns(),
        )))
    }

    async fn plan(
        &self,
        request: tonic::Request<pb::PlanRequest>,
    ) -> Result<tonic::Response<pb::PlanResponse>, tonic::Status> {
        let call = self.owner.authorize(&request, participant_path!("Plan"))?;
        let planned = self.owner.plan(&call, request.into_inner()).await;
        Ok(tonic::Response::new(planned.map_err(Into::into)?))
    }

    async fn execute(
        &self,
        request: tonic::Request<pb::ExecuteRequest>,
    ) -> Result<tonic::Response<pb::ExecuteResponse>, tonic::Status> {
        let call = self
            .owner
            .authorize(&request, participant_path!("Execute"))?;
        let executed = self.owner.execute(&call, request.into_inner()).await;
        Ok(tonic::Response::new(executed.map_err(Into::into)?))
    }

    async fn verify(
        &self,
        request: tonic::Request<pb::VerifyRequest>,
    ) -> Result<tonic::Response<pb::VerifyResponse>, tonic::Status> {
        let call = self
            .owner
            .authorize(&request, participant_path!("Verify"))?;
        let verified = self.owner.verify(&call, request.into_inner()).await;
        Ok(tonic::Response::new(verified.map_err(Into::into)?))
    }
}

/// DescribeDataClasses' answer for `columns`.
pub fn describe(
    service: &str,
    columns: impl IntoIterator<Item = ColumnClass>,
) -> pb::DescribeDataClassesResponse {
    pb::DescribeDataClassesResponse {
        service: service.to_owned(),
        columns: columns
            .into_iter()
            .map(|column| pb::ColumnClass {
                table: column.table.to_owned(),
                column: column.column.to_owned(),
                data_class: data_class_to(column.class),
                owner_key: column.owner_key.to_owned(),
            })
            .collect(),
    }
}
