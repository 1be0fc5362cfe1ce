//! Following the order event stream: where a subscriber starts, what it may see, and moving a named
//! subscription's cursor. The caller's reach narrows the stream, so a customer only ever reads its
//! own tenant's events.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::app::{Call, Orders};
use crate::domain::OrdersError;
use crate::domain::records::Reach;
use crate::domain::stream::{EventFilter, Position, PositionBackend, SubscriptionName};
use crate::follow::Follower;
use crate::store::events;

/// Where a subscriber starts reading.
#[derive(Debug, Clone)]
pub(crate) enum StreamStart {
    /// Right after a position the stream handed out.
    After(Position),
    /// Before the first event.
    FromBeginning,
    /// After the latest event a reader may see now.
    FromLatest,
    /// Before the first event recorded at or after this instant.
    RecordedSince(DateTime<Utc>),
    /// Where the caller's named subscription was acknowledged last (the beginning for a new one).
    Subscription(SubscriptionName),
}

/// A subscription as asked: its start, what it wants to see, and how many events a page holds.
#[derive(Debug, Clone)]
pub(crate) struct StreamRequest {
    pub(crate) start: StreamStart,
    /// Only these event types; all when empty.
    pub(crate) types: Vec<String>,
    /// Only these orders; all when empty.
    pub(crate) orders: Vec<Uuid>,
    pub(crate) batch: u64,
}

impl Orders {
    /// The kind of position this service's stream hands out, which a position from a client must be.
    pub(crate) fn stream_backend(&self) -> PositionBackend {
        events::backend_of(&self.db)
    }

    /// A reader of the stream from where `request` starts, narrowed to the caller's reach.
    pub(crate) async fn follow_events(
        &self,
        call: &Call,
        request: StreamRequest,
    ) -> Result<Follower, OrdersError> {
        let tenant = match call.reach()? {
            Reach::Tenant(tenant) => Some(tenant),
            Reach::AllTenants => None,
        };
        let position = match request.start {
            StreamStart::After(position) => position,
            StreamStart::FromBeginning => Position::origin(self.stream_backend()),
            StreamStart::FromLatest => events::head(&self.db).await?,
            StreamStart::RecordedSince(since) => events::position_before(&self.db, since).await?,
            StreamStart::Subscription(name) => {
                events::subscription(&self.db, &call.caller.subject, name.as_str())
                    .await?
                    .unwrap_or_else(|| Position::origin(self.stream_backend()))
            }
        };
        let filter = EventFilter {
            tenant,
            types: request.types,
            orders: request.orders,
        };
        Ok(Follower::new(
            self.engine.clone(),
            position,
            request.batch,
            filter,
        ))
    }

    /// Moves the caller's named subscription to `position`, never backwards.
    pub(crate) async fn acknowledge(
        &self,
        call: &Call,
        name: &SubscriptionName,
        position: Position,
    ) -> Result<(), OrdersError> {
        events::acknowledge(
            &self.db,
            &call.caller.subject,
            name.as_str(),
            position,
            self.now(),
        )
        .await
    }
}
