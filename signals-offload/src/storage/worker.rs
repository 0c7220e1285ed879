//! The worker loop every broker runs: the crate's own loop over its store's queries
//! (register, fetch, acknowledge, heartbeat, orphan recovery), not apalis' `Worker`.
//!
//! Why not apalis' `Worker` (apalis-core 1.0.0), which this crate used before:
//! - While it shuts down with jobs in flight it stops polling its backend, so a fetch or an
//!   acknowledgement transaction it had begun stays open (on SQLite, holding the write
//!   lock); a job in flight that then writes its retry or dead letter waits out the busy
//!   timeout (10 s) and fails.
//! - Its `IntervalStrategy` arms its next timer without polling it: when the timer fires
//!   on the poll whose fetch comes back empty, nothing wakes the worker until its next
//!   heartbeat (30 s). That was the "attempts stall past 30 s" of the retries test.
//!
//! Here every job runs in its own tokio task, so no database future is ever left unpolled,
//! and a job's outcome (its retry or dead letter) and its acknowledgement are written in one
//! transaction: a job is acknowledged exactly when its outcome is stored. A job that is
//! done has no outcome to store: it hands its acknowledgement to the worker's acknowledger
//! task, which acknowledges the done jobs waiting for it in one transaction (as apalis'
//! own worker does), so that a busy worker writes once per batch instead of once per job.
//!
//! ```text
//!  register (and take back the jobs this name left locked)
//!  loop until shutdown:
//!      fetch while half the slots are free and the last fetch was full (locks the jobs: `Queued`)
//!      spawn each job: wait out its backoff, run_attempt, then
//!          done: hand the ack to the acknowledger (acks every waiting done job in one tx)
//!          retry or dead: store the outcome + ack (one tx)
//!      wait for: shutdown | a job ending | the poll interval | the heartbeat
//!  shutdown: fetch nothing more, wait for the jobs in flight and their acks, mark the
//!  worker gone
//! ```

use std::sync::Arc;
use std::time::Duration;

use apalis_core::backend::TaskResult;
use apalis_core::task::Task;
use apalis_core::task::status::Status;
use apalis_core::worker::context::WorkerContext;
use futures_util::future::BoxFuture;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::dead::{self, DeadLetterSql};
use super::{Storage, StoredJob, due_wait};
use crate::error::BrokerError;
use crate::job::DeliveryId;
use crate::registry::Offload;
use crate::retry::Outcome;

/// How many times a job tries to store its outcome before handing the job back.
const STORE_TRIES: u32 = 5;

/// The most done jobs the acknowledger acknowledges in one transaction.
const ACK_BATCH: usize = 256;

/// A done job's acknowledgement, on its way to the acknowledger.
struct DoneJob {
    result: TaskResult<serde_json::Value>,
    delivery_id: DeliveryId,
}

/// What every job of one worker shares.
struct Worker<S> {
    storage: S,
    offload: Arc<Offload>,
    context: WorkerContext,
}

impl<S> Worker<S> {
    fn name(&self) -> &str {
        self.context.name()
    }
}

/// [`Broker::run_worker`](crate::Broker::run_worker): runs a worker named `name` on
/// `storage` until `shutdown` completes, then waits for its jobs in flight.
pub(crate) async fn run<S: Storage>(
    storage: S,
    name: String,
    offload: Arc<Offload>,
    mut shutdown: BoxFuture<'static, ()>,
) -> Result<(), BrokerError> {
    let worker = Arc::new(Worker {
        storage,
        offload,
        context: WorkerContext::new(&name),
    });
    let settings = *worker.storage.settings();
    let mut lease = worker.storage.register(&worker.context).await?;
    let (acks, done) = mpsc::unbounded_channel();
    let acknowledger = tokio::spawn(acknowledge(worker.clone(), done));
    let mut jobs = JoinSet::new();
    let mut poll = tokio::time::interval(settings.poll_interval);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let start = tokio::time::Instant::now();
    let mut heartbeat = tokio::time::interval_at(start + settings.heartbeat, settings.heartbeat);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut more = true;
    loop {
        // Fetch when at least half the slots are free (or all of them, with one slot): a
        // busy worker fetches a batch as jobs end, not one fetch per ended job.
        while more && settings.concurrency - jobs.len() >= settings.concurrency.div_ceil(2) {
            let free = settings.concurrency - jobs.len();
            match worker.storage.fetch(&worker.context, free).await {
                Ok(tasks) => {
                    more = tasks.len() >= free;
                    for task in tasks {
                        jobs.spawn(run_job(worker.clone(), task, acks.clone()));
                    }
                }
                Err(err) => {
                    tracing::warn!(target: "signals_offload", worker = worker.name(), %err, "fetch failed; retrying at the next poll");
                    more = false;
                }
            }
        }
        tokio::select! {
            () = &mut shutdown => break,
            Some(ended) = jobs.join_next() => log_join(ended),
            _ = poll.tick() => more = true,
            _ = heartbeat.tick() => {
                if let Err(err) = worker.storage.beat(&mut lease, &worker.context).await {
                    tracing::warn!(target: "signals_offload", worker = worker.name(), %err, "heartbeat failed");
                }
            }
        }
    }
    tracing::debug!(target: "signals_offload", worker = worker.name(), in_flight = jobs.len(), "stopping: no more fetches, waiting for the jobs in flight");
    while let Some(ended) = jobs.join_next().await {
        log_join(ended);
    }
    // Every job has ended: the acknowledger acknowledges what is left and returns.
    drop(acks);
    if let Err(err) = acknowledger.await {
        tracing::error!(target: "signals_offload", %err, "the acknowledger ended abnormally; its jobs are queued again when this worker is restarted or taken for dead");
    }
    worker.storage.retire(lease, &worker.context).await
}

fn log_join(ended: Result<(), tokio::task::JoinError>) {
    if let Err(err) = ended {
        tracing::error!(target: "signals_offload", %err, "a job task ended abnormally");
    }
}

/// The worker's acknowledger: acknowledges the done jobs, every job waiting at once in one
/// transaction, until every sender is gone.
async fn acknowledge<S: Storage>(
    worker: Arc<Worker<S>>,
    mut done: mpsc::UnboundedReceiver<DoneJob>,
) {
    let mut batch = Vec::with_capacity(ACK_BATCH);
    while done.recv_many(&mut batch, ACK_BATCH).await > 0 {
        acknowledge_batch(&worker, &batch).await;
        batch.clear();
    }
}

/// Acknowledges `batch` in one transaction, trying again on errors; hands its jobs back
/// when it cannot (they run again).
async fn acknowledge_batch<S: Storage>(worker: &Worker<S>, batch: &[DoneJob]) {
    let results: Vec<&TaskResult<serde_json::Value>> =
        batch.iter().map(|job| &job.result).collect();
    let mut pause = Duration::from_millis(100);
    for tries in 1..=STORE_TRIES {
        match ack_done(worker, &results).await {
            Ok(acked) => {
                if acked < results.len() as u64 {
                    // Some were taken from this worker (taken for dead and queued again):
                    // the other run of each acknowledges it.
                    tracing::warn!(target: "signals_offload", worker = worker.name(), jobs = results.len(), acked, "some done jobs were taken from this worker");
                }
                return;
            }
            Err(err) if tries < STORE_TRIES => {
                tracing::warn!(target: "signals_offload", worker = worker.name(), jobs = results.len(), %err, "cannot acknowledge done jobs; trying again");
                tokio::time::sleep(pause).await;
                pause *= 2;
            }
            Err(err) => {
                tracing::error!(target: "signals_offload", worker = worker.name(), jobs = results.len(), %err, "cannot acknowledge done jobs; handing them back (their attempts will run again)");
            }
        }
    }
    for job in batch {
        if let Err(err) = worker
            .storage
            .hand_back(&worker.context, job.result.task_id.to_string())
            .await
        {
            tracing::error!(target: "signals_offload", delivery_id = %job.delivery_id, %err, "cannot hand the job back; it is queued again when this worker is restarted or taken for dead");
        }
    }
}

/// The acknowledgements of done jobs, in one transaction.
async fn ack_done<S: Storage>(
    worker: &Worker<S>,
    results: &[&TaskResult<serde_json::Value>],
) -> Result<u64, BrokerError> {
    let failed = |err| BrokerError::new("cannot acknowledge done jobs", err);
    let mut tx = worker.storage.pool().begin().await.map_err(failed)?;
    let acked = S::ack(&mut tx, results, worker.name()).await?;
    tx.commit().await.map_err(failed)?;
    Ok(acked)
}

/// One job, in its own task: runs the attempt and stores its outcome (a done job's
/// acknowledgement goes to the acknowledger, `acks`).
async fn run_job<S: Storage>(
    worker: Arc<Worker<S>>,
    task: Task<Vec<u8>>,
    acks: mpsc::UnboundedSender<DoneJob>,
) {
    let Some(task_id) = task.task_id().cloned() else {
        tracing::error!(target: "signals_offload", "a fetched job has no id; left to orphan recovery");
        return;
    };
    let job: StoredJob = match serde_json::from_slice(&task.args) {
        Ok(job) => job,
        Err(err) => {
            // Not a job of this crate (or a corrupt one): no delivery to dead-letter.
            let error = format!("signals_offload: the job does not decode: {err}");
            tracing::error!(target: "signals_offload", %task_id, %error, "job killed");
            let killed = TaskResult {
                task_id,
                attempt: 1,
                status: Status::Killed,
                result: Err(error),
            };
            if let Err(err) = kill(&worker, &killed).await {
                tracing::error!(target: "signals_offload", %err, "cannot mark an undecodable job killed");
            }
            return;
        }
    };
    if let Some(wait) = job.not_before_ms.map(due_wait) {
        tokio::time::sleep(wait).await;
    }
    let outcome = worker
        .offload
        .run_attempt(
            &job.envelope,
            job.attempt,
            &worker.storage.settings().backoff,
        )
        .await;
    log_outcome(&job, &outcome);
    let done = TaskResult {
        task_id: task_id.clone(),
        attempt: 1,
        status: Status::Done,
        result: Ok(serde_json::Value::Null),
    };
    let done = if matches!(outcome, Outcome::Done) {
        match acks.send(DoneJob {
            result: done,
            delivery_id: job.envelope.delivery_id,
        }) {
            Ok(()) => return,
            // The acknowledger is gone (it ended abnormally): store it here.
            Err(mpsc::error::SendError(unsent)) => unsent.result,
        }
    } else {
        done
    };
    let mut pause = Duration::from_millis(100);
    for tries in 1..=STORE_TRIES {
        match store(&worker, &job, &outcome, &done).await {
            Ok(()) => return,
            Err(err) if tries < STORE_TRIES => {
                tracing::warn!(target: "signals_offload", delivery_id = %job.envelope.delivery_id, %err, "cannot store the job's outcome; trying again");
                tokio::time::sleep(pause).await;
                pause *= 2;
            }
            Err(err) => {
                tracing::error!(target: "signals_offload", delivery_id = %job.envelope.delivery_id, %err, "cannot store the job's outcome; handing the job back (the attempt will run again)");
            }
        }
    }
    if let Err(err) = worker
        .storage
        .hand_back(&worker.context, task_id.to_string())
        .await
    {
        tracing::error!(target: "signals_offload", %err, "cannot hand the job back; it is queued again when this worker is restarted or taken for dead");
    }
}

/// Marks a job that is not one of this crate's killed.
async fn kill<S: Storage>(
    worker: &Worker<S>,
    killed: &TaskResult<serde_json::Value>,
) -> Result<u64, BrokerError> {
    let mut conn = worker
        .storage
        .pool()
        .acquire()
        .await
        .map_err(|err| BrokerError::new("cannot mark a job killed", err))?;
    S::ack(&mut conn, &[killed], worker.name()).await
}

/// The outcome (a retry or a dead letter) and the job's acknowledgement, in one
/// transaction.
async fn store<S: Storage>(
    worker: &Worker<S>,
    job: &StoredJob,
    outcome: &Outcome,
    done: &TaskResult<serde_json::Value>,
) -> Result<(), BrokerError> {
    let failed = |err| BrokerError::new("cannot store a job's outcome", err);
    let mut tx = worker.storage.pool().begin().await.map_err(failed)?;
    match outcome {
        Outcome::Done => {}
        Outcome::Retry {
            next_attempt,
            delay,
            ..
        } => {
            let next = StoredJob {
                envelope: job.envelope.clone(),
                attempt: *next_attempt,
                round: job.round,
                not_before_ms: Some(super::due_ms(*delay)),
            };
            S::push_job(&mut tx, &next).await?;
        }
        Outcome::Dead {
            attempts,
            reason,
            error,
        } => {
            let row = dead::row(job, *attempts, *reason, &error.to_string())?;
            S::Db::insert(&mut tx, row).await?;
        }
    }
    let acked = S::ack(&mut tx, &[done], worker.name()).await?;
    if acked == 0 {
        // Not locked by this worker any more (taken for dead and queued again): the other
        // run of this attempt stores the outcome.
        tracing::warn!(target: "signals_offload", delivery_id = %job.envelope.delivery_id, "the job was taken from this worker; its outcome is dropped");
        return tx.rollback().await.map_err(failed);
    }
    tx.commit().await.map_err(failed)
}

fn log_outcome(job: &StoredJob, outcome: &Outcome) {
    let envelope = &job.envelope;
    match outcome {
        Outcome::Done => {}
        Outcome::Retry {
            next_attempt,
            delay,
            error,
        } => tracing::warn!(
            target: "signals_offload",
            delivery_id = %envelope.delivery_id,
            queue = %envelope.queue,
            handler = %envelope.handler,
            attempt = job.attempt,
            max_attempts = envelope.max_attempts,
            next_attempt,
            retry_in = ?delay,
            %error,
            "offloaded job failed; retrying"
        ),
        Outcome::Dead {
            attempts,
            reason,
            error,
        } => tracing::error!(
            target: "signals_offload",
            delivery_id = %envelope.delivery_id,
            queue = %envelope.queue,
            handler = %envelope.handler,
            attempts,
            %reason,
            %error,
            "offloaded job dead-lettered"
        ),
    }
}
