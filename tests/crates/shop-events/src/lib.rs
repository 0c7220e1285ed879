//! The *sending* side of the cross-crate test: a shop that announces placed orders.
//!
//! This crate depends on `signals-core` only. It does not know `shop-receivers` (which
//! depends on it, not the other way round): the one good reason to use signals is to let
//! a separate component react to an event without the sender knowing it exists.

use std::sync::atomic::{AtomicUsize, Ordering};

use signals_core::{Delivered, SendError, Signal};

/// An order in the shop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    /// Order number.
    pub id: u64,
    /// Customer e-mail address.
    pub email: String,
}

/// Sent by [`place_order`] once an order is placed.
#[derive(Signal)]
pub struct OrderPlaced<'a> {
    /// The order that was placed.
    pub order: &'a Order,
}

/// How many times any receiver acknowledged an [`OrderPlaced`]; receivers bump it with
/// [`acknowledge`]. It lives here, in the sender, so that a test can observe receivers
/// without naming (and thereby linking) the crate that declares them.
pub static RECEIVED: AtomicUsize = AtomicUsize::new(0);

/// The order of acknowledgements, as receiver names (see [`acknowledge`]).
pub static ACKNOWLEDGED: std::sync::Mutex<Vec<&'static str>> = std::sync::Mutex::new(Vec::new());

/// Records that the receiver `who` handled an [`OrderPlaced`].
pub fn acknowledge(who: &'static str) {
    RECEIVED.fetch_add(1, Ordering::SeqCst);
    ACKNOWLEDGED
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(who);
}

/// Places an order: announces it with [`OrderPlaced`] to whoever listens.
// `SendError` is large (136 bytes); this mirrors `Signal::send`'s own signature.
#[allow(clippy::result_large_err)]
pub fn place_order(order: &Order) -> Result<Delivered, SendError> {
    OrderPlaced { order }.send()
}
