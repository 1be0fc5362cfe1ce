//! Caps on the long-lived streams one tenant or principal holds open on a process (quality.md §1.7,
//! "Streams per principal"). A stream holds its [`StreamSlot`] for as long as it lives, so the slot
//! frees however the stream ends: drained, failed, or dropped when the client went away.
//!
//! The count is per process (per replica), not cluster-wide: a stream is bound to the connection
//! that carries it, and a replica's memory and file descriptors are what an open stream costs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tenure_telemetry::RateLimitReason;

type Counts = Arc<Mutex<HashMap<String, usize>>>;

/// Open streams per key, up to a limit. Clones share the counts.
#[derive(Debug, Clone)]
pub struct StreamSlots {
    limit: usize,
    open: Counts,
}

impl StreamSlots {
    /// Up to `limit` open streams per key.
    pub fn new(limit: usize) -> Self {
        Self {
            limit,
            open: Arc::default(),
        }
    }

    /// A slot for one more stream of `key`, held until dropped; `None` when `key` already holds
    /// `limit`, which is counted as `rate_limited_total{reason="streams"}`.
    pub fn acquire(&self, key: impl Into<String>) -> Option<StreamSlot> {
        let key = key.into();
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let count = open.entry(key.clone()).or_insert(0);
        if *count >= self.limit {
            drop(open);
            tenure_telemetry::metrics().rate_limited(RateLimitReason::Streams);
            return None;
        }
        *count += 1;
        Some(StreamSlot {
            key,
            open: Arc::clone(&self.open),
        })
    }

    /// The most streams one key may hold.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// How many streams `key` holds now.
    pub fn open(&self, key: &str) -> usize {
        self.open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
            .copied()
            .unwrap_or(0)
    }
}

/// One open stream's place under its key's cap; dropping it frees the place.
#[derive(Debug)]
pub struct StreamSlot {
    key: String,
    open: Counts,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.key) {
            *count = count.saturating_sub(1);
            // Keys come and go with tenants; an idle one must not stay in the map for ever.
            if *count == 0 {
                open.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_holds_up_to_its_limit_and_a_dropped_slot_frees_its_place() {
        let slots = StreamSlots::new(2);
        let first = slots.acquire("tenant:a");
        let second = slots.acquire("tenant:a");
        assert!(first.is_some() && second.is_some());
        assert!(slots.acquire("tenant:a").is_none());
        assert!(slots.acquire("tenant:b").is_some());
        drop(first);
        assert_eq!(slots.open("tenant:a"), 1);
        let third = slots.acquire("tenant:a");
        assert!(third.is_some());
        drop((second, third));
        assert_eq!(slots.open("tenant:a"), 0);
    }
}
