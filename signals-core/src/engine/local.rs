//! Thread-local and lock helpers. A value active for a stretch of code: pushed on a thread-local stack until a guard
//! drops, or around every poll of a future (so it follows a task across worker threads).
//! Test scopes and transactions both use it.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::thread::LocalKey;

/// A thread-local stack of active values; the innermost is last.
pub(crate) type Stack<T> = RefCell<Vec<T>>;

/// Pops what [`push`] pushed when dropped (unwinding included).
pub(crate) struct Pushed<T: 'static> {
    stack: &'static LocalKey<Stack<T>>,
}

/// Pushes `value` on `stack` until the returned guard drops.
pub(crate) fn push<T: 'static>(stack: &'static LocalKey<Stack<T>>, value: T) -> Pushed<T> {
    stack.with_borrow_mut(|values| values.push(value));
    Pushed { stack }
}

impl<T: 'static> Drop for Pushed<T> {
    fn drop(&mut self) {
        self.stack.with_borrow_mut(|values| {
            values.pop();
        });
    }
}

pin_project_lite::pin_project! {
    /// `future`, with `value` pushed on `stack` whenever it is polled.
    pub(crate) struct Within<T: 'static, F> {
        stack: &'static LocalKey<Stack<T>>,
        value: T,
        #[pin]
        future: F,
    }
}

impl<T: Clone + 'static, F> Within<T, F> {
    pub(crate) fn new(stack: &'static LocalKey<Stack<T>>, value: T, future: F) -> Self {
        Within {
            stack,
            value,
            future,
        }
    }
}

impl<T: Clone + 'static, F: Future> Future for Within<T, F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let _active = push(*this.stack, this.value.clone());
        this.future.poll(cx)
    }
}

/// Locks `mutex`, ignoring poisoning: the data behind the crate's locks is never left
/// half-updated by a panic (no user code runs while one is held).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
