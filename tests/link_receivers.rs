//! Cross-crate receivers, the one good reason to use signals: `shop-events` sends
//! `OrderPlaced` without knowing who listens; `shop-receivers`, a separate crate that
//! depends on it, reacts. This binary names `shop_receivers` only through `link!`, like an
//! application that pulls in a receiver-only crate (compare `tests/unlinked_receivers.rs`).

use std::sync::atomic::Ordering;

use shop_events::{Order, OrderPlaced, place_order};
use signals_core::{ReceiverInfo, ReceiverKind, Signal};

// The only mention of the receiving crate: it keeps its `#[receiver]`s in the binary.
signals_core::link!(shop_receivers);

/// Checks that `info` points at the line of `shop-receivers/src/lib.rs` declaring `function`.
fn assert_declared(info: &ReceiverInfo, function: &str, priority: i32) {
    assert_eq!(info.name(), format!("shop_receivers::{function}"));
    assert_eq!(info.module(), "shop_receivers");
    assert_eq!(info.signal(), "OrderPlaced");
    assert_eq!(info.sender(), None);
    assert_eq!(info.priority(), priority);
    assert_eq!(info.dispatch_uid(), None);
    assert_eq!(info.kind(), ReceiverKind::Static);
    assert!(
        info.file()
            .replace('\\', "/")
            .ends_with("tests/crates/shop-receivers/src/lib.rs"),
        "unexpected file {}",
        info.file()
    );
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(info.file());
    let source = std::fs::read_to_string(&path).expect("receiver source is readable");
    let line = source
        .lines()
        .nth(info.line() as usize - 1)
        .expect("line exists");
    assert!(
        line.contains(&format!("fn {function}(")),
        "{}:{} is `{line}`, not the declaration of {function}",
        info.file(),
        info.line()
    );
}

#[test]
fn receivers_of_another_crate_are_registered_in_priority_order() {
    let listed = OrderPlaced::receivers();
    assert_eq!(listed.len(), 2, "{listed:#?}");
    assert_declared(&listed[0], "reserve_stock", 10);
    assert_declared(&listed[1], "email_customer", 0);

    // The process-wide listing agrees, in the same order.
    let all: Vec<ReceiverInfo> = signals_core::registry::receivers()
        .into_iter()
        .filter(|r| r.name().starts_with("shop_receivers::"))
        .collect();
    assert_eq!(all, listed);
    assert!(OrderPlaced::has_receivers());
}

#[test]
fn the_sender_reaches_receivers_it_does_not_know() {
    let order = Order {
        id: 42,
        email: "ada@example.com".into(),
    };
    let before = shop_events::RECEIVED.load(Ordering::SeqCst);

    let delivered = place_order(&order).expect("no receiver fails");

    assert_eq!(delivered.receivers(), 2);
    assert_eq!(shop_events::RECEIVED.load(Ordering::SeqCst), before + 2);
    let acknowledged = shop_events::ACKNOWLEDGED.lock().unwrap().clone();
    assert_eq!(acknowledged, ["reserve_stock", "email_customer"]);
}
