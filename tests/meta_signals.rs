//! Meta-signals (`signals_core::meta`): `ReceiverConnected` after each runtime connection,
//! `ReceiverDisconnected` after each runtime disconnection, whichever way it happens.
//!
//! The tests run in parallel threads and all see every meta-signal of the process, so each
//! one only looks at the receivers it named itself.

use std::sync::{Arc, Mutex};

use signals_core::meta::{DisconnectCause, ReceiverConnected, ReceiverDisconnected};
use signals_core::prelude::*;
use signals_core::{ConnectOptions, Connection, ReceiverInfo, ReceiverKind};

#[derive(Signal)]
struct Ping;

#[derive(Signal)]
#[signal(response = u32)]
struct Measure<'a> {
    text: &'a str,
}

#[derive(Clone, Debug, PartialEq)]
enum Seen {
    Connected(ReceiverInfo, String),
    Disconnected(ReceiverInfo, String, DisconnectCause),
}

impl Seen {
    fn name(&self) -> &'static str {
        match self {
            Seen::Connected(info, _) | Seen::Disconnected(info, _, _) => info.name(),
        }
    }
}

/// Records the meta-signals about receivers whose name starts with `prefix`.
struct Watch {
    seen: Arc<Mutex<Vec<Seen>>>,
    _connected: Connection,
    _disconnected: Connection,
}

impl Watch {
    fn new(prefix: &'static str) -> Self {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let connected = <ReceiverConnected>::connect(move |e: &ReceiverConnected<'_>| {
            if e.receiver.name().starts_with(prefix) {
                log.lock()
                    .unwrap()
                    .push(Seen::Connected(*e.receiver, e.signal.to_owned()));
            }
        });
        let log = seen.clone();
        let disconnected = <ReceiverDisconnected>::connect(move |e: &ReceiverDisconnected<'_>| {
            if e.receiver.name().starts_with(prefix) {
                log.lock().unwrap().push(Seen::Disconnected(
                    *e.receiver,
                    e.signal.to_owned(),
                    e.cause,
                ));
            }
        });
        Watch {
            seen,
            _connected: connected,
            _disconnected: disconnected,
        }
    }

    fn take(&self) -> Vec<Seen> {
        std::mem::take(&mut *self.seen.lock().unwrap())
    }
}

/// Names seen by the link-time receiver below (every test's, filter by name).
static STATIC_SEEN: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());

/// A link-time receiver of a meta-signal works like a runtime one.
#[receiver(ReceiverConnected)]
fn record_connects(event: &ReceiverConnected<'_>) {
    STATIC_SEEN.lock().unwrap().push(event.receiver.name());
}

#[test]
fn receiver_connected_reports_later_connections_with_their_info() {
    let watch = Watch::new("connect_test::");

    let ping = Ping::connect_with(
        ConnectOptions::new()
            .name("connect_test::ping")
            .priority(7)
            .dispatch_uid("connect-test-ping"),
        |_: &Ping| {},
    )
    .unwrap();
    let measure = Measure::connect_with(
        ConnectOptions::new().name("connect_test::measure"),
        |m: &Measure<'_>| m.text.len() as u32,
    )
    .unwrap();
    let measure_async = Measure::connect_async_with(
        ConnectOptions::new().name("connect_test::measure_async"),
        |m: &Measure<'_>| Box::pin(async move { m.text.len() as u32 }),
    )
    .unwrap();

    let seen = watch.take();
    assert_eq!(
        seen,
        [
            Seen::Connected(*ping.receiver(), "Ping".into()),
            Seen::Connected(*measure.receiver(), "Measure".into()),
            Seen::Connected(*measure_async.receiver(), "Measure".into()),
        ]
    );
    let Seen::Connected(info, _) = &seen[0] else {
        unreachable!()
    };
    assert_eq!(info.priority(), 7);
    assert_eq!(info.dispatch_uid(), Some("connect-test-ping"));
    assert_eq!(info.signal(), "Ping");
    assert!(matches!(info.kind(), ReceiverKind::Dynamic { .. }));
    assert!(info.file().ends_with("meta_signals.rs"), "{info:?}");
    let Seen::Connected(info, _) = &seen[2] else {
        unreachable!()
    };
    assert!(info.is_async());

    // A connection refused for its dispatch_uid is not reported.
    let refused = Ping::connect_with(
        ConnectOptions::new()
            .name("connect_test::refused")
            .dispatch_uid("connect-test-ping"),
        |_: &Ping| {},
    );
    assert!(refused.is_err());
    assert_eq!(watch.take(), []);

    // The link-time receiver saw them too.
    let statics = STATIC_SEEN.lock().unwrap().clone();
    for name in [
        "connect_test::ping",
        "connect_test::measure",
        "connect_test::measure_async",
    ] {
        assert_eq!(statics.iter().filter(|n| **n == name).count(), 1, "{name}");
    }
    assert!(!statics.contains(&"connect_test::refused"));

    drop((ping, measure, measure_async));
}

#[test]
fn the_new_receiver_is_in_place_when_the_meta_signal_runs() {
    let reachable = Arc::new(Mutex::new(None));
    let r = reachable.clone();
    let _watch = <ReceiverConnected>::connect(move |e: &ReceiverConnected<'_>| {
        if e.receiver.name() == "in_place_test::measure" {
            let listed = Measure::receivers();
            *r.lock().unwrap() = Some(listed.iter().any(|l| l == e.receiver));
        }
    });
    let measure = Measure::connect_with(
        ConnectOptions::new().name("in_place_test::measure"),
        |_: &Measure<'_>| 1,
    )
    .unwrap();
    assert_eq!(*reachable.lock().unwrap(), Some(true));
    drop(measure);
}

#[test]
fn every_way_of_disconnecting_sends_exactly_one_receiver_disconnected() {
    let watch = Watch::new("disconnect_test::");
    let named = |name| ConnectOptions::new().name(name);

    let dropped = Ping::connect_with(named("disconnect_test::dropped"), |_: &Ping| {}).unwrap();
    let explicit = Ping::connect_with(named("disconnect_test::explicit"), |_: &Ping| {}).unwrap();
    let by_uid = Ping::connect_with(
        named("disconnect_test::by_uid").dispatch_uid("disconnect-test-uid"),
        |_: &Ping| {},
    )
    .unwrap();
    let detached = Ping::connect_with(named("disconnect_test::detached"), |_: &Ping| {}).unwrap();
    let infos = [
        *dropped.receiver(),
        *explicit.receiver(),
        *by_uid.receiver(),
    ];
    assert_eq!(watch.take().len(), 4);

    drop(dropped);
    assert!(explicit.disconnect());
    assert!(Ping::disconnect("disconnect-test-uid"));
    // Already removed by uid: its guard's drop removes nothing and reports nothing.
    drop(by_uid);
    assert!(!Ping::disconnect("disconnect-test-uid"));
    // Detaching keeps the receiver: nothing to report.
    detached.detach();

    assert_eq!(
        watch.take(),
        [
            Seen::Disconnected(infos[0], "Ping".into(), DisconnectCause::Dropped),
            Seen::Disconnected(infos[1], "Ping".into(), DisconnectCause::Disconnect),
            Seen::Disconnected(infos[2], "Ping".into(), DisconnectCause::DispatchUid),
        ]
    );
}

#[test]
fn connecting_a_meta_signal_receiver_sends_no_meta_signal() {
    // Sees every meta-signal; keeps those about this test's receivers.
    let watch = Watch::new("meta_test::");

    let on_connect = <ReceiverConnected>::connect_with(
        ConnectOptions::new().name("meta_test::on_connect"),
        |_: &ReceiverConnected<'_>| {},
    )
    .unwrap();
    let on_disconnect = <ReceiverDisconnected>::connect_with(
        ConnectOptions::new()
            .name("meta_test::on_disconnect")
            .dispatch_uid("meta-test-uid"),
        |_: &ReceiverDisconnected<'_>| {},
    )
    .unwrap();
    let another = <ReceiverConnected>::connect_with(
        ConnectOptions::new().name("meta_test::another"),
        |_: &ReceiverConnected<'_>| {},
    )
    .unwrap();
    drop(on_connect);
    assert!(another.disconnect());
    assert!(<ReceiverDisconnected>::disconnect("meta-test-uid"));
    drop(on_disconnect);

    assert_eq!(watch.take(), []);
    assert!(
        !STATIC_SEEN
            .lock()
            .unwrap()
            .iter()
            .any(|n| n.starts_with("meta_test::"))
    );
}

#[derive(Debug, thiserror::Error)]
#[error("audit log is full")]
struct AuditFull;

#[test]
fn a_failing_meta_receiver_breaks_neither_connect_nor_disconnect() {
    let failing = <ReceiverConnected>::connect(|e: &ReceiverConnected<'_>| {
        if e.receiver.name().starts_with("failing_test::") {
            Err(AuditFull)
        } else {
            Ok(())
        }
    });
    let failing_disconnect = <ReceiverDisconnected>::connect(|e: &ReceiverDisconnected<'_>| {
        if e.receiver.name().starts_with("failing_test::") {
            Err(AuditFull)
        } else {
            Ok(())
        }
    });
    // Registered after the failing ones: still called (send_robust runs every receiver).
    let watch = Watch::new("failing_test::");

    let measure = Measure::connect_with(
        ConnectOptions::new().name("failing_test::measure"),
        |m: &Measure<'_>| m.text.len() as u32,
    )
    .unwrap();
    // No rollback: the receiver is connected and runs.
    let sent = Measure { text: "abc" }.send().unwrap();
    assert!(sent.values().any(|v| *v == 3));
    let info = *measure.receiver();
    assert!(measure.disconnect());
    assert!(!Measure::receivers().contains(&info));

    let seen: Vec<&str> = watch.take().iter().map(Seen::name).collect();
    assert_eq!(seen, ["failing_test::measure", "failing_test::measure"]);
    drop((failing, failing_disconnect));
}
