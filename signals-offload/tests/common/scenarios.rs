//! The broker scenarios every [`Broker`] must pass, generic over where it keeps its jobs
//! ([`Store`]): retries with backoff, dead letters with the last error, unknown receivers,
//! requeueing, a retry surviving a restart, graceful shutdown. `retries.rs` runs them on
//! SQLite files, `postgres.rs` on PostgreSQL databases.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use signals_offload::{
    Backoff, Broker, DEFAULT_CONCURRENCY, DeadLetter, DeadReason, DeliveryId, Envelope, Job,
    Offload, Shutdown,
};
use tokio::sync::Semaphore;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Ping(u32);

/// (delivery id, attempt, when the handler started).
type Runs = Arc<Mutex<Vec<(i64, u32, Instant)>>>;

fn envelope(id: i64, handler: &str, max_attempts: u32) -> Envelope {
    Envelope {
        delivery_id: DeliveryId(id),
        queue: "q".into(),
        handler: handler.into(),
        max_attempts,
        payload: serde_json::json!(7),
    }
}

fn record(runs: &Runs, job: &Job<Ping>) -> Result<(), &'static str> {
    runs.lock()
        .map_err(|_| "poisoned")?
        .push((job.delivery_id.0, job.attempt, Instant::now()));
    Ok(())
}

fn runs_of(runs: &Runs, id: i64) -> Vec<(u32, Instant)> {
    runs.lock()
        .expect("lock")
        .iter()
        .filter(|run| run.0 == id)
        .map(|run| (run.1, run.2))
        .collect()
}

/// Polls `done` every 20 ms; fails the test after 20 s.
async fn wait_until(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Where a scenario's broker keeps its jobs: each [`open`](Store::open) is a new broker
/// handle on the same jobs (as a restarted process would have).
#[allow(async_fn_in_trait)]
pub trait Store {
    type Broker: Broker;

    /// A broker handle with `backoff` whose workers run `concurrency` jobs at once and poll
    /// every 25 ms.
    async fn open(&self, backoff: Backoff, concurrency: usize) -> Self::Broker;
}

pub async fn stop(
    shutdown: &Shutdown,
    worker: tokio::task::JoinHandle<Result<(), signals_offload::BrokerError>>,
) {
    shutdown.request();
    tokio::time::timeout(Duration::from_secs(20), worker)
        .await
        .expect("graceful stop in time")
        .expect("joined")
        .expect("worker stopped cleanly");
}

fn letter(letters: &[DeadLetter], id: i64) -> &DeadLetter {
    letters
        .iter()
        .find(|l| l.envelope.delivery_id == DeliveryId(id))
        .unwrap_or_else(|| panic!("no dead letter for {id}: {letters:?}"))
}

pub async fn retries_then_dead_letters_and_requeues(store: &impl Store) {
    let runs: Runs = Arc::default();
    let fixed = Arc::new(AtomicBool::new(false));
    let mut offload = Offload::new();
    {
        let runs = runs.clone();
        offload
            .register_with::<Ping, _, _, _>("q", "flaky", 5, move |job: Job<Ping>| {
                let recorded = record(&runs, &job);
                async move {
                    recorded?;
                    if job.attempt < 3 {
                        Err("not yet")
                    } else {
                        Ok(())
                    }
                }
            })
            .expect("registered");
    }
    {
        let runs = runs.clone();
        let fixed = fixed.clone();
        offload
            .register_with::<Ping, _, _, _>("q", "broken", 3, move |job: Job<Ping>| {
                let recorded = record(&runs, &job);
                let fixed = fixed.load(Ordering::SeqCst);
                async move {
                    recorded?;
                    if fixed { Ok(()) } else { Err("smtp down") }
                }
            })
            .expect("registered");
    }
    {
        let runs = runs.clone();
        offload
            .register_with::<Ping, _, _, _>("q", "panicky", 2, move |job: Job<Ping>| {
                let recorded = record(&runs, &job);
                async move {
                    recorded?;
                    if job.payload.0 == 7 {
                        panic!("kaboom");
                    }
                    Ok::<(), &'static str>(())
                }
            })
            .expect("registered");
    }
    let offload = Arc::new(offload);
    let backoff = Backoff {
        base: Duration::from_millis(200),
        max: Duration::from_millis(300),
    };
    let broker = store.open(backoff, DEFAULT_CONCURRENCY).await;
    let shutdown = Shutdown::new();
    let worker =
        tokio::spawn(broker.run_worker("retry-worker".into(), offload.clone(), shutdown.signal()));

    broker.push(&envelope(1, "flaky", 5)).await.expect("push");
    broker.push(&envelope(2, "broken", 3)).await.expect("push");
    broker.push(&envelope(3, "nope", 5)).await.expect("push");
    let mut bad_payload = envelope(4, "broken", 3);
    bad_payload.payload = serde_json::json!("seven");
    broker.push(&bad_payload).await.expect("push");
    broker.push(&envelope(5, "panicky", 2)).await.expect("push");

    // flaky: attempts 1, 2, 3, each retry at least its backoff after the attempt before.
    wait_until("flaky to succeed", async || runs_of(&runs, 1).len() >= 3).await;
    let flaky = runs_of(&runs, 1);
    assert_eq!(
        flaky.iter().map(|run| run.0).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    for pair in flaky.windows(2) {
        let gap = pair[1].1 - pair[0].1;
        let backoff_before = backoff.delay(pair[1].0);
        assert!(
            gap >= backoff_before,
            "attempt {} ran {gap:?} after the one before, under its backoff {backoff_before:?}",
            pair[1].0
        );
    }

    // broken: dead after 3 attempts with its last error; nope and the bad payload: dead at
    // once, with the reason; panicky: its panics are failures, dead after 2 attempts.
    let dead = async || broker.dead_letters().await.expect("list");
    wait_until("four dead letters", async || dead().await.len() == 4).await;
    let letters = dead().await;

    let broken = letter(&letters, 2);
    assert_eq!(broken.envelope, envelope(2, "broken", 3), "{broken:?}");
    assert_eq!(broken.attempts, 3);
    assert_eq!(broken.reason, DeadReason::Exhausted);
    assert_eq!(broken.last_error, "handler failed: smtp down");
    assert_eq!(broken.requeues, 0);
    let broken_runs = runs_of(&runs, 2);
    assert_eq!(
        broken_runs.iter().map(|run| run.0).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    for pair in broken_runs.windows(2) {
        assert!(pair[1].1 - pair[0].1 >= backoff.delay(pair[1].0));
    }

    let nope = letter(&letters, 3);
    assert_eq!(nope.attempts, 1, "an unknown receiver is not retried");
    assert_eq!(nope.reason, DeadReason::Permanent);
    assert_eq!(nope.last_error, "unknown receiver `q/nope`");
    assert_eq!(
        (nope.envelope.queue.as_str(), nope.envelope.handler.as_str()),
        ("q", "nope")
    );

    let bad = letter(&letters, 4);
    assert_eq!(bad.attempts, 1);
    assert_eq!(bad.reason, DeadReason::Permanent);
    assert!(
        bad.last_error
            .starts_with("payload does not match the handler's type"),
        "{bad:?}"
    );
    assert_eq!(bad.envelope.payload, serde_json::json!("seven"));
    assert!(
        runs_of(&runs, 4).is_empty(),
        "the handler never saw the bad payload"
    );

    let panicky = letter(&letters, 5);
    assert_eq!(panicky.attempts, 2);
    assert_eq!(panicky.reason, DeadReason::Exhausted);
    assert_eq!(panicky.last_error, "handler panicked: kaboom");

    // Fixed, requeued: a fresh round from attempt 1 runs and leaves the dead letters; the
    // same requeue again, or of an id that is not dead, does nothing.
    fixed.store(true, Ordering::SeqCst);
    assert!(broker.requeue(DeliveryId(2)).await.expect("requeue"));
    assert!(!broker.requeue(DeliveryId(2)).await.expect("requeue twice"));
    assert!(
        !broker
            .requeue(DeliveryId(42))
            .await
            .expect("requeue unknown")
    );
    wait_until("the requeued job to run", async || {
        runs_of(&runs, 2).len() == 4
    })
    .await;
    assert_eq!(
        runs_of(&runs, 2)[3].0,
        1,
        "a requeued delivery starts again at attempt 1"
    );
    wait_until("the requeued job to leave the dead letters", async || {
        dead().await.len() == 3
    })
    .await;
    assert!(
        dead()
            .await
            .iter()
            .all(|l| l.envelope.delivery_id != DeliveryId(2))
    );

    stop(&shutdown, worker).await;
    // Nothing was spun on: flaky ran 3 times, broken 3 + 1, nope and the bad payload never.
    assert_eq!(runs_of(&runs, 1).len(), 3);
    assert_eq!(runs_of(&runs, 2).len(), 4);
    assert_eq!(runs_of(&runs, 5).len(), 2);
}

pub async fn a_retry_due_later_survives_a_worker_restart(store: &impl Store) {
    let runs: Runs = Arc::default();
    let mut offload = Offload::new();
    {
        let runs = runs.clone();
        offload
            .register_with::<Ping, _, _, _>("q", "flaky", 3, move |job: Job<Ping>| {
                let recorded = record(&runs, &job);
                async move {
                    recorded?;
                    if job.attempt < 2 {
                        Err("not yet")
                    } else {
                        Ok(())
                    }
                }
            })
            .expect("registered");
    }
    let offload = Arc::new(offload);
    let backoff = Backoff {
        base: Duration::from_millis(500),
        max: Duration::from_millis(500),
    };
    let broker = store.open(backoff, DEFAULT_CONCURRENCY).await;

    let first = Shutdown::new();
    let worker = tokio::spawn(broker.run_worker("w1".into(), offload.clone(), first.signal()));
    broker.push(&envelope(1, "flaky", 3)).await.expect("push");
    wait_until("attempt 1", async || !runs_of(&runs, 1).is_empty()).await;
    stop(&first, worker).await;

    // The retry is in the store, not in the stopped worker: a new worker (a new broker
    // handle on the same store, under the name the stopped one freed) runs attempt 2,
    // after the backoff.
    let broker = store.open(backoff, DEFAULT_CONCURRENCY).await;
    let second = Shutdown::new();
    let worker = tokio::spawn(broker.run_worker("w1".into(), offload.clone(), second.signal()));
    wait_until("attempt 2", async || runs_of(&runs, 1).len() == 2).await;
    stop(&second, worker).await;
    let flaky = runs_of(&runs, 1);
    assert_eq!(
        flaky.iter().map(|run| run.0).collect::<Vec<_>>(),
        vec![1, 2]
    );
    assert!(flaky[1].1 - flaky[0].1 >= backoff.delay(2));
    assert!(broker.dead_letters().await.expect("list").is_empty());
}

pub async fn graceful_shutdown_finishes_the_job_in_flight_and_starts_no_other(store: &impl Store) {
    let started: Runs = Arc::default();
    let finished: Arc<Mutex<Vec<i64>>> = Arc::default();
    let release = Arc::new(Semaphore::new(0));
    let mut offload = Offload::new();
    {
        let started = started.clone();
        let finished = finished.clone();
        let release = release.clone();
        offload
            .register::<Ping, _, _, _>("q", "slow", move |job: Job<Ping>| {
                let recorded = record(&started, &job);
                let finished = finished.clone();
                let release = release.clone();
                async move {
                    recorded?;
                    if job.delivery_id == DeliveryId(1) {
                        // In flight until the test lets it go.
                        release.acquire().await.map_err(|_| "closed")?.forget();
                    }
                    finished
                        .lock()
                        .map_err(|_| "poisoned")?
                        .push(job.delivery_id.0);
                    Ok::<(), &'static str>(())
                }
            })
            .expect("registered");
    }
    let offload = Arc::new(offload);
    let broker = store.open(Backoff::default(), 1).await;

    let shutdown = Shutdown::new();
    let worker = tokio::spawn(broker.run_worker("w1".into(), offload.clone(), shutdown.signal()));
    broker.push(&envelope(1, "slow", 5)).await.expect("push");
    wait_until("the slow job to start", async || {
        !runs_of(&started, 1).is_empty()
    })
    .await;
    // Queued while the slow job is in flight: this worker runs one job at a time, so it
    // waits (through several polls).
    broker.push(&envelope(2, "slow", 5)).await.expect("push");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        runs_of(&started, 2).is_empty(),
        "a second job started on a worker of concurrency 1"
    );

    shutdown.request();
    // The worker waits for the job in flight: still running after a while...
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !worker.is_finished(),
        "the worker returned with a job in flight"
    );
    // ...and returns once it is done.
    release.add_permits(1);
    tokio::time::timeout(Duration::from_secs(20), worker)
        .await
        .expect("graceful stop in time")
        .expect("joined")
        .expect("worker stopped cleanly");
    assert_eq!(*finished.lock().expect("lock"), vec![1]);
    assert!(
        runs_of(&started, 2).is_empty(),
        "the queued job was started during the shutdown"
    );

    // The queued job was not lost, and the finished one is done: a new worker runs the
    // queued one, and only it.
    let shutdown = Shutdown::new();
    let worker = tokio::spawn(broker.run_worker("w2".into(), offload.clone(), shutdown.signal()));
    wait_until("the queued job to run on the next worker", async || {
        finished.lock().expect("lock").len() == 2
    })
    .await;
    stop(&shutdown, worker).await;
    assert_eq!(*finished.lock().expect("lock"), vec![1, 2]);
    let started = started.lock().expect("lock").clone();
    assert_eq!(
        started.iter().map(|run| (run.0, run.1)).collect::<Vec<_>>(),
        vec![(1, 1), (2, 1)]
    );
}
