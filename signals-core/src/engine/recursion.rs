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
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Sends in progress kept in a fixed array; deeper ones spill to a `Vec`.
const INLINE: usize = 32;

thread_local! {
    // Const-initialised and without destructors: reading them is a plain TLS access, no
    // lazy-initialisation check. Only the spill (past 32 nested sends) has one.
    static DEPTH: Cell<usize> = const { Cell::new(0) };
    static INLINE_STACK: [Cell<Option<TypeId>>; INLINE] = const { [const { Cell::new(None) }; INLINE] };
    static SPILL: RefCell<Vec<TypeId>> = const { RefCell::new(Vec::new()) };
}

/// The limit was reached: the family is already active this many times.
pub(crate) struct TooDeep {
    pub(crate) limit: usize,
}

/// How many sends of `family` are in progress here. Only called once the total depth
/// reaches a limit, so the common case never scans.
#[cold]
fn active_count(family: TypeId, depth: usize) -> usize {
    let inline = INLINE_STACK.with(|stack| {
        stack[..depth.min(INLINE)]
            .iter()
            .filter(|f| f.get() == Some(family))
            .count()
    });
    let spilled = if depth > INLINE {
        SPILL.with_borrow(|spill| spill.iter().filter(|f| **f == family).count())
    } else {
        0
    };
    inline + spilled
}

#[inline]
fn push(family: TypeId) {
    let depth = DEPTH.get();
    if depth < INLINE {
        INLINE_STACK.with(|stack| stack[depth].set(Some(family)));
    } else {
        SPILL.with_borrow_mut(|spill| spill.push(family));
    }
    DEPTH.set(depth + 1);
}

#[inline]
fn pop() {
    let depth = DEPTH.get() - 1;
    if depth >= INLINE {
        SPILL.with_borrow_mut(|spill| {
            spill.pop();
        });
    }
    DEPTH.set(depth);
}

/// Pops the family it pushed when dropped (unwinding included).
pub(crate) struct Entered(());

impl Drop for Entered {
    #[inline]
    fn drop(&mut self) {
        pop();
    }
}

/// Fails if `family` is already active `limit` times on this thread.
#[inline]
pub(crate) fn check(family: TypeId, limit: usize) -> Result<(), TooDeep> {
    let depth = DEPTH.get();
    // Fewer sends in progress than the limit: this family cannot have reached it.
    if depth >= limit && active_count(family, depth) >= limit {
        Err(TooDeep { limit })
    } else {
        Ok(())
    }
}

/// Fails if `family` is active more than `limit` times on this thread, counting the send
/// that asks (an async send, whose family [`Guarded`] pushed for this poll).
#[inline]
pub(crate) fn check_entered(family: TypeId, limit: usize) -> Result<(), TooDeep> {
    let depth = DEPTH.get();
    if depth > limit && active_count(family, depth) > limit {
        Err(TooDeep { limit })
    } else {
        Ok(())
    }
}

/// Enters a send of `family`, unless it is already active `limit` times on this thread.
#[inline]
pub(crate) fn enter(family: TypeId, limit: usize) -> Result<Entered, TooDeep> {
    check(family, limit)?;
    push(family);
    Ok(Entered(()))
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
        push(*this.family);
        let _pop = Entered(());
        this.future.poll(cx)
    }
}
