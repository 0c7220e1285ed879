//! `send`, `send_with`, responses, nested sends and concurrent sends.
//!
//! `send_robust` (panics and logging) lives in `send_robust.rs`, its own test binary,
//! because it installs a panic hook.
//!
//! Every test has its own signal: receivers are global and tests run in parallel.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};

use signals_core::prelude::*;
use signals_core::{ConnectOptions, Delivered, ReceiverKind, SendError, Signal};

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("rejected with code {code}")]
pub struct Rejected {
    pub code: u32,
}

#[derive(Debug, thiserror::Error)]
#[error("some other error")]
pub struct Other;

// ---------------------------------------------------------------------------------------
// send stops at the first error.

#[derive(Signal)]
pub struct Checked<'a> {
    pub log: &'a Mutex<Vec<&'static str>>,
}

#[receiver(Checked, priority = 3)]
fn before(e: &Checked<'_>) {
    e.log.lock().unwrap().push("before");
}

#[receiver(Checked, priority = 2)]
fn failing(e: &Checked<'_>) -> Result<(), Rejected> {
    e.log.lock().unwrap().push("failing");
    Err(Rejected { code: 7 })
}

#[receiver(Checked, priority = 1)]
fn after(e: &Checked<'_>) {
    e.log.lock().unwrap().push("after");
}

#[test]
fn send_stops_at_the_first_error_and_names_the_receiver() {
    let log = Mutex::new(Vec::new());
    let error = Checked { log: &log }.send().unwrap_err();

    // The receivers before the failing one ran, the ones after did not (Django's `send`).
    assert_eq!(*log.lock().unwrap(), ["before", "failing"]);

    let receiver = error.receiver().unwrap();
    assert_eq!(receiver.name(), "send_semantics::failing");
    assert_eq!(receiver.priority(), 2);
    assert_eq!(receiver.kind(), ReceiverKind::Static);
    assert!(receiver.file().ends_with("send_semantics.rs"));
    assert_eq!(
        error.downcast_ref::<Rejected>(),
        Some(&Rejected { code: 7 })
    );
    assert!(error.downcast_ref::<Other>().is_none());

    // The receiver's error is the `source()`; the message names the receiver and location.
    let source = std::error::Error::source(&error).expect("the receiver's error is the source");
    assert_eq!(source.to_string(), "rejected with code 7");
    let message = error.to_string();
    assert!(message.contains("send_semantics::failing"), "{message}");
    assert!(
        message.contains(&format!("{}:{}", receiver.file(), receiver.line())),
        "{message}"
    );
    let SendError::Receiver { receiver: r, .. } = &error else {
        unreachable!()
    };
    assert_eq!(**r, *receiver);

    // A runtime receiver that fails earlier stops the send before the link-time one.
    let early = Checked::connect_with(
        ConnectOptions::new().priority(5).name("early"),
        |e: &Checked<'_>| {
            e.log.lock().unwrap().push("early");
            Err::<(), _>(Other)
        },
    )
    .unwrap();
    let log = Mutex::new(Vec::new());
    let error = Checked { log: &log }.send().unwrap_err();
    assert_eq!(*log.lock().unwrap(), ["early"]);
    assert_eq!(error.receiver().unwrap().name(), "early");
    assert!(matches!(
        error.receiver().unwrap().kind(),
        ReceiverKind::Dynamic { .. }
    ));
    assert!(error.downcast_ref::<Other>().is_some());
    drop(early);
}

// ---------------------------------------------------------------------------------------
// Responses.

#[derive(Signal)]
#[signal(response = String)]
pub struct Render<'a> {
    pub name: &'a str,
}

#[receiver(Render, priority = 1)]
fn greet(e: &Render<'_>) -> String {
    format!("hello {}", e.name)
}

#[receiver(Render)]
fn shout(e: &Render<'_>) -> Result<String, Rejected> {
    Ok(e.name.to_uppercase())
}

#[test]
fn responses_are_collected_in_order_with_their_receivers() {
    let dynamic = Render::connect_with(
        ConnectOptions::new().priority(-1).name("len"),
        |e: &Render<'_>| e.name.len().to_string(),
    )
    .unwrap();

    let responses = Render { name: "ada" }.send().unwrap();
    assert_eq!(responses.len(), 3);
    assert!(!responses.is_empty());
    let pairs: Vec<(&str, &str)> = responses
        .iter()
        .map(|r| (r.receiver.name(), r.value.as_str()))
        .collect();
    assert_eq!(
        pairs,
        [
            ("send_semantics::greet", "hello ada"),
            ("send_semantics::shout", "ADA"),
            ("len", "3")
        ]
    );
    assert_eq!(
        responses.values().cloned().collect::<Vec<_>>(),
        ["hello ada", "ADA", "3"]
    );
    assert_eq!(
        responses.iter().last().unwrap().receiver,
        *dynamic.receiver()
    );
    let owned: Vec<String> = responses.clone().into_iter().map(|r| r.value).collect();
    assert_eq!(owned, responses.into_values());
    drop(dynamic);

    assert_eq!(
        Render { name: "x" }.send().unwrap().into_values(),
        ["hello x", "X"]
    );
}

#[derive(Signal)]
pub struct Counted;

#[receiver(Counted)]
fn counted_a(_: &Counted) {}

#[receiver(Counted)]
fn counted_b(_: &Counted) -> Result<(), Rejected> {
    Ok(())
}

#[derive(Signal)]
pub struct NobodyListens;

#[test]
fn unit_signals_return_how_many_receivers_ran() {
    let delivered: Delivered = Counted.send().unwrap();
    assert_eq!(delivered.receivers(), 2);
    let c = Counted::connect(|_: &Counted| {});
    assert_eq!(Counted.send().unwrap().receivers(), 3);
    drop(c);
    assert_eq!(Counted.send().unwrap(), delivered);

    assert_eq!(NobodyListens.send().unwrap().receivers(), 0);
    assert_eq!(
        NobodyListens
            .send_with(|_, ()| panic!("no receiver"))
            .unwrap(),
        0
    );
}

// ---------------------------------------------------------------------------------------
// send_with hands each response to a sink.

#[derive(Signal)]
#[signal(response = u32)]
pub struct Sunk {
    pub fail: bool,
}

#[receiver(Sunk, priority = 2)]
fn sunk_one(_: &Sunk) -> u32 {
    1
}

#[receiver(Sunk, priority = 1)]
fn sunk_maybe(e: &Sunk) -> Result<u32, Rejected> {
    if e.fail {
        Err(Rejected { code: 2 })
    } else {
        Ok(2)
    }
}

#[receiver(Sunk)]
fn sunk_three(_: &Sunk) -> u32 {
    3
}

#[test]
fn send_with_hands_each_response_to_the_sink_in_order() {
    let mut seen = Vec::new();
    let ran = Sunk { fail: false }
        .send_with(|info, value| seen.push((info.name(), value)))
        .unwrap();
    assert_eq!(ran, 3);
    assert_eq!(
        seen,
        [
            ("send_semantics::sunk_one", 1),
            ("send_semantics::sunk_maybe", 2),
            ("send_semantics::sunk_three", 3)
        ]
    );

    // On an error, the sink has seen the responses before it, and nothing after.
    let mut seen = Vec::new();
    let error = Sunk { fail: true }
        .send_with(|_, value| seen.push(value))
        .unwrap_err();
    assert_eq!(seen, [1]);
    assert_eq!(
        error.receiver().unwrap().name(),
        "send_semantics::sunk_maybe"
    );
    assert_eq!(error.downcast_ref::<Rejected>().map(|r| r.code), Some(2));
}

// ---------------------------------------------------------------------------------------
// Nested sends.

#[derive(Signal)]
#[signal(response = usize)]
pub struct Outer;

#[derive(Signal)]
pub struct Inner<'a> {
    pub trail: &'a Mutex<Vec<&'static str>>,
}

static TRAIL: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());

#[receiver(Outer)]
fn outer_sends_inner(_: &Outer) -> Result<usize, SendError> {
    TRAIL.lock().unwrap().push("outer:start");
    let delivered = Inner { trail: &TRAIL }.send()?;
    TRAIL.lock().unwrap().push("outer:end");
    Ok(delivered.receivers())
}

#[receiver(Inner)]
fn inner_one(e: &Inner<'_>) {
    e.trail.lock().unwrap().push("inner:one");
}

#[receiver(Inner)]
fn inner_two(e: &Inner<'_>) {
    e.trail.lock().unwrap().push("inner:two");
}

#[test]
fn a_receiver_can_send_another_signal() {
    assert_eq!(Outer.send().unwrap().into_values(), [2]);
    assert_eq!(
        *TRAIL.lock().unwrap(),
        ["outer:start", "inner:one", "inner:two", "outer:end"]
    );
    TRAIL.lock().unwrap().clear();

    // An inner error surfaces as the outer receiver's error, both receivers named.
    let fail = Inner::connect_with(
        ConnectOptions::new().priority(10).name("inner-fail"),
        |_: &Inner<'_>| Err::<(), _>(Rejected { code: 99 }),
    )
    .unwrap();
    let error = Outer.send().unwrap_err();
    assert_eq!(
        error.receiver().unwrap().name(),
        "send_semantics::outer_sends_inner"
    );
    let inner = error
        .downcast_ref::<SendError>()
        .expect("the inner SendError is the source");
    assert_eq!(inner.receiver().unwrap().name(), "inner-fail");
    assert_eq!(inner.downcast_ref::<Rejected>().map(|r| r.code), Some(99));
    assert_eq!(*TRAIL.lock().unwrap(), ["outer:start"]);
    drop(fail);
}

#[derive(Signal)]
#[signal(response = u32)]
pub struct Depth {
    pub depth: u32,
}

static DEPTH_CALLS: AtomicUsize = AtomicUsize::new(0);

/// Sends the same signal again, one level deeper, until depth 5: re-entrant dispatch.
#[receiver(Depth, priority = 1)]
fn recurse(e: &Depth) -> Result<u32, SendError> {
    DEPTH_CALLS.fetch_add(1, Ordering::SeqCst);
    if e.depth >= 5 {
        return Ok(e.depth);
    }
    let deeper = Depth { depth: e.depth + 1 }.send()?.into_values();
    Ok(deeper[0] * 10 + e.depth)
}

#[test]
fn a_receiver_can_send_the_same_signal_recursively() {
    // 5*10+4 = 54, *10+3 = 543, ... down to depth 0.
    assert_eq!(Depth { depth: 0 }.send().unwrap().into_values(), [543210]);
    assert_eq!(DEPTH_CALLS.load(Ordering::SeqCst), 6);

    // With a runtime receiver too, every level holds a snapshot of the runtime list while
    // the next level loads its own; each level runs both receivers once.
    let levels = Arc::new(Mutex::new(Vec::new()));
    let l = levels.clone();
    let dynamic = Depth::connect(move |e: &Depth| {
        l.lock().unwrap().push(e.depth);
        e.depth
    });
    let top = Depth { depth: 0 }.send().unwrap().into_values();
    assert_eq!(top, [543210, 0]);
    assert_eq!(DEPTH_CALLS.load(Ordering::SeqCst), 12);
    // Innermost first: a level's runtime receiver runs after its recursion returned.
    assert_eq!(*levels.lock().unwrap(), [5, 4, 3, 2, 1, 0]);
    drop(dynamic);
}

/// Deliberately deep recursion: above the default depth limit of 32, so it says so.
#[derive(Signal)]
#[signal(response = u32, max_depth = 256)]
pub struct DeepRuntime {
    pub depth: u32,
}

#[test]
fn runtime_receivers_can_recurse_deeply() {
    // Deeper than any fixed per-thread fast path for snapshots: 200 nested sends, each
    // holding its snapshot of the runtime list while the next one loads.
    const MAX: u32 = 200;
    let c = DeepRuntime::connect(|e: &DeepRuntime| -> Result<u32, SendError> {
        if e.depth == MAX {
            return Ok(0);
        }
        let below = DeepRuntime { depth: e.depth + 1 }.send()?.into_values();
        Ok(below[0] + 1)
    });
    assert_eq!(
        DeepRuntime { depth: 0 }.send().unwrap().into_values(),
        [MAX]
    );
    drop(c);
}

// ---------------------------------------------------------------------------------------
// Concurrency.

#[derive(Signal)]
pub struct Hammer {
    pub n: u64,
}

static HAMMER_A: AtomicU64 = AtomicU64::new(0);
static HAMMER_B: AtomicU64 = AtomicU64::new(0);

#[receiver(Hammer, priority = 1)]
fn hammer_a(e: &Hammer) {
    HAMMER_A.fetch_add(e.n, Ordering::Relaxed);
}

#[receiver(Hammer, priority = -1)]
fn hammer_b(e: &Hammer) {
    HAMMER_B.fetch_add(e.n, Ordering::Relaxed);
}

#[test]
fn concurrent_sends_while_receivers_connect_and_disconnect() {
    const THREADS: usize = 8;
    const SENDS: u64 = 1000;
    let stop = Arc::new(AtomicBool::new(false));
    let dynamic_hits = Arc::new(AtomicU64::new(0));
    let churns = Arc::new(AtomicU64::new(0));

    let churner = {
        let (stop, hits, churns) = (stop.clone(), dynamic_hits.clone(), churns.clone());
        std::thread::spawn(move || {
            let mut round = 0i32;
            while !stop.load(Ordering::Relaxed) {
                let hits = hits.clone();
                let c = Hammer::connect_with(
                    ConnectOptions::new().priority(round % 3 - 1),
                    move |e: &Hammer| {
                        hits.fetch_add(e.n, Ordering::Relaxed);
                    },
                )
                .unwrap();
                std::thread::yield_now();
                drop(c);
                round += 1;
                churns.fetch_add(1, Ordering::Relaxed);
            }
        })
    };

    let start = Arc::new(Barrier::new(THREADS));
    let senders: Vec<_> = (0..THREADS)
        .map(|_| {
            let start = start.clone();
            std::thread::spawn(move || {
                start.wait();
                let mut with_dynamic = 0u64;
                for _ in 0..SENDS {
                    let ran = Hammer { n: 1 }.send().unwrap().receivers();
                    assert!(ran == 2 || ran == 3, "ran {ran} receivers");
                    with_dynamic += (ran == 3) as u64;
                }
                with_dynamic
            })
        })
        .collect();
    let with_dynamic: u64 = senders.into_iter().map(|t| t.join().unwrap()).sum();
    stop.store(true, Ordering::Relaxed);
    churner.join().unwrap();

    let total = THREADS as u64 * SENDS;
    // The link-time receivers ran exactly once per send, whatever the churn.
    assert_eq!(HAMMER_A.load(Ordering::Relaxed), total);
    assert_eq!(HAMMER_B.load(Ordering::Relaxed), total);
    // Each send that reported 3 receivers called the runtime one exactly once.
    assert_eq!(dynamic_hits.load(Ordering::Relaxed), with_dynamic);
    assert!(with_dynamic <= total);
    assert!(churns.load(Ordering::Relaxed) > 0);
    assert!(
        Hammer::receivers()
            .iter()
            .all(|r| r.kind() == ReceiverKind::Static)
    );
}

#[derive(Signal)]
pub struct Race;

#[test]
fn concurrent_connects_with_one_dispatch_uid_admit_exactly_one() {
    const THREADS: usize = 8;
    let start = Arc::new(Barrier::new(THREADS));
    let winners: Vec<_> = (0..THREADS)
        .map(|_| {
            let start = start.clone();
            std::thread::spawn(move || {
                start.wait();
                Race::connect_with(ConnectOptions::new().dispatch_uid("race"), |_: &Race| {}).ok()
            })
        })
        .collect();
    let connections: Vec<_> = winners
        .into_iter()
        .filter_map(|t| t.join().unwrap())
        .collect();
    assert_eq!(connections.len(), 1);
    assert_eq!(Race.send().unwrap().receivers(), 1);
    drop(connections);
    assert!(!Race::has_receivers());
}
