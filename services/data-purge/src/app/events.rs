//! The purge stream as subscribers read it: events in position order, and a signal when a commit on
//! this replica wrote some.

use std::sync::Arc;

use tokio::sync::Notify;

use crate::app::PurgeApp;
use crate::domain::{PurgeError, PurgeStreamEvent};
use crate::store;

impl PurgeApp {
    /// Up to `limit` events after `position`, in order.
    pub(crate) async fn events_after(
        &self,
        position: u64,
        limit: u64,
    ) -> Result<Vec<PurgeStreamEvent>, PurgeError> {
        store::events::after(self.db.conn(), position, limit).await
    }

    /// The position of the latest committed event; 0 before the first.
    pub(crate) async fn latest_position(&self) -> Result<u64, PurgeError> {
        store::events::latest(self.db.conn()).await
    }

    /// Woken after every commit on this replica that may have written events; another replica's
    /// commits cannot wake it, so readers also poll.
    pub(crate) fn events_written(&self) -> Arc<Notify> {
        Arc::clone(&self.worker.events_written)
    }
}
