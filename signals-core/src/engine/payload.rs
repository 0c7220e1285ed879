//! What the engine needs to know about a payload, as a crate-private trait: the engine
//! never names the public [`Signal`](crate::Signal) trait, which sits above it and is
//! blanket-implemented into this one (`signal.rs`), so every signal is a `Payload`.

use crate::engine::store::erased::{AsyncCallee, Callee};
use crate::engine::store::registry::{CollectLinkTime, Registry};
use crate::vocab::family::{BoxError, BoxFuture, Concurrency, EventOf, Family};
use crate::vocab::response::Collect;

/// A signal payload as the engine dispatches it; see `Signal` for each item's meaning.
pub(crate) trait Payload: Sized {
    /// What each receiver returns.
    type Response: 'static;
    /// The family of this payload (this sender).
    type Family: Family<Response = Self::Response>;
    /// The family of the any-sender form.
    type AnySender: Family<Response = Self::Response>;
    /// What a send collects the responses into.
    type Output: Collect<Self::Response>;
    /// The signal's name.
    const NAME: &'static str;
    /// The recursion limit, per sender.
    const MAX_DEPTH: usize;
    /// How async receivers run by default.
    const CONCURRENCY: Concurrency;
    /// The sender's type name, if any.
    fn sender_name() -> Option<&'static str>;
    /// The signal's registry, shared by all its senders.
    fn registry() -> &'static Registry;
    /// Where the registry finds the signal's link-time receivers on first use.
    const LINK_TIME: CollectLinkTime;
    /// Calls a sync receiver of this payload's family.
    fn call(&self, receiver: Callee<'_, Self::Family>) -> Result<Self::Response, BoxError>;
    /// Starts an async receiver of this payload's family.
    fn call_async<'s>(
        &'s self,
        receiver: AsyncCallee<'_, Self::Family>,
    ) -> BoxFuture<'s, Result<Self::Response, BoxError>>;
    /// The payload as its family's event (for the test kit's captures).
    #[cfg_attr(not(feature = "testing"), allow(dead_code))]
    fn as_event<R>(&self, f: impl FnOnce(&EventOf<'_, Self::Family>) -> R) -> R;
    /// The any-sender view of the payload (`None` for the any-sender form itself).
    fn any_view(&self) -> Option<EventOf<'_, Self::AnySender>>;
}
