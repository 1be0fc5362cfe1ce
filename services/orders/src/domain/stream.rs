//! The order event stream in domain terms: a position in it, an event as read back, what a reader
//! asks for and the page it gets. A position is an opaque token to clients; it names the backend
//! that handed it out, so a token of one deployment is never replayed against another kind.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::domain::saga::state::EventPayload;

/// A place in the stream. Tokens name their backend, so one cannot be replayed against the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Position {
    pub(crate) backend: PositionBackend,
    pub(crate) epoch: i32,
    /// The writing transaction's id (PostgreSQL); 0 on SQLite.
    pub(crate) tx: u64,
    pub(crate) id: i64,
}

/// Which backend a position belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum PositionBackend {
    Postgres,
    Sqlite,
}

impl Position {
    /// Before the first event of `epoch` 1.
    pub(crate) fn origin(backend: PositionBackend) -> Self {
        Self {
            backend,
            epoch: 0,
            tx: 0,
            id: 0,
        }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tag = match self.backend {
            PositionBackend::Postgres => 'p',
            PositionBackend::Sqlite => 's',
        };
        write!(f, "{tag}{}.{}.{}", self.epoch, self.tx, self.id)
    }
}

impl FromStr for Position {
    type Err = ();

    fn from_str(raw: &str) -> Result<Self, ()> {
        let backend = match raw.chars().next() {
            Some('p') => PositionBackend::Postgres,
            Some('s') => PositionBackend::Sqlite,
            _ => return Err(()),
        };
        let mut parts = raw[1..].split('.');
        let (Some(epoch), Some(tx), Some(id), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(());
        };
        let position = Self {
            backend,
            epoch: epoch.parse().map_err(|_| ())?,
            tx: tx.parse().map_err(|_| ())?,
            id: id.parse().map_err(|_| ())?,
        };
        if position.epoch < 0 || position.id < 0 {
            return Err(());
        }
        Ok(position)
    }
}

impl Position {
    /// True when this position was handed out by a stream on `backend`.
    pub(crate) fn belongs_to(&self, backend: PositionBackend) -> bool {
        self.backend == backend
    }
}

/// One stored event.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StoredEvent {
    pub(crate) position: Position,
    pub(crate) event_id: Uuid,
    pub(crate) order_id: Uuid,
    pub(crate) tenant_id: Uuid,
    pub(crate) order_seq: i32,
    pub(crate) event_type: String,
    pub(crate) schema_version: i32,
    pub(crate) payload: EventPayload,
    pub(crate) effective_at: DateTime<Utc>,
    pub(crate) recorded_at: DateTime<Utc>,
    pub(crate) trace: Option<(String, String)>,
}

/// What a reader wants of the stream.
#[derive(Debug, Clone, Default)]
pub(crate) struct EventFilter {
    /// Only this tenant's (customers).
    pub(crate) tenant: Option<Uuid>,
    /// Only these types.
    pub(crate) types: Vec<String>,
    /// Only these orders.
    pub(crate) orders: Vec<Uuid>,
}

/// A page of events after a position, and the position to resume from.
#[derive(Debug, Clone)]
pub(crate) struct Page {
    pub(crate) events: Vec<StoredEvent>,
    /// After the last event, or (when the page is short) after everything the filter skipped.
    pub(crate) position: Position,
    /// Every committed event up to now was read.
    pub(crate) caught_up: bool,
    /// The page is empty, yet committed events exist that no reader may see yet, because an older
    /// transaction is still open (always false on SQLite). Only an empty page is asked: a reader
    /// with events to deliver reads again at once anyway.
    pub(crate) held_back: bool,
}

/// The name of a subscription whose cursor the server keeps: 1 to 100 characters of
/// `[A-Za-z0-9._-]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SubscriptionName(String);

impl SubscriptionName {
    /// `raw` when it is a valid name.
    pub(crate) fn parse(raw: &str) -> Option<Self> {
        let valid = (1..=100).contains(&raw.len())
            && raw
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || b"._-".contains(&byte));
        valid.then(|| Self(raw.to_owned()))
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}
