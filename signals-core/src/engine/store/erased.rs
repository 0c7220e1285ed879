//! Type erasure for receivers: how a receiver of any payload type is stored.
//!
//! A signal keeps one registry for all of its senders, so the registry holds receivers of
//! several concrete payload types (`PostSave<User>`, `PostSave<Article>`, the any-sender
//! `PostSave`). Each receiver is stored with the [`TypeId`] of the [`Family`] it was built
//! for, and can only be taken back out as a receiver of that same family: [`ErasedFn::get`]
//! and [`ErasedClosure::get`] compare the tag first and return `None` on a mismatch. That
//! check is the whole safety argument for this file.
//!
//! The send path does not check a tag per receiver: it walks a plan (`plan.rs`), whose
//! builder reads each tag once, when the receiver lists change. A plan holds the raw
//! pointers of the erased receivers below (`tag`, `family` and `ptr` are visible to the
//! store for that); the pointer casts back are in `plan.rs`, each with its `SAFETY`
//! comment.
//!
//! Why not `Box<dyn Any>`: a static receiver is a plain `fn` pointer in a `static`; erasing
//! it costs nothing and calling it back is one indirect call, where `dyn Any` adds a
//! virtual `type_id()` call per receiver on the send path.

use std::any::TypeId;
use std::ptr::NonNull;

use crate::vocab::family::BoxFuture;
use crate::vocab::family::{BoxError, EventOf, Family};

/// A link-time receiver: a plain function pointer, generic over the payload lifetime.
pub(crate) type ReceiverFn<F> =
    for<'a, 'b> fn(&'b EventOf<'a, F>) -> Result<<F as Family>::Response, BoxError>;

/// A runtime receiver: a boxed closure, generic over the payload lifetime.
pub(crate) type ReceiverClosure<F> = dyn for<'a, 'b> Fn(&'b EventOf<'a, F>) -> Result<<F as Family>::Response, BoxError>
    + Send
    + Sync;

/// A link-time async receiver.
pub(crate) type AsyncReceiverFn<F> =
    for<'a, 'b> fn(&'b EventOf<'a, F>) -> BoxFuture<'b, Result<<F as Family>::Response, BoxError>>;

/// A runtime async receiver.
pub(crate) type AsyncReceiverClosure<F> = dyn for<'a, 'b> Fn(&'b EventOf<'a, F>) -> BoxFuture<'b, Result<<F as Family>::Response, BoxError>>
    + Send
    + Sync;

/// A receiver of family `F`, about to be called: a link-time function or a runtime closure.
#[doc(hidden)]
pub enum Callee<'r, F: Family> {
    LinkTime(ReceiverFn<F>),
    Runtime(&'r ReceiverClosure<F>),
}

impl<F: Family> Callee<'_, F> {
    #[inline(always)]
    pub fn call(&self, event: &EventOf<'_, F>) -> Result<F::Response, BoxError> {
        match self {
            Callee::LinkTime(f) => f(event),
            Callee::Runtime(f) => f(event),
        }
    }
}

/// An async receiver of family `F`, about to be called.
#[doc(hidden)]
pub enum AsyncCallee<'r, F: Family> {
    LinkTime(AsyncReceiverFn<F>),
    Runtime(&'r AsyncReceiverClosure<F>),
}

impl<F: Family> AsyncCallee<'_, F> {
    #[inline(always)]
    pub fn call<'b>(
        &self,
        event: &'b EventOf<'_, F>,
    ) -> BoxFuture<'b, Result<F::Response, BoxError>> {
        match self {
            AsyncCallee::LinkTime(f) => f(event),
            AsyncCallee::Runtime(f) => f(event),
        }
    }
}

/// Tags async receivers apart from sync ones of the same family.
struct Async<F>(std::marker::PhantomData<F>);

/// A [`ReceiverFn`] or [`AsyncReceiverFn`] whose family is only known by its [`TypeId`].
#[derive(Clone, Copy)]
pub(crate) struct ErasedFn {
    /// `TypeId` of `F` (sync) or `Async<F>` (async): what `get` and `get_async` check,
    /// and what a plan reads once when it takes a step from it (`plan.rs`).
    pub(super) tag: TypeId,
    /// `TypeId` of `F` for both kinds: what `dispatch_uid` uniqueness is scoped to.
    pub(super) family: TypeId,
    pub(super) ptr: *const (),
}

// SAFETY: `ptr` is a function pointer (it never points to data), and function pointers are
// `Send + Sync`.
unsafe impl Send for ErasedFn {}
// SAFETY: as above.
unsafe impl Sync for ErasedFn {}

impl ErasedFn {
    pub(crate) const fn new<F: Family>(f: ReceiverFn<F>) -> Self {
        ErasedFn {
            tag: TypeId::of::<F>(),
            family: TypeId::of::<F>(),
            ptr: f as *const (),
        }
    }

    pub(crate) const fn new_async<F: Family>(f: AsyncReceiverFn<F>) -> Self {
        ErasedFn {
            tag: TypeId::of::<Async<F>>(),
            family: TypeId::of::<F>(),
            ptr: f as *const (),
        }
    }

    /// The family (signal and sender) this receiver listens to, sync or async alike.
    pub(crate) fn family(&self) -> TypeId {
        self.family
    }

    /// The receiver as an `AsyncReceiverFn<F>`, if it was built by `new_async::<F>`.
    #[inline(always)]
    pub(crate) fn get_async<F: Family>(&self) -> Option<AsyncReceiverFn<F>> {
        if self.tag == TypeId::of::<Async<F>>() {
            // SAFETY: `new_async::<F>` is the only constructor storing `TypeId::of::<Async<F>>()`,
            // next to a pointer cast from an `AsyncReceiverFn<F>`; casting back is lossless.
            Some(unsafe { std::mem::transmute::<*const (), AsyncReceiverFn<F>>(self.ptr) })
        } else {
            None
        }
    }

    /// The receiver as a `ReceiverFn<F>`, if it was built for family `F`.
    #[inline(always)]
    pub(crate) fn get<F: Family>(&self) -> Option<ReceiverFn<F>> {
        if self.tag == TypeId::of::<F>() {
            // SAFETY: `new::<F>` is the only constructor and it stores `TypeId::of::<F>()`
            // next to a pointer cast from a `ReceiverFn<F>`. The tags are equal, so `ptr`
            // came from a `ReceiverFn<F>`; casting a fn pointer to `*const ()` and back to
            // its own type is lossless.
            Some(unsafe { std::mem::transmute::<*const (), ReceiverFn<F>>(self.ptr) })
        } else {
            None
        }
    }
}

/// A boxed [`ReceiverClosure`] whose family is only known by its [`TypeId`].
pub(crate) struct ErasedClosure {
    /// As in [`ErasedFn`].
    pub(super) tag: TypeId,
    /// As in [`ErasedFn`].
    pub(super) family: TypeId,
    /// Points to a leaked `Box<Box<ReceiverClosure<F>>>` (thin pointer to the fat box).
    pub(super) ptr: NonNull<()>,
    drop: unsafe fn(NonNull<()>),
}

// SAFETY: `ptr` owns a `Box<ReceiverClosure<F>>`, and `ReceiverClosure<F>` is `Send + Sync` by its definition.
unsafe impl Send for ErasedClosure {}
// SAFETY: as above; `get` only hands out shared references.
unsafe impl Sync for ErasedClosure {}

impl ErasedClosure {
    pub(crate) fn new<F: Family>(f: Box<ReceiverClosure<F>>) -> Self {
        let outer: Box<Box<ReceiverClosure<F>>> = Box::new(f);
        ErasedClosure {
            tag: TypeId::of::<F>(),
            family: TypeId::of::<F>(),
            ptr: NonNull::from(Box::leak(outer)).cast(),
            drop: drop_box::<F>,
        }
    }

    pub(crate) fn new_async<F: Family>(f: Box<AsyncReceiverClosure<F>>) -> Self {
        let outer: Box<Box<AsyncReceiverClosure<F>>> = Box::new(f);
        ErasedClosure {
            tag: TypeId::of::<Async<F>>(),
            family: TypeId::of::<F>(),
            ptr: NonNull::from(Box::leak(outer)).cast(),
            drop: drop_async_box::<F>,
        }
    }

    /// The family (signal and sender) this receiver listens to, sync or async alike.
    pub(crate) fn family(&self) -> TypeId {
        self.family
    }

    /// The closure as an `AsyncReceiverClosure<F>`, if it was built by `new_async::<F>`.
    #[inline(always)]
    pub(crate) fn get_async<F: Family>(&self) -> Option<&AsyncReceiverClosure<F>> {
        if self.tag == TypeId::of::<Async<F>>() {
            // SAFETY: `new_async::<F>` is the only constructor storing this tag, and `ptr` is
            // the `Box<Box<AsyncReceiverClosure<F>>>` it leaked, valid until `drop` (needs `&mut self`).
            Some(unsafe { &**self.ptr.cast::<Box<AsyncReceiverClosure<F>>>().as_ref() })
        } else {
            None
        }
    }

    /// The closure as a `ReceiverClosure<F>`, if it was built for family `F`.
    #[inline(always)]
    pub(crate) fn get<F: Family>(&self) -> Option<&ReceiverClosure<F>> {
        if self.tag == TypeId::of::<F>() {
            // SAFETY: `new::<F>` is the only constructor; equal tags mean `ptr` is the
            // leaked `Box<Box<ReceiverClosure<F>>>` it created. It stays valid until `drop`, which
            // needs `&mut self`, so it outlives the returned borrow of `self`.
            Some(unsafe { &**self.ptr.cast::<Box<ReceiverClosure<F>>>().as_ref() })
        } else {
            None
        }
    }
}

/// # Safety
/// `ptr` must come from `ErasedClosure::new::<F>` and must not be used afterwards.
unsafe fn drop_box<F: Family>(ptr: NonNull<()>) {
    // SAFETY: guaranteed by the caller: `ptr` is the `Box<Box<ReceiverClosure<F>>>` leaked in `new`.
    drop(unsafe { Box::from_raw(ptr.cast::<Box<ReceiverClosure<F>>>().as_ptr()) });
}

/// # Safety
/// `ptr` must come from `ErasedClosure::new_async::<F>` and must not be used afterwards.
unsafe fn drop_async_box<F: Family>(ptr: NonNull<()>) {
    // SAFETY: guaranteed by the caller: `ptr` is the `Box<Box<AsyncReceiverClosure<F>>>` leaked in `new_async`.
    drop(unsafe { Box::from_raw(ptr.cast::<Box<AsyncReceiverClosure<F>>>().as_ptr()) });
}

/// The drop function of a released [`ErasedClosure`]: its closure is gone already.
///
/// # Safety
/// Always safe to call; `unsafe` only to share `ErasedClosure::drop`'s type.
unsafe fn released(_: NonNull<()>) {}

impl ErasedClosure {
    /// Drops the closure (and everything it captured) now, catching a panic from a
    /// captured value's `Drop`: user code must never unwind into the registry or a send.
    /// Afterwards `self` holds nothing, and [`get`](Self::get) and
    /// [`get_async`](Self::get_async) return `None`.
    pub(crate) fn release(&mut self) -> std::thread::Result<()> {
        let drop_fn = std::mem::replace(&mut self.drop, released);
        // No family has the tag of `()`: nothing can be taken back out any more.
        self.tag = TypeId::of::<()>();
        let ptr = self.ptr;
        std::panic::catch_unwind(move || {
            // SAFETY: `drop_fn` is `drop_box::<F>` (or `drop_async_box::<F>`) for the `F`
            // that built `ptr`, and it is taken out of `self`, so this is the pointer's
            // last use: `self.drop` is now a no-op and the tag matches no family.
            unsafe { drop_fn(ptr) }
        })
    }
}

impl Drop for ErasedClosure {
    fn drop(&mut self) {
        // Registry entries release their closure themselves (reporting a panic with the
        // receiver's name); this is the fallback for every other owner.
        if let Err(panic) = self.release() {
            crate::engine::store::drop_panicked(None, &*panic);
        }
    }
}

/// Test receivers, shared with the plan tests (`plan.rs`).
#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    pub(in crate::engine::store) struct Ping<'a>(pub(in crate::engine::store) &'a u32);
    pub(in crate::engine::store) struct PingFamily;
    impl Family for PingFamily {
        type Event<'a> = Ping<'a>;
        type Response = u32;
    }
    pub(in crate::engine::store) struct Other;
    impl Family for Other {
        type Event<'a> = &'a str;
        type Response = ();
    }

    pub(in crate::engine::store) fn double(p: &Ping<'_>) -> Result<u32, BoxError> {
        Ok(p.0 * 2)
    }

    #[test]
    fn fn_pointer_round_trips_only_for_its_own_family() {
        let erased = ErasedFn::new::<PingFamily>(double);
        assert_eq!(erased.family(), TypeId::of::<PingFamily>());
        assert!(erased.get::<Other>().is_none());
        let f = erased.get::<PingFamily>().expect("same family");
        let n = 21;
        assert_eq!(f(&Ping(&n)).unwrap(), 42);
    }

    #[test]
    fn boxed_closure_round_trips_and_drops_its_captures_once() {
        let captured = Arc::new(AtomicUsize::new(0));
        let c = Arc::clone(&captured);
        let erased = ErasedClosure::new::<PingFamily>(Box::new(move |p: &Ping<'_>| {
            c.fetch_add(1, Ordering::SeqCst);
            Ok(*p.0 + 1)
        }));
        assert!(erased.get::<Other>().is_none());
        let n = 1;
        let f = erased.get::<PingFamily>().expect("same family");
        assert_eq!(f(&Ping(&n)).unwrap(), 2);
        assert_eq!(f(&Ping(&n)).unwrap(), 2);
        assert_eq!(captured.load(Ordering::SeqCst), 2);
        assert_eq!(Arc::strong_count(&captured), 2);
        drop(erased);
        assert_eq!(
            Arc::strong_count(&captured),
            1,
            "closure dropped exactly once"
        );
    }

    pub(in crate::engine::store) fn halve<'b>(
        p: &'b Ping<'_>,
    ) -> BoxFuture<'b, Result<u32, BoxError>> {
        Box::pin(async move { Ok(*p.0 / 2) })
    }

    pub(in crate::engine::store) fn poll_ready<T>(mut f: BoxFuture<'_, T>) -> T {
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        match f.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(v) => v,
            std::task::Poll::Pending => panic!("test futures complete at once"),
        }
    }

    #[test]
    fn async_receivers_are_tagged_apart_from_sync_ones() {
        let erased = ErasedFn::new_async::<PingFamily>(halve);
        assert_eq!(
            erased.family(),
            TypeId::of::<PingFamily>(),
            "same family as a sync receiver"
        );
        assert!(
            erased.get::<PingFamily>().is_none(),
            "an async fn is not a sync receiver"
        );
        assert!(erased.get_async::<Other>().is_none());
        let n = 8;
        assert_eq!(
            poll_ready(erased.get_async::<PingFamily>().unwrap()(&Ping(&n))).unwrap(),
            4
        );

        let captured = Arc::new(AtomicUsize::new(0));
        let c = Arc::clone(&captured);
        let boxed = ErasedClosure::new_async::<PingFamily>(Box::new(move |p: &Ping<'_>| {
            let c = Arc::clone(&c);
            let v = *p.0;
            Box::pin(async move {
                c.fetch_add(1, Ordering::SeqCst);
                Ok(v + 1)
            }) as BoxFuture<'_, _>
        }));
        assert!(boxed.get::<PingFamily>().is_none());
        assert_eq!(
            poll_ready(boxed.get_async::<PingFamily>().unwrap()(&Ping(&n))).unwrap(),
            9
        );
        assert_eq!(captured.load(Ordering::SeqCst), 1);
        drop(boxed);
        assert_eq!(Arc::strong_count(&captured), 1);
    }

    #[test]
    fn erased_receivers_cross_threads() {
        let erased = Arc::new(ErasedClosure::new::<PingFamily>(Box::new(
            |p: &Ping<'_>| Ok(*p.0),
        )));
        let handles: Vec<_> = (0..4u32)
            .map(|i| {
                let e = Arc::clone(&erased);
                std::thread::spawn(move || e.get::<PingFamily>().unwrap()(&Ping(&i)).unwrap())
            })
            .collect();
        let sum: u32 = handles.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(sum, 6);
    }
}
