//! `tenure.orders.v1.OrderEvents`: the order event stream billing systems follow (sagas.md §6.4).
//! Every event in commit order, with no gaps, from any position; heartbeats carry the current
//! position when idle; a named subscription keeps its cursor on the server, moved by `Ack`.

use std::pin::Pin;
use std::time::Duration;

use futures::Stream;
use tenure_domain::{Problems, SharedClock, field_problem, parse_id};
use tenure_grpc::{Limits, StreamSlot};
use tenure_proto::orders::v1 as pb;
use tenure_proto::orders::v1::order_events_server::{OrderEvents, OrderEventsServer};
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

use crate::api::context::{Call, Orders, at, checked, finish};
use crate::api::convert;
use crate::domain::OrdersError;
use crate::follow::Follower;
use crate::metrics::{OrdersMetrics, SubscriberGuard};
use crate::store::Reach;
use crate::store::events::{self, EventFilter, Position};

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
    draining: CancellationToken,
}

impl OrderEventsHandler {
    pub(crate) fn new(app: Orders, draining: CancellationToken) -> Self {
        Self { app, draining }
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

/// A subscription name: 1 to 100 characters of `[A-Za-z0-9._-]`.
fn subscription_name(problems: &mut Problems, field: &str, raw: &str) -> Option<String> {
    let valid = (1..=100).contains(&raw.len())
        && raw
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"._-".contains(&byte));
    if valid {
        Some(raw.to_owned())
    } else {
        problems.push(at(
            field,
            field_problem(
                "SUBSCRIPTION_NAME",
                "a subscription name has 1 to 100 letters, digits, '.', '_' or '-'",
                "TNR004",
            ),
        ));
        None
    }
}

fn position(problems: &mut Problems, field: &str, raw: &str, app: &Orders) -> Option<Position> {
    let backend = app.db.conn().get_database_backend();
    match raw.parse::<Position>() {
        Ok(position) if position.belongs_to(backend) => Some(position),
        _ => {
            problems.push(at(field, bad_position()));
            None
        }
    }
}

/// Where a subscription stands.
struct Cursor {
    draining: CancellationToken,
    follower: Follower,
    clock: SharedClock,
    since_last_send: Duration,
    ended: bool,
    /// Counts this subscription in `order_stream_subscribers` while it is open.
    _subscribed: SubscriberGuard,
    /// This stream's place under the principal's cap of open subscriptions.
    _slot: StreamSlot,
}

impl Cursor {
    /// The next batch: events as soon as there are any, a heartbeat when idle long enough, and
    /// UNAVAILABLE when the process drains, so the client resumes elsewhere.
    async fn next(&mut self) -> Option<Result<pb::SubscribeResponse, Status>> {
        if self.ended {
            return None;
        }
        loop {
            if self.draining.is_cancelled() {
                self.ended = true;
                return Some(Err(Status::unavailable(
                    "the server is shutting down; resume from your last position",
                )));
            }
            let page = match self.follower.read().await {
                Ok(page) => page,
                Err(error) => {
                    self.ended = true;
                    return Some(Err(Status::from(error)));
                }
            };
            if page.events.is_empty() {
                if self.since_last_send >= HEARTBEAT {
                    self.since_last_send = Duration::ZERO;
                    return Some(Ok(pb::SubscribeResponse {
                        events: Vec::new(),
                        position: page.position.to_string(),
                        caught_up: true,
                    }));
                }
                self.since_last_send += self.follower.wait(&self.draining).await;
                continue;
            }
            self.since_last_send = Duration::ZERO;
            let now = self.clock.now();
            for event in &page.events {
                let lag = (now - event.recorded_at).to_std().unwrap_or_default();
                OrdersMetrics::process().event_delivered(lag);
            }
            return Some(Ok(pb::SubscribeResponse {
                events: page.events.iter().map(convert::event).collect(),
                position: page.position.to_string(),
                caught_up: page.caught_up,
            }));
        }
    }
}

type EventStream = Pin<Box<dyn Stream<Item = Result<pb::SubscribeResponse, Status>> + Send>>;

impl Orders {
    async fn subscribe(
        &self,
        call: &Call,
        request: pb::SubscribeRequest,
        draining: CancellationToken,
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
        enum From {
            Position(Position),
            Latest,
            Since(chrono::DateTime<chrono::Utc>),
            Named(String),
        }
        let from = match &request.start {
            Some(Start::After(raw)) => {
                position(&mut problems, "after", raw, self).map(From::Position)
            }
            Some(Start::FromBeginning(true)) => Some(From::Position(Position::origin(
                self.db.conn().get_database_backend(),
            ))),
            Some(Start::FromLatest(true)) => Some(From::Latest),
            Some(Start::RecordedSince(at_time)) => {
                convert::request_instant(&mut problems, "recorded_since", Some(at_time), self.now())
                    .flatten()
                    .map(From::Since)
            }
            Some(Start::Subscription(name)) => {
                subscription_name(&mut problems, "subscription", name).map(From::Named)
            }
            _ => {
                problems.push(at("start", tenure_domain::required()));
                None
            }
        };
        finish(problems, || ())?;
        let (batch, from) = (checked(batch)?, checked(from)?);
        // Held by the cursor until the stream ends however it ends.
        let slot = self.streams.subscribe(&call.caller)?;
        let position = match from {
            From::Position(position) => position,
            From::Latest => events::head(&self.db).await?,
            From::Since(since) => events::position_before(&self.db, since).await?,
            From::Named(name) => {
                match events::subscription(&self.db, &call.caller.subject, &name).await? {
                    Some(stored) => stored
                        .parse::<Position>()
                        .map_err(|()| OrdersError::internal("a stored cursor is malformed"))?,
                    None => Position::origin(self.db.conn().get_database_backend()),
                }
            }
        };
        let filter = EventFilter {
            tenant: match call.reach()? {
                Reach::Tenant(tenant) => Some(tenant),
                Reach::AllTenants => None,
            },
            types: request.types,
            orders,
        };
        let cursor = Cursor {
            draining,
            follower: Follower::new(self.engine.clone(), position, batch, filter),
            clock: self.clock.clone(),
            since_last_send: HEARTBEAT,
            ended: false,
            _subscribed: OrdersMetrics::process().subscribed(),
            _slot: slot,
        };
        Ok(Box::pin(futures::stream::unfold(
            cursor,
            |mut cursor| async move { cursor.next().await.map(|item| (item, cursor)) },
        )))
    }

    async fn ack(
        &self,
        call: &Call,
        request: pb::AckRequest,
    ) -> Result<pb::AckResponse, OrdersError> {
        let mut problems = Problems::new();
        let name = subscription_name(&mut problems, "subscription", &request.subscription);
        let position = position(&mut problems, "position", &request.position, self);
        finish(problems, || ())?;
        events::acknowledge(
            &self.db,
            &call.caller.subject,
            &checked(name)?,
            checked(position)?,
            self.now(),
        )
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
        let stream = self
            .app
            .subscribe(&call, request.into_inner(), self.draining.clone())
            .await?;
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
            self.app.ack(&call, request.into_inner()).await?,
        ))
    }
}
