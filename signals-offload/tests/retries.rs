//! Retries with backoff, dead letters with the last error, unknown receivers and
//! requeueing, on the apalis-sqlite broker (real SQLite file).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use signals_offload::{
    Backoff, Broker, DeadLetter, DeliveryId, Envelope, Job, Offload, SqliteBroker,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Ping(u32);

fn envelope(id: i64, handler: &str, max_attempts: u32) -> Envelope {
    Envelope {
        delivery_id: DeliveryId(id),
        queue: "q".into(),
        handler: handler.into(),
        max_attempts,
        payload: serde_json::json!(7),
    }
}

async fn wait_until(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "not yet reliable: apalis-sqlite refetches a failed job without the configured backoff, and attempts sometimes stall past 30 s (issue 13 is open)"]
async fn retries_then_dead_letters_and_requeues() {
    let dir = tempfile::tempdir().expect("temp dir");
    let attempts: Arc<Mutex<Vec<(i64, u32, Instant)>>> = Arc::default();
    let fixed = Arc::new(AtomicBool::new(false));
    let mut offload = Offload::new();
    {
        let attempts = attempts.clone();
        offload
            .register_with::<Ping, _, _, _>("q", "flaky", 5, move |job: Job<Ping>| {
                let attempts = attempts.clone();
                async move {
                    attempts.lock().map_err(|_| "poisoned")?.push((
                        job.delivery_id.0,
                        job.attempt,
                        Instant::now(),
                    ));
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
        let fixed = fixed.clone();
        offload
            .register_with::<Ping, _, _, _>("q", "broken", 3, move |_: Job<Ping>| {
                let fixed = fixed.load(Ordering::SeqCst);
                async move { if fixed { Ok(()) } else { Err("smtp down") } }
            })
            .expect("registered");
    }
    let offload = Arc::new(offload);
    let broker = SqliteBroker::open(dir.path().join("broker.db"))
        .await
        .expect("broker")
        .with_backoff(Backoff {
            base: Duration::from_millis(200),
            max: Duration::from_millis(400),
        });
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(broker.run_worker(
        "retry-worker".into(),
        offload.clone(),
        Box::pin(async move {
            let _ = stop_rx.wait_for(|stop| *stop).await;
        }),
    ));

    broker.push(&envelope(1, "flaky", 5)).await.expect("push");
    broker.push(&envelope(2, "broken", 3)).await.expect("push");
    broker.push(&envelope(3, "nope", 5)).await.expect("push");

    // flaky: attempts 1, 2, 3, the retries after the backoff.
    wait_until("flaky to succeed", async || {
        attempts.lock().expect("lock").len() >= 3
    })
    .await;
    let runs = attempts.lock().expect("lock").clone();
    assert_eq!(
        runs.iter().map(|r| (r.0, r.1)).collect::<Vec<_>>(),
        vec![(1, 1), (1, 2), (1, 3)]
    );
    // Not asserted yet: the gaps between attempts (the backoff; measured ~3 ms so far:
    // the worker's pre-retry delay is not effective, see the crate's `Backoff` docs).

    // broken: dead after 3 attempts with its last error; nope: dead at once, with the reason.
    let dead = async || broker.dead_letters().await.expect("list");
    wait_until("two dead letters", async || dead().await.len() == 2).await;
    let letters: Vec<DeadLetter> = dead().await;
    let broken = letters
        .iter()
        .find(|l| l.envelope.delivery_id == DeliveryId(2))
        .expect("broken");
    assert_eq!(broken.attempts, 3);
    assert!(
        broken
            .last_error
            .as_deref()
            .unwrap_or("")
            .contains("smtp down"),
        "{broken:?}"
    );
    let nope = letters
        .iter()
        .find(|l| l.envelope.delivery_id == DeliveryId(3))
        .expect("nope");
    assert!(
        nope.last_error
            .as_deref()
            .unwrap_or("")
            .contains("unknown receiver `q/nope`"),
        "{nope:?}"
    );

    // Fixed, requeued: it runs and leaves the dead letters.
    fixed.store(true, Ordering::SeqCst);
    assert!(broker.requeue(DeliveryId(2)).await.expect("requeue"));
    assert!(
        !broker
            .requeue(DeliveryId(42))
            .await
            .expect("requeue unknown")
    );
    wait_until("the requeued job to run", async || dead().await.len() == 1).await;

    stop_tx.send(true).expect("stop");
    tokio::time::timeout(Duration::from_secs(30), worker)
        .await
        .expect("graceful stop in time")
        .expect("joined")
        .expect("worker stopped cleanly");
}
