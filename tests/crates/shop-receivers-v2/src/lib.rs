//! Version 0.2 of the `shop-receivers` fixture, linked next to version 0.1 by
//! `tests/startup_check_duplicates.rs`: what happens when a dependency graph pulls in two
//! semver-incompatible versions of one receiver crate. Both register
//! `shop_receivers::email_customer` for the same `OrderPlaced`, so every order would be
//! e-mailed twice; the startup check reports it.

use shop_events::{OrderPlaced, acknowledge};
use signals_core::receiver;

/// Sends the confirmation e-mail: the same receiver as in version 0.1.
#[receiver(OrderPlaced)]
fn email_customer(event: &OrderPlaced<'_>) {
    assert!(!event.order.email.is_empty());
    acknowledge("email_customer (v0.2)");
}
