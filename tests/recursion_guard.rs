//! The recursion guard: a receiver that triggers its own signal again (the classic
//! `post_save` → `save()` → `post_save` loop) stops at the signal's depth limit with an
//! error naming the chain of receivers, instead of overflowing the stack.

use std::sync::atomic::{AtomicUsize, Ordering};

use signals_core::SendError;
use signals_core::models::{self, Model, ModelError, PostSave, Saved};
use signals_core::prelude::*;

// --- The Django loop: a PostSave receiver that saves the instance again -----------------

struct Counter {
    hits: AtomicUsize,
}
impl Model for Counter {}

#[receiver(PostSave, sender = Counter)]
fn resave(event: &PostSave<'_, Counter>) -> Result<(), ModelError<std::io::Error>> {
    event.instance.hits.fetch_add(1, Ordering::SeqCst);
    models::save(event.instance, |_| Ok(Saved::Updated(())))
}

#[test]
fn a_receiver_that_saves_again_stops_at_the_limit_with_the_chain() {
    let counter = Counter {
        hits: AtomicUsize::new(0),
    };
    let error =
        models::save(&counter, |_| Ok::<_, std::io::Error>(Saved::Created(()))).unwrap_err();
    let ModelError::AfterWrite { source, .. } = error else {
        panic!("expected AfterWrite, got {error:?}")
    };
    match &source {
        SendError::Recursion {
            signal,
            sender,
            limit,
            chain,
            ..
        } => {
            assert_eq!(*signal, "PostSave");
            assert!(sender.unwrap().ends_with("Counter"));
            assert_eq!(*limit, 32, "the default limit");
            assert_eq!(chain.len(), 32, "one receiver per level");
            assert!(chain.iter().all(|r| r.name() == "recursion_guard::resave"));
        }
        other => panic!("expected a recursion error, got {other:?}"),
    }
    assert_eq!(
        counter.hits.load(Ordering::SeqCst),
        32,
        "the receiver ran once per allowed level"
    );
    let message = source.to_string();
    assert!(
        message.starts_with(
            "recursion limit 32 reached for PostSave: PostSave → recursion_guard::resave ("
        ),
        "{message}"
    );
    assert_eq!(
        source.receiver().map(|r| r.name()),
        Some("recursion_guard::resave")
    );
}

// --- A loop through two signals, with a declared limit -----------------------------------

#[derive(Signal)]
#[signal(max_depth = 3)]
struct Ping;

#[derive(Signal)]
struct Pong;

// --- send_robust at the limit: refused as a whole, and it says why -----------------------

#[derive(Signal)]
#[signal(max_depth = 2)]
struct Nested;

static NESTED_REPORTS: std::sync::Mutex<Vec<bool>> = std::sync::Mutex::new(Vec::new());

#[receiver(Nested)]
fn nested_robust(_: &Nested) {
    let report = Nested.send_robust();
    let stopped = matches!(
        report.stopped_by(),
        Some(SendError::Recursion { limit: 2, .. })
    );
    NESTED_REPORTS.lock().unwrap().push(stopped);
}

#[test]
fn a_robust_send_past_the_limit_reports_why_it_ran_nothing() {
    let report = Nested.send_robust();
    assert!(report.is_ok());
    // Level 1 ran the receiver, level 2 ran it again, level 3 was refused.
    assert_eq!(*NESTED_REPORTS.lock().unwrap(), [true, false]);
}

static PINGS: AtomicUsize = AtomicUsize::new(0);

#[receiver(Ping)]
fn ping_sends_pong(_: &Ping) -> Result<(), SendError> {
    PINGS.fetch_add(1, Ordering::SeqCst);
    Pong.send().map(drop)
}

#[receiver(Pong)]
fn pong_sends_ping(_: &Pong) -> Result<(), SendError> {
    Ping.send().map(drop)
}

#[test]
fn a_loop_through_another_signal_names_every_receiver_in_order() {
    let error = Ping.send().unwrap_err();
    let SendError::Recursion {
        signal,
        limit,
        chain,
        ..
    } = &error
    else {
        panic!("{error:?}")
    };
    assert_eq!((*signal, *limit), ("Ping", 3));
    let names: Vec<&str> = chain
        .iter()
        .map(|r| r.name().rsplit("::").next().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "ping_sends_pong",
            "pong_sends_ping",
            "ping_sends_pong",
            "pong_sends_ping",
            "ping_sends_pong",
            "pong_sends_ping"
        ]
    );
    assert_eq!(PINGS.load(Ordering::SeqCst), 3);
}

// --- Nesting other senders is not recursion ----------------------------------------------

struct Parent;
impl Model for Parent {}
struct Child;
impl Model for Child {}

#[receiver(PostSave, sender = Parent)]
fn save_children(_: &PostSave<'_, Parent>) -> Result<(), ModelError<std::io::Error>> {
    for _ in 0..3 {
        models::save(&Child, |_| Ok(Saved::Created(())))?;
    }
    Ok(())
}

#[test]
fn nested_sends_for_other_senders_do_not_count() {
    assert!(models::save(&Parent, |_| Ok::<_, std::io::Error>(Saved::Created(()))).is_ok());
}

// --- Async: the limit holds per task ------------------------------------------------------

#[derive(Signal)]
#[signal(max_depth = 4)]
struct Echo<'a> {
    depth: &'a AtomicUsize,
}

#[receiver(Echo)]
async fn echo_again(event: &Echo<'_>) -> Result<(), SendError> {
    event.depth.fetch_add(1, Ordering::SeqCst);
    tokio::task::yield_now().await;
    Box::pin(Echo { depth: event.depth }.send_async())
        .await
        .map(drop)
}

#[tokio::test(flavor = "current_thread")]
async fn async_recursion_stops_at_the_limit_and_other_tasks_are_unaffected() {
    let depth = AtomicUsize::new(0);
    let other = AtomicUsize::new(0);
    // Two independent sends interleave on one thread: each gets its own depth budget.
    let (first, second) = (Echo { depth: &depth }, Echo { depth: &other });
    let (a, b) = tokio::join!(first.send_async(), second.send_async());
    for (result, count) in [(a, &depth), (b, &other)] {
        let error = result.unwrap_err();
        let SendError::Recursion { limit, chain, .. } = &error else {
            panic!("{error:?}")
        };
        assert_eq!((*limit, chain.len()), (4, 4));
        assert_eq!(count.load(Ordering::SeqCst), 4);
    }
}
