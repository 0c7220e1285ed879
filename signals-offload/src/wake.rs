//! Waking the relay after the commit, through the `signals_core` transaction queue.

use std::sync::Arc;

use signals_core::prelude::*;
use tokio::sync::Notify;

/// Sent by [`Offload::enqueue`](crate::Offload::enqueue): its `on = Commit` receiver wakes
/// the relay once the rows it wrote are visible.
#[derive(Signal)]
pub struct OutboxWritten {
    /// The relay's notifier.
    pub wake: Arc<Notify>,
}

#[receiver(OutboxWritten, on = Commit)]
fn wake_relay(event: &OutboxWritten) {
    event.wake.notify_one();
}

/// Wakes the relay after the active transaction commits, or now when none is active. A
/// failed send only delays the relay to its next sweep.
pub(crate) fn after_commit(wake: Arc<Notify>) {
    let sent =
        signals_core::transaction::send_owned::<OutboxWritten, _>(wake, |wake: &Arc<Notify>| {
            OutboxWritten { wake: wake.clone() }
        });
    if let Err(err) = sent {
        tracing::debug!(target: "signals_offload", %err, "relay wake-up not sent; the next sweep relays the rows");
    }
}
