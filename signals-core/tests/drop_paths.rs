//! The paths that free user data (a runtime receiver's closure and what it captured, a
//! deferred delivery's payload, a future cut short), with faults injected into their
//! `Drop`. Small enough to run under Miri (`cargo +nightly miri test -p signals-core`),
//! which checks that the erased closures are freed exactly once, on whichever path frees
//! them, and that nothing is left leaked.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::task::{Context, Poll, Waker};

use signals_core::transaction::{self, Transaction};
use signals_core::{ConnectOptions, Connection, Phase, Signal};

/// Counts its drops, and panics in `Drop` when asked to.
struct Tracked {
    drops: Arc<AtomicUsize>,
    panic: bool,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
        if self.panic {
            panic!("injected Drop panic");
        }
    }
}

fn tracked(panic: bool) -> (Tracked, Arc<AtomicUsize>) {
    let drops = Arc::new(AtomicUsize::new(0));
    (
        Tracked {
            drops: drops.clone(),
            panic,
        },
        drops,
    )
}

#[derive(Signal)]
struct Freed;

#[test]
fn a_closure_freed_by_a_robust_send_after_its_disconnect_is_dropped_once_and_never_unwinds() {
    let (bomb, drops) = tracked(true);
    let victim: Arc<Mutex<Option<Connection>>> = Arc::new(Mutex::new(None));
    let slot = victim.clone();
    let killer = Freed::connect_with(ConnectOptions::new().priority(1), move |_: &Freed| {
        drop(slot.lock().unwrap().take());
    })
    .unwrap();
    *victim.lock().unwrap() = Some(Freed::connect(move |_: &Freed| {
        let _ = &bomb;
    }));
    let report = catch_unwind(AssertUnwindSafe(|| Freed.send_robust())).expect("no unwind");
    assert!(report.is_ok());
    assert_eq!(drops.load(Ordering::SeqCst), 1, "freed exactly once");
    drop(killer);
    assert_eq!(Freed.send().unwrap().receivers(), 0);
}

#[derive(Signal)]
struct Owner;

#[test]
fn a_closure_owning_a_connection_of_its_own_signal_is_freed_without_deadlock() {
    let (inner_capture, inner_drops) = tracked(false);
    let inner = Owner::connect(move |_: &Owner| {
        let _ = &inner_capture;
    });
    let outer = Owner::connect(move |_: &Owner| {
        let _ = &inner;
    });
    assert_eq!(Owner.send().unwrap().receivers(), 2);
    drop(outer);
    assert_eq!(inner_drops.load(Ordering::SeqCst), 1);
    assert_eq!(Owner.send().unwrap().receivers(), 0);
}

#[derive(Signal)]
struct Refused;

#[test]
fn a_closure_refused_for_its_dispatch_uid_is_freed_once() {
    let first =
        Refused::connect_with(ConnectOptions::new().dispatch_uid("one"), |_: &Refused| {}).unwrap();
    let (capture, drops) = tracked(false);
    let refused = Refused::connect_with(
        ConnectOptions::new().dispatch_uid("one"),
        move |_: &Refused| {
            let _ = &capture;
        },
    );
    assert!(refused.is_err());
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    drop(first);
}

#[derive(Signal)]
struct Deferred<'a> {
    n: &'a u32,
}

struct Payload {
    n: u32,
    _tracked: Tracked,
}

fn queue(n: u32, panic: bool) -> Arc<AtomicUsize> {
    let (t, drops) = tracked(panic);
    transaction::send_owned::<Deferred, _>(Payload { n, _tracked: t }, |p: &Payload| Deferred {
        n: &p.n,
    })
    .unwrap();
    drops
}

#[test]
fn payloads_are_dropped_once_on_every_path_and_their_panics_are_caught() {
    let ran = Arc::new(Mutex::new(Vec::new()));
    let r = ran.clone();
    let _commit = Deferred::connect_with(
        ConnectOptions::new().on(Phase::Commit),
        move |e: &Deferred<'_>| r.lock().unwrap().push(*e.n),
    )
    .unwrap();
    // Run, skipped, savepoint-dropped and abandoned payloads, each panicking on drop.
    let tx = Transaction::begin();
    let (delivered, in_savepoint) = tx.run(|| {
        let delivered = queue(1, true);
        let savepoint = transaction::savepoint().unwrap();
        let in_savepoint = queue(2, true);
        savepoint.rollback();
        (delivered, in_savepoint)
    });
    assert_eq!(
        in_savepoint.load(Ordering::SeqCst),
        1,
        "dropped at the rollback"
    );
    let failures = catch_unwind(AssertUnwindSafe(|| tx.commit())).expect("no unwind");
    assert!(failures.is_empty(), "{failures:?}");
    assert_eq!(delivered.load(Ordering::SeqCst), 1);

    let tx = Transaction::begin();
    let skipped = tx.run(|| queue(3, true));
    assert!(tx.rollback().is_empty());
    assert_eq!(skipped.load(Ordering::SeqCst), 1, "dropped, not run");

    let tx = Transaction::begin();
    let abandoned = tx.run(|| queue(4, false));
    let lost = transaction::lost_deliveries();
    drop(tx);
    assert_eq!(abandoned.load(Ordering::SeqCst), 1);
    assert!(transaction::lost_deliveries() > lost);
    assert_eq!(*ran.lock().unwrap(), [1]);
}

/// Pending once, then ready: a receiver caught midway.
struct YieldOnce(bool);
impl Future for YieldOnce {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

#[derive(Signal)]
struct Detached<'a> {
    n: &'a u32,
}

#[test]
fn a_commit_future_dropped_midway_finishes_on_a_thread_of_its_own() {
    let (done, finished) = mpsc::channel();
    let done = Mutex::new(done);
    let _receiver = Detached::connect_async_with(
        ConnectOptions::new().on(Phase::Commit),
        move |e: &Detached<'_>| {
            let (n, done) = (*e.n, done.lock().unwrap().clone());
            Box::pin(async move {
                YieldOnce(false).await;
                done.send(n).unwrap();
            })
        },
    )
    .unwrap();
    let tx = Transaction::begin();
    tx.run(|| {
        for n in 0..3u32 {
            transaction::send_owned::<Detached, _>(n, |n: &u32| Detached { n }).unwrap();
        }
    });
    let mut commit = Box::pin(tx.commit_async());
    let mut cx = Context::from_waker(Waker::noop());
    assert!(
        commit.as_mut().poll(&mut cx).is_pending(),
        "the first one is in flight"
    );
    drop(commit);
    let mut got: Vec<u32> = (0..3).map(|_| finished.recv().unwrap()).collect();
    got.sort_unstable();
    assert_eq!(got, [0, 1, 2]);
}
