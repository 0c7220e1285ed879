//! Fault injection: every delivery promise must hold when user code misbehaves, when a
//! future is dropped midway, and when receivers connect or disconnect during a send.
//!
//! * No deadlock, no user code under a lock: captures whose `Drop` connects, disconnects,
//!   sends or panics (and a closure owning another `Connection` of the same signal).
//! * Disconnected means never called again, also by a delivery already queued.
//! * Robust sends, `commit` and `rollback` never panic because of a `Drop`, and one
//!   delivery's panic never costs another.
//! * Cancellation loses nothing: a dropped `commit_async` future finishes detached.
//! * Lost deliveries are loud: a tracing error, a counter and a meta-signal.
//! * Test scopes decide at queue time.
//!
//! Each test has its own signals, so the tests can run in parallel.

mod support;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use signals_core::meta::{DeliveryLost, LostReason};
use signals_core::prelude::*;
use signals_core::transaction::{self, Transaction};
use signals_core::{ConnectOptions, Connection, Phase};

/// Runs `f` on its own thread and fails (instead of hanging the suite) if it does not
/// return within 10 s.
fn within_10s<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (done, finished) = mpsc::channel();
    std::thread::spawn(move || {
        let value = f();
        let _ = done.send(value);
    });
    finished
        .recv_timeout(Duration::from_secs(10))
        .unwrap_or_else(|_| panic!("{what}: did not return within 10 s (deadlock?)"))
}

/// Runs a closure when dropped: the fault to inject into a receiver's captures.
struct OnDrop<F: FnMut()>(F);
impl<F: FnMut()> Drop for OnDrop<F> {
    fn drop(&mut self) {
        (self.0)()
    }
}

// --- 1. No deadlock, no user code under a lock ------------------------------------------

#[derive(Signal)]
pub struct Nested;

#[test]
fn dropping_a_connection_whose_closure_owns_another_connection_of_the_signal() {
    let calls = within_10s("drop outer connection", || {
        let inner = Nested::connect(|_: &Nested| {});
        let outer = Nested::connect(move |_: &Nested| {
            let _keep = &inner;
        });
        Nested.send().unwrap();
        drop(outer);
        // Both are gone: the inner guard was dropped with the outer closure.
        Nested.send().unwrap().receivers()
    });
    assert_eq!(calls, 0);
}

#[derive(Signal)]
pub struct DropHooks;

static DROP_HOOK_CALLS: AtomicUsize = AtomicUsize::new(0);

#[test]
fn captures_whose_drop_connects_sends_disconnects_or_panics() {
    let (logs, ()) = within_10s("drop hooks", || {
        let ((), logs) = support::capture_logs(|| {
            // Drop connects a receiver of the same signal and detaches it.
            let connects = OnDrop(|| {
                DropHooks::connect(|_: &DropHooks| {
                    DROP_HOOK_CALLS.fetch_add(1, Ordering::SeqCst);
                })
                .detach();
            });
            let c = DropHooks::connect(move |_: &DropHooks| {
                let _ = &connects;
            });
            drop(c);
            assert_eq!(
                DropHooks.send().unwrap().receivers(),
                1,
                "connected from a Drop"
            );

            // Drop sends the same signal.
            let sends = OnDrop(|| {
                DropHooks.send().unwrap();
            });
            let c = DropHooks::connect(move |_: &DropHooks| {
                let _ = &sends;
            });
            drop(c);

            // Drop disconnects another receiver by dispatch_uid.
            DropHooks::connect_with(
                ConnectOptions::new().dispatch_uid("victim"),
                |_: &DropHooks| {},
            )
            .unwrap()
            .detach();
            let disconnects = OnDrop(|| {
                assert!(DropHooks::disconnect("victim"));
            });
            let c = DropHooks::connect(move |_: &DropHooks| {
                let _ = &disconnects;
            });
            drop(c);

            // Drop panics: the disconnect still completes and does not unwind into us.
            let panics = OnDrop(|| panic!("capture drop panicked"));
            let c = DropHooks::connect(move |_: &DropHooks| {
                let _ = &panics;
            });
            let dropped = catch_unwind(AssertUnwindSafe(|| drop(c)));
            assert!(
                dropped.is_ok(),
                "a panicking capture must not unwind out of the guard"
            );
        });
        (logs, ())
    });
    // Before the send from Drop and after: the receiver connected in the first Drop ran twice.
    assert_eq!(DROP_HOOK_CALLS.load(Ordering::SeqCst), 2);
    assert_eq!(DropHooks.send().unwrap().receivers(), 1);
    let panic_log = logs
        .iter()
        .find(|e| {
            e.level == tracing::Level::ERROR
                && e.fields
                    .values()
                    .any(|v| v.contains("capture drop panicked"))
        })
        .unwrap_or_else(|| panic!("the caught panic is logged: {logs:#?}"));
    assert!(
        panic_log.field("signal").contains("DropHooks"),
        "{panic_log:?}"
    );
}

// --- 2. Disconnected means never called again --------------------------------------------

#[derive(Signal)]
pub struct Queued<'a> {
    pub id: &'a u32,
}

fn queue_one(id: u32) {
    transaction::send_owned::<Queued, _>(id, |id: &u32| Queued { id }).unwrap();
}

#[test]
fn a_receiver_disconnected_before_the_commit_is_not_delivered() {
    let calls = Arc::new(AtomicUsize::new(0));
    let (c1, c2, c3) = (calls.clone(), calls.clone(), calls.clone());
    let by_guard = Queued::connect_with(
        ConnectOptions::new().on(Phase::Commit),
        move |_: &Queued<'_>| {
            c1.fetch_add(1, Ordering::SeqCst);
        },
    )
    .unwrap();
    let by_disconnect = Queued::connect_with(
        ConnectOptions::new().on(Phase::Completion),
        move |_: &Queued<'_>| {
            c2.fetch_add(1, Ordering::SeqCst);
        },
    )
    .unwrap();
    Queued::connect_with(
        ConnectOptions::new()
            .on(Phase::Commit)
            .dispatch_uid("by-uid"),
        move |_: &Queued<'_>| {
            c3.fetch_add(1, Ordering::SeqCst);
        },
    )
    .unwrap()
    .detach();

    let tx = Transaction::begin();
    tx.run(|| queue_one(1));
    assert_eq!(tx.queued(), 3);
    drop(by_guard);
    assert!(by_disconnect.disconnect());
    assert!(Queued::disconnect("by-uid"));
    let failures = tx.commit();
    assert!(failures.is_empty(), "{failures:?}");
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "disconnected receivers ran at the commit"
    );
}

#[derive(Signal)]
pub struct QueuedAsync<'a> {
    pub id: &'a u32,
}

#[tokio::test]
async fn an_async_receiver_disconnected_before_commit_async_is_not_delivered() {
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let guard = QueuedAsync::connect_async_with(
        ConnectOptions::new().on(Phase::Commit),
        move |_: &QueuedAsync<'_>| {
            let c = c.clone();
            Box::pin(async move {
                c.fetch_add(1, Ordering::SeqCst);
            })
        },
    )
    .unwrap();
    let tx = Transaction::begin();
    tx.run_async(async {
        transaction::send_owned_async::<QueuedAsync, _>(7u32, |id: &u32| QueuedAsync { id })
            .await
            .unwrap();
    })
    .await;
    drop(guard);
    assert!(tx.commit_async().await.is_empty());
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

// --- 3. Robust means robust --------------------------------------------------------------

#[derive(Signal)]
pub struct Robust;

#[test]
fn a_robust_send_that_frees_a_receiver_whose_capture_panics_in_drop_does_not_panic() {
    // `victim`'s capture panics when dropped. `killer` (running first) drops victim's guard
    // during the send: the send's own snapshot is then the last owner of the closure, and
    // frees it when the send ends.
    let victim_slot: Arc<Mutex<Option<Connection>>> = Arc::new(Mutex::new(None));
    let slot = victim_slot.clone();
    let _killer = Robust::connect_with(ConnectOptions::new().priority(10), move |_: &Robust| {
        drop(slot.lock().unwrap().take());
    })
    .unwrap();
    let bomb = OnDrop(|| panic!("victim capture dropped"));
    *victim_slot.lock().unwrap() = Some(Robust::connect(move |_: &Robust| {
        let _ = &bomb;
    }));

    let report = catch_unwind(AssertUnwindSafe(|| Robust.send_robust()));
    let report = report.expect("send_robust panicked because of a capture's Drop");
    assert!(report.is_ok(), "{:?}", report.failures());
    assert_eq!(
        Robust.send().unwrap().receivers(),
        1,
        "only the killer is left"
    );
}

#[derive(Signal)]
pub struct RobustAsync;

#[tokio::test]
async fn a_robust_async_send_that_frees_a_panicking_capture_does_not_panic() {
    use futures_util::FutureExt;
    let victim_slot: Arc<Mutex<Option<Connection>>> = Arc::new(Mutex::new(None));
    let slot = victim_slot.clone();
    let _killer = RobustAsync::connect_with(
        ConnectOptions::new().priority(10),
        move |_: &RobustAsync| {
            drop(slot.lock().unwrap().take());
        },
    )
    .unwrap();
    let bomb = OnDrop(|| panic!("victim capture dropped"));
    *victim_slot.lock().unwrap() = Some(RobustAsync::connect(move |_: &RobustAsync| {
        let _ = &bomb;
    }));
    let report = AssertUnwindSafe(RobustAsync.send_async_robust())
        .catch_unwind()
        .await
        .expect("send_async_robust panicked because of a capture's Drop");
    assert!(report.is_ok(), "{:?}", report.failures());
}

/// An owned payload whose `Drop` panics.
struct Explosive {
    id: u32,
}
impl Drop for Explosive {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            panic!("payload {} dropped", self.id);
        }
    }
}

#[derive(Signal)]
pub struct Boom<'a> {
    pub id: &'a u32,
}

static BOOM_LOG: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn boom_receivers() -> Vec<Connection> {
    let on = |phase: Phase, name: &'static str| {
        Boom::connect_with(
            ConnectOptions::new().on(phase).name(name),
            move |e: &Boom<'_>| {
                BOOM_LOG.lock().unwrap().push(format!("{name} {}", e.id));
            },
        )
        .unwrap()
    };
    vec![on(Phase::Rollback, "rollback"), on(Phase::Commit, "commit")]
}

fn send_explosive(id: u32) {
    transaction::send_owned::<Boom, _>(Explosive { id }, |e: &Explosive| Boom { id: &e.id })
        .unwrap();
}

#[test]
fn commit_and_rollback_never_panic_because_of_a_payload_drop() {
    let _receivers = boom_receivers();
    // Committed: the skipped Rollback deliveries' payloads are dropped; every Commit
    // delivery still runs.
    let tx = Transaction::begin();
    tx.run(|| {
        send_explosive(1);
        send_explosive(2);
    });
    let failures = catch_unwind(AssertUnwindSafe(|| tx.commit())).expect("commit panicked");
    assert!(failures.is_empty(), "{failures:?}");
    // Rolled back: the same for the skipped Commit deliveries.
    let tx = Transaction::begin();
    tx.run(|| send_explosive(3));
    let failures = catch_unwind(AssertUnwindSafe(|| tx.rollback())).expect("rollback panicked");
    assert!(failures.is_empty(), "{failures:?}");
    // A rolled-back savepoint drops what it queued, without panicking either.
    let tx = Transaction::begin();
    tx.run(|| {
        send_explosive(4);
        let savepoint = transaction::savepoint().unwrap();
        send_explosive(5);
        catch_unwind(AssertUnwindSafe(|| savepoint.rollback()))
            .expect("savepoint rollback panicked");
    });
    let failures = catch_unwind(AssertUnwindSafe(|| tx.commit())).expect("commit panicked");
    assert!(failures.is_empty(), "{failures:?}");
    assert_eq!(
        *BOOM_LOG.lock().unwrap(),
        ["commit 1", "commit 2", "rollback 3", "commit 4"]
    );
}

#[derive(Signal)]
pub struct OneOfMany<'a> {
    pub id: &'a u32,
}

#[tokio::test]
async fn one_deliverys_panic_never_costs_another() {
    let ran = Arc::new(Mutex::new(Vec::new()));
    let mut guards = Vec::new();
    for n in 0..4u32 {
        let ran = ran.clone();
        guards.push(
            OneOfMany::connect_with(
                ConnectOptions::new()
                    .on(Phase::Commit)
                    .priority(-(n as i32)),
                move |e: &OneOfMany<'_>| {
                    if n % 2 == 0 {
                        panic!("receiver {n} panicked on {}", e.id);
                    }
                    ran.lock().unwrap().push((n, *e.id));
                },
            )
            .unwrap(),
        );
    }
    let tx = Transaction::begin();
    tx.run(|| {
        for id in 0..2u32 {
            transaction::send_owned::<OneOfMany, _>(id, |id: &u32| OneOfMany { id }).unwrap();
        }
    });
    let failures = tx.commit_async().await;
    assert_eq!(failures.len(), 4, "{failures:?}");
    assert_eq!(*ran.lock().unwrap(), [(1, 0), (3, 0), (1, 1), (3, 1)]);
}

// --- 4. Cancellation loses nothing -------------------------------------------------------

#[derive(Signal)]
pub struct Slow<'a> {
    pub id: &'a u32,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_async_dropped_midway_finishes_every_delivery_exactly_once() {
    let done: Arc<Mutex<Vec<u32>>> = Arc::new(Mutex::new(Vec::new()));
    let started = Arc::new(tokio::sync::Notify::new());
    let (d, s) = (done.clone(), started.clone());
    let _receiver = Slow::connect_async_with(
        ConnectOptions::new().on(Phase::Commit),
        move |e: &Slow<'_>| {
            let (d, s, id) = (d.clone(), s.clone(), *e.id);
            Box::pin(async move {
                s.notify_one();
                tokio::time::sleep(Duration::from_millis(10)).await;
                d.lock().unwrap().push(id);
            })
        },
    )
    .unwrap();
    let tx = Transaction::begin();
    tx.run(|| {
        for id in 0..10u32 {
            transaction::send_owned::<Slow, _>(id, |id: &u32| Slow { id }).unwrap();
        }
    });
    // Drop the commit future while the first delivery is in flight.
    let commit = tx.commit_async();
    tokio::select! {
        _ = commit => panic!("the commit should still be running"),
        _ = started.notified() => {}
    }
    // Every delivery finishes, detached from the dropped future, each exactly once.
    for _ in 0..500 {
        if done.lock().unwrap().len() >= 10 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(*done.lock().unwrap(), (0..10).collect::<Vec<_>>());
}

#[derive(Signal)]
pub struct SlowTimeout<'a> {
    pub id: &'a u32,
}

#[tokio::test]
async fn a_timeout_around_commit_async_loses_nothing() {
    let done = Arc::new(AtomicUsize::new(0));
    let d = done.clone();
    let _receiver = SlowTimeout::connect_async_with(
        ConnectOptions::new().on(Phase::Commit),
        move |_: &SlowTimeout<'_>| {
            let d = d.clone();
            Box::pin(async move {
                tokio::time::sleep(Duration::from_millis(5)).await;
                d.fetch_add(1, Ordering::SeqCst);
            })
        },
    )
    .unwrap();
    let tx = Transaction::begin();
    tx.run(|| {
        for id in 0..10u32 {
            transaction::send_owned::<SlowTimeout, _>(id, |id: &u32| SlowTimeout { id }).unwrap();
        }
    });
    let timed_out = tokio::time::timeout(Duration::from_millis(12), tx.commit_async()).await;
    assert!(timed_out.is_err(), "the deliveries take ~50 ms");
    for _ in 0..500 {
        if done.load(Ordering::SeqCst) >= 10 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(done.load(Ordering::SeqCst), 10);
}

#[derive(Signal)]
pub struct Abandoned<'a> {
    pub id: &'a u32,
}

#[test]
fn a_transaction_dropped_unfinished_reports_each_lost_delivery() {
    let heard = Arc::new(Mutex::new(Vec::new()));
    let h = heard.clone();
    let _lost_watch = <DeliveryLost>::connect(move |e: &DeliveryLost<'_>| {
        if e.receiver.signal() == "Abandoned" {
            h.lock().unwrap().push((e.receiver.name(), e.reason));
        }
    });
    let _receiver = Abandoned::connect_with(
        ConnectOptions::new()
            .on(Phase::Commit)
            .name("abandoned_commit"),
        |_: &Abandoned<'_>| -> () { panic!("must not run") },
    )
    .unwrap();
    let before = transaction::lost_deliveries();
    let ((), logs) = support::capture_logs(|| {
        let tx = Transaction::begin();
        tx.run(|| {
            transaction::send_owned::<Abandoned, _>(1u32, |id: &u32| Abandoned { id }).unwrap();
        });
        drop(tx);
    });
    assert!(transaction::lost_deliveries() > before);
    assert_eq!(
        *heard.lock().unwrap(),
        [("abandoned_commit", LostReason::Unfinished)]
    );
    let error = logs
        .iter()
        .find(|e| e.level == tracing::Level::ERROR && e.target == "signals_core::transaction")
        .unwrap_or_else(|| panic!("no error logged: {logs:#?}"));
    assert_eq!(error.field("signal"), "Abandoned");
    assert_eq!(error.field("receiver"), "abandoned_commit");
}

// --- 5. Test scopes decide at queue time -------------------------------------------------

#[cfg(test)]
mod scopes {
    use super::*;
    use signals_core::testing::Scope;

    #[derive(Signal)]
    pub struct Muted<'a> {
        pub id: &'a u32,
    }

    static MUTED_RAN: AtomicUsize = AtomicUsize::new(0);

    #[receiver(Muted, on = Commit)]
    fn muted_on_commit(e: &Muted<'_>) {
        assert!(*e.id > 0);
        MUTED_RAN.fetch_add(1, Ordering::SeqCst);
    }

    #[test]
    fn a_receiver_muted_when_queued_stays_muted_at_a_later_commit() {
        let tx = Transaction::begin();
        let scope = Scope::new().mute("muted_on_commit");
        scope.run(|| {
            tx.run(|| {
                transaction::send_owned::<Muted, _>(1u32, |id: &u32| Muted { id }).unwrap();
            })
        });
        drop(scope);
        assert!(tx.commit().is_empty());
        assert_eq!(MUTED_RAN.load(Ordering::SeqCst), 0, "muted at queue time");

        // Not muted when queued, committed inside a muting scope: it runs.
        let tx = Transaction::begin();
        tx.run(|| {
            transaction::send_owned::<Muted, _>(2u32, |id: &u32| Muted { id }).unwrap();
        });
        let scope = Scope::new().mute("muted_on_commit");
        assert!(scope.run(|| tx.commit()).is_empty());
        assert_eq!(MUTED_RAN.load(Ordering::SeqCst), 1, "decided at queue time");
    }
}

#[derive(Signal)]
pub struct Stranded<'a> {
    pub id: &'a u32,
}

/// The documented last resort: a commit future dropped midway detaches onto the current
/// runtime; if that runtime shuts down before the detached run finishes, each delivery it
/// still held is reported lost (`LostReason::Cancelled`), never dropped silently.
#[test]
fn a_detached_run_cut_short_by_a_runtime_shutdown_reports_what_it_held() {
    let heard = Arc::new(Mutex::new(Vec::new()));
    let h = heard.clone();
    let _watch = <DeliveryLost>::connect(move |e: &DeliveryLost<'_>| {
        if e.receiver.signal() == "Stranded" {
            h.lock().unwrap().push(e.reason);
        }
    });
    let _receiver = Stranded::connect_async_with(
        ConnectOptions::new().on(Phase::Commit),
        |_: &Stranded<'_>| Box::pin(std::future::pending::<()>()),
    )
    .unwrap();
    let tx = Transaction::begin();
    tx.run(|| {
        for id in 0..3u32 {
            transaction::send_owned::<Stranded, _>(id, |id: &u32| Stranded { id }).unwrap();
        }
    });
    let before = transaction::lost_deliveries();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        // The first delivery never finishes: the timeout drops the commit future and its
        // rest is spawned on this runtime.
        let timed_out = tokio::time::timeout(Duration::from_millis(20), tx.commit_async()).await;
        assert!(timed_out.is_err());
    });
    assert!(heard.lock().unwrap().is_empty(), "still running, detached");
    drop(runtime); // shuts down: the detached task is dropped
    assert_eq!(*heard.lock().unwrap(), [LostReason::Cancelled; 3]);
    assert!(transaction::lost_deliveries() >= before + 3);
}
