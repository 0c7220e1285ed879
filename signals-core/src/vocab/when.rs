//! Conditional receivers (`#[receiver(.., when = predicate)]`): how a receiver whose
//! predicate says no tells the engine it did not run.
//!
//! The macro wraps the receiver: the wrapper calls the predicate first and, when it
//! returns `false`, returns [`skipped`] (or [`skipped_async`]) instead of calling the
//! function. The engine turns that outcome into "did not run" where it calls receivers
//! ([`is_skipped`], checked only on the error path), so a skipped receiver is not counted,
//! not collected and not reported: it costs the predicate and one type check, and
//! allocates nothing (the error and the future are zero-sized).

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::vocab::family::{BoxError, BoxFuture};

/// The outcome of a receiver whose `when` predicate returned `false`: never returned to
/// users, never reported.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Skipped;

impl std::fmt::Display for Skipped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("skipped: its `when` predicate returned false")
    }
}

impl std::error::Error for Skipped {}

/// What a receiver's wrapper returns when its predicate says no (no allocation: `Skipped`
/// is zero-sized).
#[doc(hidden)]
#[inline(always)]
pub fn skipped<R>() -> Result<R, BoxError> {
    Err(Box::new(Skipped))
}

/// [`skipped`] for an async receiver: a zero-sized future, so boxing it allocates nothing.
#[doc(hidden)]
#[inline(always)]
pub fn skipped_async<'b, R: Send + 'b>() -> BoxFuture<'b, Result<R, BoxError>> {
    Box::pin(SkippedFuture(PhantomData))
}

struct SkippedFuture<R>(PhantomData<fn() -> R>);

impl<R> Future for SkippedFuture<R> {
    type Output = Result<R, BoxError>;
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Self::Output> {
        Poll::Ready(skipped())
    }
}

/// Whether a receiver's error is the [`Skipped`] marker: it did not run.
#[inline]
pub(crate) fn is_skipped(error: &BoxError) -> bool {
    error.is::<Skipped>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_marker_is_recognised_and_other_errors_are_not() {
        let Err(error) = skipped::<u32>() else {
            panic!("skipped() is an error")
        };
        assert!(is_skipped(&error));
        let other: BoxError = "boom".into();
        assert!(!is_skipped(&other));
        assert_eq!(std::mem::size_of::<SkippedFuture<u64>>(), 0);
    }
}
