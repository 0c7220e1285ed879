//! The broker for many workers on many machines: apalis-postgres' schema (its migrations,
//! in the `apalis` schema) and queries, under the crate's worker loop ([`crate::storage`]:
//! how a delivery moves through it, the job keys, orphan recovery).
//!
//! # How workers share the jobs
//!
//! A fetch is apalis-postgres' `apalis.get_jobs`: one statement that selects due
//! `Pending` jobs `FOR UPDATE SKIP LOCKED` and marks them `Queued`, locked by the fetching
//! worker. Two workers fetching at once never get the same job (the second skips the rows
//! the first has locked, instead of waiting for them), so any number of worker processes,
//! on any machines, can poll one database. A job's outcome and its acknowledgement are one
//! transaction that only succeeds while the job is still locked by that worker.
//!
//! # A worker's name
//!
//! A live worker holds a PostgreSQL advisory lock on its name (`pg_try_advisory_lock`,
//! the key apalis-postgres' registration uses) on a connection of its own, which also
//! sends its heartbeats. A second worker of the same name is refused while the first is
//! alive; the name is free once the worker stops gracefully, or at once when its process
//! dies (the server drops its session and the lock). Jobs left locked by a dead worker are
//! queued again by the next worker of its name when it registers, or by any other worker's
//! heartbeat once the dead one's last heartbeat is two heartbeats old.

use apalis_core::backend::TaskResult;
use apalis_core::task::Task;
use apalis_core::task::builder::TaskBuilder;
use apalis_core::worker::context::WorkerContext;
use apalis_postgres::{Config, PgConnection, PgPool, PostgresStorage, queries};
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection, Postgres};

#[cfg(doc)]
use crate::broker::Broker;
use crate::error::BrokerError;
use crate::storage::dead::DeadLetterSql;
use crate::storage::{self, APALIS_ATTEMPTS, QUEUE, Settings, Storage, StoredJob};

/// The unique index apalis-postgres keeps on `(job_type, idempotency_key)`.
const IDEMPOTENCY_INDEX: &str = "idx_jobs_idempotency_key";

/// Whether a push failed because a job of the same idempotency key is queued already (a
/// relay's second push of a row after a crash): the unique violation of
/// [`IDEMPOTENCY_INDEX`], and no other error.
fn is_queued_already(err: &apalis_postgres::Error) -> bool {
    matches!(
        err,
        apalis_postgres::Error::Database(sqlx::Error::Database(err))
            if err.is_unique_violation() && err.constraint() == Some(IDEMPOTENCY_INDEX)
    )
}

/// The statuses of a job a worker has locked and not finished.
const LOCKED: &str = "SELECT id FROM apalis.jobs \
    WHERE lock_by = $1 AND job_type = $2 AND status IN ('Queued', 'Running')";

/// A [`Broker`] on apalis-postgres: the jobs live in the `apalis` schema of a PostgreSQL
/// database, the dead letters in its `signals_offload_dead_letters` table (the default
/// schema). Workers in any number of processes and machines share the jobs of one
/// database: a fetch locks its jobs with `FOR UPDATE SKIP LOCKED`, so each job goes to one
/// worker (see the crate docs, "Choosing a broker").
///
/// The database may be the application's own (the outbox's): the broker's tables are
/// apart from the business tables, and PostgreSQL locks rows, not the database.
///
/// A worker ([`run_worker`](Broker::run_worker)) runs on the tokio runtime, each job in
/// its own task, and holds its name on a connection of its own (see the module docs).
/// Dropping the worker's future instead of completing its shutdown aborts the jobs in
/// flight and closes that connection: the name is free, and its jobs run again when a
/// worker of that name registers or after orphan recovery.
#[derive(Debug, Clone)]
pub struct PostgresBroker {
    pool: PgPool,
    settings: Settings,
}

impl PostgresBroker {
    /// Connects to the database at `url` (`postgres://user@host:port/db`) with a pool of
    /// 10 connections and sets it up ([`PostgresBroker::from_pool`]).
    pub async fn connect(url: &str) -> Result<PostgresBroker, BrokerError> {
        let pool = PgPoolOptions::new()
            .max_connections(10)
            .connect(url)
            .await
            .map_err(|err| BrokerError::new("cannot connect to the PostgreSQL broker", err))?;
        PostgresBroker::from_pool(pool).await
    }

    /// A broker on `pool` (SeaORM's `DatabaseConnection::get_postgres_connection_pool`
    /// gives the application's): runs apalis-postgres' migrations (the `apalis` schema) and
    /// creates the dead-letter table. Safe to run from several processes at once: the
    /// migrations and the table are created under advisory locks.
    ///
    /// Each running worker also holds one connection of its own, outside the pool.
    pub async fn from_pool(pool: PgPool) -> Result<PostgresBroker, BrokerError> {
        PostgresStorage::migrations()
            .run(&pool)
            .await
            .map_err(|err| BrokerError::new("apalis-postgres migrations failed", err))?;
        let failed = |err| BrokerError::new("cannot create the dead-letter table", err);
        let mut tx = pool.begin().await.map_err(failed)?;
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext('signals_offload_dead_letters'))")
            .execute(&mut *tx)
            .await
            .map_err(failed)?;
        Postgres::create(&mut tx).await?;
        tx.commit().await.map_err(failed)?;
        Ok(PostgresBroker {
            pool,
            settings: Settings::default(),
        })
    }

    /// The broker's pool (for inspection and tests).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    async fn conn(
        &self,
        what: &'static str,
    ) -> Result<sqlx::pool::PoolConnection<Postgres>, BrokerError> {
        self.pool
            .acquire()
            .await
            .map_err(|err| BrokerError::new(what, err))
    }
}

storage::storage_broker!(PostgresBroker);

/// A live worker's own connection: it holds the advisory lock on the worker's name and
/// sends the heartbeats.
#[derive(Debug)]
pub(crate) struct Lease {
    conn: PgConnection,
}

impl Storage for PostgresBroker {
    type Db = Postgres;
    type Lease = Lease;

    fn pool(&self) -> &PgPool {
        &self.pool
    }

    fn settings(&self) -> &Settings {
        &self.settings
    }

    fn push_job<'c>(
        conn: &'c mut PgConnection,
        job: &'c StoredJob,
    ) -> BoxFuture<'c, Result<(), BrokerError>> {
        async move {
            let failed = |err| BrokerError::new("apalis-postgres push failed", err);
            let task = task(job)?;
            // apalis-postgres' insert has no ON CONFLICT: a job of the same key fails it
            // with a unique violation, which would abort the surrounding transaction, so
            // the insert runs in a savepoint (a transaction of its own outside one).
            let mut savepoint = conn.begin().await.map_err(failed)?;
            match queries::push_tasks(&mut *savepoint, QUEUE, vec![task]).await {
                Ok(()) => savepoint.commit().await.map_err(failed),
                Err(err) if is_queued_already(&err) => savepoint.rollback().await.map_err(failed),
                Err(err) => Err(BrokerError::new("apalis-postgres push failed", err)),
            }
        }
        .boxed()
    }

    fn push_jobs<'c>(
        conn: &'c mut PgConnection,
        jobs: &'c [StoredJob],
    ) -> BoxFuture<'c, Result<(), BrokerError>> {
        async move {
            let failed = |err| BrokerError::new("apalis-postgres push failed", err);
            let tasks = jobs.iter().map(task).collect::<Result<Vec<_>, _>>()?;
            // One multi-row insert in a transaction (a savepoint inside one); a job of the
            // batch already queued (a relay's second push after a crash) fails it with a
            // unique violation: then one by one in one transaction, each in a savepoint of
            // its own, skipping the duplicates.
            let mut tx = conn.begin().await.map_err(failed)?;
            match queries::push_tasks(&mut *tx, QUEUE, tasks).await {
                Ok(()) => tx.commit().await.map_err(failed),
                Err(err) if is_queued_already(&err) => {
                    tx.rollback().await.map_err(failed)?;
                    let mut tx = conn.begin().await.map_err(failed)?;
                    for job in jobs {
                        Self::push_job(&mut tx, job).await?;
                    }
                    tx.commit().await.map_err(failed)
                }
                Err(err) => Err(BrokerError::new("apalis-postgres push failed", err)),
            }
        }
        .boxed()
    }

    fn ack<'c>(
        conn: &'c mut PgConnection,
        results: &'c [&'c TaskResult<serde_json::Value>],
        worker: &'c str,
    ) -> BoxFuture<'c, Result<u64, BrokerError>> {
        async move {
            queries::handle_results(conn, results, worker)
                .await
                .map_err(|err| BrokerError::new("cannot acknowledge a job", err))
        }
        .boxed()
    }

    fn register<'a>(
        &'a self,
        worker: &'a WorkerContext,
    ) -> BoxFuture<'a, Result<Lease, BrokerError>> {
        async move {
            let failed = |err| BrokerError::new("cannot register the worker", err);
            let name = worker.name();
            let mut conn = PgConnection::connect_with(&self.pool.connect_options())
                .await
                .map_err(failed)?;
            let (free,): (bool,) = sqlx::query_as("SELECT pg_try_advisory_lock(hashtext($1))")
                .bind(name)
                .fetch_one(&mut conn)
                .await
                .map_err(failed)?;
            if !free {
                return Err(BrokerError::msg(format!(
                    "cannot register worker `{name}`: a live worker has this name"
                )));
            }
            // The name is this worker's now: what a previous run of it left locked is
            // queued again.
            let left: Vec<(String,)> = sqlx::query_as(LOCKED)
                .bind(name)
                .bind(QUEUE)
                .fetch_all(&mut conn)
                .await
                .map_err(failed)?;
            if !left.is_empty() {
                let ids: Vec<String> = left.into_iter().map(|(id,)| id).collect();
                queries::reenqueue_abandoned(&mut conn, QUEUE, name, &ids)
                    .await
                    .map_err(|err| BrokerError::new("cannot register the worker", err))?;
            }
            let now = crate::outbox::now();
            queries::register_worker(&mut conn, QUEUE, worker, &now.into(), "signals_offload")
                .await
                .map_err(|err| BrokerError::new("cannot register the worker", err))?;
            Ok(Lease { conn })
        }
        .boxed()
    }

    fn fetch<'a>(
        &'a self,
        worker: &'a WorkerContext,
        batch: usize,
    ) -> BoxFuture<'a, Result<Vec<Task<Vec<u8>>>, BrokerError>> {
        async move {
            let mut conn = self.conn("cannot fetch jobs").await?;
            let config = Config::default().queue(QUEUE).batch_size(batch.max(1));
            queries::fetch_next(&mut *conn, &config, worker)
                .await
                .map_err(|err| BrokerError::new("cannot fetch jobs", err))
        }
        .boxed()
    }

    fn beat<'a>(
        &'a self,
        lease: &'a mut Lease,
        worker: &'a WorkerContext,
    ) -> BoxFuture<'a, Result<(), BrokerError>> {
        async move {
            let failed = |err| BrokerError::new("heartbeat failed", err);
            queries::keep_alive(&mut lease.conn, QUEUE, worker)
                .await
                .map_err(failed)?;
            queries::reenqueue_orphaned(
                &mut lease.conn,
                QUEUE,
                self.settings.orphaned_after_secs(),
            )
            .await
            .map_err(failed)?;
            Ok(())
        }
        .boxed()
    }

    fn retire<'a>(
        &'a self,
        lease: Lease,
        worker: &'a WorkerContext,
    ) -> BoxFuture<'a, Result<(), BrokerError>> {
        async move {
            let failed = |err| BrokerError::new("cannot retire the worker", err);
            let mut conn = lease.conn;
            sqlx::query("UPDATE apalis.workers SET last_seen = to_timestamp(0) WHERE id = $1")
                .bind(worker.name())
                .execute(&mut conn)
                .await
                .map_err(failed)?;
            // Closing the session releases the advisory lock: the name is free.
            conn.close().await.map_err(failed)
        }
        .boxed()
    }

    fn hand_back<'a>(
        &'a self,
        worker: &'a WorkerContext,
        task_id: String,
    ) -> BoxFuture<'a, Result<(), BrokerError>> {
        async move {
            let mut conn = self.conn("cannot hand a job back").await?;
            queries::reenqueue_abandoned(&mut *conn, QUEUE, worker.name(), &[task_id])
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
