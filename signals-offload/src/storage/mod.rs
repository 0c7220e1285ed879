//! What the brokers share: a job store (an apalis storage's schema and queries) driven by
//! the crate's own worker loop and retry policy.
//!
//! # How a delivery moves through a store
//!
//! ```text
//!  push ──► job (attempt 1) ──► worker ──► Offload::run_attempt ─┬─ Done ─► ack
//!                                                                ├─ Retry ► job (attempt n+1, due later) + ack
//!                                                                └─ Dead ─► dead letter + ack
//!  requeue(id): dead letter ──► job (attempt 1, next round), in one transaction
//! ```
//!
//! Every attempt is its own apalis job, so apalis' retry is not used: the next attempt is
//! a new job carrying the attempt number, with apalis' `run_at` at the backoff's due time
//! (whole seconds; the worker waits out the rest, see `StoredJob::not_before_ms`). The
//! retry or the dead letter and the acknowledgement of the job are one transaction. A
//! worker killed while a job runs leaves the job locked; orphan recovery queues it again
//! (when the worker restarts under its name, or when another worker sees it silent for
//! two heartbeats), and the attempt runs again: at least once.
//!
//! Job keys (apalis' idempotency key, unique in the queue): `"{id}"` for the first attempt
//! (what [`Broker::push`](crate::Broker::push) dedups the relay on),
//! `"{id}/{round}/{attempt}"` for the others, where `round` counts the requeues of the
//! delivery.
//!
//! A broker is a [`Storage`]: the few queries that differ between databases (push, fetch,
//! acknowledge, heartbeat, the worker's name). The worker loop ([`worker`]), the dead
//! letters ([`dead`]) and the job format ([`StoredJob`]) are written once, here.

pub(crate) mod dead;
mod job;
pub(crate) mod worker;

use std::time::Duration;

use apalis_core::backend::TaskResult;
use apalis_core::task::Task;
use apalis_core::worker::context::WorkerContext;
use futures_util::future::BoxFuture;

use crate::error::BrokerError;
use crate::job::Envelope;
use crate::retry::Backoff;

pub(crate) use job::{StoredJob, due_ms, due_wait};

/// The apalis queue name the jobs of this crate use.
pub const QUEUE: &str = "signals_offload";

/// How often an idle worker looks for due jobs unless told otherwise.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(1);

/// How many jobs a worker runs at once unless told otherwise.
pub const DEFAULT_CONCURRENCY: usize = 8;

/// How often a worker tells the broker it is alive unless set
/// ([`SqliteBroker::with_heartbeat`](crate::SqliteBroker::with_heartbeat)).
pub const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(30);

/// apalis' `max_attempts` of a job. Unused: the crate's jobs never fail in apalis (an
/// attempt's failure is a new job), so one apalis attempt per job.
pub(crate) const APALIS_ATTEMPTS: usize = 1;

/// A worker silent for this many heartbeats is taken for dead: its locked jobs are queued
/// again.
pub(crate) const MISSED_HEARTBEATS: u32 = 2;

/// The worker settings every broker has (its `with_*` methods set them).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Settings {
    pub(crate) backoff: Backoff,
    pub(crate) poll_interval: Duration,
    pub(crate) concurrency: usize,
    pub(crate) heartbeat: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            backoff: Backoff::default(),
            poll_interval: DEFAULT_POLL_INTERVAL,
            concurrency: DEFAULT_CONCURRENCY,
            heartbeat: DEFAULT_HEARTBEAT,
        }
    }
}

impl Settings {
    /// At least 1 ms.
    pub(crate) fn set_poll_interval(&mut self, interval: Duration) {
        self.poll_interval = interval.max(Duration::from_millis(1));
    }

    /// At least 1.
    pub(crate) fn set_concurrency(&mut self, jobs: usize) {
        self.concurrency = jobs.max(1);
    }

    /// At least 1 s: the stores count it in seconds.
    pub(crate) fn set_heartbeat(&mut self, every: Duration) {
        self.heartbeat = every.max(Duration::from_secs(1));
    }

    /// How long a worker must have been silent to be taken for dead, in whole seconds.
    pub(crate) fn orphaned_after_secs(&self) -> u64 {
        (self.heartbeat * MISSED_HEARTBEATS).as_secs()
    }
}

/// What every broker on a [`Storage`] has, the same code on each: the `with_*` worker
/// settings and the [`Broker`](crate::Broker) impl (push, the worker loop, dead letters).
macro_rules! storage_broker {
    ($broker:ident) => {
        impl $broker {
            /// Sets the delay before retries (default: 1 s doubling to 60 s).
            pub fn with_backoff(mut self, backoff: $crate::Backoff) -> $broker {
                self.settings.backoff = backoff;
                self
            }

            /// Sets how often an idle worker looks for due jobs (default
            /// [`DEFAULT_POLL_INTERVAL`](crate::DEFAULT_POLL_INTERVAL)): the most a job
            /// pushed by another connection, or a retry come due, waits for an idle worker.
            /// A busy worker fetches as it finishes jobs.
            pub fn with_poll_interval(mut self, interval: std::time::Duration) -> $broker {
                self.settings.set_poll_interval(interval);
                self
            }

            /// Sets how many jobs one worker runs at once (at least 1; default
            /// [`DEFAULT_CONCURRENCY`](crate::DEFAULT_CONCURRENCY)). A worker fetches only
            /// as many jobs as it has free slots, once at least half of them are free (one
            /// fetch per batch of ended jobs, not per job): a full worker leaves the queue
            /// to the others.
            pub fn with_concurrency(mut self, jobs: usize) -> $broker {
                self.settings.set_concurrency(jobs);
                self
            }

            /// How often its workers tell the broker they are alive (default
            /// [`DEFAULT_HEARTBEAT`](crate::DEFAULT_HEARTBEAT), at least 1 s: the stores
            /// count it in seconds). A worker silent for two heartbeats is taken for dead
            /// (killed, or its machine gone): another worker's next heartbeat queues its
            /// locked jobs again. So a job whose worker died runs again within about three
            /// heartbeats; a shorter heartbeat recovers sooner and writes more often. Keep
            /// it well above the longest stall a live worker may have: a live worker taken
            /// for dead has its jobs run twice.
            pub fn with_heartbeat(mut self, every: std::time::Duration) -> $broker {
                self.settings.set_heartbeat(every);
                self
            }
        }

        impl $crate::Broker for $broker {
            fn push<'a>(
                &'a self,
                envelope: &'a $crate::Envelope,
            ) -> futures_util::future::BoxFuture<'a, Result<(), $crate::BrokerError>> {
                futures_util::FutureExt::boxed($crate::storage::push(self, envelope))
            }

            fn push_batch<'a>(
                &'a self,
                envelopes: &'a [$crate::Envelope],
            ) -> futures_util::future::BoxFuture<'a, Result<(), $crate::BrokerError>> {
                futures_util::FutureExt::boxed($crate::storage::push_batch(self, envelopes))
            }

            fn run_worker(
                &self,
                name: String,
                offload: std::sync::Arc<$crate::Offload>,
                shutdown: futures_util::future::BoxFuture<'static, ()>,
            ) -> futures_util::future::BoxFuture<'static, Result<(), $crate::BrokerError>> {
                futures_util::FutureExt::boxed($crate::storage::worker::run(
                    self.clone(),
                    name,
                    offload,
                    shutdown,
                ))
            }

            fn dead_letters(
                &self,
            ) -> futures_util::future::BoxFuture<
                '_,
                Result<Vec<$crate::DeadLetter>, $crate::BrokerError>,
            > {
                futures_util::FutureExt::boxed($crate::storage::dead::list(self))
            }

            fn requeue(
                &self,
                delivery_id: $crate::DeliveryId,
            ) -> futures_util::future::BoxFuture<'_, Result<bool, $crate::BrokerError>> {
                futures_util::FutureExt::boxed($crate::storage::dead::requeue(self, delivery_id))
            }
        }
    };
}
pub(crate) use storage_broker;

/// A connection of a storage's database.
pub(crate) type Conn<S> = <<S as Storage>::Db as sqlx::Database>::Connection;

/// A job queue on one database: apalis' schema and queries for it, and the crate's
/// dead-letter table beside them. The shared code ([`worker`], [`dead`], [`push`]) runs
/// everything else.
pub(crate) trait Storage: Clone + Send + Sync + 'static {
    /// The sqlx database (its dead-letter statements come with it).
    type Db: dead::DeadLetterSql;
    /// What a live worker holds while it runs (its claim on its name); given back when it
    /// retires.
    type Lease: Send + 'static;

    fn pool(&self) -> &sqlx::Pool<Self::Db>;

    fn settings(&self) -> &Settings;

    /// Queues `job` under its key, due at its `not_before_ms` (now when none). A job with
    /// that key already queued (a relay's second push, a retry or requeue written twice) is
    /// left as it is, and this is no error. Inside a transaction it leaves the transaction
    /// usable either way.
    fn push_job<'c>(
        conn: &'c mut Conn<Self>,
        job: &'c StoredJob,
    ) -> BoxFuture<'c, Result<(), BrokerError>>;

    /// [`push_job`](Storage::push_job) for every job of `jobs`, through `conn`, all or
    /// none: in a transaction of its own (a savepoint inside one). The relay's batch.
    fn push_jobs<'c>(
        conn: &'c mut Conn<Self>,
        jobs: &'c [StoredJob],
    ) -> BoxFuture<'c, Result<(), BrokerError>>;

    /// Records each of `results` for a job locked by `worker`; how many jobs it updated (a
    /// job not locked by this worker any more is not).
    fn ack<'c>(
        conn: &'c mut Conn<Self>,
        results: &'c [&'c TaskResult<serde_json::Value>],
        worker: &'c str,
    ) -> BoxFuture<'c, Result<u64, BrokerError>>;

    /// Registers `worker` under its name (an error if a live worker has it), first queueing
    /// again the jobs a previous run of this name left locked.
    fn register<'a>(
        &'a self,
        worker: &'a WorkerContext,
    ) -> BoxFuture<'a, Result<Self::Lease, BrokerError>>;

    /// Locks up to `batch` due jobs for `worker`: no other worker gets them.
    fn fetch<'a>(
        &'a self,
        worker: &'a WorkerContext,
        batch: usize,
    ) -> BoxFuture<'a, Result<Vec<Task<Vec<u8>>>, BrokerError>>;

    /// Tells the store `worker` is alive, and queues again the jobs of workers silent for
    /// [`MISSED_HEARTBEATS`] heartbeats.
    fn beat<'a>(
        &'a self,
        lease: &'a mut Self::Lease,
        worker: &'a WorkerContext,
    ) -> BoxFuture<'a, Result<(), BrokerError>>;

    /// Marks a worker that stopped gracefully as gone, so that its name is free at once.
    fn retire<'a>(
        &'a self,
        lease: Self::Lease,
        worker: &'a WorkerContext,
    ) -> BoxFuture<'a, Result<(), BrokerError>>;

    /// Queues again a job `worker` locked but could not store the outcome of.
    fn hand_back<'a>(
        &'a self,
        worker: &'a WorkerContext,
        task_id: String,
    ) -> BoxFuture<'a, Result<(), BrokerError>>;
}

/// [`Broker::push`](crate::Broker::push): the delivery's first attempt, keyed by its id.
pub(crate) async fn push<S: Storage>(storage: &S, envelope: &Envelope) -> Result<(), BrokerError> {
    let job = StoredJob::first(envelope.clone());
    let mut conn = storage
        .pool()
        .acquire()
        .await
        .map_err(|err| BrokerError::new("cannot push a job", err))?;
    S::push_job(&mut *conn, &job).await
}

/// [`Broker::push_batch`](crate::Broker::push_batch): the first attempts of `envelopes`,
/// each keyed by its delivery id, in one transaction.
pub(crate) async fn push_batch<S: Storage>(
    storage: &S,
    envelopes: &[Envelope],
) -> Result<(), BrokerError> {
    if envelopes.is_empty() {
        return Ok(());
    }
    let jobs: Vec<StoredJob> = envelopes.iter().cloned().map(StoredJob::first).collect();
    let mut conn = storage
        .pool()
        .acquire()
        .await
        .map_err(|err| BrokerError::new("cannot push a batch of jobs", err))?;
    S::push_jobs(&mut conn, &jobs).await
}
