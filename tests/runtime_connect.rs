//! Runtime receivers: `connect` returns a guard, dropping it disconnects; `dispatch_uid`
//! dedupe per signal and sender; changes during a dispatch take effect on the next one.
//!
//! Design differences from Django, asserted below:
//! * Django's `connect` returns `None` and silently ignores a duplicate `dispatch_uid`;
//!   here `connect_with` fails with `ConnectError::DuplicateDispatchUid` naming the
//!   receiver that holds the id (which stays connected).
//! * Django receivers are weak references that may vanish silently; here a receiver lives
//!   exactly as long as its `Connection` guard (or for ever after `detach`).
//!
//! Every test has its own signal: receivers are global and tests run in parallel.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use signals_core::prelude::*;
use signals_core::{ConnectError, ConnectOptions, Connection, ReceiverInfo, ReceiverKind, Signal};

/// Runs `f` on another thread and fails (instead of hanging) if it does not finish: a
/// deadlock in connect/disconnect during dispatch shows up as a failure.
fn within<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    let handle = std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(Duration::from_secs(20)) {
        Ok(value) => {
            handle.join().unwrap();
            value
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            // The closure panicked: re-raise its panic here.
            std::panic::resume_unwind(handle.join().unwrap_err())
        }
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("deadlock: did not finish within 20s"),
    }
}

fn counter() -> (Arc<AtomicUsize>, Arc<AtomicUsize>) {
    let c = Arc::new(AtomicUsize::new(0));
    (c.clone(), c)
}

// ---------------------------------------------------------------------------------------

#[derive(Signal)]
pub struct Guarded {
    pub n: usize,
}

#[test]
fn dropping_the_guard_disconnects() {
    let (hits, h) = counter();
    let connection = Guarded::connect(move |e: &Guarded| {
        h.fetch_add(e.n, Ordering::SeqCst);
    });
    assert!(Guarded::has_receivers());
    assert_eq!(Guarded { n: 1 }.send().unwrap().receivers(), 1);
    assert_eq!(hits.load(Ordering::SeqCst), 1);

    let info = *connection.receiver();
    assert!(matches!(info.kind(), ReceiverKind::Dynamic { .. }));
    assert_eq!(info.signal(), "Guarded");
    assert_eq!(info.file(), file!());
    assert_eq!(info.priority(), 0);
    assert_eq!(info.dispatch_uid(), None);
    assert_eq!(Guarded::receivers(), [info]);

    drop(connection);
    assert!(!Guarded::has_receivers());
    assert!(Guarded::receivers().is_empty());
    assert_eq!(Guarded { n: 10 }.send().unwrap().receivers(), 0);
    assert_eq!(
        hits.load(Ordering::SeqCst),
        1,
        "not called after the guard was dropped"
    );

    // Connection ids are process-unique.
    let a = Guarded::connect(|_: &Guarded| {});
    let b = Guarded::connect(|_: &Guarded| {});
    assert_ne!(a.receiver().kind(), b.receiver().kind());
}

#[derive(Signal)]
pub struct Disconnectable;

#[test]
fn disconnect_returns_true_once_then_false() {
    let (hits, h) = counter();
    let c = Disconnectable::connect_with(
        ConnectOptions::new().dispatch_uid("d-uid").name("named"),
        move |_: &Disconnectable| {
            h.fetch_add(1, Ordering::SeqCst);
        },
    )
    .unwrap();
    assert_eq!(c.receiver().name(), "named");
    assert_eq!(c.receiver().dispatch_uid(), Some("d-uid"));

    // By uid first, then the guard finds it already gone.
    assert!(Disconnectable::disconnect("d-uid"));
    assert!(!Disconnectable::disconnect("d-uid"));
    Disconnectable.send().unwrap();
    assert_eq!(hits.load(Ordering::SeqCst), 0);
    assert!(!c.disconnect(), "already removed by uid");

    // By guard first, then the uid is free.
    let h2 = hits.clone();
    let c = Disconnectable::connect_with(
        ConnectOptions::new().dispatch_uid("d-uid"),
        move |_: &Disconnectable| {
            h2.fetch_add(1, Ordering::SeqCst);
        },
    )
    .unwrap();
    Disconnectable.send().unwrap();
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    assert!(c.disconnect());
    assert!(!Disconnectable::disconnect("d-uid"));
    Disconnectable.send().unwrap();
    assert_eq!(hits.load(Ordering::SeqCst), 1);

    // Unknown uid, and a uid on a signal with no runtime receivers at all.
    assert!(!Disconnectable::disconnect("never-connected"));
}

#[derive(Signal)]
#[signal(response = &'static str)]
pub struct Unique;

#[test]
fn duplicate_dispatch_uid_is_refused_and_names_the_existing_receiver() {
    let first = Unique::connect_with(
        ConnectOptions::new().dispatch_uid("only-one").name("first"),
        |_: &Unique| "first",
    )
    .unwrap();
    let error = Unique::connect_with(
        ConnectOptions::new()
            .dispatch_uid("only-one")
            .name("second"),
        |_: &Unique| "second",
    )
    .unwrap_err();
    match &error {
        ConnectError::DuplicateDispatchUid {
            dispatch_uid,
            existing,
        } => {
            let existing: &ReceiverInfo = existing;
            assert_eq!(*dispatch_uid, "only-one");
            assert_eq!(existing.name(), "first");
            assert_eq!(*existing, *first.receiver());
        }
        #[allow(unreachable_patterns)]
        other => panic!("unexpected {other:?}"),
    }
    let message = error.to_string();
    assert!(
        message.contains("only-one") && message.contains("first"),
        "{message}"
    );

    // The first stays connected, the second never was.
    assert_eq!(Unique.send().unwrap().into_values(), ["first"]);

    // Without a uid, the same handler can be connected any number of times (unlike Django,
    // which dedupes by the function's identity: closures have none to compare).
    let extra = Unique::connect(|_: &Unique| "no-uid");
    let extra2 = Unique::connect(|_: &Unique| "no-uid");
    assert_eq!(
        Unique.send().unwrap().into_values(),
        ["first", "no-uid", "no-uid"]
    );
    drop((extra, extra2));

    // Once released, the uid can be taken again.
    drop(first);
    let again = Unique::connect_with(
        ConnectOptions::new().dispatch_uid("only-one"),
        |_: &Unique| "again",
    )
    .unwrap();
    assert_eq!(Unique.send().unwrap().into_values(), ["again"]);
    drop(again);
}

// ---------------------------------------------------------------------------------------
// dispatch_uid is per sender.

pub trait Source: 'static {}
pub struct Alpha;
impl Source for Alpha {}
pub struct Beta;
impl Source for Beta {}

#[derive(Signal)]
#[signal(sender = S, response = &'static str)]
pub struct PerSender<'a, S: ?Sized + Source = dyn Source> {
    pub source: &'a S,
}

#[test]
fn dispatch_uid_dedupe_is_per_sender() {
    // Django keys uids by (dispatch_uid, sender) too.
    let a = PerSender::<Alpha>::connect_with(
        ConnectOptions::new().dispatch_uid("audit"),
        |_: &PerSender<'_, Alpha>| "alpha",
    )
    .unwrap();
    let b = PerSender::<Beta>::connect_with(
        ConnectOptions::new().dispatch_uid("audit"),
        |_: &PerSender<'_, Beta>| "beta",
    )
    .unwrap();
    let any = <PerSender>::connect_with(
        ConnectOptions::new().dispatch_uid("audit"),
        |_: &PerSender<'_>| "any",
    )
    .unwrap();
    assert!(
        PerSender::<Alpha>::connect_with(
            ConnectOptions::new().dispatch_uid("audit"),
            |_: &PerSender<'_, Alpha>| "dup"
        )
        .is_err()
    );

    assert_eq!(
        PerSender { source: &Alpha }.send().unwrap().into_values(),
        ["alpha", "any"]
    );
    assert_eq!(
        PerSender { source: &Beta }.send().unwrap().into_values(),
        ["beta", "any"]
    );

    // Disconnecting by uid removes only that sender's receiver.
    assert!(PerSender::<Alpha>::disconnect("audit"));
    assert!(!PerSender::<Alpha>::disconnect("audit"));
    assert_eq!(
        PerSender { source: &Alpha }.send().unwrap().into_values(),
        ["any"]
    );
    assert_eq!(
        PerSender { source: &Beta }.send().unwrap().into_values(),
        ["beta", "any"]
    );
    assert!(<PerSender>::disconnect("audit"));
    assert_eq!(
        PerSender { source: &Beta }.send().unwrap().into_values(),
        ["beta"]
    );

    assert!(!a.disconnect());
    assert!(!any.disconnect());
    assert!(b.disconnect());
    assert!(!<PerSender>::has_receivers_for_any_sender());
}

// ---------------------------------------------------------------------------------------
// A link-time receiver's uid blocks a runtime one.

#[derive(Signal)]
#[signal(response = &'static str)]
pub struct StaticUid;

#[receiver(StaticUid, dispatch_uid = "static-holder")]
fn static_holder(_: &StaticUid) -> &'static str {
    "static"
}

#[test]
fn a_link_time_dispatch_uid_blocks_a_runtime_connect() {
    let error = StaticUid::connect_with(
        ConnectOptions::new().dispatch_uid("static-holder"),
        |_: &StaticUid| "dynamic",
    )
    .unwrap_err();
    let ConnectError::DuplicateDispatchUid { existing, .. } = &error else {
        panic!("{error:?}")
    };
    assert_eq!(existing.kind(), ReceiverKind::Static);
    assert_eq!(existing.name(), "runtime_connect::static_holder");
    assert_eq!(existing.dispatch_uid(), Some("static-holder"));
    assert_eq!(StaticUid.send().unwrap().into_values(), ["static"]);

    // `disconnect` only removes runtime receivers: a link-time one cannot be removed.
    assert!(!StaticUid::disconnect("static-holder"));
    assert_eq!(StaticUid.send().unwrap().into_values(), ["static"]);

    // Another uid is fine.
    let other = StaticUid::connect_with(
        ConnectOptions::new().dispatch_uid("other"),
        |_: &StaticUid| "dynamic",
    )
    .unwrap();
    assert_eq!(
        StaticUid.send().unwrap().into_values(),
        ["static", "dynamic"]
    );
    drop(other);
}

// ---------------------------------------------------------------------------------------
// detach.

#[derive(Signal)]
pub struct Detached;

#[test]
fn detach_keeps_the_receiver_connected() {
    let (hits, h) = counter();
    Detached::connect_with(
        ConnectOptions::new().dispatch_uid("forever"),
        move |_: &Detached| {
            h.fetch_add(1, Ordering::SeqCst);
        },
    )
    .unwrap()
    .detach();
    Detached.send().unwrap();
    Detached.send().unwrap();
    assert_eq!(hits.load(Ordering::SeqCst), 2);
    assert_eq!(Detached::receivers().len(), 1);
    // A detached receiver can still be removed by its uid.
    assert!(Detached::disconnect("forever"));
    Detached.send().unwrap();
    assert_eq!(hits.load(Ordering::SeqCst), 2);
}

// ---------------------------------------------------------------------------------------
// Connecting and disconnecting during a dispatch: each send works on the receivers
// connected when it started (a snapshot). Django computes the live receivers list before
// its loop too, so the semantics match.

#[derive(Signal)]
#[signal(response = &'static str)]
pub struct ConnectInside;

#[test]
fn a_receiver_connected_during_dispatch_runs_from_the_next_send() {
    let out = within(|| {
        let slot: Arc<Mutex<Vec<Connection>>> = Arc::default();
        let s = slot.clone();
        let connector = ConnectInside::connect_with(
            ConnectOptions::new().priority(10),
            move |_: &ConnectInside| {
                // Connects a receiver that would run after this one, if the dispatch saw it.
                let mut slot = s.lock().unwrap();
                if slot.is_empty() {
                    slot.push(ConnectInside::connect(|_: &ConnectInside| "late"));
                }
                "connector"
            },
        )
        .unwrap();
        let first = ConnectInside.send().unwrap().into_values();
        let second = ConnectInside.send().unwrap().into_values();
        drop(connector);
        slot.lock().unwrap().clear();
        (first, second)
    });
    assert_eq!(out.0, ["connector"]);
    assert_eq!(out.1, ["connector", "late"]);
    assert!(!ConnectInside::has_receivers());
}

#[derive(Signal)]
#[signal(response = &'static str)]
pub struct SelfDisconnect;

#[test]
fn a_receiver_disconnecting_itself_during_dispatch_does_not_skip_the_next() {
    let out = within(|| {
        let slot: Arc<Mutex<Option<Connection>>> = Arc::default();
        let s = slot.clone();
        let once = SelfDisconnect::connect_with(
            ConnectOptions::new().priority(2),
            move |_: &SelfDisconnect| {
                if let Some(me) = s.lock().unwrap().take() {
                    assert!(me.disconnect());
                }
                "once"
            },
        )
        .unwrap();
        *slot.lock().unwrap() = Some(once);
        let next = SelfDisconnect::connect_with(
            ConnectOptions::new().priority(1),
            |_: &SelfDisconnect| "next",
        )
        .unwrap();
        let after = SelfDisconnect::connect(|_: &SelfDisconnect| "after");
        let first = SelfDisconnect.send().unwrap().into_values();
        let second = SelfDisconnect.send().unwrap().into_values();
        drop((next, after));
        (first, second)
    });
    assert_eq!(out.0, ["once", "next", "after"]);
    assert_eq!(out.1, ["next", "after"]);
}

#[derive(Signal)]
#[signal(response = &'static str)]
pub struct DisconnectOther;

#[test]
fn disconnecting_another_receiver_during_dispatch_takes_effect_on_the_next_send() {
    let out = within(|| {
        let victim = DisconnectOther::connect_with(
            ConnectOptions::new().dispatch_uid("victim"),
            |_: &DisconnectOther| "victim",
        )
        .unwrap();
        victim.detach();
        let killer = DisconnectOther::connect_with(
            ConnectOptions::new().priority(5),
            |_: &DisconnectOther| {
                DisconnectOther::disconnect("victim");
                "killer"
            },
        )
        .unwrap();
        let first = DisconnectOther.send().unwrap().into_values();
        let second = DisconnectOther.send().unwrap().into_values();
        drop(killer);
        (first, second)
    });
    // Snapshot: the victim was in the list when the send started, so it still runs once.
    assert_eq!(out.0, ["killer", "victim"]);
    assert_eq!(out.1, ["killer"]);
    assert!(!DisconnectOther::has_receivers());
}

#[derive(Signal)]
pub struct Churn;

#[test]
fn connect_and_disconnect_inside_receivers_do_not_deadlock() {
    let total = within(|| {
        let (hits, h) = counter();
        let churner = Churn::connect(move |_: &Churn| {
            // Connect, send (nested), disconnect, from inside a receiver.
            let h = h.clone();
            let inner =
                Churn::connect_with(ConnectOptions::new().priority(-1), move |_: &Churn| {
                    h.fetch_add(1, Ordering::SeqCst);
                })
                .unwrap();
            assert!(inner.disconnect());
        });
        for _ in 0..100 {
            Churn.send().unwrap();
        }
        drop(churner);
        hits.load(Ordering::SeqCst)
    });
    // The inner receiver is connected and removed within one receiver call, never seen by
    // the send that is running.
    assert_eq!(total, 0);
    assert!(!Churn::has_receivers());
}

#[derive(Signal)]
#[signal(response = &'static str)]
pub struct Reused;

#[test]
fn a_stale_guard_does_not_disconnect_a_newer_receiver_with_the_same_uid() {
    let old = Reused::connect_with(
        ConnectOptions::new().dispatch_uid("slot"),
        |_: &Reused| "old",
    )
    .unwrap();
    assert!(Reused::disconnect("slot"));
    let new = Reused::connect_with(
        ConnectOptions::new().dispatch_uid("slot"),
        |_: &Reused| "new",
    )
    .unwrap();
    // The old guard is bound to its own connection, not to the uid.
    assert!(!old.disconnect());
    assert_eq!(Reused.send().unwrap().into_values(), ["new"]);
    drop(new);
    assert!(Reused.send().unwrap().is_empty());
}

mod async_uids {
    use signals_core::prelude::*;
    use signals_core::{ConnectError, ConnectOptions};

    #[derive(Signal)]
    struct Uploaded;

    #[test]
    fn a_dispatch_uid_is_unique_across_sync_and_async_receivers_and_disconnects_either() {
        let async_one = Uploaded::connect_async_with(
            ConnectOptions::new().dispatch_uid("thumbnail"),
            |_: &Uploaded| Box::pin(async {}),
        )
        .unwrap();
        let clash = Uploaded::connect_with(
            ConnectOptions::new().dispatch_uid("thumbnail"),
            |_: &Uploaded| {},
        );
        assert!(matches!(
            clash,
            Err(ConnectError::DuplicateDispatchUid { .. })
        ));
        assert!(
            Uploaded::disconnect("thumbnail"),
            "the async receiver is removed by its uid"
        );
        assert!(Uploaded::receivers().is_empty());
        assert!(!async_one.disconnect(), "already gone");
    }
}
