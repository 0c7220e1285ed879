//! Graceful shutdown: a handle that asks workers (and the relay) to stop.

use std::sync::Arc;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use tokio::sync::watch;

/// A request to stop, shared by every clone: [`request`](Shutdown::request) it once and
/// every [`signal`](Shutdown::signal) future completes.
///
/// A worker given a signal ([`Broker::run_worker`](crate::Broker::run_worker)) fetches no
/// more jobs once it completes, lets the jobs in flight finish, and returns; the queued
/// jobs stay queued for the next worker.
///
/// ```ignore
/// let shutdown = Shutdown::new();
/// let worker = tokio::spawn(broker.run_worker("worker-1".into(), offload, shutdown.signal()));
/// tokio::signal::ctrl_c().await?;
/// shutdown.request();
/// worker.await??; // the jobs in flight have finished
/// ```
#[derive(Debug, Clone)]
pub struct Shutdown {
    requested: Arc<watch::Sender<bool>>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Shutdown::new()
    }
}

impl Shutdown {
    /// A handle not yet requested.
    pub fn new() -> Shutdown {
        Shutdown {
            requested: Arc::new(watch::Sender::new(false)),
        }
    }

    /// Requests the stop: every signal completes. Idempotent.
    pub fn request(&self) {
        self.requested.send_replace(true);
    }

    /// Whether [`request`](Shutdown::request) was called.
    pub fn is_requested(&self) -> bool {
        *self.requested.borrow()
    }

    /// A future that completes once the stop is requested (at once if it already was). It
    /// never completes if every handle is dropped without a request.
    pub fn signal(&self) -> BoxFuture<'static, ()> {
        let mut requested = self.requested.subscribe();
        async move {
            if requested.wait_for(|stop| *stop).await.is_err() {
                futures_util::future::pending::<()>().await;
            }
        }
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn every_signal_completes_on_request_including_late_ones() {
        let shutdown = Shutdown::new();
        let early = shutdown.signal();
        let waiting = tokio::spawn(early);
        assert!(!shutdown.is_requested());
        shutdown.clone().request();
        assert!(shutdown.is_requested());
        tokio::time::timeout(Duration::from_secs(10), waiting)
            .await
            .expect("the early signal completes")
            .expect("joined");
        tokio::time::timeout(Duration::from_secs(10), shutdown.signal())
            .await
            .expect("a signal taken after the request completes at once");
    }

    #[tokio::test]
    async fn dropping_every_handle_is_not_a_request() {
        let shutdown = Shutdown::new();
        let signal = shutdown.signal();
        drop(shutdown);
        // Polled once after the drop: still pending (a dropped handle stops nothing).
        assert!(signal.now_or_never().is_none());
    }
}
