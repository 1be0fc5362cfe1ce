use std::time::Duration;

use tenure_domain::Problems;
use tenure_grpc::Limits;
use tenure_grpc::feed::{Feed, FeedStream, Turn, until_drained};
use tenure_proto::common::v1 as common;
use tenure_proto::purge::v1 as pb;
use tenure_proto::purge::v1::purge_events_server::{PurgeEvents, PurgeEventsServer};
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

use crate::api::context::{at, call, finish};
use crate::app::PurgeApp;
use crate::convert;
use crate::domain::{PurgeError, PurgeStreamEvent, SCHEMA_VERSION};

/// How long an idle stream waits before it sends a heartbeat with its position.
const HEARTBEAT: Duration = Duration::from_secs(15);

/// How often an idle stream looks for events committed by another replica, which cannot wake it.
const POLL: Duration = Duration::from_millis(500);

/// Serves `tenure.purge.v1.PurgeEvents`.
#[derive(Debug, Clone)]
pub(crate) struct PurgeEventsHandler {
    app: PurgeApp,
    draining: CancellationToken,
}

impl PurgeEventsHandler {
    pub(crate) fn new(app: PurgeApp, draining: CancellationToken) -> Self {
        Self { app, draining }
    }

    /// The generated server with the process's message-size limits applied.
    pub(crate) fn into_server(self, limits: &Limits) -> PurgeEventsServer<Self> {
        tenure_grpc::limited!(PurgeEventsServer::new(self), limits)
    }
}

fn event_to(event: &PurgeStreamEvent) -> pb::PurgeEvent {
    pb::PurgeEvent {
        event_id: event.event_id.to_string(),
        purge_id: event.purge_id.to_string(),
        tenant_id: event.tenant_id.to_string(),
        r#type: event.event_type.to_owned(),
        schema_version: SCHEMA_VERSION.unsigned_abs(),
        effective_at: Some(convert::timestamp(event.effective_at)),
        recorded_at: Some(convert::timestamp(event.recorded_at)),
        position: event.position.to_string(),
        scope_kind: convert::scope_kind_to(event.scope_kind),
        aws_account_id: event
            .aws_account_id
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        classes: convert::classes_to(&event.classes),
        due_at: event.due_at.map(convert::timestamp),
        receipt_id: event
            .receipt_id
            .map(|id| id.to_string())
            .unwrap_or_default(),
        trace_context: event.traceparent.as_ref().map(|(traceparent, tracestate)| {
            common::TraceContext {
                traceparent: traceparent.clone(),
                tracestate: tracestate.clone(),
            }
        }),
    }
}

/// Where a subscription stands.
struct Cursor {
    app: PurgeApp,
    position: u64,
    batch: u64,
    since_last_send: Duration,
}

#[tonic::async_trait]
impl Feed for Cursor {
    type Item = pb::SubscribeResponse;

    /// Events as soon as there are any, and a heartbeat with the position when idle long enough.
    async fn turn(
        &mut self,
        draining: &CancellationToken,
    ) -> Result<Turn<pb::SubscribeResponse>, Status> {
        // Armed before the read: `notify_waiters` keeps no permit, so a commit between the read and
        // the wait would otherwise go unnoticed until the next poll.
        let mut written = std::pin::pin!(self.app.events_written().notified_owned());
        written.as_mut().enable();
        let events = self.app.events_after(self.position, self.batch).await?;
        if let Some(last) = events.last() {
            self.position = last.position;
            self.since_last_send = Duration::ZERO;
            let caught_up = u64::try_from(events.len()).unwrap_or(u64::MAX) < self.batch;
            return Ok(Turn::Send(pb::SubscribeResponse {
                events: events.iter().map(event_to).collect(),
                position: self.position.to_string(),
                caught_up,
            }));
        }
        if self.since_last_send >= HEARTBEAT {
            self.since_last_send = Duration::ZERO;
            return Ok(Turn::Send(pb::SubscribeResponse {
                events: Vec::new(),
                position: self.position.to_string(),
                caught_up: true,
            }));
        }
        tokio::select! {
            () = written => {}
            () = tokio::time::sleep(POLL) => self.since_last_send += POLL,
            () = draining.cancelled() => {}
        }
        Ok(Turn::Again)
    }
}

type EventStream = FeedStream<pb::SubscribeResponse>;

#[tonic::async_trait]
impl PurgeEvents for PurgeEventsHandler {
    async fn subscribe(
        &self,
        request: Request<pb::SubscribeRequest>,
    ) -> Result<Response<EventStream>, Status> {
        call(&request, "/tenure.purge.v1.PurgeEvents/Subscribe")?;
        let request = request.into_inner();
        let mut problems = Problems::new();
        let batch = match request.max_batch {
            0 => Some(100),
            1..=500 => Some(u64::from(request.max_batch)),
            _ => {
                problems.push(at(
                    "max_batch",
                    tenure_domain::field_problem(
                        "BATCH_RANGE",
                        "max_batch is between 0 and 500",
                        "TNR004",
                    ),
                ));
                None
            }
        };
        let position = match &request.start {
            Some(pb::subscribe_request::Start::After(raw)) => problems.check(
                "after",
                raw.parse::<u64>().map_err(|_| {
                    tenure_domain::field_problem(
                        "POSITION_FORMAT",
                        "a position is one the stream handed out",
                        "TNR004",
                    )
                }),
            ),
            Some(pb::subscribe_request::Start::FromLatest(true)) => {
                Some(self.app.latest_position().await?)
            }
            Some(pb::subscribe_request::Start::FromBeginning(true)) => Some(0),
            _ => {
                problems.push(at("start", tenure_domain::required()));
                None
            }
        };
        finish(problems, || ())?;
        let (Some(position), Some(batch)) = (position, batch) else {
            return Err(PurgeError::internal("a validated field is missing").into());
        };
        let cursor = Cursor {
            app: self.app.clone(),
            position,
            batch,
            since_last_send: HEARTBEAT,
        };
        Ok(Response::new(until_drained(
            cursor,
            self.draining.clone(),
            "resume from your last position",
        )))
    }
}
