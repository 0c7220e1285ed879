//! The test kit's hooks into dispatch (`signals_core::testing`, feature `testing`): a send
//! reports itself to the active test scopes ([`on_send`]) and asks whether a receiver is
//! muted or out of its scope ([`skips`]). Without the feature this is a no-op twin whose
//! functions are constant, so the checks compile away and the dispatch code carries no
//! `cfg` of its own.

#[cfg(not(feature = "testing"))]
use crate::vocab::receiver::ReceiverInfo;

/// Whether the test kit is compiled in: callers check it first, so that nothing else of
/// a check is evaluated (not even an index) when it is not.
pub(crate) const ENABLED: bool = cfg!(feature = "testing");

#[cfg(feature = "testing")]
pub(crate) use crate::testing::{on_send, skips};

/// Called at the start of every send (no-op twin).
#[cfg(not(feature = "testing"))]
#[inline(always)]
pub(crate) fn on_send<S>(_event: &S) {}

/// Whether a test scope keeps a receiver from running here (no-op twin: never).
#[cfg(not(feature = "testing"))]
#[inline(always)]
pub(crate) fn skips(_info: &ReceiverInfo, _scope: u64) -> bool {
    false
}
