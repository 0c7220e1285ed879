//! Two link-time receivers with one `dispatch_uid` for the same signal and sender: only the
//! first in order is connected, and the other is reported with a `tracing` warning
//! (target `signals_core::registry`) when the signal's receivers are first collected.
//!
//! Django silently keeps the first registration and drops the second; here the drop is
//! logged, and the listings show only the receiver that actually runs.
//!
//! Its own test binary: the warning is emitted once per process, on first use of the
//! signal, so the one test here must be the first to touch `Deduped`.

use signals_core::prelude::*;
use signals_core::{ConnectOptions, Signal};
use tracing::Level;

mod support;
use support::{Captured, capture_logs};

#[derive(Signal)]
#[signal(response = &'static str)]
pub struct Deduped;

// Declared second-first on purpose: "first" means first in dispatch order (priority, then
// path), not first in the file.
#[receiver(Deduped, dispatch_uid = "cache")]
fn b_cache(_: &Deduped) -> &'static str {
    "b_cache"
}

#[receiver(Deduped, dispatch_uid = "cache")]
fn a_cache(_: &Deduped) -> &'static str {
    "a_cache"
}

#[receiver(Deduped, dispatch_uid = "other")]
fn c_other(_: &Deduped) -> &'static str {
    "c_other"
}

#[test]
fn only_the_first_link_time_receiver_with_a_dispatch_uid_is_connected() {
    let (listed, events) = capture_logs(Deduped::receivers);
    let names: Vec<&str> = listed.iter().map(|r| r.name()).collect();
    assert_eq!(
        names,
        [
            "static_dispatch_uid::a_cache",
            "static_dispatch_uid::c_other"
        ]
    );

    let warnings: Vec<&Captured> = events
        .iter()
        .filter(|e| e.target == "signals_core::registry" && e.level == Level::WARN)
        .collect();
    assert_eq!(warnings.len(), 1, "{events:?}");
    let warning = &warnings[0];
    assert_eq!(warning.fields["dispatch_uid"], "cache");
    assert!(
        warning.fields["kept"].contains("static_dispatch_uid::a_cache"),
        "{warning:?}"
    );
    assert!(
        warning.fields["dropped"].contains("static_dispatch_uid::b_cache"),
        "{warning:?}"
    );

    assert_eq!(
        Deduped.send().unwrap().into_values(),
        ["a_cache", "c_other"]
    );

    // The kept receiver holds the uid against runtime connections.
    let error = Deduped::connect_with(
        ConnectOptions::new().dispatch_uid("cache"),
        |_: &Deduped| "dyn",
    )
    .unwrap_err();
    assert!(
        error.to_string().contains("static_dispatch_uid::a_cache"),
        "{error}"
    );

    // The process-wide listing shows what runs: the dropped duplicate is not a receiver.
    let global: Vec<&str> = signals_core::registry::receivers()
        .iter()
        .filter(|r| r.signal() == "Deduped")
        .map(|r| r.name())
        .collect();
    assert_eq!(global, names);
}
