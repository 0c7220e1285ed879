//! The PostgreSQL broker (feature `postgres`) against a real server (`SIGNALS_PG_URL`;
//! `.ci/run` starts one): the scenarios every broker passes (`common/scenarios.rs`: retries,
//! dead letters, requeue, restart, graceful shutdown), each on a database of its own, and
//! what is PostgreSQL's own: pushes deduplicated by delivery id, a worker's name held by
//! one live worker.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::pg::TestDb;
use common::scenarios::{self, Store, stop};
use signals_offload::{
    Backoff, Broker, DeliveryId, Envelope, Job, Offload, PostgresBroker, Shutdown,
};

impl Store for TestDb {
    type Broker = PostgresBroker;

    async fn open(&self, backoff: Backoff, concurrency: usize) -> PostgresBroker {
        self.broker()
            .await
            .with_backoff(backoff)
            .with_concurrency(concurrency)
    }
}

/// Runs `scenario` on a fresh database (dropped after), within 90 s.
async fn on_postgres(tag: &str, scenario: impl AsyncFnOnce(&TestDb)) {
    let Some(db) = TestDb::create(tag).await else {
        return;
    };
    tokio::time::timeout(Duration::from_secs(90), scenario(&db))
        .await
        .unwrap_or_else(|_| panic!("{tag}: not within 90 s"));
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_then_dead_letters_and_requeues() {
    on_postgres("retries", scenarios::retries_then_dead_letters_and_requeues).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_due_later_survives_a_worker_restart() {
    on_postgres(
        "restart",
        scenarios::a_retry_due_later_survives_a_worker_restart,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_finishes_the_job_in_flight_and_starts_no_other() {
    on_postgres(
        "shutdown",
        scenarios::graceful_shutdown_finishes_the_job_in_flight_and_starts_no_other,
    )
    .await;
}

fn envelope(id: i64) -> Envelope {
    Envelope {
        delivery_id: DeliveryId(id),
        queue: "q".into(),
        handler: "h".into(),
        max_attempts: 3,
        payload: serde_json::json!(7),
    }
}

async fn jobs_of(broker: &PostgresBroker) -> Vec<(String, String)> {
    sqlx::query_as("SELECT idempotency_key, status FROM apalis.jobs ORDER BY idempotency_key")
        .fetch_all(broker.pool())
        .await
        .expect("jobs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_pushed_twice_is_queued_and_run_once() {
    on_postgres("dedup", async |db: &TestDb| {
        let broker = db.broker().await;
        // Twice before a worker runs, from two broker handles (a relay that crashed
        // between its push and marking the row relayed, then its restart).
        broker.push(&envelope(1)).await.expect("push");
        db.broker()
            .await
            .push(&envelope(1))
            .await
            .expect("second push is no error");
        assert_eq!(
            jobs_of(&broker).await,
            [("1".to_owned(), "Pending".to_owned())]
        );

        let runs: Arc<Mutex<Vec<(DeliveryId, u32)>>> = Arc::default();
        let mut offload = Offload::new();
        {
            let runs = runs.clone();
            offload
                .register::<u32, _, _, _>("q", "h", move |job: Job<u32>| {
                    let runs = runs.clone();
                    async move {
                        runs.lock()
                            .map_err(|_| "poisoned")?
                            .push((job.delivery_id, job.attempt));
                        Ok::<(), &'static str>(())
                    }
                })
                .expect("registered");
        }
        let shutdown = Shutdown::new();
        let worker =
            tokio::spawn(broker.run_worker("w".into(), Arc::new(offload), shutdown.signal()));
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while jobs_of(&broker).await != [("1".to_owned(), "Done".to_owned())] {
            assert!(
                std::time::Instant::now() < deadline,
                "the job was not done within 20 s"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Pushed again once done (a relay sweep that raced the mark): still nothing queued.
        broker.push(&envelope(1)).await.expect("push after done");
        tokio::time::sleep(Duration::from_millis(200)).await;
        stop(&shutdown, worker).await;
        assert_eq!(*runs.lock().expect("lock"), [(DeliveryId(1), 1)]);
        assert_eq!(
            jobs_of(&broker).await,
            [("1".to_owned(), "Done".to_owned())]
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_with_a_delivery_already_queued_queues_the_others_once() {
    on_postgres("batch", async |db: &TestDb| {
        let broker = db.broker().await;
        // The relay's batch: one multi-row insert.
        broker
            .push_batch(&[envelope(1), envelope(2)])
            .await
            .expect("batch");
        // Again, with 2 already queued (a relay that crashed before marking its batch
        // relayed) and a new one: the insert fails on 2, the fallback queues 3 only.
        broker
            .push_batch(&[envelope(2), envelope(3)])
            .await
            .expect("a batch with a duplicate is no error");
        assert_eq!(
            jobs_of(&broker).await,
            [
                ("1".to_owned(), "Pending".to_owned()),
                ("2".to_owned(), "Pending".to_owned()),
                ("3".to_owned(), "Pending".to_owned()),
            ]
        );
        broker.push_batch(&[]).await.expect("an empty batch");
        assert_eq!(jobs_of(&broker).await.len(), 3);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_is_held_by_one_live_worker_and_freed_by_its_stop() {
    on_postgres("names", async |db: &TestDb| {
        let offload = Arc::new(Offload::new());
        let broker = db.broker().await;
        let first = Shutdown::new();
        let running = tokio::spawn(broker.run_worker("w".into(), offload.clone(), first.signal()));
        // Registered once it has a heartbeat row.
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let (workers,): (i64,) =
                sqlx::query_as("SELECT count(*) FROM apalis.workers WHERE id = 'w'")
                    .fetch_one(broker.pool())
                    .await
                    .expect("workers");
            if workers == 1 {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the worker did not register"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // A second worker of the same name, from another broker handle, is refused.
        let other = db.broker().await;
        let refused = tokio::time::timeout(
            Duration::from_secs(20),
            other.run_worker("w".into(), offload.clone(), Shutdown::new().signal()),
        )
        .await
        .expect("refused at once, not run");
        let err = refused.expect_err("a second live worker of the same name");
        assert!(
            err.to_string().contains("a live worker has this name"),
            "{err}"
        );
        // Once the first stopped, the name is free.
        stop(&first, running).await;
        let again = Shutdown::new();
        let running = tokio::spawn(other.run_worker("w".into(), offload.clone(), again.signal()));
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            !running.is_finished(),
            "the freed name was refused: {:?}",
            running.await
        );
        stop(&again, running).await;
    })
    .await;
}
