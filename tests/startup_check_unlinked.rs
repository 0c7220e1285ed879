//! The startup check catches the linker pitfall of `tests/unlinked_receivers.rs`:
//! `shop-receivers` is a dev-dependency of this package but this binary never names it, so
//! its receivers are not linked, and the check fails naming both and the `link!` fix.
//!
//! Do NOT name `shop_receivers` as a crate anywhere in this file (strings are fine).

use shop_events::OrderPlaced;
use signals_core::check::{self, Missing, Startup};

#[test]
fn the_check_names_every_receiver_of_the_unlinked_crate() {
    let error = check::expect_receivers(&[
        "shop_receivers::email_customer",
        "shop_receivers::reserve_stock",
    ])
    .expect_err("shop_receivers is not linked");

    let missing: Vec<&str> = error.missing().iter().map(Missing::name).collect();
    assert_eq!(
        missing,
        [
            "shop_receivers::email_customer",
            "shop_receivers::reserve_stock"
        ]
    );
    let message = error.to_string();
    assert!(
        message.starts_with("signals startup check failed: 2 missing receivers"),
        "{message}"
    );
    for name in missing {
        assert!(
            message.contains(&format!("missing receiver `{name}`")),
            "{message}"
        );
    }
    assert!(
        message.contains("add `signals_core::link!(shop_receivers);` to the binary"),
        "{message}"
    );
}

#[test]
fn the_signal_count_check_fails_too() {
    let error = Startup::new()
        .expect_signal::<OrderPlaced>(1)
        .run()
        .unwrap_err();
    assert_eq!(error.missing()[0].name(), "OrderPlaced");
    assert!(
        error
            .to_string()
            .contains("OrderPlaced has 0 link-time receivers, expected at least 1"),
        "{error}"
    );
}
