//! The dispatch path: every send goes through [`walk`].
//!
//! 1. One atomic load of the registry state; a signal with no receivers stops there.
//! 2. The link-time list (sorted once) and a snapshot of the runtime list are merged by
//!    priority, link-time first on ties.
//! 3. Each receiver whose family is the payload's (sender-specific) or the any-sender family
//!    is called; the others belong to other senders and are skipped.
//!
//! `send`, `send_with` and `send_robust` differ only in what they do with each outcome.

use std::any::TypeId;
use std::ops::ControlFlow;
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::error::{ReceiverError, SendError};
use crate::receiver::ReceiverInfo;
use crate::registry::{DynEntry, StaticSlot};
use crate::response::{Collect, Failure, Report};
use crate::signal::{BoxError, Callee, Signal};

/// One receiver about to run.
enum Target<'r> {
    Static(&'r StaticSlot),
    Dynamic(&'r DynEntry),
}

impl Target<'_> {
    #[inline(always)]
    fn info(&self) -> &ReceiverInfo {
        match self {
            Target::Static(s) => &s.info,
            Target::Dynamic(d) => &d.info,
        }
    }

    /// Calls the receiver if it listens to this payload's sender; `None` if it does not.
    #[inline(always)]
    fn call<S: Signal>(&self, event: &S) -> Option<Result<S::Response, BoxError>> {
        match self {
            Target::Static(s) => {
                if let Some(f) = s.call.get::<S::Family>() {
                    Some(event.__call(Callee::Static(f)))
                } else {
                    s.call.get::<S::AnySender>().map(|f| event.__call_any(Callee::Static(f)))
                }
            }
            Target::Dynamic(d) => {
                if let Some(f) = d.call.get::<S::Family>() {
                    Some(event.__call(Callee::Dynamic(f)))
                } else {
                    d.call.get::<S::AnySender>().map(|f| event.__call_any(Callee::Dynamic(f)))
                }
            }
        }
    }

    #[inline(always)]
    fn matches<S: Signal>(&self) -> bool {
        let tag = match self {
            Target::Static(s) => s.call.tag(),
            Target::Dynamic(d) => d.call.tag(),
        };
        tag == TypeId::of::<S::Family>() || tag == TypeId::of::<S::AnySender>()
    }
}

/// Visits the receivers of `S` in dispatch order until `visit` breaks.
#[inline(always)]
fn walk<S: Signal>(mut visit: impl FnMut(Target<'_>) -> ControlFlow<()>) {
    let registry = S::__registry();
    let Some(statics) = registry.statics_if_any(TypeId::of::<S::AnySender>()) else {
        return;
    };
    let snapshot = registry.dynamic();
    let dynamic: &[std::sync::Arc<DynEntry>] = match snapshot.as_ref() {
        Some(guard) => guard.as_deref().map(Vec::as_slice).unwrap_or(&[]),
        None => &[],
    };
    if dynamic.is_empty() {
        for slot in statics {
            if visit(Target::Static(slot)).is_break() {
                return;
            }
        }
        return;
    }
    let (mut s, mut d) = (statics.iter().peekable(), dynamic.iter().peekable());
    loop {
        let next = match (s.peek(), d.peek()) {
            (Some(a), Some(b)) if a.info.priority >= b.info.priority => Target::Static(s.next().unwrap()),
            (_, Some(_)) => Target::Dynamic(d.next().unwrap()),
            (Some(_), None) => Target::Static(s.next().unwrap()),
            (None, None) => return,
        };
        if visit(next).is_break() {
            return;
        }
    }
}

pub(crate) fn send_with<S: Signal>(
    event: &S,
    mut sink: impl FnMut(&ReceiverInfo, S::Response),
) -> Result<usize, SendError> {
    let mut ran = 0;
    let mut failed = None;
    walk::<S>(|target| match target.call(event) {
        None => ControlFlow::Continue(()),
        Some(Ok(response)) => {
            ran += 1;
            sink(target.info(), response);
            ControlFlow::Continue(())
        }
        Some(Err(source)) => {
            failed = Some(SendError::Receiver { receiver: *target.info(), source });
            ControlFlow::Break(())
        }
    });
    match failed {
        Some(error) => Err(error),
        None => Ok(ran),
    }
}

pub(crate) fn send<S: Signal>(event: &S) -> Result<S::Output, SendError> {
    let mut output = S::Output::default();
    send_with(event, |info, response| output.collect(info, response))?;
    Ok(output)
}

pub(crate) fn send_robust<S: Signal>(event: &S) -> Report<S::Output> {
    let mut output = S::Output::default();
    let mut failures = Vec::new();
    let mut position = 0;
    walk::<S>(|target| {
        let outcome = match catch_unwind(AssertUnwindSafe(|| target.call(event))) {
            Ok(None) => return ControlFlow::Continue(()),
            Ok(Some(Ok(response))) => Ok(response),
            Ok(Some(Err(error))) => Err(ReceiverError::Failed(error)),
            Err(panic) => Err(ReceiverError::Panicked { message: panic_message(panic.as_ref()) }),
        };
        let info = target.info();
        match outcome {
            Ok(response) => output.collect(info, response),
            Err(error) => {
                tracing::error!(
                    target: "signals_core::dispatch",
                    signal = info.signal,
                    receiver = info.name,
                    location = %format_args!("{}:{}", info.file, info.line),
                    error = %error,
                    "receiver failed in send_robust"
                );
                failures.push(Failure { receiver: *info, position, error });
            }
        }
        position += 1;
        ControlFlow::Continue(())
    });
    Report::new(output, failures)
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "Box<dyn Any>".to_owned()
    }
}

pub(crate) fn has_receivers<S: Signal>(any_sender: bool) -> bool {
    let mut found = false;
    walk::<S>(|target| {
        if any_sender || target.matches::<S>() {
            found = true;
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    });
    found
}

pub(crate) fn receivers<S: Signal>() -> Vec<ReceiverInfo> {
    let mut list = Vec::new();
    walk::<S>(|target| {
        if target.matches::<S>() {
            list.push(*target.info());
        }
        ControlFlow::Continue(())
    });
    list
}
