//! Link-time receivers: what `#[receiver]` submits to `inventory`.

use std::any::TypeId;

use crate::engine::store::erased::{AsyncReceiverFn, ErasedFn, ReceiverFn};
// The one place the engine names the public trait: a registration's `Signal` bound is
// the diagnostic a user sees for `#[receiver(NotASignal)]`.
use crate::signal::Signal;
use crate::vocab::receiver::{ReceiverInfo, ReceiverKind};

/// Where a `#[receiver]` was declared; built by the macro.
#[doc(hidden)]
pub struct StaticMeta {
    pub name: &'static str,
    pub module: &'static str,
    pub file: &'static str,
    pub line: u32,
    pub priority: i32,
    pub dispatch_uid: Option<&'static str>,
    pub phase: crate::vocab::phase::Phase,
}

/// A link-time receiver, submitted to `inventory` by `#[receiver]`.
#[doc(hidden)]
pub struct StaticReceiver {
    /// The signal's registry key: the any-sender family, shared by all its senders.
    pub(crate) signal_key: TypeId,
    pub(crate) signal_name: &'static str,
    pub(crate) sender_name: fn() -> Option<&'static str>,
    pub(crate) call: ErasedFn,
    pub(crate) is_async: bool,
    pub(crate) meta: StaticMeta,
}

impl StaticReceiver {
    /// Registers `f` as a receiver of `S` (this sender, or any sender for the any form).
    pub const fn new<S: Signal>(f: ReceiverFn<S::Family>, meta: StaticMeta) -> Self {
        StaticReceiver {
            signal_key: TypeId::of::<S::AnySender>(),
            signal_name: S::NAME,
            sender_name: S::sender_name,
            call: ErasedFn::new::<S::Family>(f),
            is_async: false,
            meta,
        }
    }

    /// Registers the async function `f` as a receiver of `S`.
    pub const fn new_async<S: Signal>(f: AsyncReceiverFn<S::Family>, meta: StaticMeta) -> Self {
        StaticReceiver {
            signal_key: TypeId::of::<S::AnySender>(),
            signal_name: S::NAME,
            sender_name: S::sender_name,
            call: ErasedFn::new_async::<S::Family>(f),
            is_async: true,
            meta,
        }
    }

    pub(crate) fn info(&self) -> ReceiverInfo {
        ReceiverInfo {
            name: self.meta.name,
            module: self.meta.module,
            file: self.meta.file,
            line: self.meta.line,
            priority: self.meta.priority,
            signal: self.signal_name,
            sender: (self.sender_name)(),
            dispatch_uid: self.meta.dispatch_uid,
            kind: ReceiverKind::Static,
            is_async: self.is_async,
            phase: self.meta.phase,
            shadowed_by: None,
        }
    }
}

inventory::collect!(StaticReceiver);
