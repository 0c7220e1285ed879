//! The embedded broker: apalis-sqlite on its own SQLite file.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use apalis::prelude::*;
use apalis_sqlite::{Config, SqliteConnectOptions, SqlitePool, SqlitePoolOptions, SqliteStorage};
use futures_util::FutureExt;
use futures_util::future::BoxFuture;

use crate::broker::Broker;
use crate::error::BrokerError;
use crate::job::Envelope;
use crate::registry::Offload;

/// The apalis queue name the jobs of this crate use.
pub const QUEUE: &str = "signals_offload";

/// A [`Broker`] on apalis-sqlite: the jobs live in a SQLite file (WAL mode), apart from the
/// application's database, so a busy queue does not lock the business tables.
#[derive(Debug, Clone)]
pub struct SqliteBroker {
    pool: SqlitePool,
}

impl SqliteBroker {
    /// Opens (creating it if needed) the broker database at `path` and runs apalis-sqlite's
    /// migrations. WAL and `synchronous = NORMAL` are set on every connection (apalis'
    /// own `setup()` sets `synchronous = OFF` on one connection only, so it is not used).
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
        Ok(SqliteBroker { pool })
    }

    /// The broker's pool (for inspection and tests).
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    fn storage(&self) -> SqliteStorage<Envelope> {
        SqliteStorage::new(&self.pool).with_config(Config::default().queue(QUEUE))
    }
}

impl Broker for SqliteBroker {
    fn push<'a>(&'a self, envelope: &'a Envelope) -> BoxFuture<'a, Result<(), BrokerError>> {
        async move {
            let task = TaskBuilder::new(envelope.clone())
                .idempotency_key(envelope.delivery_id.to_string())
                .max_attempts(envelope.max_attempts as usize)
                .build();
            let mut storage = self.storage();
            storage
                .push_task(task)
                .await
                .map_err(|err| BrokerError::new("apalis-sqlite push failed", err))
        }
        .boxed()
    }

    fn run_worker(
        &self,
        name: String,
        offload: Arc<Offload>,
        shutdown: BoxFuture<'static, ()>,
    ) -> BoxFuture<'static, Result<(), BrokerError>> {
        let storage = self.storage();
        async move {
            let worker = WorkerBuilder::new(name)
                .backend(storage)
                .data(offload)
                .build(run_job);
            worker
                .run_until(async move {
                    shutdown.await;
                    Ok::<(), WorkerError>(())
                })
                .await
                .map_err(|err| BrokerError::new("apalis worker failed", err))
        }
        .boxed()
    }
}

async fn run_job(
    envelope: Envelope,
    attempt: Attempt,
    offload: Data<Arc<Offload>>,
) -> Result<(), BoxDynError> {
    let attempt = u32::try_from(attempt.current()).unwrap_or(u32::MAX);
    offload
        .dispatch(envelope, attempt)
        .await
        .map_err(|err| Box::new(err) as BoxDynError)
}
