//! Receiver order: descending priority; on equal priority link-time receivers before
//! runtime ones; link-time ties by full path (`module::function`), runtime ties by
//! connection order. `receivers()` lists receivers in the order a send runs them.
//!
//! Django runs receivers in connection order only (no priorities), and the order of
//! `@receiver` decorators depends on import order. Here the order is defined and does not
//! depend on declaration order, link order or build profile.
//!
//! Link-time receivers are global to this test binary and tests run in parallel, so every
//! test has its own signal type.

use signals_core::prelude::*;
use signals_core::{ConnectOptions, ReceiverKind, Signal};

/// The labels returned by one send, in the order the receivers ran.
fn labels<S: Signal<Response = &'static str, Output = signals_core::Responses<&'static str>>>(
    event: &S,
) -> Vec<&'static str> {
    event.send().expect("no receiver fails").into_values()
}

// ---------------------------------------------------------------------------------------
// Link-time receivers only: priority, then path. Declared deliberately out of order.

#[derive(Signal)]
#[signal(response = &'static str)]
pub struct StaticOnly;

#[receiver(StaticOnly, priority = -5)]
fn low(_: &StaticOnly) -> &'static str {
    "low"
}

#[receiver(StaticOnly)]
fn c_tie(_: &StaticOnly) -> &'static str {
    "c_tie"
}

mod aa {
    use super::StaticOnly;
    use signals_core::prelude::*;

    // Full path `dispatch_order::aa::zz`: `aa::zz` sorts after `a_tie` ('_' < 'a') and
    // before `c_tie`, whatever the function's own name.
    #[receiver(StaticOnly)]
    fn zz(_: &StaticOnly) -> &'static str {
        "aa::zz"
    }
}

#[receiver(StaticOnly, priority = 10)]
fn high(_: &StaticOnly) -> &'static str {
    "high"
}

#[receiver(StaticOnly)]
fn a_tie(_: &StaticOnly) -> &'static str {
    "a_tie"
}

#[receiver(StaticOnly, priority = -2147483648)]
fn lowest(_: &StaticOnly) -> &'static str {
    "lowest"
}

#[receiver(StaticOnly, priority = 2147483647)]
fn highest(_: &StaticOnly) -> &'static str {
    "highest"
}

#[test]
fn link_time_receivers_run_by_descending_priority_then_by_full_path() {
    let expected = [
        "highest", "high", "a_tie", "aa::zz", "c_tie", "low", "lowest",
    ];
    assert_eq!(labels(&StaticOnly), expected);
    // Deterministic: the same order on every send.
    assert_eq!(labels(&StaticOnly), expected);

    let listed = StaticOnly::receivers();
    let names: Vec<&str> = listed.iter().map(|r| r.name()).collect();
    assert_eq!(
        names,
        [
            "dispatch_order::highest",
            "dispatch_order::high",
            "dispatch_order::a_tie",
            "dispatch_order::aa::zz",
            "dispatch_order::c_tie",
            "dispatch_order::low",
            "dispatch_order::lowest",
        ]
    );
    let priorities: Vec<i32> = listed.iter().map(|r| r.priority()).collect();
    assert_eq!(priorities, [i32::MAX, 10, 0, 0, 0, -5, i32::MIN]);
    assert!(listed.iter().all(|r| r.kind() == ReceiverKind::Static));
    assert!(
        listed
            .iter()
            .all(|r| r.signal() == "StaticOnly" && r.sender().is_none())
    );
    assert!(
        listed
            .iter()
            .all(|r| r.file().ends_with("dispatch_order.rs"))
    );
    let zz = &listed[3];
    assert_eq!(zz.module(), "dispatch_order::aa");
}

#[test]
fn responses_name_the_receiver_that_returned_each_value() {
    let responses = StaticOnly.send().unwrap();
    for response in &responses {
        // Each value is the tail of its receiver's path.
        assert!(
            response.receiver.name().ends_with(response.value),
            "{} returned {}",
            response.receiver.name(),
            response.value
        );
    }
    assert_eq!(responses.len(), 7);
}

// ---------------------------------------------------------------------------------------
// Link-time and runtime receivers interleaved by priority.

#[derive(Signal)]
#[signal(response = &'static str)]
pub struct Mixed;

#[receiver(Mixed, priority = 10)]
fn s_high(_: &Mixed) -> &'static str {
    "s10"
}

#[receiver(Mixed)]
fn s_zero(_: &Mixed) -> &'static str {
    "s0"
}

#[receiver(Mixed, priority = -10)]
fn s_low(_: &Mixed) -> &'static str {
    "s-10"
}

#[test]
fn runtime_receivers_interleave_by_priority_and_follow_link_time_ones_on_ties() {
    assert_eq!(labels(&Mixed), ["s10", "s0", "s-10"]);

    // Connected in an order unrelated to their priorities.
    let d0a = Mixed::connect_with(ConnectOptions::new().name("d0a"), |_: &Mixed| "d0a").unwrap();
    let d_neg20 = Mixed::connect_with(
        ConnectOptions::new().priority(-20).name("d-20"),
        |_: &Mixed| "d-20",
    )
    .unwrap();
    let d10 = Mixed::connect_with(
        ConnectOptions::new().priority(10).name("d10"),
        |_: &Mixed| "d10",
    )
    .unwrap();
    let d5 = Mixed::connect_with(
        ConnectOptions::new().priority(5).name("d5"),
        |_: &Mixed| "d5",
    )
    .unwrap();
    let d100 = Mixed::connect_with(
        ConnectOptions::new().priority(100).name("d100"),
        |_: &Mixed| "d100",
    )
    .unwrap();
    let d0b = Mixed::connect_with(ConnectOptions::new().name("d0b"), |_: &Mixed| "d0b").unwrap();
    let d_neg10 = Mixed::connect_with(
        ConnectOptions::new().priority(-10).name("d-10"),
        |_: &Mixed| "d-10",
    )
    .unwrap();

    let expected = [
        "d100", "s10", "d10", "d5", "s0", "d0a", "d0b", "s-10", "d-10", "d-20",
    ];
    assert_eq!(labels(&Mixed), expected);

    // `receivers()` lists exactly what a send runs, in the same order.
    let listed = Mixed::receivers();
    let responses = Mixed.send().unwrap();
    let ran: Vec<_> = responses.iter().map(|r| r.receiver).collect();
    assert_eq!(listed, ran);
    let names: Vec<&str> = listed.iter().map(|r| r.name()).collect();
    assert_eq!(
        names,
        [
            "d100",
            "dispatch_order::s_high",
            "d10",
            "d5",
            "dispatch_order::s_zero",
            "d0a",
            "d0b",
            "dispatch_order::s_low",
            "d-10",
            "d-20",
        ]
    );
    let kinds: Vec<bool> = listed
        .iter()
        .map(|r| r.kind() == ReceiverKind::Static)
        .collect();
    assert_eq!(
        kinds,
        [
            false, true, false, false, true, false, false, true, false, false
        ]
    );

    // The process-wide listing agrees with the per-signal order.
    let global: Vec<&str> = signals_core::registry::receivers()
        .iter()
        .filter(|r| r.signal() == "Mixed")
        .map(|r| r.name())
        .collect();
    assert_eq!(global, names);

    // Removing some keeps the order of the rest.
    drop(d10);
    drop(d0a);
    assert_eq!(
        labels(&Mixed),
        ["d100", "s10", "d5", "s0", "d0b", "s-10", "d-10", "d-20"]
    );

    for c in [d_neg20, d5, d100, d0b, d_neg10] {
        assert!(c.disconnect());
    }
    assert_eq!(labels(&Mixed), ["s10", "s0", "s-10"]);
}

// ---------------------------------------------------------------------------------------
// Runtime receivers only: connection order on ties.

#[derive(Signal)]
#[signal(response = u32)]
pub struct Queue;

#[test]
fn runtime_ties_run_in_connection_order() {
    assert!(!Queue::has_receivers());
    assert_eq!(Queue.send().unwrap().len(), 0);

    let mut connections = Vec::new();
    for i in 0..20u32 {
        connections.push(Queue::connect(move |_: &Queue| i));
    }
    assert_eq!(
        Queue.send().unwrap().into_values(),
        (0..20).collect::<Vec<_>>()
    );

    // A receiver connected later with a higher priority jumps ahead; one with the same
    // priority as the others goes last.
    let first = Queue::connect_with(ConnectOptions::new().priority(1), |_: &Queue| 100).unwrap();
    let last = Queue::connect(|_: &Queue| 200);
    let values = Queue.send().unwrap().into_values();
    assert_eq!(values.first(), Some(&100));
    assert_eq!(values.last(), Some(&200));
    assert_eq!(values.len(), 22);

    // Disconnecting from the middle, then reconnecting, puts the newcomer at the end of
    // its priority group (connection order, not the old position).
    drop(connections.remove(5));
    let again = Queue::connect(|_: &Queue| 5);
    let values = Queue.send().unwrap().into_values();
    let mut expected = vec![100];
    expected.extend((0..20).filter(|&i| i != 5));
    expected.extend([200, 5]);
    assert_eq!(values, expected);

    drop((connections, first, last, again));
    assert!(!Queue::has_receivers());
    assert!(Queue.send().unwrap().is_empty());
}

// ---------------------------------------------------------------------------------------
// Order is independent of the sender filter: receivers of other senders are skipped
// without disturbing the order of the rest.

pub trait Source: 'static {}
pub struct Alpha;
impl Source for Alpha {}
pub struct Beta;
impl Source for Beta {}

#[derive(Signal)]
#[signal(sender = S, response = &'static str)]
pub struct Filtered<'a, S: ?Sized + Source = dyn Source> {
    pub source: &'a S,
}

#[receiver(Filtered, sender = Alpha, priority = 3)]
fn alpha_3(_: &Filtered<'_, Alpha>) -> &'static str {
    "alpha3"
}

#[receiver(Filtered, sender = Beta, priority = 2)]
fn beta_2(_: &Filtered<'_, Beta>) -> &'static str {
    "beta2"
}

#[receiver(Filtered, priority = 1)]
fn any_1(_: &Filtered<'_>) -> &'static str {
    "any1"
}

#[receiver(Filtered, sender = Alpha, priority = 0)]
fn alpha_0(_: &Filtered<'_, Alpha>) -> &'static str {
    "alpha0"
}

#[test]
fn order_holds_across_sender_specific_and_any_sender_receivers() {
    let _beta_dyn = Filtered::<Beta>::connect_with(
        ConnectOptions::new().priority(5),
        |_: &Filtered<'_, Beta>| "beta5",
    )
    .unwrap();
    let _any_dyn =
        <Filtered>::connect_with(ConnectOptions::new().priority(2), |_: &Filtered<'_>| "any2")
            .unwrap();

    assert_eq!(
        labels(&Filtered { source: &Alpha }),
        ["alpha3", "any2", "any1", "alpha0"]
    );
    assert_eq!(
        labels(&Filtered { source: &Beta }),
        ["beta5", "beta2", "any2", "any1"]
    );
    let any: &dyn Source = &Alpha;
    assert_eq!(labels(&Filtered { source: any }), ["any2", "any1"]);

    let alpha: Vec<&str> = Filtered::<Alpha>::receivers()
        .iter()
        .map(|r| r.name())
        .collect();
    assert_eq!(alpha[0], "dispatch_order::alpha_3");
    assert_eq!(alpha[2], "dispatch_order::any_1");
    assert_eq!(alpha[3], "dispatch_order::alpha_0");
    assert_eq!(alpha.len(), 4);
}

mod priority_expressions {
    use signals_core::prelude::*;

    const FIRST: i32 = i32::MAX;

    #[derive(Signal)]
    struct Ranked;

    #[receiver(Ranked, priority = i32::MIN)]
    fn last(_: &Ranked) {}

    #[receiver(Ranked, priority = FIRST)]
    fn first(_: &Ranked) {}

    #[test]
    fn priority_accepts_constant_expressions() {
        let order: Vec<i32> = Ranked::receivers().iter().map(|r| r.priority()).collect();
        assert_eq!(order, [i32::MAX, i32::MIN]);
    }
}
