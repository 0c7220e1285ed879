//! The *receiving* side of the cross-crate test: a receiver-only crate.
//!
//! Nothing in it is meant to be called: its `#[receiver]`s register themselves at link
//! time. That is exactly the kind of crate the linker drops when the final binary never
//! names it, hence `signals_core::link!(shop_receivers)` in the binary.

use shop_events::{OrderPlaced, acknowledge};
use signals_core::receiver;

/// Sends the confirmation e-mail (priority 0: after the stock is reserved).
#[receiver(OrderPlaced)]
fn email_customer(event: &OrderPlaced<'_>) {
    assert!(!event.order.email.is_empty());
    acknowledge("email_customer");
}

/// Reserves the stock first (priority 10).
#[receiver(OrderPlaced, priority = 10)]
fn reserve_stock(event: &OrderPlaced<'_>) {
    assert!(event.order.id > 0);
    acknowledge("reserve_stock");
}
