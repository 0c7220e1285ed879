//! How errors print: `{}` is the error alone, `{:#}` adds its causes on one line, `{:?}`
//! is a report with one cause per line (what `fn main() -> Result<(), SendError>` shows),
//! `{:#?}` the structural dump; and a recursion error names each hop's own signal.

use std::error::Error as _;

use signals_core::error::chain;
use signals_core::models::{self, Model, ModelError, PreSave, Saved};
use signals_core::prelude::*;
use signals_core::{ConnectError, ConnectOptions, ReceiverError, SendError};

mod support;

// --- A receiver failing with a two-level error chain -------------------------------------

#[derive(Debug, thiserror::Error)]
#[error("CRM unavailable (HTTP 503)")]
struct CrmDown(#[source] std::io::Error);

fn refused() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "connection refused")
}

#[derive(Signal)]
struct UserCreated;

const SYNC_LINE: u32 = line!() + 2;
#[receiver(UserCreated)]
fn sync_to_crm(_: &UserCreated) -> Result<(), CrmDown> {
    Err(CrmDown(refused()))
}

fn receiver_text() -> String {
    format!("error_reports::sync_to_crm (tests/error_reports.rs:{SYNC_LINE})")
}

#[test]
fn display_is_the_error_alone_and_the_cause_is_its_source() {
    let error = UserCreated.send().unwrap_err();
    assert_eq!(
        error.to_string(),
        format!("receiver {} failed", receiver_text())
    );
    let source = error.source().expect("the receiver's error");
    assert_eq!(source.to_string(), "CRM unavailable (HTTP 503)");
    assert_eq!(source.source().unwrap().to_string(), "connection refused");
    assert!(source.source().unwrap().source().is_none());
}

#[test]
fn alternate_display_prints_the_whole_chain() {
    let error = UserCreated.send().unwrap_err();
    assert_eq!(
        format!("{error:#}"),
        format!(
            "receiver {} failed: CRM unavailable (HTTP 503): connection refused",
            receiver_text()
        )
    );
    // The adapter prints the same for any error.
    assert_eq!(chain(&error).to_string(), format!("{error:#}"));
}

#[test]
fn debug_is_a_report_with_one_cause_per_line() {
    let error = UserCreated.send().unwrap_err();
    assert_eq!(
        format!("{error:?}"),
        format!(
            "receiver {} failed\n\nCaused by:\n    CRM unavailable (HTTP 503)\n    connection refused",
            receiver_text()
        )
    );
}

/// What `fn main() -> Result<(), SendError>` does with an error: `Termination` prints
/// `Error: {err:?}`.
fn main_like() -> Result<(), SendError> {
    UserCreated.send()?;
    Ok(())
}

#[test]
fn a_main_returning_send_error_shows_the_cause() {
    let printed = format!("Error: {:?}", main_like().unwrap_err());
    assert_eq!(
        printed,
        format!(
            "Error: receiver {} failed\n\nCaused by:\n    CRM unavailable (HTTP 503)\n    connection refused",
            receiver_text()
        )
    );
}

#[test]
fn alternate_debug_is_the_structural_dump() {
    let error = UserCreated.send().unwrap_err();
    let dump = format!("{error:#?}");
    assert!(
        dump.starts_with("Receiver {\n    receiver: ReceiverInfo {"),
        "{dump}"
    );
    assert!(
        dump.contains("name: \"error_reports::sync_to_crm\""),
        "{dump}"
    );
    assert!(dump.contains("source: CrmDown("), "{dump}");
    assert!(!dump.contains("Caused by"), "{dump}");
}

// --- Errors that repeat their cause, and multi-line causes ------------------------------

/// An error that (against the convention) repeats its source in its own message, as
/// `sea_orm::DbErr::TryIntoErr` does.
#[derive(Debug, thiserror::Error)]
#[error("wrapped: {0}")]
struct Repeats(#[source] CrmDown);

#[derive(Debug, thiserror::Error)]
#[error("two problems:\n  - one\n  - two")]
struct MultiLine;

#[derive(Debug, thiserror::Error)]
#[error("check failed")]
struct Outer(#[source] MultiLine);

#[test]
fn chain_does_not_print_a_cause_twice_and_indents_multi_line_causes() {
    let error = Repeats(CrmDown(refused()));
    assert_eq!(
        chain(&error).to_string(),
        "wrapped: CRM unavailable (HTTP 503): connection refused"
    );
    assert_eq!(
        format!("{:?}", chain(&error)),
        "wrapped: CRM unavailable (HTTP 503)\n\nCaused by:\n    connection refused"
    );
    assert_eq!(
        format!("{:?}", chain(&Outer(MultiLine))),
        "check failed\n\nCaused by:\n    two problems:\n      - one\n      - two"
    );
    // Without a cause, the report is the message.
    assert_eq!(format!("{:?}", chain(&MultiLine)), MultiLine.to_string());
}

// --- send_robust: ReceiverError is the receiver's error, transparently --------------------

#[derive(Signal)]
struct Robust;

#[receiver(Robust)]
fn robust_crm(_: &Robust) -> Result<(), CrmDown> {
    Err(CrmDown(refused()))
}

#[test]
fn receiver_error_prints_the_receivers_error_and_its_chain() {
    let report = Robust.send_robust();
    let error = &report.failures()[0].error;
    assert!(matches!(error, ReceiverError::Failed(_)));
    assert_eq!(error.to_string(), "CRM unavailable (HTTP 503)");
    assert_eq!(error.source().unwrap().to_string(), "connection refused");
    assert_eq!(
        format!("{error:#}"),
        "CRM unavailable (HTTP 503): connection refused"
    );
    assert_eq!(
        format!("{error:?}"),
        "CRM unavailable (HTTP 503)\n\nCaused by:\n    connection refused"
    );
    assert!(format!("{error:#?}").starts_with("Failed(\n    CrmDown("));
    // A Failure names the receiver; `{:#}` adds the causes.
    let failure = &report.failures()[0];
    let receiver = failure.receiver.to_string();
    assert_eq!(
        failure.to_string(),
        format!("receiver {receiver} failed: CRM unavailable (HTTP 503)")
    );
    assert_eq!(
        format!("{failure:#}"),
        format!("receiver {receiver} failed: CRM unavailable (HTTP 503): connection refused")
    );
    let panicked = ReceiverError::Panicked {
        message: "boom".into(),
    };
    assert_eq!(format!("{panicked:?}"), "panicked: boom");
    assert_eq!(format!("{panicked:#}"), "panicked: boom");
}

#[test]
fn a_robust_send_logs_the_whole_chain() {
    let (report, events) = support::capture_logs(|| Robust.send_robust());
    assert_eq!(report.failures().len(), 1);
    let logged: Vec<_> = events
        .iter()
        .filter(|e| e.target == "signals_core::dispatch" && e.level == tracing::Level::ERROR)
        .collect();
    assert_eq!(logged.len(), 1, "{events:?}");
    assert_eq!(
        logged[0].field("error"),
        "CRM unavailable (HTTP 503): connection refused"
    );
}

// --- ModelError: the veto's reason reaches every form -------------------------------------

#[derive(Debug, thiserror::Error)]
#[error("vetoed: {0}")]
struct Veto(&'static str);

struct Locked;
impl Model for Locked {}

const VETO_LINE: u32 = line!() + 2;
#[receiver(PreSave, sender = Locked)]
fn veto(_: &PreSave<'_, Locked>) -> Result<(), Veto> {
    Err(Veto("read-only"))
}

#[test]
fn model_error_prints_the_veto_reason_in_its_chain() {
    let error = models::save(&Locked, |_| Ok::<_, std::io::Error>(Saved::Created(()))).unwrap_err();
    assert!(matches!(error, ModelError::Aborted { .. }));
    let receiver = format!("error_reports::veto (tests/error_reports.rs:{VETO_LINE})");
    assert_eq!(
        error.to_string(),
        "the write was aborted by a PreSave receiver"
    );
    assert_eq!(
        format!("{error:#}"),
        format!(
            "the write was aborted by a PreSave receiver: receiver {receiver} failed: vetoed: read-only"
        )
    );
    assert_eq!(
        format!("{error:?}"),
        format!(
            "the write was aborted by a PreSave receiver\n\nCaused by:\n    receiver {receiver} failed\n    vetoed: read-only"
        )
    );
    assert!(format!("{error:#?}").starts_with("Aborted {\n    signal: \"PreSave\","));

    // A write error (no receiver involved) prints its cause the same way.
    let error = models::save(&Unlocked, |_| Err::<Saved<()>, _>(refused())).unwrap_err();
    assert_eq!(format!("{error:#}"), "the write failed: connection refused");
}

struct Unlocked;
impl Model for Unlocked {}

// --- ConnectError: no cause, so the report is the message ---------------------------------

#[derive(Signal)]
struct Unique;

#[test]
fn connect_error_debug_is_its_message() {
    let _first = Unique::connect_with(
        ConnectOptions::new().dispatch_uid("uid").name("first"),
        |_: &Unique| {},
    )
    .unwrap();
    let error: ConnectError = Unique::connect_with(
        ConnectOptions::new().dispatch_uid("uid").name("second"),
        |_: &Unique| {},
    )
    .unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("dispatch_uid `uid` is already used by first (")
    );
    assert_eq!(format!("{error:?}"), error.to_string());
    assert_eq!(format!("{error:#}"), error.to_string());
    assert!(
        format!("{error:#?}").starts_with("DuplicateDispatchUid {\n    dispatch_uid: \"uid\",")
    );
}

// --- Recursion: each hop is labelled with the signal its receiver received ----------------

#[derive(Signal)]
#[signal(max_depth = 2)]
struct X;
#[derive(Signal)]
struct Y;
#[derive(Signal)]
struct Z;

const RECV_A: u32 = line!() + 2;
#[receiver(X)]
fn recv_a(_: &X) -> Result<(), SendError> {
    Y.send().map(drop)
}

const RECV_B: u32 = line!() + 2;
#[receiver(Y)]
fn recv_b(_: &Y) -> Result<(), SendError> {
    Z.send().map(drop)
}

const RECV_C: u32 = line!() + 2;
#[receiver(Z)]
fn recv_c(_: &Z) -> Result<(), SendError> {
    X.send().map(drop)
}

#[test]
fn a_three_signal_loop_labels_each_hop_with_its_own_signal() {
    let error = X.send().unwrap_err();
    let SendError::Recursion { signal, chain, .. } = &error else {
        panic!("{error:?}")
    };
    assert_eq!(*signal, "X");
    let signals: Vec<&str> = chain.iter().map(|r| r.signal()).collect();
    assert_eq!(signals, ["X", "Y", "Z", "X", "Y", "Z"]);

    let f = "tests/error_reports.rs";
    let cycle = format!(
        "X → error_reports::recv_a ({f}:{RECV_A}) → Y → error_reports::recv_b ({f}:{RECV_B}) → Z → error_reports::recv_c ({f}:{RECV_C}) → "
    );
    assert_eq!(
        error.to_string(),
        format!("recursion limit 2 reached for X: {cycle}{cycle}X")
    );
    // No cause: `{:#}` and `{:?}` are the message.
    assert_eq!(format!("{error:#}"), error.to_string());
    assert_eq!(format!("{error:?}"), error.to_string());
}

#[derive(Signal)]
struct LongX;
#[derive(Signal)]
struct LongY;
#[derive(Signal)]
struct LongZ;

#[receiver(LongX)]
fn long_a(_: &LongX) -> Result<(), SendError> {
    LongY.send().map(drop)
}

#[receiver(LongY)]
fn long_b(_: &LongY) -> Result<(), SendError> {
    LongZ.send().map(drop)
}

#[receiver(LongZ)]
fn long_c(_: &LongZ) -> Result<(), SendError> {
    LongX.send().map(drop)
}

#[test]
fn a_long_loop_keeps_both_ends_and_elides_the_middle() {
    // 96 nested sends: run on a thread with room for them in debug builds.
    let error = std::thread::Builder::new()
        .stack_size(16 << 20)
        .spawn(|| LongX.send().unwrap_err())
        .unwrap()
        .join()
        .unwrap();
    let SendError::Recursion { limit, chain, .. } = &error else {
        panic!("{error:?}")
    };
    assert_eq!((*limit, chain.len()), (32, 96), "the chain keeps every hop");

    let message = error.to_string();
    let hop = |signal: &str, name: &str| format!("{signal} → error_reports::{name} (");
    assert!(
        message.starts_with(&format!(
            "recursion limit 32 reached for LongX: {}",
            hop("LongX", "long_a")
        )),
        "{message}"
    );
    assert!(
        message.contains(" → … (84 more receivers) … → "),
        "{message}"
    );
    assert!(message.ends_with(") → LongX"), "{message}");
    // 6 receivers before the gap and 6 after, each one after its own signal.
    assert_eq!(message.matches("error_reports::").count(), 12, "{message}");
    for (signal, name) in [
        ("LongX", "long_a"),
        ("LongY", "long_b"),
        ("LongZ", "long_c"),
    ] {
        assert_eq!(message.matches(&hop(signal, name)).count(), 4, "{message}");
    }
}
