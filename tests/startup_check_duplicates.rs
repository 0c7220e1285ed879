//! Duplicate registrations, as the startup check reports them:
//!
//! * two versions of one crate linked: `shop-receivers` 0.1 and 0.2 (the fixture in
//!   `tests/crates/shop-receivers-v2`, renamed `shop_receivers_v2` in Cargo.toml) both
//!   register `shop_receivers::email_customer` for the same `OrderPlaced`, so each order
//!   would be e-mailed twice;
//! * two `#[receiver]`s sharing a `dispatch_uid` for one signal: only one is connected.

use shop_events::{Order, place_order};
use signals_core::check::{self, Duplicate, Startup};
use signals_core::prelude::*;

signals_core::link!(shop_receivers, shop_receivers_v2);

#[derive(Signal)]
pub struct CacheCleared;

#[receiver(CacheCleared, dispatch_uid = "purge")]
fn purge_cdn(_: &CacheCleared) {}

#[receiver(CacheCleared, dispatch_uid = "purge", priority = 5)]
fn purge_local(_: &CacheCleared) {}

#[test]
fn two_versions_of_a_crate_and_a_shared_dispatch_uid_fail_the_check() {
    // The expected receivers are there; the duplicates alone fail the check.
    let error = check::expect_receivers(&[
        "shop_receivers::email_customer",
        "shop_receivers::reserve_stock",
    ])
    .expect_err("duplicates");
    assert!(error.missing().is_empty(), "{error}");
    assert_eq!(error.duplicates().len(), 2, "{error}");

    match &error.duplicates()[0] {
        Duplicate::Receiver {
            name,
            signal,
            registrations,
            same_signal_type,
            ..
        } => {
            assert_eq!(
                (*name, *signal),
                ("shop_receivers::email_customer", "OrderPlaced")
            );
            assert!(same_signal_type);
            let files: Vec<String> = registrations
                .iter()
                .map(|r| r.file().replace('\\', "/"))
                .collect();
            assert!(
                files[0].ends_with("tests/crates/shop-receivers-v2/src/lib.rs")
                    || files[1].ends_with("tests/crates/shop-receivers-v2/src/lib.rs"),
                "{files:?}"
            );
            assert!(
                files
                    .iter()
                    .any(|f| f.ends_with("tests/crates/shop-receivers/src/lib.rs")),
                "{files:?}"
            );
        }
        other => panic!("unexpected {other:?}"),
    }
    match &error.duplicates()[1] {
        Duplicate::DispatchUid {
            dispatch_uid,
            signal,
            kept,
            dropped,
            ..
        } => {
            assert_eq!((*dispatch_uid, *signal), ("purge", "CacheCleared"));
            // Priority 5 runs first, so it holds the id.
            assert_eq!(kept.name(), "startup_check_duplicates::purge_local");
            let dropped: Vec<&str> = dropped.iter().map(|r| r.name()).collect();
            assert_eq!(dropped, ["startup_check_duplicates::purge_cdn"]);
        }
        other => panic!("unexpected {other:?}"),
    }

    let message = error.to_string();
    assert!(
        message.starts_with("signals startup check failed: 2 duplicate registrations"),
        "{message}"
    );
    assert!(
        message.contains(
            "duplicate receiver `shop_receivers::email_customer`: registered 2 times for OrderPlaced"
        ),
        "{message}"
    );
    assert!(message.contains("cargo tree --duplicates"), "{message}");
    assert!(
        message.contains("duplicate dispatch_uid \"purge\" for CacheCleared"),
        "{message}"
    );
    assert_eq!(check::duplicates(), error.duplicates());
}

#[test]
fn duplicates_can_be_allowed_and_are_then_reported() {
    let report = Startup::new()
        .expect("shop_receivers::email_customer")
        .allow_duplicates()
        .run()
        .expect("duplicates allowed");
    assert_eq!(report.duplicates().len(), 2);
}

#[test]
fn the_duplicate_really_runs_twice() {
    // What the check warns about: both versions' copies receive every order.
    let order = Order {
        id: 9,
        email: "linus@example.com".into(),
    };
    let delivered = place_order(&order).expect("no receiver fails");
    assert_eq!(delivered.receivers(), 3);
    let mut acknowledged = shop_events::ACKNOWLEDGED.lock().unwrap().clone();
    // The two copies share path and priority; they run in file order.
    acknowledged.sort();
    assert_eq!(
        acknowledged,
        ["email_customer", "email_customer (v0.2)", "reserve_stock"]
    );
}
