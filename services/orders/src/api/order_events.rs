//! `tenure.orders.v1.OrderEvents`: the order event stream billing systems follow (sagas.md §6.4).
//! Every event in commit order, with no gaps, from any position; heartbeats carry the current
//! position when idle; a named subscription keeps its cursor on the server, moved by `Ack`.

use std::time::Duration;

use tenure_domain::{Problems, SharedClock, field_problem, parse_id};
use tenure_grpc::feed::{Feed, FeedStream, Turn, until_drained};
use tenure_grpc::{Limits, StreamSlot};
use tenure_proto::orders::v1 as pb;
use tenure_proto::orders::v1::order_events_server::{OrderEvents, OrderEventsServer};
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

use crate::api::StreamCaps;
use crate::api::context::{Call, Orders, at, checked, finish};
use crate::api::convert;
use crate::app::{StreamRequest, StreamStart};
use crate::domain::OrdersError;
use crate::domain::stream::{Position, SubscriptionName};
use crate::follow::Follower;
use crate::metrics::{OrdersMetrics, SubscriberGuard};

/// How long an idle stream waits before it sends a heartbeat with its position.
const HEARTBEAT: Duration = Duration::from_secs(5);

/// The event types of the stream (domain.md §4.5), which a type filter may name.
const EVENT_TYPES: [&str; 10] = [
    "order.placed",
    "order.status_changed",
    "account.activated",
    "account.unlink_scheduled",
    "account.unlinked",
    "account.closed",
    "purge.scheduled",
    "operator.action_taken",
    "task.opened",
    "task.resolved",
];

/// Serves `tenure.orders.v1.OrderEvents`.
#[derive(Debug, Clone)]
pub(crate) struct OrderEventsHandler {
    app: Orders,
    streams: StreamCaps,
    draining: CancellationToken,
}

impl OrderEventsHandler {
    pub(crate) fn new(app: Orders, streams: StreamCaps, draining: CancellationToken) -> Self {
        Self {
            app,
            streams,
            draining,
        }
    }

    /// The generated server with the process's message-size limits applied.
    pub(crate) fn into_server(self, limits: &Limits) -> OrderEventsServer<Self> {
        tenure_grpc::limited!(OrderEventsServer::new(self), limits)
    }
}

fn bad_position() -> tenure_domain::FieldProblem {
    field_problem(
        "POSITION_FORMAT",
        "a position is one this stream handed out",
        "TNR004",
    )
}

fn subscription_name(problems: &mut Problems, field: &str, raw: &str) -> Option<SubscriptionName> {
    let name = SubscriptionName::parse(raw);
    if name.is_none() {
        problems.push(at(
            field,
            field_problem(
                "SUBSCRIPTION_NAME",
                "a subscription name has 1 to 100 letters, digits, '.', '_' or '-'",
                "TNR004",
            ),
        ));
    }
    name
}

fn position(problems: &mut Problems, field: &str, raw: &str, app: &Orders) -> Option<Position> {
    match raw.parse::<Position>() {
        Ok(position) if position.belongs_to(app.stream_backend()) => Some(position),
        _ => {
            problems.push(at(field, bad_position()));
            None
        }
    }
}

/// Where a subscription stands.
struct Cursor {
    follower: Follower,
    clock: SharedClock,
    since_last_send: Duration,
    /// Counts this subscription in `order_stream_subscribers` while it is open.
    _subscribed: SubscriberGuard,
    /// This stream's place under the principal's cap of open subscriptions.
    _slot: StreamSlot,
}

#[tonic::async_trait]
impl Feed for Cursor {
    type Item = pb::SubscribeResponse;

    /// Events as soon as there are any, and a heartbeat with the position when idle long enough.
    async fn turn(
        &mut self,
        draining: &CancellationToken,
    ) -> Result<Turn<pb::SubscribeResponse>, Status> {
        let page = self.follower.read().await?;
        if page.events.is_empty() {
            if self.since_last_send >= HEARTBEAT {
                self.since_last_send = Duration::ZERO;
                return Ok(Turn::Send(pb::SubscribeResponse {
                    events: Vec::new(),
                    position: page.position.to_string(),
                    caught_up: true,
                }));
            }
            self.since_last_send += self.follower.wait(draining).await;
            return Ok(Turn::Again);
        }
        self.since_last_send = Duration::ZERO;
        let now = self.clock.now();
        for event in &page.events {
            let lag = (now - event.recorded_at).to_std().unwrap_or_default();
            OrdersMetrics::process().event_delivered(lag);
        }
        Ok(Turn::Send(pb::SubscribeResponse {
            events: page.events.iter().map(convert::event).collect(),
            position: page.position.to_string(),
            caught_up: page.caught_up,
        }))
    }
}

type EventStream = FeedStream<pb::SubscribeResponse>;

impl OrderEventsHandler {
    async fn open(
        &self,
        call: &Call,
        request: pb::SubscribeRequest,
    ) -> Result<EventStream, OrdersError> {
        use pb::subscribe_request::Start;
        let mut problems = Problems::new();
        let batch = match request.max_batch {
            0 => Some(100),
            1..=500 => Some(u64::from(request.max_batch)),
            _ => {
                problems.push(at(
                    "max_batch",
                    field_problem("BATCH_RANGE", "max_batch is between 0 and 500", "TNR004"),
                ));
                None
            }
        };
        for (index, kind) in request.types.iter().enumerate() {
            if !EVENT_TYPES.contains(&kind.as_str()) {
                problems.push(at(
                    format!("types[{index}]"),
                    field_problem(
                        "UNKNOWN_EVENT_TYPE",
                        "not an event type of this stream",
                        "TNR004",
                    ),
                ));
            }
        }
        let mut orders = Vec::new();
        for (index, raw) in request.order_ids.iter().enumerate() {
            orders.extend(problems.check(format!("order_ids[{index}]"), parse_id(raw)));
        }
        let start = match &request.start {
            Some(Start::After(raw)) => {
                position(&mut problems, "after", raw, &self.app).map(StreamStart::After)
            }
            Some(Start::FromBeginning(true)) => Some(StreamStart::FromBeginning),
            Some(Start::FromLatest(true)) => Some(StreamStart::FromLatest),
            Some(Start::RecordedSince(at_time)) => convert::request_instant(
                &mut problems,
                "recorded_since",
                Some(at_time),
                self.app.now(),
            )
            .flatten()
            .map(StreamStart::RecordedSince),
            Some(Start::Subscription(name)) => {
                subscription_name(&mut problems, "subscription", name)
                    .map(StreamStart::Subscription)
            }
            _ => {
                problems.push(at("start", tenure_domain::required()));
                None
            }
        };
        finish(problems, || ())?;
        let wanted = StreamRequest {
            start: checked(start)?,
            types: request.types,
            orders,
            batch: checked(batch)?,
        };
        // Held by the cursor until the stream ends however it ends.
        let slot = self.streams.subscribe(&call.caller)?;
        let cursor = Cursor {
            follower: self.app.follow_events(call, wanted).await?,
            clock: self.app.clock.clone(),
            since_last_send: HEARTBEAT,
            _subscribed: OrdersMetrics::process().subscribed(),
            _slot: slot,
        };
        Ok(until_drained(
            cursor,
            self.draining.clone(),
            "resume from your last position",
        ))
    }

    async fn acknowledge(
        &self,
        call: &Call,
        request: pb::AckRequest,
    ) -> Result<pb::AckResponse, OrdersError> {
        let mut problems = Problems::new();
        let name = subscription_name(&mut problems, "subscription", &request.subscription);
        let position = position(&mut problems, "position", &request.position, &self.app);
        finish(problems, || ())?;
        self.app
            .acknowledge(call, &checked(name)?, checked(position)?)
            .await?;
        Ok(pb::AckResponse {})
    }
}

#[tonic::async_trait]
impl OrderEvents for OrderEventsHandler {
    async fn subscribe(
        &self,
        request: Request<pb::SubscribeRequest>,
    ) -> Result<Response<EventStream>, Status> {
        let call = self
            .app
            .call(&request, "/tenure.orders.v1.OrderEvents/Subscribe")?;
        let stream = self.open(&call, request.into_inner()).await?;
        Ok(Response::new(stream))
    }

    async fn ack(
        &self,
        request: Request<pb::AckRequest>,
    ) -> Result<Response<pb::AckResponse>, Status> {
        let call = self
            .app
            .call(&request, "/tenure.orders.v1.OrderEvents/Ack")?;
        Ok(Response::new(
            self.acknowledge(&call, request.into_inner()).await?,
        ))
    }
}
