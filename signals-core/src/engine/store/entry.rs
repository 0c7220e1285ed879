//! The receivers a registry holds: link-time slots (a fn pointer and its info) and
//! runtime entries (a boxed closure, shared by the snapshots, sends and deliveries that
//! hold it). Plans point into both.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::engine::store::erased::{ErasedClosure, ErasedFn};
use crate::vocab::receiver::ReceiverInfo;

/// A link-time receiver, resolved and ready to call.
pub(crate) struct LinkTimeSlot {
    pub(crate) info: ReceiverInfo,
    pub(crate) call: ErasedFn,
}

/// A runtime receiver.
///
/// Shared (`Arc`) by the snapshots that list it, by the sends that loaded one of them and
/// by the deliveries queued for it; the last owner frees the closure. Wherever that
/// happens, a panic from a captured value's `Drop` is caught and logged
/// ([`RuntimeEntry`]'s `Drop`), and it never happens under the registry's lock.
pub(crate) struct RuntimeEntry {
    pub(crate) info: ReceiverInfo,
    pub(crate) id: u64,
    pub(crate) call: ErasedClosure,
    /// The test scope it was connected through (0: none); see `testing`.
    pub(crate) scope: u64,
    /// Cleared when it is disconnected: a delivery queued for it earlier checks this
    /// before running, so a disconnected receiver is never called by a later commit.
    connected: AtomicBool,
}

impl RuntimeEntry {
    pub(crate) fn new(info: ReceiverInfo, id: u64, call: ErasedClosure, scope: u64) -> Self {
        RuntimeEntry {
            info,
            id,
            call,
            scope,
            connected: AtomicBool::new(true),
        }
    }

    /// Marks it disconnected: deliveries queued for it will not call it.
    pub(crate) fn mark_disconnected(&self) {
        self.connected.store(false, Ordering::Release);
    }

    /// Whether it is still connected (false once `disconnect` or the guard's drop ran).
    pub(crate) fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Acquire)
    }
}

impl Drop for RuntimeEntry {
    fn drop(&mut self) {
        if let Err(panic) = self.call.release() {
            crate::engine::store::drop_panicked(Some(&self.info), &*panic);
        }
    }
}

pub(crate) type RuntimeList = Vec<Arc<RuntimeEntry>>;
