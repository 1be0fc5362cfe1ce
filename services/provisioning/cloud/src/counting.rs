//! A [`Cloud`](crate::Cloud) decorator that counts the calls reaching the backend, per method.
//!
//! Idempotency is proven by what does *not* happen: a replayed operation must answer from its stored
//! result without a second AWS call. Counting at the trait boundary shows that for every backend alike,
//! without reading an emulator's request log.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::{CallHook, Hooked};

/// A backend whose calls are counted by method name (`"create_account"`, ...). A call counts whether
/// it succeeds or fails: it reached the backend either way.
pub type CountingCloud<C> = Hooked<C, CallCounter>;

/// The [`CallHook`] of [`CountingCloud`].
#[derive(Debug, Default)]
pub struct CallCounter {
    calls: Mutex<BTreeMap<&'static str, u64>>,
}

impl CallCounter {
    fn with_calls<T>(&self, read: impl FnOnce(&mut BTreeMap<&'static str, u64>) -> T) -> T {
        // A panic while holding the lock cannot leave a half-updated counter, so a poisoned lock is
        // still consistent.
        let mut calls = self
            .calls
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        read(&mut calls)
    }
}

#[async_trait]
impl CallHook for CallCounter {
    async fn before(&self, method: &'static str) {
        self.with_calls(|calls| *calls.entry(method).or_insert(0) += 1);
    }
}

impl<C> Hooked<C, CallCounter> {
    /// Starts counting the calls to `inner` from zero.
    pub fn new(inner: C) -> Self {
        Self::with_hook(inner, CallCounter::default())
    }

    /// How many times `method` (the `Cloud` method's name) was called.
    pub fn calls(&self, method: &str) -> u64 {
        self.hook()
            .with_calls(|calls| calls.get(method).copied().unwrap_or(0))
    }

    /// How many calls of any method were made.
    pub fn total(&self) -> u64 {
        self.hook().with_calls(|calls| calls.values().sum())
    }

    /// Every method called at least once, with its count, sorted by name.
    pub fn snapshot(&self) -> Vec<(&'static str, u64)> {
        self.hook()
            .with_calls(|calls| calls.iter().map(|(name, count)| (*name, *count)).collect())
    }
}
