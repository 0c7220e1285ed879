//! The linker pitfall that `signals_core::link!` exists for.
//!
//! `shop-receivers` is a dev-dependency of this package, so Cargo passes it to this test
//! binary (`--extern shop_receivers=...`), but this file never names it. Since Rust 2018 an
//! `--extern` crate that is never named is not even loaded, so nothing of it reaches the
//! linker, and the `inventory` submissions made by its `#[receiver]`s are gone with it
//! (inventory issues #7 and #50). No error, no warning: its receivers silently never run.
//!
//! The fix is one line in the binary, `signals_core::link!(shop_receivers);` (it expands to
//! `use shop_receivers as _;`), as `tests/link_receivers.rs` does; check
//! `signals_core::registry::receivers()` at startup to catch a forgotten one.
//!
//! This test pins the pitfall down: if it ever fails, the toolchain started keeping unnamed
//! crates, and the `link!` documentation should be revisited.
//!
//! Do NOT name `shop_receivers` anywhere in this file (not even `use shop_receivers::X`).

use std::sync::atomic::Ordering;

use shop_events::{Order, OrderPlaced, place_order};
use signals_core::Signal;

#[test]
fn receivers_of_an_unnamed_crate_are_not_linked() {
    let all = signals_core::registry::receivers();
    assert!(
        all.iter()
            .all(|r| !r.name().starts_with("shop_receivers::")),
        "shop_receivers was linked without link!: {all:#?}"
    );
    assert!(OrderPlaced::receivers().is_empty());
    assert!(!OrderPlaced::has_receivers());

    let order = Order {
        id: 1,
        email: "grace@example.com".into(),
    };
    let delivered = place_order(&order).expect("nobody listens, nothing fails");
    assert_eq!(delivered.receivers(), 0);
    assert_eq!(shop_events::RECEIVED.load(Ordering::SeqCst), 0);
}
