//! The embedded broker: apalis-sqlite's schema and queries on their own SQLite file, under
//! the crate's worker loop ([`crate::storage`]: how a delivery moves through it, the job
//! keys, orphan recovery).
//!
//! The worker fetches every [`poll_interval`](SqliteBroker::with_poll_interval) when idle
//! (nothing tells it of a job another connection pushed), and as slots free up when busy.
//! A worker's name is its row in apalis' `Workers` table: taken while its heartbeat is
//! fresh, freed at once by a graceful stop.

use std::path::Path;
use std::time::Duration;

use apalis_core::backend::{TaskResult, WorkerFilter};
use apalis_core::task::Task;
use apalis_core::task::builder::TaskBuilder;
use apalis_core::worker::context::WorkerContext;
use apalis_sqlite::{
    Config, SqliteConnectOptions, SqliteConnection, SqlitePool, SqlitePoolOptions, SqliteStorage,
    queries,
};
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use sqlx::{Connection, Sqlite};

#[cfg(doc)]
use crate::broker::Broker;
use crate::error::BrokerError;
use crate::storage::dead::DeadLetterSql;
use crate::storage::{self, APALIS_ATTEMPTS, QUEUE, Settings, Storage, StoredJob};

/// A [`Broker`] on apalis-sqlite: the jobs live in a SQLite file (WAL mode), apart from the
/// application's database, so a busy queue does not lock the business tables. The dead
/// letters are the `signals_offload_dead_letters` table of the same file.
///
/// One machine: the workers of every process that opens the file share its jobs, but
/// SQLite has one writer at a time. For workers on several machines, see `PostgresBroker`
/// (feature `postgres`).
///
/// A worker ([`run_worker`](Broker::run_worker)) runs on the tokio runtime, each job in
/// its own task. A name is taken while its worker runs; a worker that stopped gracefully
/// frees it at once, one that crashed once its heartbeat has lapsed
/// ([`SqliteBroker::with_heartbeat`]). Dropping the worker's future instead of completing
/// its shutdown aborts the jobs in flight: they run again after orphan recovery.
#[derive(Debug, Clone)]
pub struct SqliteBroker {
    pool: SqlitePool,
    settings: Settings,
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
        let mut conn = pool
            .acquire()
            .await
            .map_err(|err| BrokerError::new("cannot open the SQLite broker database", err))?;
        Sqlite::create(&mut conn).await?;
        drop(conn);
        Ok(SqliteBroker {
            pool,
            settings: Settings::default(),
        })
    }

    /// The broker's pool (for inspection and tests).
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    fn config(&self, batch: usize) -> Config {
        Config::default()
            .queue(QUEUE)
            .heartbeat_interval(self.settings.heartbeat)
            .batch_size(batch.max(1))
    }
}

storage::storage_broker!(SqliteBroker);

impl Storage for SqliteBroker {
    type Db = Sqlite;
    /// A name is held by the worker's fresh heartbeat in the `Workers` row.
    type Lease = ();

    fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    fn settings(&self) -> &Settings {
        &self.settings
    }

    fn push_job<'c>(
        conn: &'c mut SqliteConnection,
        job: &'c StoredJob,
    ) -> BoxFuture<'c, Result<(), BrokerError>> {
        async move {
            let task = task(job)?;
            // apalis-sqlite's insert is `ON CONFLICT (job_type, idempotency_key) DO NOTHING`.
            queries::push_tasks(conn, QUEUE, &[task])
                .await
                .map_err(|err| BrokerError::new("apalis-sqlite push failed", err))
        }
        .boxed()
    }

    fn push_jobs<'c>(
        conn: &'c mut SqliteConnection,
        jobs: &'c [StoredJob],
    ) -> BoxFuture<'c, Result<(), BrokerError>> {
        async move {
            let failed = |err| BrokerError::new("apalis-sqlite push failed", err);
            let tasks = jobs.iter().map(task).collect::<Result<Vec<_>, _>>()?;
            let mut tx = conn.begin().await.map_err(failed)?;
            queries::push_tasks(&mut *tx, QUEUE, &tasks)
                .await
                .map_err(|err| BrokerError::new("apalis-sqlite push failed", err))?;
            tx.commit().await.map_err(failed)
        }
        .boxed()
    }

    fn ack<'c>(
        conn: &'c mut SqliteConnection,
        results: &'c [&'c TaskResult<serde_json::Value>],
        worker: &'c str,
    ) -> BoxFuture<'c, Result<u64, BrokerError>> {
        async move {
            queries::ack_tasks(conn, results, worker)
                .await
                .map_err(|err| BrokerError::new("cannot acknowledge a job", err))
        }
        .boxed()
    }

    fn register<'a>(&'a self, worker: &'a WorkerContext) -> BoxFuture<'a, Result<(), BrokerError>> {
        async move {
            let failed = |err| BrokerError::new("cannot register the worker", err);
            let mut tx = self.pool.begin().await.map_err(failed)?;
            queries::reenqueue_orphaned(
                &mut *tx,
                secs(self.settings.heartbeat),
                QUEUE,
                &WorkerFilter::Only(worker.name().to_owned()),
            )
            .await
            .map_err(failed)?;
            queries::register_worker(&mut *tx, &self.config(1), worker, "signals_offload")
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
        .boxed()
    }

    fn fetch<'a>(
        &'a self,
        worker: &'a WorkerContext,
        batch: usize,
    ) -> BoxFuture<'a, Result<Vec<Task<Vec<u8>>>, BrokerError>> {
        async move {
            let failed = |err| BrokerError::new("cannot fetch jobs", err);
            let mut tx = self.pool.begin().await.map_err(failed)?;
            let tasks = queries::fetch_next(&mut *tx, &self.config(batch), worker)
                .await
                .map_err(|err| BrokerError::new("cannot fetch jobs", err))?;
            tx.commit().await.map_err(failed)?;
            Ok(tasks)
        }
        .boxed()
    }

    fn beat<'a>(
        &'a self,
        (): &'a mut (),
        worker: &'a WorkerContext,
    ) -> BoxFuture<'a, Result<(), BrokerError>> {
        async move {
            let failed = |err| BrokerError::new("heartbeat failed", err);
            let mut tx = self.pool.begin().await.map_err(failed)?;
            queries::keep_alive(&mut *tx, &self.config(1), worker)
                .await
                .map_err(failed)?;
            queries::reenqueue_orphaned(
                &mut *tx,
                i64::try_from(self.settings.orphaned_after_secs()).unwrap_or(i64::MAX),
                QUEUE,
                &WorkerFilter::AllExcept(worker.name().to_owned()),
            )
            .await
            .map_err(failed)?;
            tx.commit().await.map_err(failed)
        }
        .boxed()
    }

    fn retire<'a>(
        &'a self,
        (): (),
        worker: &'a WorkerContext,
    ) -> BoxFuture<'a, Result<(), BrokerError>> {
        async move {
            sqlx::query("UPDATE Workers SET last_seen = 0 WHERE id = ?1")
                .bind(worker.name())
                .execute(&self.pool)
                .await
                .map_err(|err| BrokerError::new("cannot retire the worker", err))?;
            Ok(())
        }
        .boxed()
    }

    fn hand_back<'a>(
        &'a self,
        worker: &'a WorkerContext,
        task_id: String,
    ) -> BoxFuture<'a, Result<(), BrokerError>> {
        async move {
            queries::reenqueue_abandoned(&self.pool, QUEUE, worker.name(), &vec![task_id])
                .await
                .map_err(|err| BrokerError::new("cannot hand a job back", err))?;
            Ok(())
        }
        .boxed()
    }
}

/// The apalis task of `job`: its JSON, keyed, due at its time.
fn task(job: &StoredJob) -> Result<Task<Vec<u8>>, BrokerError> {
    Ok(TaskBuilder::new(job.encode()?)
        .idempotency_key(job.key())
        .max_attempts(APALIS_ATTEMPTS)
        .run_at_timestamp(job.run_at_secs())
        .build())
}

fn secs(duration: Duration) -> i64 {
    i64::try_from(duration.as_secs()).unwrap_or(i64::MAX)
}
