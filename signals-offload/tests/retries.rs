//! Retries with backoff, dead letters with the last error, unknown receivers, requeueing
//! and graceful shutdown, on the apalis-sqlite broker (real SQLite files): the shared
//! scenarios (`common/scenarios.rs`), each on a file of its own.

mod common;

use std::time::Duration;

use common::scenarios::{self, Store};
use signals_offload::{Backoff, SqliteBroker};

/// A broker file in a temporary directory.
struct SqliteFile(tempfile::TempDir);

impl SqliteFile {
    fn new() -> SqliteFile {
        SqliteFile(tempfile::tempdir().expect("temp dir"))
    }
}

impl Store for SqliteFile {
    type Broker = SqliteBroker;

    async fn open(&self, backoff: Backoff, concurrency: usize) -> SqliteBroker {
        SqliteBroker::open(self.0.path().join("broker.db"))
            .await
            .expect("broker")
            .with_backoff(backoff)
            .with_concurrency(concurrency)
            .with_poll_interval(Duration::from_millis(25))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_then_dead_letters_and_requeues() {
    scenarios::retries_then_dead_letters_and_requeues(&SqliteFile::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_due_later_survives_a_worker_restart() {
    scenarios::a_retry_due_later_survives_a_worker_restart(&SqliteFile::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_finishes_the_job_in_flight_and_starts_no_other() {
    scenarios::graceful_shutdown_finishes_the_job_in_flight_and_starts_no_other(&SqliteFile::new())
        .await;
}
