//! Async receivers and async sends (Django's `asend` / `asend_robust`), with our differences:
//! sync and async receivers run in one defined order (Django groups sync before async),
//! and a sync `send` that would reach async receivers fails loudly instead of blocking.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use signals_core::prelude::*;
use signals_core::{Concurrency, ReceiverError, SendError};

#[derive(Debug, thiserror::Error)]
#[error("mail server down")]
struct MailError;

// --- Ordering: sync and async receivers interleaved by priority -------------------------

static ORDER: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());

#[derive(Signal)]
struct Mixed<'a> {
    tag: &'a str,
}

#[receiver(Mixed, priority = 30)]
fn mixed_sync_first(_: &Mixed<'_>) {
    ORDER.lock().unwrap().push("sync-30");
}

#[receiver(Mixed, priority = 20)]
async fn mixed_async_second(event: &Mixed<'_>) {
    tokio::task::yield_now().await;
    assert_eq!(event.tag, "t");
    ORDER.lock().unwrap().push("async-20");
}

#[receiver(Mixed, priority = 10)]
fn mixed_sync_third(_: &Mixed<'_>) {
    ORDER.lock().unwrap().push("sync-10");
}

#[receiver(Mixed, priority = 0)]
async fn mixed_async_last(_: &Mixed<'_>) -> Result<(), MailError> {
    ORDER.lock().unwrap().push("async-0");
    Ok(())
}

#[tokio::test(flavor = "current_thread")]
async fn async_send_keeps_the_one_defined_order_and_refuses_sync_send() {
    let delivered = Mixed { tag: "t" }.send_async().await.unwrap();
    assert_eq!(delivered.receivers(), 4);
    assert_eq!(
        *ORDER.lock().unwrap(),
        ["sync-30", "async-20", "sync-10", "async-0"]
    );

    // A sync send never blocks on a future and never skips one: nothing runs.
    ORDER.lock().unwrap().clear();
    let err = Mixed { tag: "t" }.send().unwrap_err();
    match &err {
        SendError::AsyncReceivers {
            signal, receivers, ..
        } => {
            assert_eq!(*signal, "Mixed");
            let names: Vec<_> = receivers
                .iter()
                .map(|r| r.name().rsplit("::").next().unwrap())
                .collect();
            assert_eq!(names, ["mixed_async_second", "mixed_async_last"]);
            assert!(receivers.iter().all(|r| r.is_async()));
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(err.to_string().contains("mixed_async_second"), "{err}");
    assert!(ORDER.lock().unwrap().is_empty(), "nothing ran");

    // send_robust runs the sync receivers and reports each async one.
    let report = Mixed { tag: "t" }.send_robust();
    assert_eq!(report.responses().receivers(), 2);
    assert_eq!(report.failures().len(), 2);
    assert!(matches!(
        report.failures()[0].error,
        ReceiverError::AsyncInSyncSend
    ));
    assert_eq!(*ORDER.lock().unwrap(), ["sync-30", "sync-10"]);
}

#[test]
fn sync_send_outside_any_runtime_also_refuses_async_receivers() {
    assert!(matches!(
        Mixed { tag: "t" }.send(),
        Err(SendError::AsyncReceivers { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_send_inside_a_multi_thread_runtime_errors_instead_of_deadlocking() {
    let result = tokio::task::spawn_blocking(|| Mixed { tag: "t" }.send().map(|_| ()))
        .await
        .unwrap();
    assert!(matches!(result, Err(SendError::AsyncReceivers { .. })));
}

// --- Errors: first error stops, with identity --------------------------------------------

static AFTER_FAILURE: AtomicUsize = AtomicUsize::new(0);

#[derive(Signal)]
struct Signup<'a> {
    email: &'a str,
}

#[receiver(Signup, priority = 1)]
async fn send_welcome(event: &Signup<'_>) -> Result<(), MailError> {
    if event.email.ends_with("@down.example") {
        Err(MailError)
    } else {
        Ok(())
    }
}

#[receiver(Signup)]
async fn after_welcome(_: &Signup<'_>) {
    AFTER_FAILURE.fetch_add(1, Ordering::SeqCst);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_async_error_stops_the_send_and_names_the_receiver() {
    let before = AFTER_FAILURE.load(Ordering::SeqCst);
    let err = Signup {
        email: "ada@down.example",
    }
    .send_async()
    .await
    .unwrap_err();
    assert!(err.receiver().unwrap().name().ends_with("send_welcome"));
    assert!(err.downcast_ref::<MailError>().is_some());
    assert_eq!(
        AFTER_FAILURE.load(Ordering::SeqCst),
        before,
        "later receivers did not run"
    );

    let report = Signup {
        email: "ada@down.example",
    }
    .send_async_robust()
    .await;
    assert_eq!(report.failures().len(), 1);
    assert_eq!(report.responses().receivers(), 1);
    assert_eq!(AFTER_FAILURE.load(Ordering::SeqCst), before + 1);
}

// --- Concurrency: overlap, and robust catches async panics -------------------------------

static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);
static MAX_IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);

#[derive(Signal)]
#[signal(concurrent)]
struct Slow;

async fn slow_work() {
    let now = IN_FLIGHT.fetch_add(1, Ordering::SeqCst) + 1;
    MAX_IN_FLIGHT.fetch_max(now, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(30)).await;
    IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
}

#[receiver(Slow)]
async fn slow_a(_: &Slow) {
    slow_work().await;
}

#[receiver(Slow)]
async fn slow_b(_: &Slow) {
    slow_work().await;
}

#[tokio::test(flavor = "current_thread")]
async fn concurrent_signal_overlaps_async_receivers_and_sequential_does_not() {
    MAX_IN_FLIGHT.store(0, Ordering::SeqCst);
    assert_eq!(Slow.send_async().await.unwrap().receivers(), 2);
    assert_eq!(
        MAX_IN_FLIGHT.load(Ordering::SeqCst),
        2,
        "#[signal(concurrent)] overlaps"
    );

    MAX_IN_FLIGHT.store(0, Ordering::SeqCst);
    Slow.send_async_in(Concurrency::Sequential).await.unwrap();
    assert_eq!(
        MAX_IN_FLIGHT.load(Ordering::SeqCst),
        1,
        "per-send override runs one at a time"
    );
}

#[derive(Signal)]
#[signal(response = u32)]
struct Vote;

#[receiver(Vote, priority = 2)]
async fn vote_panics(_: &Vote) -> u32 {
    tokio::task::yield_now().await;
    panic!("async receiver exploded")
}

#[receiver(Vote, priority = 1)]
async fn vote_slow(_: &Vote) -> u32 {
    tokio::time::sleep(Duration::from_millis(5)).await;
    7
}

#[receiver(Vote)]
fn vote_sync(_: &Vote) -> u32 {
    3
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_robust_send_catches_panics_and_keeps_dispatch_order() {
    let report = Vote.send_async_robust_in(Concurrency::Concurrent).await;
    assert_eq!(
        report.responses().values().copied().collect::<Vec<_>>(),
        [7, 3],
        "responses in dispatch order"
    );
    assert_eq!(report.failures().len(), 1);
    let failure = &report.failures()[0];
    assert!(failure.receiver.name().ends_with("vote_panics"));
    assert_eq!(failure.position, 0);
    assert!(
        matches!(&failure.error, ReceiverError::Panicked { message } if message == "async receiver exploded")
    );
}

// --- Runtime async connections, Send futures, cancellation --------------------------------

#[derive(Signal)]
struct Job<'a> {
    id: &'a u32,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_async_receives_and_sends_are_send_across_threads() {
    static SEEN: AtomicUsize = AtomicUsize::new(0);
    let connection = Job::connect_async(|event: &Job<'_>| {
        Box::pin(async move {
            tokio::task::yield_now().await;
            SEEN.fetch_add(*event.id as usize, Ordering::SeqCst);
        })
    });
    // The send future is Send: it can be spawned on the multi-thread runtime.
    let handle = tokio::spawn(async {
        let id = 5;
        Job { id: &id }.send_async().await.map(|d| d.receivers())
    });
    assert_eq!(handle.await.unwrap().unwrap(), 1);
    assert_eq!(SEEN.load(Ordering::SeqCst), 5);
    assert!(connection.receiver().is_async());
    drop(connection);
    let id = 1;
    assert_eq!(Job { id: &id }.send_async().await.unwrap().receivers(), 0);
}

static STARTED: AtomicUsize = AtomicUsize::new(0);
static FINISHED: AtomicUsize = AtomicUsize::new(0);

#[derive(Signal)]
struct Cancelled;

#[receiver(Cancelled, priority = 1)]
fn cancelled_sync(_: &Cancelled) {
    STARTED.fetch_add(1, Ordering::SeqCst);
}

#[receiver(Cancelled)]
async fn cancelled_slow(_: &Cancelled) {
    STARTED.fetch_add(1, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(10)).await;
    FINISHED.fetch_add(1, Ordering::SeqCst);
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn dropping_an_async_send_midway_leaves_the_registry_usable() {
    let timed_out = tokio::time::timeout(Duration::from_millis(10), Cancelled.send_async()).await;
    assert!(timed_out.is_err(), "the send was cancelled");
    assert_eq!(
        STARTED.load(Ordering::SeqCst),
        2,
        "the sync receiver and the async one had started"
    );
    assert_eq!(
        FINISHED.load(Ordering::SeqCst),
        0,
        "the async one was dropped at its .await"
    );
    // The registry is intact: the next send runs both again.
    Cancelled.send_async().await.unwrap();
    assert_eq!(FINISHED.load(Ordering::SeqCst), 1);
}
