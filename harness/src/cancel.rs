//! Cancellation of a run from outside (Ctrl-C): the first request stops publishing and lets the
//! run finish cleanly (drain acks, read back, write an incomplete result, remove the server);
//! the second makes it skip the waiting parts and go straight to teardown.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use tokio::sync::watch;

#[derive(Debug, Clone)]
pub struct Cancel {
    level: Arc<AtomicU8>,
    tx: Arc<watch::Sender<u8>>,
}

impl Default for Cancel {
    fn default() -> Self {
        Cancel::new()
    }
}

impl Cancel {
    pub fn new() -> Cancel {
        Cancel {
            level: Arc::new(AtomicU8::new(0)),
            tx: Arc::new(watch::channel(0).0),
        }
    }

    /// Raises the cancellation level by one (1 = stop publishing, 2 = skip waiting).
    pub fn request(&self) -> u8 {
        let level = self.level.fetch_add(1, Ordering::SeqCst).saturating_add(1);
        self.tx.send_replace(level);
        level
    }

    /// Cheap enough for the hot path: one relaxed load.
    #[inline]
    pub fn is_requested(&self) -> bool {
        self.level.load(Ordering::Relaxed) > 0
    }

    pub fn is_urgent(&self) -> bool {
        self.level.load(Ordering::Relaxed) > 1
    }

    /// Resolves once the level reaches `at_least`.
    pub async fn reached(&self, at_least: u8) {
        let mut rx = self.tx.subscribe();
        let _ = rx.wait_for(|l| *l >= at_least).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn levels() {
        let c = Cancel::new();
        assert!(!c.is_requested());
        let c2 = c.clone();
        let waiter = tokio::spawn(async move { c2.reached(2).await });
        c.request();
        assert!(c.is_requested() && !c.is_urgent());
        c.request();
        waiter.await.unwrap();
        assert!(c.is_urgent());
    }
}
