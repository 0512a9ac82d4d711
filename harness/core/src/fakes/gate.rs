//! A gate fakes hold calls at until the check lets them go.
//!
//! Races are forced, not hoped for: a fake parks a call at the gate, the check waits
//! until the calls it wants are parked (or have answered), puts the competing requests
//! in place, then opens the gate. Every fake that holds calls shares this one.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::watch;

struct Inner {
    held: Mutex<usize>,
    /// Bumped whenever the held count changes, so waiters re-check.
    changed: watch::Sender<u64>,
    /// Bumped by `release_all`; held calls wait for it to move.
    released: watch::Sender<u64>,
}

/// Calls parked until [`Gate::release_all`]; cloning shares the gate.
#[derive(Clone)]
pub struct Gate {
    inner: Arc<Inner>,
}

impl Default for Gate {
    fn default() -> Self {
        Gate::new()
    }
}

impl Gate {
    /// A gate with nothing held.
    pub fn new() -> Gate {
        Gate {
            inner: Arc::new(Inner {
                held: Mutex::new(0),
                changed: watch::channel(0).0,
                released: watch::channel(0).0,
            }),
        }
    }

    /// Parks the caller until the next [`Gate::release_all`].
    ///
    /// The call is counted as held for as long as it waits, including when the future is
    /// dropped mid-wait (the service died and its connection went with it).
    pub async fn hold(&self) {
        let mut released = self.inner.released.subscribe();
        self.bump(1);
        let _held = HeldGuard(self);
        // The sender lives as long as the gate, so this only errors on shutdown.
        let _ = released.changed().await;
    }

    /// Lets every call held now continue.
    pub fn release_all(&self) {
        self.inner.released.send_modify(|v| *v += 1);
    }

    /// Number of calls held now.
    pub fn held(&self) -> usize {
        *self.lock()
    }

    /// Waits until at least `n` calls are held; false if `timeout` passes first.
    pub async fn wait_for_held(&self, n: usize, timeout: Duration) -> bool {
        let mut changed = self.inner.changed.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            // Mark the current version seen before looking, so no change is missed.
            changed.borrow_and_update();
            if self.held() >= n {
                return true;
            }
            match tokio::time::timeout_at(deadline, changed.changed()).await {
                Ok(Ok(())) => {}
                _ => return self.held() >= n,
            }
        }
    }

    /// Waits until at most `n` calls are held (the others answered or were dropped by
    /// their caller); false if `timeout` passes first.
    pub async fn wait_for_at_most(&self, n: usize, timeout: Duration) -> bool {
        let mut changed = self.inner.changed.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            changed.borrow_and_update();
            if self.held() <= n {
                return true;
            }
            match tokio::time::timeout_at(deadline, changed.changed()).await {
                Ok(Ok(())) => {}
                _ => return self.held() <= n,
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, usize> {
        self.inner
            .held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn bump(&self, up: isize) {
        {
            let mut held = self.lock();
            *held = held.saturating_add_signed(up);
        }
        self.inner.changed.send_modify(|v| *v += 1);
    }
}

struct HeldGuard<'a>(&'a Gate);

impl Drop for HeldGuard<'_> {
    fn drop(&mut self) {
        self.0.bump(-1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn holds_until_released_and_counts_dropped_holds_out() {
        let gate = Gate::new();
        let g = gate.clone();
        let parked = tokio::spawn(async move { g.hold().await });
        assert!(gate.wait_for_held(1, Duration::from_secs(5)).await);
        assert!(!gate.wait_for_held(2, Duration::from_millis(20)).await);
        gate.release_all();
        parked.await.unwrap();
        assert_eq!(gate.held(), 0);

        let g = gate.clone();
        let dropped = tokio::spawn(async move { g.hold().await });
        assert!(gate.wait_for_held(1, Duration::from_secs(5)).await);
        dropped.abort();
        let _ = dropped.await;
        assert_eq!(gate.held(), 0);
    }
}
