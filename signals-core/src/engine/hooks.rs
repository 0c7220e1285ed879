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
pub(crate) use active::*;

/// The test scopes' state and the two hooks, with the test kit compiled in. The public
/// `testing::Scope` pushes its [`ScopeState`] on [`ACTIVE`] while it runs.
#[cfg(feature = "testing")]
mod active {
    use std::any::{Any, TypeId};
    use std::cell::RefCell;
    use std::sync::{Arc, Mutex};

    use crate::engine::local::lock;
    use crate::engine::payload::Payload;
    use crate::vocab::family::{EventOf, Family};
    use crate::vocab::receiver::ReceiverInfo;

    thread_local! {
        pub(crate) static ACTIVE: crate::engine::local::Stack<Arc<ScopeState>> = const { RefCell::new(Vec::new()) };
    }

    /// Records sends of family `F`.
    pub(crate) trait Record<F: Family>: Send + Sync {
        fn record(
            &self,
            event: &EventOf<'_, F>,
            signal: &'static str,
            sender: Option<&'static str>,
        );
    }

    /// A recorder with its family erased: a `Box<dyn Record<F>>` inside `dyn Any`.
    pub(crate) struct AnyRecorder {
        pub(crate) family: TypeId,
        pub(crate) recorder: Box<dyn Any + Send + Sync>,
    }

    #[derive(Default)]
    pub(crate) struct ScopeState {
        pub(crate) id: u64,
        pub(crate) mute_all: bool,
        pub(crate) muted: Vec<&'static str>,
        pub(crate) recorders: Mutex<Vec<AnyRecorder>>,
    }

    /// Called at the start of every send: records it in the active scopes' captures.
    pub(crate) fn on_send<S: Payload>(event: &S) {
        ACTIVE.with_borrow(|stack| {
            for state in stack {
                for recorder in lock(&state.recorders).iter() {
                    if recorder.family == TypeId::of::<S::Family>() {
                        if let Some(r) = recorder
                            .recorder
                            .downcast_ref::<Box<dyn Record<S::Family>>>()
                        {
                            event.as_event(|e| r.record(e, S::NAME, S::sender_name()));
                        }
                    } else if recorder.family == TypeId::of::<S::AnySender>()
                        && let (Some(r), Some(view)) = (
                            recorder
                                .recorder
                                .downcast_ref::<Box<dyn Record<S::AnySender>>>(),
                            event.any_view(),
                        )
                    {
                        r.record(&view, S::NAME, S::sender_name());
                    }
                }
            }
        });
    }

    /// Whether a receiver must not run for a send made here: muted by an active scope, or
    /// connected through a scope that is not active here.
    pub(crate) fn skips(info: &ReceiverInfo, scope: u64) -> bool {
        ACTIVE.with_borrow(|stack| {
            if scope != 0 {
                return !stack.iter().any(|s| s.id == scope);
            }
            stack
                .iter()
                .any(|s| s.mute_all || s.muted.iter().any(|m| matches_name(info.name, m)))
        })
    }

    fn matches_name(full: &str, wanted: &str) -> bool {
        full == wanted
            || full
                .strip_suffix(wanted)
                .is_some_and(|head| head.ends_with("::"))
    }
}

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
