//! `tenure.purge.v1.PurgeParticipant`, the contract data-purge fans a purge out over, implemented once
//! for every service. A service supplies what is its own, as [`PurgeData`]: who may call, every column
//! it persists with its class, and its store's survey and erasure of a purge subject. Everything else
//! is here and the same for all: reading and refusing requests (every problem at once), holding
//! Execute to one effect per idempotency key with a byte-identical replay, and answering with counts
//! and key hashes that data-purge can compare across a plan, an execution and a verification.

mod wire;

use prost::Message as _;
use tenure_db::idempotency::{self, Answer, Idempotent};
use tenure_domain::purge::{ColumnClass, ErasedTable, PurgeTarget, SurveyedTable};
use tenure_domain::{IdempotencyKey, Problems};
use tenure_proto::Keyed as _;
use tenure_proto::purge::v1 as pb;
use tenure_proto::purge::v1::purge_participant_server::{PurgeParticipant, PurgeParticipantServer};
use tonic::{Request, Response, Status};

pub use wire::{PurgeRequest, describe, purge_target};

/// A service's own part of a purge: its data and who may reach it.
#[tonic::async_trait]
pub trait PurgeData: Send + Sync + 'static {
    /// The name the service answers with.
    const SERVICE: &'static str;
    /// An authorized call.
    type Call: Send + Sync;
    /// What the service's errors become on the wire.
    type Error: Into<Status> + Send;

    /// Every column the service persists, with its class.
    fn columns(&self) -> Vec<ColumnClass>;

    /// Authenticates and authorizes a call to `method` (the full gRPC path).
    ///
    /// # Errors
    ///
    /// The caller is not who may call `method`.
    #[allow(
        clippy::result_large_err,
        reason = "tonic::Status is the error type of every handler"
    )]
    fn authorize<T>(
        &self,
        request: &Request<T>,
        method: &'static str,
    ) -> Result<Self::Call, Status>;

    /// The subject's rows in every table the service keeps, with what a purge of the target's classes
    /// does to each, changing nothing.
    async fn survey(
        &self,
        call: &Self::Call,
        target: &PurgeTarget,
    ) -> Result<Vec<SurveyedTable>, Self::Error>;

    /// Deletes or pseudonymises the subject's rows in every table the purge does not keep, once per
    /// claimed key: the claim, the changes and the stored reply commit together, and a replay answers
    /// with the stored reply.
    async fn erase(
        &self,
        call: &Self::Call,
        target: &PurgeTarget,
        claim: Idempotent<'_, Vec<ErasedTable>>,
    ) -> Result<Answer<Vec<ErasedTable>>, Self::Error>;
}

/// Serves `tenure.purge.v1.PurgeParticipant` over a service's [`PurgeData`].
#[derive(Debug, Clone)]
pub struct ParticipantService<D> {
    data: D,
}

impl<D: PurgeData> ParticipantService<D> {
    /// The generated server for `data`, with the process's message-size limits applied.
    pub fn server(data: D, limits: &tenure_grpc::Limits) -> PurgeParticipantServer<Self> {
        tenure_grpc::limited!(PurgeParticipantServer::new(Self { data }), limits)
    }
}

/// The full path of a `PurgeParticipant` method.
macro_rules! path {
    ($method:literal) => {
        concat!("/tenure.purge.v1.PurgeParticipant/", $method)
    };
}

/// A request's target, or INVALID_ARGUMENT with every problem.
#[allow(
    clippy::result_large_err,
    reason = "tonic::Status is the error type of every handler"
)]
fn target_of(request: &impl wire::PurgeRequest) -> Result<PurgeTarget, Status> {
    let mut problems = Problems::new();
    let target = purge_target(&mut problems, request);
    checked(problems, target)
}

#[allow(
    clippy::result_large_err,
    reason = "tonic::Status is the error type of every handler"
)]
fn checked<T>(problems: Problems, value: Option<T>) -> Result<T, Status> {
    match (problems.finish(|| ()), value) {
        (Ok(()), Some(value)) => Ok(value),
        (Err(problems), _) => Err(tenure_grpc::status::invalid_argument(&problems)),
        (Ok(()), None) => Err(Status::internal("a validated field is missing")),
    }
}

#[tonic::async_trait]
impl<D: PurgeData> PurgeParticipant for ParticipantService<D> {
    async fn describe_data_classes(
        &self,
        request: Request<pb::DescribeDataClassesRequest>,
    ) -> Result<Response<pb::DescribeDataClassesResponse>, Status> {
        self.data
            .authorize(&request, path!("DescribeDataClasses"))?;
        Ok(Response::new(describe(D::SERVICE, self.data.columns())))
    }

    async fn plan(
        &self,
        request: Request<pb::PlanRequest>,
    ) -> Result<Response<pb::PlanResponse>, Status> {
        let call = self.data.authorize(&request, path!("Plan"))?;
        let target = target_of(request.get_ref())?;
        let survey = self.data.survey(&call, &target).await.map_err(Into::into)?;
        Ok(Response::new(wire::plan_answer(D::SERVICE, &survey)))
    }

    async fn execute(
        &self,
        request: Request<pb::ExecuteRequest>,
    ) -> Result<Response<pb::ExecuteResponse>, Status> {
        let call = self.data.authorize(&request, path!("Execute"))?;
        let request = request.into_inner();
        let mut problems = Problems::new();
        let target = purge_target(&mut problems, &request);
        let key = problems.check(
            "idempotency_key",
            IdempotencyKey::parse(&request.idempotency_key),
        );
        let (target, key) = checked(problems, target.zip(key))?;
        let encode =
            |tables: &Vec<ErasedTable>| wire::execute_answer(D::SERVICE, tables).encode_to_vec();
        let claim = Idempotent {
            key,
            request_hash: idempotency::request_hash(&request.canonical()),
            encode: &encode,
        };
        let answer = self
            .data
            .erase(&call, &target, claim)
            .await
            .map_err(Into::into)?;
        Ok(Response::new(match answer {
            Answer::Fresh(tables) => wire::execute_answer(D::SERVICE, &tables),
            Answer::Replay(stored) => pb::ExecuteResponse::decode(stored.as_slice())
                .map_err(|_| Status::internal("a stored reply does not decode"))?,
        }))
    }

    async fn verify(
        &self,
        request: Request<pb::VerifyRequest>,
    ) -> Result<Response<pb::VerifyResponse>, Status> {
        let call = self.data.authorize(&request, path!("Verify"))?;
        let target = target_of(request.get_ref())?;
        let survey = self.data.survey(&call, &target).await.map_err(Into::into)?;
        Ok(Response::new(wire::verify_answer(D::SERVICE, &survey)))
    }
}
