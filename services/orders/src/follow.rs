//! Following the order event stream forward from a position, as every subscriber does: the
//! `OrderEvents` stream and the benchmark's subscriber share this loop, so the benchmark measures the
//! delivery path clients get.

use std::pin::Pin;
use std::time::Duration;

use tokio::sync::futures::OwnedNotified;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::domain::OrdersError;
use crate::domain::stream::{EventFilter, Page, Position};
use crate::saga_runtime::SagaRuntime;
use crate::store::events;

/// How often an idle reader looks for events another replica committed, which cannot wake it.
const POLL: Duration = Duration::from_millis(250);

/// The first retry while committed events wait behind an older open transaction. Such a transaction
/// usually ends within a commit or two and may write no event, so nothing would wake the reader;
/// retries double from here up to [`POLL`].
const HELD_BACK_RETRY: Duration = Duration::from_millis(2);

/// One reader's place in the stream and how it waits for more.
pub(crate) struct Follower {
    engine: SagaRuntime,
    position: Position,
    batch: u64,
    filter: EventFilter,
    /// This replica's next commit of events, armed before the last read so that a commit between
    /// that read and the wait still wakes the reader.
    committed: Option<Pin<Box<OwnedNotified>>>,
    /// The last read saw committed events it may not see yet.
    held_back: bool,
    /// The current wait while events are held back; zero when none are.
    retry: Duration,
}

impl Follower {
    pub(crate) fn new(
        engine: SagaRuntime,
        position: Position,
        batch: u64,
        filter: EventFilter,
    ) -> Self {
        Self {
            engine,
            position,
            batch,
            filter,
            committed: None,
            held_back: false,
            retry: Duration::ZERO,
        }
    }

    /// The next page after the reader's position, which moves past it.
    ///
    /// # Errors
    ///
    /// The database refuses the read.
    pub(crate) async fn read(&mut self) -> Result<Page, OrdersError> {
        self.committed = Some(self.engine.next_events_committed());
        let page = events::page(&self.engine.db, self.position, self.batch, &self.filter).await?;
        self.position = page.position;
        self.held_back = page.held_back;
        Ok(page)
    }

    /// After a read that left nothing to deliver: waits for this replica's next commit of events, a
    /// retry while committed events are held back, the poll for other replicas' commits, or
    /// `interrupt`, whichever comes first. How long it waited.
    pub(crate) async fn wait(&mut self, interrupt: &CancellationToken) -> Duration {
        let wait = if self.held_back {
            self.retry = (self.retry * 2).clamp(HELD_BACK_RETRY, POLL);
            self.retry
        } else {
            self.retry = Duration::ZERO;
            POLL
        };
        let committed = self
            .committed
            .take()
            .unwrap_or_else(|| self.engine.next_events_committed());
        let started = Instant::now();
        tokio::select! {
            () = committed => {}
            () = tokio::time::sleep(wait) => {}
            () = interrupt.cancelled() => {}
        }
        started.elapsed()
    }
}
