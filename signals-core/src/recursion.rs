//! The recursion guard: a receiver that sends its own signal again (a `PostSave` receiver
//! that saves the instance, which sends `PostSave`, ...) stops at a depth limit with an
//! error instead of overflowing the stack.
//!
//! Each thread keeps the stack of sends in progress (their family: signal and sender).
//! A sync send pushes its family for its duration; an async send pushes it around each
//! poll (as `tracing::Instrument` does with spans), so tasks interleaved on one thread never
//! see each other's sends. A send whose family is already on the stack `limit` times fails
//! with [`SendError::Recursion`](crate::SendError::Recursion) before running any receiver;
//! the chain of receivers is assembled as that error propagates back up, so the normal
//! path pays one push and one pop per send and nothing per receiver.

use std::any::TypeId;
use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

thread_local! {
    static ACTIVE: RefCell<Vec<TypeId>> = const { RefCell::new(Vec::new()) };
}

/// The limit was reached: the family is already active this many times.
pub(crate) struct TooDeep {
    pub(crate) limit: usize,
}

/// Pops the family it pushed when dropped (unwinding included).
pub(crate) struct Entered(());

impl Drop for Entered {
    fn drop(&mut self) {
        ACTIVE.with_borrow_mut(|stack| {
            stack.pop();
        });
    }
}

/// Enters a send of `family`, unless it is already active `limit` times on this thread.
#[inline]
pub(crate) fn enter(family: TypeId, limit: usize) -> Result<Entered, TooDeep> {
    ACTIVE.with_borrow_mut(|stack| {
        if stack.iter().filter(|f| **f == family).count() >= limit {
            Err(TooDeep { limit })
        } else {
            stack.push(family);
            Ok(Entered(()))
        }
    })
}

/// Fails if `family` is already active `limit` times on this thread (async sends check
/// once, then push the family around each poll with [`Guarded`]).
pub(crate) fn check(family: TypeId, limit: usize) -> Result<(), TooDeep> {
    ACTIVE.with_borrow(|stack| {
        if stack.iter().filter(|f| **f == family).count() >= limit {
            Err(TooDeep { limit })
        } else {
            Ok(())
        }
    })
}

pin_project_lite::pin_project! {
    /// Runs `future` with `family` pushed during each poll.
    pub(crate) struct Guarded<F> {
        family: TypeId,
        #[pin]
        future: F,
    }
}

impl<F> Guarded<F> {
    pub(crate) fn new(family: TypeId, future: F) -> Self {
        Guarded { family, future }
    }
}

impl<F: Future> Future for Guarded<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        ACTIVE.with_borrow_mut(|stack| stack.push(*this.family));
        let _pop = Entered(());
        this.future.poll(cx)
    }
}
