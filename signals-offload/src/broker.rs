//! The broker seam: the crate's own small trait, so that the job queue behind it (apalis
//! today) can change without touching the outbox, the relay or the handlers.

use std::sync::Arc;

use futures_util::future::BoxFuture;

use crate::error::BrokerError;
use crate::job::{DeliveryId, Envelope};
use crate::registry::Offload;
use crate::retry::DeadReason;

/// A durable job queue: receives envelopes from the relay and runs them on workers.
///
/// Contract:
/// - [`push`](Broker::push) is idempotent on `envelope.delivery_id`: pushing the same
///   delivery twice queues it once (the relay may push a row again after a crash).
/// - A job is delivered at least once; each run gets an attempt number from 1.
/// - Retries are the crate's, not the queue's: a worker runs each attempt with
///   [`Offload::run_attempt`] and stores the [`Outcome`](crate::Outcome) it returns:
///   a retry as a new job due after its delay (the job queue's own retry is not used),
///   a dead letter in a place [`dead_letters`](Broker::dead_letters) lists. An unknown
///   receiver is dead at once, never dropped or retried.
/// - [`run_worker`](Broker::run_worker) stops gracefully: once `shutdown` completes it
///   fetches nothing more, lets the jobs in flight finish, and returns.
pub trait Broker: Send + Sync + 'static {
    /// Queues `envelope` for its first attempt.
    fn push<'a>(&'a self, envelope: &'a Envelope) -> BoxFuture<'a, Result<(), BrokerError>>;

    /// Queues every envelope of `envelopes` for its first attempt, with the contract of
    /// [`push`](Broker::push) for each (a delivery already queued is left as it is). The
    /// relay pushes its rows with it, a batch at a time. The default pushes them one by
    /// one; [`SqliteBroker`](crate::SqliteBroker) and `PostgresBroker` push a batch in one
    /// transaction (all of it or none).
    fn push_batch<'a>(
        &'a self,
        envelopes: &'a [Envelope],
    ) -> BoxFuture<'a, Result<(), BrokerError>> {
        Box::pin(async move {
            for envelope in envelopes {
                self.push(envelope).await?;
            }
            Ok(())
        })
    }

    /// Runs a worker named `name` (unique among the live workers) that runs the jobs of
    /// this broker with `offload`'s handlers, until `shutdown` completes; then it stops
    /// taking jobs, lets the running ones finish, and returns.
    /// [`Shutdown::signal`](crate::Shutdown::signal) makes such a future.
    fn run_worker(
        &self,
        name: String,
        offload: Arc<Offload>,
        shutdown: BoxFuture<'static, ()>,
    ) -> BoxFuture<'static, Result<(), BrokerError>>;

    /// The dead letters, oldest first.
    fn dead_letters(&self) -> BoxFuture<'_, Result<Vec<DeadLetter>, BrokerError>>;

    /// Queues the dead letter of `delivery_id` again for a fresh round of attempts (from
    /// attempt 1) and removes it from the dead letters. `Ok(false)`: no dead letter has
    /// this id. Safe to repeat after a crash: a round is queued once.
    fn requeue(&self, delivery_id: DeliveryId) -> BoxFuture<'_, Result<bool, BrokerError>>;
}

/// A delivery the workers gave up on: its attempts are spent, or it could never run.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct DeadLetter {
    /// The job: delivery id, queue, handler, attempts allowed, payload.
    pub envelope: Envelope,
    /// How many attempts it had in its last round.
    pub attempts: u32,
    /// Why it is dead.
    pub reason: DeadReason,
    /// The last attempt's error (its `Display`), such as `handler failed: smtp down` or
    /// ``unknown receiver `mail/send_welcome` ``.
    pub last_error: String,
    /// When it died, in Unix seconds.
    pub dead_at: i64,
    /// How many times it was requeued before (0 for a first round).
    pub requeues: u32,
}
