//! `send_robust`: every receiver runs whatever fails; errors and panics are caught,
//! reported with their receiver and position, and logged through `tracing` (target
//! `signals_core::dispatch`, level ERROR, with the receiver's name and location).
//!
//! Its own test binary: it installs a panic hook (silencing the expected panics on the
//! threads that ask for it) and a capturing `tracing` subscriber.
//!
//! Differences from Django, asserted below: Django's `send_robust` returns the exception
//! *as the response*, so a receiver that returns an exception object cannot be told from
//! one that raised; here responses and failures are kept apart in a `Report`. Django
//! does not catch `BaseException` (e.g. `KeyboardInterrupt`); here panics are caught.

use std::cell::Cell;
use std::sync::Once;

use signals_core::prelude::*;
use signals_core::{ConnectOptions, ReceiverError, ReceiverKind, Signal};
use tracing::Level;

mod support;
use support::{Captured, capture_logs};

// ---------------------------------------------------------------------------------------
// Test support: a panic hook that stays quiet on threads that expect panics, and a
// `tracing` subscriber that records events.

thread_local! {
    static EXPECTING_PANIC: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` with the panic message silenced on this thread only (tests run in parallel).
fn quietly<T>(f: impl FnOnce() -> T) -> T {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !EXPECTING_PANIC.with(Cell::get) {
                default(info);
            }
        }));
    });
    EXPECTING_PANIC.with(|e| e.set(true));
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            EXPECTING_PANIC.with(|e| e.set(false));
        }
    }
    let _reset = Reset;
    f()
}

fn dispatch_errors(events: &[Captured]) -> Vec<&Captured> {
    events
        .iter()
        .filter(|e| e.target == "signals_core::dispatch" && e.level == Level::ERROR)
        .collect()
}

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("broken with code {code}")]
pub struct Broken {
    pub code: u32,
}

// ---------------------------------------------------------------------------------------
// One error, one panic, the rest succeed.

#[derive(Signal)]
#[signal(response = &'static str)]
pub struct Robust;

#[receiver(Robust, priority = 4)]
fn r_first(_: &Robust) -> &'static str {
    "first"
}

const R_FAILS_LINE: u32 = line!() + 2;
#[receiver(Robust, priority = 3)]
fn r_fails(_: &Robust) -> Result<&'static str, Broken> {
    Err(Broken { code: 7 })
}

const R_PANICS_LINE: u32 = line!() + 2;
#[receiver(Robust, priority = 2)]
fn r_panics(_: &Robust) -> &'static str {
    panic!("boom {}", 42)
}

#[receiver(Robust)]
fn r_last(_: &Robust) -> &'static str {
    "last"
}

#[test]
fn send_robust_runs_every_receiver_and_reports_errors_and_panics() {
    let dynamic = Robust::connect_with(
        ConnectOptions::new().priority(1).name("dyn"),
        |_: &Robust| "dyn",
    )
    .unwrap();

    let (report, events) = capture_logs(|| quietly(|| Robust.send_robust()));

    assert!(!report.is_ok());
    assert_eq!(
        report.responses().values().copied().collect::<Vec<_>>(),
        ["first", "dyn", "last"]
    );
    let failures = report.failures();
    assert_eq!(failures.len(), 2);

    // Positions count every receiver that ran, in dispatch order.
    assert_eq!(failures[0].position, 1);
    assert_eq!(failures[0].receiver.name(), "send_robust::r_fails");
    assert_eq!(failures[0].receiver.line(), R_FAILS_LINE);
    match &failures[0].error {
        ReceiverError::Failed(source) => {
            assert_eq!(source.downcast_ref::<Broken>(), Some(&Broken { code: 7 }))
        }
        other => panic!("expected Failed, got {other:?}"),
    }
    assert_eq!(failures[0].error.to_string(), "broken with code 7");

    assert_eq!(failures[1].position, 2);
    assert_eq!(failures[1].receiver.name(), "send_robust::r_panics");
    assert_eq!(failures[1].receiver.line(), R_PANICS_LINE);
    match &failures[1].error {
        ReceiverError::Panicked { message } => assert_eq!(message, "boom 42"),
        other => panic!("expected Panicked, got {other:?}"),
    }
    let shown = failures[1].to_string();
    assert!(
        shown.contains("send_robust::r_panics") && shown.contains("boom 42"),
        "{shown}"
    );

    // Both failures were logged, with the receiver's name and location.
    let logged = dispatch_errors(&events);
    assert_eq!(logged.len(), 2, "{events:?}");
    for (log, failure) in logged.iter().zip(failures) {
        assert_eq!(log.field("receiver"), failure.receiver.name());
        assert_eq!(log.field("signal"), "Robust");
        let location = format!("{}:{}", failure.receiver.file(), failure.receiver.line());
        assert!(location.ends_with(&format!("send_robust.rs:{}", failure.receiver.line())));
        assert_eq!(log.field("location"), location);
        // The wording may change; it says the failure happened in a robust send.
        assert!(log.field("message").contains("robust"), "{log:?}");
    }
    assert_eq!(
        logged[0].field("location"),
        format!("{}:{R_FAILS_LINE}", file!())
    );
    assert_eq!(logged[0].field("error"), "broken with code 7");
    assert_eq!(
        logged[1].field("location"),
        format!("{}:{R_PANICS_LINE}", file!())
    );
    assert!(logged[1].field("error").contains("boom 42"));

    // The registry is still usable after the caught panic.
    let (responses, failures) = quietly(|| Robust.send_robust()).into_parts();
    assert_eq!(responses.len(), 3);
    assert_eq!(failures.len(), 2);
    drop(dynamic);
    let report = quietly(|| Robust.send_robust());
    assert_eq!(
        report.responses().values().copied().collect::<Vec<_>>(),
        ["first", "last"]
    );
}

#[derive(Signal)]
pub struct AllGood;

#[receiver(AllGood)]
fn all_good(_: &AllGood) {}

#[test]
fn send_robust_without_failures_logs_nothing() {
    let (report, events) = capture_logs(|| AllGood.send_robust());
    assert!(report.is_ok());
    assert!(report.failures().is_empty());
    assert_eq!(report.responses().receivers(), 1);
    assert!(dispatch_errors(&events).is_empty(), "{events:?}");
}

// ---------------------------------------------------------------------------------------
// Panics in `send` unwind; non-string panic payloads.

#[derive(Signal)]
pub struct PanicsInSend<'a> {
    pub after_ran: &'a std::sync::atomic::AtomicBool,
}

#[receiver(PanicsInSend, priority = 1)]
fn panics_in_send(_: &PanicsInSend<'_>) {
    std::panic::panic_any(42u8);
}

#[receiver(PanicsInSend)]
fn after_panic(e: &PanicsInSend<'_>) {
    e.after_ran.store(true, std::sync::atomic::Ordering::SeqCst);
}

#[test]
fn a_panic_unwinds_through_send_but_is_caught_by_send_robust() {
    use std::sync::atomic::{AtomicBool, Ordering};

    let after_ran = AtomicBool::new(false);
    let payload = quietly(|| {
        std::panic::catch_unwind(|| {
            PanicsInSend {
                after_ran: &after_ran,
            }
            .send()
        })
    })
    .expect_err("send does not catch panics");
    assert_eq!(payload.downcast_ref::<u8>(), Some(&42));
    assert!(
        !after_ran.load(Ordering::SeqCst),
        "the receivers after the panic did not run"
    );

    let (report, events) = capture_logs(|| {
        quietly(|| {
            PanicsInSend {
                after_ran: &after_ran,
            }
            .send_robust()
        })
    });
    assert!(
        after_ran.load(Ordering::SeqCst),
        "send_robust goes on after a panic"
    );
    assert_eq!(report.responses().receivers(), 1);
    let failure = &report.failures()[0];
    assert_eq!(failure.position, 0);
    assert_eq!(failure.receiver.kind(), ReceiverKind::Static);
    match &failure.error {
        ReceiverError::Panicked { message } => assert_eq!(message, "Box<dyn Any>"),
        other => panic!("expected Panicked, got {other:?}"),
    }
    let logged = dispatch_errors(&events);
    assert_eq!(logged.len(), 1);
    assert_eq!(logged[0].field("receiver"), "send_robust::panics_in_send");
}

#[derive(Signal)]
#[signal(response = u32)]
pub struct DynamicPanics;

#[test]
fn send_robust_catches_runtime_receiver_panics_with_string_messages() {
    let _boom = DynamicPanics::connect_with(
        ConnectOptions::new().priority(1).name("dyn-boom"),
        |_: &DynamicPanics| -> u32 { panic!("{}", String::from("owned message")) },
    )
    .unwrap();
    let _ok = DynamicPanics::connect(|_: &DynamicPanics| 5u32);
    let (report, events) = capture_logs(|| quietly(|| DynamicPanics.send_robust()));
    assert_eq!(
        report.responses().values().copied().collect::<Vec<_>>(),
        [5]
    );
    let failure = &report.failures()[0];
    assert_eq!(failure.receiver.name(), "dyn-boom");
    assert!(
        matches!(&failure.error, ReceiverError::Panicked { message } if message == "owned message")
    );
    let logged = dispatch_errors(&events);
    assert_eq!(logged.len(), 1);
    assert_eq!(logged[0].field("receiver"), "dyn-boom");
    // A runtime receiver's location is where it was connected.
    assert_eq!(
        logged[0].field("location"),
        format!("{}:{}", file!(), failure.receiver.line())
    );
    assert!(failure.receiver.file().ends_with("send_robust.rs"));
}
