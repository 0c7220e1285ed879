//! The broker seam: the crate's own small trait, so that the job queue behind it (apalis
//! today) can change without touching the outbox, the relay or the handlers.

use std::sync::Arc;

use futures_util::future::BoxFuture;

use crate::error::BrokerError;
use crate::job::Envelope;
use crate::registry::Offload;

/// A durable job queue: receives envelopes from the relay and runs them on workers.
///
/// Contract:
/// - [`push`](Broker::push) is idempotent on `envelope.delivery_id`: pushing the same
///   delivery twice queues it once (the relay may push a row again after a crash).
/// - A job is delivered at least once; each run gets an attempt number from 1; a failing
///   job is retried until `envelope.max_attempts`, then kept as dead.
pub trait Broker: Send + Sync + 'static {
    /// Queues `envelope`.
    fn push<'a>(&'a self, envelope: &'a Envelope) -> BoxFuture<'a, Result<(), BrokerError>>;

    /// Runs a worker named `name` (unique among the live workers) that runs the jobs of
    /// this broker with `offload`'s handlers, until `shutdown` completes; then it stops
    /// taking jobs, lets the running ones finish, and returns.
    fn run_worker(
        &self,
        name: String,
        offload: Arc<Offload>,
        shutdown: BoxFuture<'static, ()>,
    ) -> BoxFuture<'static, Result<(), BrokerError>>;
}
