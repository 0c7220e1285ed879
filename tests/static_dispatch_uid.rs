//! Two link-time receivers with one `dispatch_uid` for the same signal and sender: only the
//! first in order runs. The other is never silent: it is listed (with
//! `ReceiverInfo::shadowed_by`), shown in the receiver map, reported by the startup check,
//! and logged (target `signals_core::registry`; an error in debug builds, naming both) when
//! the signal's receivers are first collected, at the latest at its first send.
//!
//! Django silently keeps the first registration and drops the second.
//!
//! Its own test binary: the log is emitted once per process, on first use of the signal,
//! so the one test here must be the first to touch `Deduped`.

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
fn only_the_first_link_time_receiver_with_a_dispatch_uid_runs_and_the_other_is_loud() {
    // First use: the send that collects the receivers logs the duplicate.
    let (values, events) = capture_logs(|| Deduped.send().unwrap().into_values());
    assert_eq!(values, ["a_cache", "c_other"]);
    let logged: Vec<&Captured> = events
        .iter()
        .filter(|e| e.target == "signals_core::registry")
        .collect();
    assert_eq!(logged.len(), 1, "{events:?}");
    let error = logged[0];
    assert_eq!(
        error.level,
        Level::ERROR,
        "an error in debug builds: {error:?}"
    );
    assert_eq!(error.fields["dispatch_uid"], "cache");
    assert_eq!(error.fields["signal"], "Deduped");
    assert!(
        error.fields["kept"].contains("static_dispatch_uid::a_cache"),
        "{error:?}"
    );
    assert!(
        error.fields["dropped"].contains("static_dispatch_uid::b_cache"),
        "{error:?}"
    );

    // Listed, both of them: the one that never runs says which receiver holds its uid.
    let listed = Deduped::receivers();
    let names: Vec<&str> = listed.iter().map(|r| r.name()).collect();
    assert_eq!(
        names,
        [
            "static_dispatch_uid::a_cache",
            "static_dispatch_uid::c_other"
        ],
        "what a send runs"
    );
    let all: Vec<(&str, Option<&str>)> = signals_core::registry::receivers()
        .iter()
        .filter(|r| r.signal() == "Deduped")
        .map(|r| (r.name(), r.shadowed_by()))
        .collect();
    assert_eq!(
        all,
        [
            ("static_dispatch_uid::a_cache", None),
            (
                "static_dispatch_uid::b_cache",
                Some("static_dispatch_uid::a_cache")
            ),
            ("static_dispatch_uid::c_other", None),
        ]
    );
    let table = signals_core::map::ReceiverMap::current().to_table();
    assert!(
        table.contains(
            "static_dispatch_uid::b_cache (never runs: its dispatch_uid is held by static_dispatch_uid::a_cache)"
        ),
        "{table}"
    );
    // The startup check fails on it.
    let check = signals_core::check::Startup::new().run().unwrap_err();
    assert!(
        check
            .to_string()
            .contains("duplicate dispatch_uid \"cache\" for Deduped"),
        "{check}"
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
}
