//! How signals meet the engine: what `#[receiver]` submits to `inventory` (through
//! `__private`), the lists the engine asks for when a signal is first used, and the
//! blanket impl that makes every [`Signal`] an engine payload.

use std::any::TypeId;

use crate::engine::payload::Payload;
use crate::engine::store::entry::LinkTimeSlot;
use crate::engine::store::erased::{AsyncCallee, Callee};
use crate::engine::store::erased::{AsyncReceiverFn, ErasedFn, ReceiverFn};
use crate::engine::store::registry::{CollectLinkTime, Registry};
use crate::vocab::family::{BoxError, BoxFuture, Concurrency, EventOf};
// A registration's `Signal` bound is the diagnostic a user sees for
// `#[receiver(NotASignal)]`.
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
    /// `when = predicate`, as written.
    pub when: Option<&'static str>,
    /// `offload = "queue"`.
    pub offload: Option<&'static str>,
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
            when: self.meta.when,
            offload: self.meta.offload,
        }
    }
}

inventory::collect!(StaticReceiver);

/// The link-time receivers of the signal whose registry key is `signal_key` (unsorted):
/// the engine's `CollectLinkTime` provider for every signal.
pub(crate) fn slots(signal_key: TypeId) -> Vec<LinkTimeSlot> {
    inventory::iter::<StaticReceiver>
        .into_iter()
        .filter(|r| r.signal_key == signal_key)
        .map(|r| LinkTimeSlot {
            info: r.info(),
            call: r.call,
        })
        .collect()
}

/// Every signal is a payload the engine can dispatch.
impl<S: Signal> Payload for S {
    type Response = S::Response;
    type Family = S::Family;
    type AnySender = S::AnySender;
    type Output = S::Output;
    const NAME: &'static str = S::NAME;
    const MAX_DEPTH: usize = S::MAX_DEPTH;
    const CONCURRENCY: Concurrency = S::CONCURRENCY;
    const LINK_TIME: CollectLinkTime = slots;
    #[inline(always)]
    fn sender_name() -> Option<&'static str> {
        S::sender_name()
    }
    #[inline(always)]
    fn registry() -> &'static Registry {
        S::__registry()
    }
    #[inline(always)]
    fn call(&self, receiver: Callee<'_, Self::Family>) -> Result<Self::Response, BoxError> {
        self.__call(receiver)
    }
    #[inline(always)]
    fn call_async<'s>(
        &'s self,
        receiver: AsyncCallee<'_, Self::Family>,
    ) -> BoxFuture<'s, Result<Self::Response, BoxError>> {
        self.__call_async(receiver)
    }
    #[inline(always)]
    fn as_event<R>(&self, f: impl FnOnce(&EventOf<'_, Self::Family>) -> R) -> R {
        self.__as_event(f)
    }
    #[inline(always)]
    fn any_view(&self) -> Option<EventOf<'_, Self::AnySender>> {
        self.__any_view()
    }
}
