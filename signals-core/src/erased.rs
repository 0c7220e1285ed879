//! Type erasure for receivers: the only `unsafe` code in the crate.
//!
//! A signal keeps one registry for all of its senders, so the registry holds receivers of
//! several concrete payload types (`PostSave<User>`, `PostSave<Article>`, the any-sender
//! `PostSave`). Each receiver is stored with the [`TypeId`] of the [`Family`] it was built
//! for, and can only be taken back out as a receiver of that same family: [`ErasedFn::get`]
//! and [`ErasedDyn::get`] compare the tag first and return `None` on a mismatch. That check
//! is the whole safety argument, and it lives here so it can be audited (and run under
//! Miri) in one place.
//!
//! Why not `Box<dyn Any>`: a static receiver is a plain `fn` pointer in a `static`; erasing
//! it costs nothing and calling it back is one indirect call, where `dyn Any` adds a
//! virtual `type_id()` call per receiver on the send path.

use std::any::TypeId;
use std::ptr::NonNull;

use crate::signal::{BoxError, EventOf, Family};

/// A link-time receiver: a plain function pointer, generic over the payload lifetime.
pub(crate) type ReceiverFn<F> =
    for<'a, 'b> fn(&'b EventOf<'a, F>) -> Result<<F as Family>::Response, BoxError>;

/// A runtime receiver: a boxed closure, generic over the payload lifetime.
pub(crate) type DynFn<F> = dyn for<'a, 'b> Fn(&'b EventOf<'a, F>) -> Result<<F as Family>::Response, BoxError>
    + Send
    + Sync;

/// A boxed, `Send` future borrowing for `'b`: what an async receiver returns.
pub type BoxFuture<'b, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'b>>;

/// A link-time async receiver.
pub(crate) type AsyncReceiverFn<F> =
    for<'a, 'b> fn(&'b EventOf<'a, F>) -> BoxFuture<'b, Result<<F as Family>::Response, BoxError>>;

/// A runtime async receiver.
pub(crate) type AsyncDynFn<F> = dyn for<'a, 'b> Fn(&'b EventOf<'a, F>) -> BoxFuture<'b, Result<<F as Family>::Response, BoxError>>
    + Send
    + Sync;

/// Tags async receivers apart from sync ones of the same family.
struct Async<F>(std::marker::PhantomData<F>);

/// A [`ReceiverFn`] or [`AsyncReceiverFn`] whose family is only known by its [`TypeId`].
#[derive(Clone, Copy)]
pub(crate) struct ErasedFn {
    /// `TypeId` of `F` (sync) or `Async<F>` (async): what `get` and `get_async` check.
    tag: TypeId,
    /// `TypeId` of `F` for both kinds: what `dispatch_uid` uniqueness is scoped to.
    family: TypeId,
    ptr: *const (),
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

/// A boxed [`DynFn`] whose family is only known by its [`TypeId`].
pub(crate) struct ErasedDyn {
    /// As in [`ErasedFn`].
    tag: TypeId,
    /// As in [`ErasedFn`].
    family: TypeId,
    /// Points to a leaked `Box<Box<DynFn<F>>>` (thin pointer to the fat box).
    ptr: NonNull<()>,
    drop: unsafe fn(NonNull<()>),
}

// SAFETY: `ptr` owns a `Box<DynFn<F>>`, and `DynFn<F>` is `Send + Sync` by its definition.
unsafe impl Send for ErasedDyn {}
// SAFETY: as above; `get` only hands out shared references.
unsafe impl Sync for ErasedDyn {}

impl ErasedDyn {
    pub(crate) fn new<F: Family>(f: Box<DynFn<F>>) -> Self {
        let outer: Box<Box<DynFn<F>>> = Box::new(f);
        ErasedDyn {
            tag: TypeId::of::<F>(),
            family: TypeId::of::<F>(),
            ptr: NonNull::from(Box::leak(outer)).cast(),
            drop: drop_box::<F>,
        }
    }

    pub(crate) fn new_async<F: Family>(f: Box<AsyncDynFn<F>>) -> Self {
        let outer: Box<Box<AsyncDynFn<F>>> = Box::new(f);
        ErasedDyn {
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

    /// The closure as an `AsyncDynFn<F>`, if it was built by `new_async::<F>`.
    #[inline(always)]
    pub(crate) fn get_async<F: Family>(&self) -> Option<&AsyncDynFn<F>> {
        if self.tag == TypeId::of::<Async<F>>() {
            // SAFETY: `new_async::<F>` is the only constructor storing this tag, and `ptr` is
            // the `Box<Box<AsyncDynFn<F>>>` it leaked, valid until `drop` (needs `&mut self`).
            Some(unsafe { &**self.ptr.cast::<Box<AsyncDynFn<F>>>().as_ref() })
        } else {
            None
        }
    }

    /// The closure as a `DynFn<F>`, if it was built for family `F`.
    #[inline(always)]
    pub(crate) fn get<F: Family>(&self) -> Option<&DynFn<F>> {
        if self.tag == TypeId::of::<F>() {
            // SAFETY: `new::<F>` is the only constructor; equal tags mean `ptr` is the
            // leaked `Box<Box<DynFn<F>>>` it created. It stays valid until `drop`, which
            // needs `&mut self`, so it outlives the returned borrow of `self`.
            Some(unsafe { &**self.ptr.cast::<Box<DynFn<F>>>().as_ref() })
        } else {
            None
        }
    }
}

/// # Safety
/// `ptr` must come from `ErasedDyn::new::<F>` and must not be used afterwards.
unsafe fn drop_box<F: Family>(ptr: NonNull<()>) {
    // SAFETY: guaranteed by the caller: `ptr` is the `Box<Box<DynFn<F>>>` leaked in `new`.
    drop(unsafe { Box::from_raw(ptr.cast::<Box<DynFn<F>>>().as_ptr()) });
}

/// # Safety
/// `ptr` must come from `ErasedDyn::new_async::<F>` and must not be used afterwards.
unsafe fn drop_async_box<F: Family>(ptr: NonNull<()>) {
    // SAFETY: guaranteed by the caller: `ptr` is the `Box<Box<AsyncDynFn<F>>>` leaked in `new_async`.
    drop(unsafe { Box::from_raw(ptr.cast::<Box<AsyncDynFn<F>>>().as_ptr()) });
}

impl Drop for ErasedDyn {
    fn drop(&mut self) {
        // SAFETY: `self.drop` is `drop_box::<F>` for the `F` that built `self.ptr`, and this
        // is the last use of the pointer.
        unsafe { (self.drop)(self.ptr) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    struct Ping<'a>(&'a u32);
    struct PingFamily;
    impl Family for PingFamily {
        type Event<'a> = Ping<'a>;
        type Response = u32;
    }
    struct Other;
    impl Family for Other {
        type Event<'a> = &'a str;
        type Response = ();
    }

    fn double(p: &Ping<'_>) -> Result<u32, BoxError> {
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
        let erased = ErasedDyn::new::<PingFamily>(Box::new(move |p: &Ping<'_>| {
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

    fn halve<'b>(p: &'b Ping<'_>) -> BoxFuture<'b, Result<u32, BoxError>> {
        Box::pin(async move { Ok(*p.0 / 2) })
    }

    fn poll_ready<T>(mut f: BoxFuture<'_, T>) -> T {
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
        let boxed = ErasedDyn::new_async::<PingFamily>(Box::new(move |p: &Ping<'_>| {
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
        let erased = Arc::new(ErasedDyn::new::<PingFamily>(Box::new(|p: &Ping<'_>| {
            Ok(*p.0)
        })));
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
