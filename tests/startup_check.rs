//! The startup check (`signals_core::check`) across crates: `shop-receivers` is linked with
//! `link!`, so its receivers are found; a receiver that is not linked anywhere fails the
//! check with an error that names it and tells how to link it. The unlinked case, with the
//! real fixture crate left out, is `tests/startup_check_unlinked.rs`.

use shop_events::OrderPlaced;
use signals_core::check::{self, CheckError, Missing, Startup};

signals_core::link!(shop_receivers);

const EMAIL: &str = "shop_receivers::email_customer";
const STOCK: &str = "shop_receivers::reserve_stock";

#[test]
fn linked_receivers_pass_the_check() {
    let report = check::expect_receivers(&[EMAIL, STOCK]).expect("both are linked");
    let names: Vec<&str> = report.receivers().iter().map(|r| r.name()).collect();
    assert!(
        names.contains(&EMAIL) && names.contains(&STOCK),
        "{names:?}"
    );
    assert!(report.duplicates().is_empty());

    Startup::new()
        .expect(EMAIL)
        .expect(STOCK)
        .expect_signal::<OrderPlaced>(2)
        .run()
        .expect("OrderPlaced reaches both receivers");
    assert!(check::duplicates().is_empty(), "{:?}", check::duplicates());
}

#[test]
fn a_missing_receiver_is_named_with_the_link_fix() {
    let error: CheckError = check::expect_receivers(&[EMAIL, "shop_audit::log_order", STOCK])
        .expect_err("shop_audit is not linked");
    assert_eq!(error.missing().len(), 1, "{error}");
    assert_eq!(error.missing()[0].name(), "shop_audit::log_order");
    assert!(error.duplicates().is_empty());
    let message = error.to_string();
    assert!(
        message.starts_with("signals startup check failed: 1 missing receiver"),
        "{message}"
    );
    assert!(
        message.contains("missing receiver `shop_audit::log_order`"),
        "{message}"
    );
    assert!(
        message.contains("signals_core::link!(shop_audit);"),
        "{message}"
    );
}

#[test]
fn a_wrong_module_path_suggests_the_linked_receiver() {
    // Full paths are matched exactly; the same function name elsewhere is a hint.
    let error = check::expect_receivers(&["shop_receivers::mail::email_customer"]).unwrap_err();
    match &error.missing()[0] {
        Missing::Receiver { similar, .. } => {
            let names: Vec<&str> = similar.iter().map(|r| r.name()).collect();
            assert_eq!(names, [EMAIL]);
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(
        error
            .to_string()
            .contains("did you mean shop_receivers::email_customer ("),
        "{error}"
    );
    // A bare function name is not a full path, so it does not match either.
    assert!(check::expect_receivers(&["email_customer"]).is_err());
}

#[test]
fn too_few_receivers_of_a_signal_fail_the_check() {
    let error = Startup::new()
        .expect_signal::<OrderPlaced>(3)
        .run()
        .unwrap_err();
    match error.missing() {
        [
            Missing::TooFewReceivers {
                signal,
                at_least,
                found,
                ..
            },
        ] => {
            assert_eq!((*signal, *at_least, found.len()), ("OrderPlaced", 3, 2));
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(
        error
            .to_string()
            .contains("OrderPlaced has 2 link-time receivers, expected at least 3"),
        "{error}"
    );
}
