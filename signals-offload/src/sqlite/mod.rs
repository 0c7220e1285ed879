//! The embedded broker: apalis-sqlite on its own SQLite file.
//!
//! # How a delivery moves through it
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
//! worker killed while a job runs leaves the job locked; apalis-sqlite's orphan recovery
//! queues it again (when the worker restarts under its name, or when another worker sees
//! it silent for two heartbeats, 60 s by default), and the attempt runs again: at least once.
//!
//! Job keys (apalis' idempotency key, unique in the queue): `"{id}"` for the first attempt
//! (what [`Broker::push`] dedups the relay on), `"{id}/{round}/{attempt}"` for the others,
//! where `round` counts the requeues of the delivery.
//!
//! The worker is the crate's own loop over apalis-sqlite's queries (`worker`): it fetches
//! every [`poll_interval`](SqliteBroker::with_poll_interval) when idle (nothing tells it
//! of a job another connection pushed), and as slots free up when busy.

mod dead;
mod worker;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use apalis_core::task::builder::TaskBuilder;
use apalis_core::worker::context::WorkerContext;
use apalis_sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions, SqliteStorage};
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};

use crate::broker::{Broker, DeadLetter};
use crate::error::BrokerError;
use crate::job::{DeliveryId, Envelope};
use crate::registry::Offload;
use crate::retry::Backoff;

/// The apalis queue name the jobs of this crate use.
pub const QUEUE: &str = "signals_offload";

/// How often an idle worker looks for due jobs unless told otherwise.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(1);

/// How many jobs a worker runs at once unless told otherwise.
pub const DEFAULT_CONCURRENCY: usize = 8;

/// apalis' `max_attempts` of a job. Unused: the crate's jobs never fail in apalis (an
/// attempt's failure is a new job), so one apalis attempt per job.
const APALIS_ATTEMPTS: usize = 1;

/// A [`Broker`] on apalis-sqlite: the jobs live in a SQLite file (WAL mode), apart from the
/// application's database, so a busy queue does not lock the business tables. The dead
/// letters are the `signals_offload_dead_letters` table of the same file.
#[derive(Debug, Clone)]
pub struct SqliteBroker {
    pool: SqlitePool,
    backoff: Backoff,
    poll_interval: Duration,
    concurrency: usize,
    heartbeat: Duration,
}

/// How often a worker tells the broker it is alive unless set
/// ([`SqliteBroker::with_heartbeat`]).
pub const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(30);

/// One attempt of a delivery, as an apalis job stores it. A job queued by a version of the
/// crate that stored the bare envelope reads as attempt 1 of round 0.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredJob {
    #[serde(flatten)]
    envelope: Envelope,
    #[serde(default = "first_attempt")]
    attempt: u32,
    #[serde(default)]
    round: u32,
    /// Unix milliseconds before which the attempt must not run (the backoff's due time;
    /// apalis' `run_at` has whole seconds).
    #[serde(default)]
    not_before_ms: Option<u64>,
}

fn first_attempt() -> u32 {
    1
}

impl StoredJob {
    fn key(&self) -> String {
        let id = self.envelope.delivery_id;
        if self.attempt <= 1 && self.round == 0 {
            id.to_string()
        } else {
            format!("{id}/{}/{}", self.round, self.attempt)
        }
    }
}

impl SqliteBroker {
    /// Opens (creating it if needed) the broker database at `path`, runs apalis-sqlite's
    /// migrations and creates the dead-letter table. WAL and `synchronous = NORMAL` are set
    /// on every connection (apalis' own `setup()` sets `synchronous = OFF` on one
    /// connection only, so it is not used).
    pub async fn open(path: impl AsRef<Path>) -> Result<SqliteBroker, BrokerError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .pragma("journal_mode", "WAL")
            .pragma("synchronous", "NORMAL")
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(|err| BrokerError::new("cannot open the SQLite broker database", err))?;
        SqliteStorage::migrations()
            .run(&pool)
            .await
            .map_err(|err| BrokerError::new("apalis-sqlite migrations failed", err))?;
        dead::create_table(&pool).await?;
        Ok(SqliteBroker {
            pool,
            backoff: Backoff::default(),
            poll_interval: DEFAULT_POLL_INTERVAL,
            concurrency: DEFAULT_CONCURRENCY,
            heartbeat: DEFAULT_HEARTBEAT,
        })
    }

    /// Sets the delay before retries (default: 1 s doubling to 60 s).
    pub fn with_backoff(mut self, backoff: Backoff) -> SqliteBroker {
        self.backoff = backoff;
        self
    }

    /// Sets how often an idle worker looks for due jobs (default
    /// [`DEFAULT_POLL_INTERVAL`]): the most a job pushed by another connection, or a retry
    /// come due, waits for an idle worker. A busy worker fetches as it finishes jobs.
    pub fn with_poll_interval(mut self, interval: Duration) -> SqliteBroker {
        self.poll_interval = interval.max(Duration::from_millis(1));
        self
    }

    /// Sets how many jobs one worker runs at once (at least 1; default
    /// [`DEFAULT_CONCURRENCY`]). A worker fetches only as many jobs as it has free slots:
    /// a full worker leaves the queue to the others.
    pub fn with_concurrency(mut self, jobs: usize) -> SqliteBroker {
        self.concurrency = jobs.max(1);
        self
    }

    /// How often its workers tell the broker they are alive (default
    /// [`DEFAULT_HEARTBEAT`], at least 1 s: apalis-sqlite counts it in seconds). A worker silent for two heartbeats is taken
    /// for dead (killed, or its machine gone): another worker's next heartbeat queues its
    /// locked jobs again. So a job whose worker died runs again within about three
    /// heartbeats; a shorter heartbeat recovers sooner and writes more often.
    pub fn with_heartbeat(mut self, every: Duration) -> SqliteBroker {
        self.heartbeat = every.max(Duration::from_secs(1));
        self
    }

    /// The broker's pool (for inspection and tests).
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

/// The worker of [`run_worker`](Broker::run_worker) runs on the tokio runtime (each job in
/// its own task). A name is taken while its worker runs; a worker that stopped gracefully
/// frees it at once, one that crashed once its heartbeat has lapsed ([`SqliteBroker::with_heartbeat`]). Dropping the
/// worker's future instead of completing its shutdown aborts the jobs in flight: they
/// run again after orphan recovery.
impl Broker for SqliteBroker {
    fn push<'a>(&'a self, envelope: &'a Envelope) -> BoxFuture<'a, Result<(), BrokerError>> {
        async move {
            let job = StoredJob {
                envelope: envelope.clone(),
                attempt: 1,
                round: 0,
                not_before_ms: None,
            };
            let mut conn = self
                .pool
                .acquire()
                .await
                .map_err(|err| BrokerError::new("apalis-sqlite push failed", err))?;
            push_job(&mut conn, &job).await
        }
        .boxed()
    }

    fn run_worker(
        &self,
        name: String,
        offload: Arc<Offload>,
        shutdown: BoxFuture<'static, ()>,
    ) -> BoxFuture<'static, Result<(), BrokerError>> {
        let worker = worker::Worker {
            pool: self.pool.clone(),
            offload,
            backoff: self.backoff,
            poll_interval: self.poll_interval,
            concurrency: self.concurrency,
            heartbeat: self.heartbeat,
            context: WorkerContext::new(&name),
        };
        worker::run(worker, shutdown).boxed()
    }

    fn dead_letters(&self) -> BoxFuture<'_, Result<Vec<DeadLetter>, BrokerError>> {
        dead::list(&self.pool).boxed()
    }

    fn requeue(&self, delivery_id: DeliveryId) -> BoxFuture<'_, Result<bool, BrokerError>> {
        dead::requeue(&self.pool, delivery_id).boxed()
    }
}

/// Queues `job` under its key, due at its `not_before_ms` (now when none). A job with
/// that key already queued (a retry or requeue written twice) is left as it is.
async fn push_job(
    conn: &mut apalis_sqlite::SqliteConnection,
    job: &StoredJob,
) -> Result<(), BrokerError> {
    let args = serde_json::to_vec(job)
        .map_err(|err| BrokerError::new("a job does not encode as JSON", err))?;
    let run_at = job
        .not_before_ms
        .map(|ms| ms / 1000)
        .unwrap_or_else(|| now_ms() / 1000);
    let task = TaskBuilder::new(args)
        .idempotency_key(job.key())
        .max_attempts(APALIS_ATTEMPTS)
        .run_at_timestamp(run_at)
        .build();
    apalis_sqlite::queries::push_tasks(conn, QUEUE, &[task])
        .await
        .map_err(|err| BrokerError::new("apalis-sqlite push failed", err))
}

/// How long an attempt due at `not_before_ms` (Unix milliseconds) must still wait: apalis
/// hands it out within the second it is due, so at most a second (a clock that moved back
/// does not hold a job longer).
fn due_wait(not_before_ms: u64) -> Duration {
    Duration::from_millis(not_before_ms.saturating_sub(now_ms())).min(Duration::from_secs(1))
}

/// Unix milliseconds now, rounded down (0 if the clock is before 1970).
fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|since| u64::try_from(since.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Unix milliseconds `delay` from now, rounded up: waiting until [`now_ms`] reaches it
/// waits at least `delay`.
fn due_ms(delay: Duration) -> u64 {
    let due = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .saturating_add(delay);
    let ms = due.as_millis() + u128::from(!due.subsec_nanos().is_multiple_of(1_000_000));
    u64::try_from(ms).unwrap_or(u64::MAX)
}
