//! The SQLite broker's worker: the crate's own loop over apalis-sqlite's queries (register,
//! fetch, acknowledge, heartbeat, orphan recovery), not apalis' `Worker`.
//!
//! Why not apalis' `Worker` (apalis-core 1.0.0), which this crate used before:
//! - While it shuts down with jobs in flight it stops polling its backend, so a fetch or an
//!   acknowledgement transaction it had begun stays open, holding SQLite's write lock; a job
//!   in flight that then writes its retry or dead letter waits out the busy timeout (10 s)
//!   and fails.
//! - Its `IntervalStrategy` arms its next timer without polling it: when the timer fires
//!   on the poll whose fetch comes back empty, nothing wakes the worker until its next
//!   heartbeat (30 s). That was the "attempts stall past 30 s" of the retries test.
//!
//! Here every job runs in its own tokio task, so no database future is ever left unpolled,
//! and a job's outcome (its retry or dead letter) and its acknowledgement are written in one
//! transaction: a job is acknowledged exactly when its outcome is stored.
//!
//! ```text
//!  register (and take back the jobs this name left locked)
//!  loop until shutdown:
//!      fetch while slots are free and the last fetch was full (locks the jobs: `Queued`)
//!      spawn each job: wait out its backoff, run_attempt, store the outcome + ack (one tx)
//!      wait for: shutdown | a job ending | the poll interval | the heartbeat
//!  shutdown: fetch nothing more, wait for the jobs in flight, mark the worker gone
//! ```

use std::sync::Arc;
use std::time::Duration;

use apalis_core::backend::{TaskResult, WorkerFilter};
use apalis_core::task::Task;
use apalis_core::task::status::Status;
use apalis_core::worker::context::WorkerContext;
use apalis_sqlite::{Config, SqlitePool, queries};
use futures_util::future::BoxFuture;
use tokio::task::JoinSet;

use super::{QUEUE, StoredJob, dead, due_wait, push_job};
use crate::error::BrokerError;
use crate::registry::Offload;
use crate::retry::{Backoff, Outcome};

/// How many times a job tries to store its outcome before handing the job back.
const STORE_TRIES: u32 = 5;

/// What every job of one worker shares.
pub(super) struct Worker {
    pub(super) pool: SqlitePool,
    pub(super) offload: Arc<Offload>,
    pub(super) backoff: Backoff,
    pub(super) poll_interval: Duration,
    pub(super) concurrency: usize,
    /// How often it tells the broker it is alive; a worker silent for two of these is
    /// taken for dead and its locked jobs are queued again (apalis-sqlite's rule).
    pub(super) heartbeat: Duration,
    pub(super) context: WorkerContext,
}

impl Worker {
    fn config(&self, batch: usize) -> Config {
        Config::default()
            .queue(QUEUE)
            .heartbeat_interval(self.heartbeat)
            .batch_size(batch.max(1))
    }

    fn name(&self) -> &str {
        self.context.name()
    }
}

/// Runs `worker` until `shutdown` completes, then waits for its jobs in flight.
pub(super) async fn run(
    worker: Worker,
    mut shutdown: BoxFuture<'static, ()>,
) -> Result<(), BrokerError> {
    let worker = Arc::new(worker);
    register(&worker).await?;
    let mut jobs = JoinSet::new();
    let mut poll = tokio::time::interval(worker.poll_interval);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let start = tokio::time::Instant::now();
    let mut heartbeat = tokio::time::interval_at(start + worker.heartbeat, worker.heartbeat);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut more = true;
    loop {
        while more && jobs.len() < worker.concurrency {
            let free = worker.concurrency - jobs.len();
            match fetch(&worker, free).await {
                Ok(tasks) => {
                    more = tasks.len() >= free;
                    for task in tasks {
                        jobs.spawn(run_job(worker.clone(), task));
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
                if let Err(err) = beat(&worker).await {
                    tracing::warn!(target: "signals_offload", worker = worker.name(), %err, "heartbeat failed");
                }
            }
        }
    }
    tracing::debug!(target: "signals_offload", worker = worker.name(), in_flight = jobs.len(), "stopping: no more fetches, waiting for the jobs in flight");
    while let Some(ended) = jobs.join_next().await {
        log_join(ended);
    }
    retire(&worker).await
}

fn log_join(ended: Result<(), tokio::task::JoinError>) {
    if let Err(err) = ended {
        tracing::error!(target: "signals_offload", %err, "a job task ended abnormally");
    }
}

/// Registers the worker, first queueing again the jobs a previous run of this name left
/// locked (a crash, or an outcome it could not store).
async fn register(worker: &Worker) -> Result<(), BrokerError> {
    let failed = |err| BrokerError::new("cannot register the worker", err);
    let mut tx = worker.pool.begin().await.map_err(failed)?;
    let config = worker.config(1);
    queries::reenqueue_orphaned(
        &mut *tx,
        secs(worker.heartbeat),
        QUEUE,
        &WorkerFilter::Only(worker.name().to_owned()),
    )
    .await
    .map_err(failed)?;
    queries::register_worker(&mut *tx, &config, &worker.context, "signals_offload")
        .await
        .map_err(|err| {
            BrokerError::new(
                format!(
                    "cannot register worker `{}` (a live worker has this name?)",
                    worker.name()
                ),
                err,
            )
        })?;
    tx.commit().await.map_err(failed)
}

/// Locks up to `batch` due jobs for this worker.
async fn fetch(worker: &Worker, batch: usize) -> Result<Vec<Task<Vec<u8>>>, BrokerError> {
    let failed = |err| BrokerError::new("cannot fetch jobs", err);
    let mut tx = worker.pool.begin().await.map_err(failed)?;
    let tasks = queries::fetch_next(&mut *tx, &worker.config(batch), &worker.context)
        .await
        .map_err(|err| BrokerError::new("cannot fetch jobs", err))?;
    tx.commit().await.map_err(failed)?;
    Ok(tasks)
}

/// Tells the broker this worker is alive, and queues again the jobs of workers that are
/// not.
async fn beat(worker: &Worker) -> Result<(), BrokerError> {
    let failed = |err| BrokerError::new("heartbeat failed", err);
    let config = worker.config(1);
    let mut tx = worker.pool.begin().await.map_err(failed)?;
    queries::keep_alive(&mut *tx, &config, &worker.context)
        .await
        .map_err(failed)?;
    queries::reenqueue_orphaned(
        &mut *tx,
        secs(config.orphaned_duration()),
        QUEUE,
        &WorkerFilter::AllExcept(worker.name().to_owned()),
    )
    .await
    .map_err(failed)?;
    tx.commit().await.map_err(failed)
}

/// Marks a worker that stopped gracefully as gone, so that its name is free at once.
async fn retire(worker: &Worker) -> Result<(), BrokerError> {
    sqlx::query("UPDATE Workers SET last_seen = 0 WHERE id = ?1")
        .bind(worker.name())
        .execute(&worker.pool)
        .await
        .map_err(|err| BrokerError::new("cannot retire the worker", err))?;
    Ok(())
}

/// One job, in its own task: runs the attempt and stores its outcome.
async fn run_job(worker: Arc<Worker>, task: Task<Vec<u8>>) {
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
            if let Err(err) = queries::ack_tasks(&worker.pool, &[&killed], worker.name()).await {
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
        .run_attempt(&job.envelope, job.attempt, &worker.backoff)
        .await;
    log_outcome(&job, &outcome);
    let done = TaskResult {
        task_id: task_id.clone(),
        attempt: 1,
        status: Status::Done,
        result: Ok(serde_json::Value::Null),
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
    let ids = vec![task_id.to_string()];
    if let Err(err) = queries::reenqueue_abandoned(&worker.pool, QUEUE, worker.name(), &ids).await {
        tracing::error!(target: "signals_offload", %err, "cannot hand the job back; it is queued again when this worker is restarted or taken for dead");
    }
}

/// The outcome (a retry or a dead letter) and the job's acknowledgement, in one
/// transaction.
async fn store(
    worker: &Worker,
    job: &StoredJob,
    outcome: &Outcome,
    done: &TaskResult<serde_json::Value>,
) -> Result<(), BrokerError> {
    let failed = |err| BrokerError::new("cannot store a job's outcome", err);
    let mut tx = worker.pool.begin().await.map_err(failed)?;
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
            push_job(&mut tx, &next).await?;
        }
        Outcome::Dead {
            attempts,
            reason,
            error,
        } => {
            dead::insert(
                &mut tx,
                &job.envelope,
                *attempts,
                *reason,
                &error.to_string(),
                job.round,
            )
            .await?;
        }
    }
    let acked = queries::ack_tasks(&mut *tx, &[done], worker.name())
        .await
        .map_err(failed)?;
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

fn secs(duration: Duration) -> i64 {
    i64::try_from(duration.as_secs()).unwrap_or(i64::MAX)
}
