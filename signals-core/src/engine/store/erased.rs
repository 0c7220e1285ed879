//! Type erasure for receivers: every `unsafe` operation in the crate.
//!
//! A signal keeps one registry for all of its senders, so the registry holds receivers of
//! several concrete payload types (`PostSave<User>`, `PostSave<Article>`, the any-sender
//! `PostSave`). Each receiver is stored with the [`TypeId`] of the [`Family`] it was built
//! for, and can only be taken back out as a receiver of that same family: [`ErasedFn::get`]
//! and [`ErasedDyn::get`] compare the tag first and return `None` on a mismatch. That check
//! is the whole safety argument, and it lives here so it can be audited (and run under
//! Miri) in one place.
//!
//! The send path does not check a tag per receiver: it walks a [`Plan`], the receivers of
//! one family checked once when the plan was built ([`PlanBuilder`] reads each tag), whose
//! families [`Plan::calls`] compares once per send. A plan holds raw pointers to the
//! runtime closures it calls, so adding one is an `unsafe fn` with a lifetime contract;
//! its callers (`plan.rs`, `registry.rs`, which store each plan beside the list that owns
//! those closures) state why it holds.
//!
//! Why not `Box<dyn Any>`: a static receiver is a plain `fn` pointer in a `static`; erasing
//! it costs nothing and calling it back is one indirect call, where `dyn Any` adds a
//! virtual `type_id()` call per receiver on the send path.

use std::any::TypeId;
use std::ptr::NonNull;

use crate::vocab::family::BoxFuture;
use crate::vocab::family::{BoxError, EventOf, Family};
use crate::vocab::receiver::ReceiverInfo;

/// A link-time receiver: a plain function pointer, generic over the payload lifetime.
pub(crate) type ReceiverFn<F> =
    for<'a, 'b> fn(&'b EventOf<'a, F>) -> Result<<F as Family>::Response, BoxError>;

/// A runtime receiver: a boxed closure, generic over the payload lifetime.
pub(crate) type DynFn<F> = dyn for<'a, 'b> Fn(&'b EventOf<'a, F>) -> Result<<F as Family>::Response, BoxError>
    + Send
    + Sync;

/// A link-time async receiver.
pub(crate) type AsyncReceiverFn<F> =
    for<'a, 'b> fn(&'b EventOf<'a, F>) -> BoxFuture<'b, Result<<F as Family>::Response, BoxError>>;

/// A runtime async receiver.
pub(crate) type AsyncDynFn<F> = dyn for<'a, 'b> Fn(&'b EventOf<'a, F>) -> BoxFuture<'b, Result<<F as Family>::Response, BoxError>>
    + Send
    + Sync;

/// A receiver of family `F`, about to be called: a link-time function or a runtime closure.
#[doc(hidden)]
pub enum Callee<'r, F: Family> {
    Static(ReceiverFn<F>),
    Dynamic(&'r DynFn<F>),
}

impl<F: Family> Callee<'_, F> {
    #[inline(always)]
    pub fn call(&self, event: &EventOf<'_, F>) -> Result<F::Response, BoxError> {
        match self {
            Callee::Static(f) => f(event),
            Callee::Dynamic(f) => f(event),
        }
    }
}

/// An async receiver of family `F`, about to be called.
#[doc(hidden)]
pub enum AsyncCallee<'r, F: Family> {
    Static(AsyncReceiverFn<F>),
    Dynamic(&'r AsyncDynFn<F>),
}

impl<F: Family> AsyncCallee<'_, F> {
    #[inline(always)]
    pub fn call<'b>(
        &self,
        event: &'b EventOf<'_, F>,
    ) -> BoxFuture<'b, Result<F::Response, BoxError>> {
        match self {
            AsyncCallee::Static(f) => f(event),
            AsyncCallee::Dynamic(f) => f(event),
        }
    }
}

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

/// The drop function of a released [`ErasedDyn`]: its closure is gone already.
///
/// # Safety
/// Always safe to call; `unsafe` only to share `ErasedDyn::drop`'s type.
unsafe fn released(_: NonNull<()>) {}

impl ErasedDyn {
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

impl Drop for ErasedDyn {
    fn drop(&mut self) {
        // Registry entries release their closure themselves (reporting a panic with the
        // receiver's name); this is the fallback for every other owner.
        if let Err(panic) = self.release() {
            crate::engine::store::drop_panicked(None, &*panic);
        }
    }
}

/// How a [`Plan`] step calls its receiver: bits of [`Step::kind`].
mod kind {
    /// A runtime closure (`ptr` is the leaked `Box<Box<..>>` of an [`ErasedDyn`](super::ErasedDyn)); otherwise a fn pointer.
    pub(super) const DYNAMIC: u8 = 1;
    /// Written for the any-sender family: called with the payload's any-sender view.
    pub(super) const ANY: u8 = 2;
    /// An async receiver.
    pub(super) const ASYNC: u8 = 4;
}

/// One receiver of a [`Plan`], with the caller's metadata `M`.
#[derive(Clone, Copy)]
pub(crate) struct Step<M> {
    ptr: *const (),
    info: *const ReceiverInfo,
    kind: u8,
    meta: M,
}

// SAFETY: a step holds a fn pointer or a pointer to a `Send + Sync` closure (see
// `ErasedDyn`), and a pointer to a `ReceiverInfo` (plain data), none of which it owns.
unsafe impl<M: Send> Send for Step<M> {}
// SAFETY: as above; steps only hand out shared references.
unsafe impl<M: Sync> Sync for Step<M> {}

/// The receivers a send of one family runs, in dispatch order, checked against that
/// family when the plan was built: the send path decodes each step with no per-receiver
/// type check.
///
/// A plan is built for one family `P` and the signal's any-sender family `A`: its steps are
/// the receivers of `P` and of `A`. [`Plan::calls`] decodes them for a send of `F` after
/// comparing the families once: `F == P` (the plan of `F`), or `P == A` and `F` has no plan
/// of its own (every step is then a receiver of `A`, called with the any-sender view).
pub(crate) struct Plan<M> {
    family: TypeId,
    any: TypeId,
    steps: Box<[Step<M>]>,
    /// Every step is a sync link-time receiver of the plan's own family (kind 0): the
    /// common case, a list of fn pointers ([`Plan::static_calls`]).
    plain: bool,
    /// Every step is a sync receiver of the plan's own family, link-time or runtime (kind 0
    /// or `DYNAMIC`): decoded with one compare per step ([`Plan::sync_calls`]).
    sync_only: bool,
}

/// A receiver of a plan, decoded for the send's families (`F`: the payload's, `A`: the
/// any-sender one).
pub(crate) enum Call<'p, F: Family, A: Family> {
    /// A sync receiver of the payload's own family.
    Sync(Callee<'p, F>),
    /// A sync receiver of the any-sender family (call it with the any-sender view).
    SyncAny(Callee<'p, A>),
    /// An async receiver of the payload's own family.
    Async(AsyncCallee<'p, F>),
    /// An async receiver of the any-sender family.
    AsyncAny(AsyncCallee<'p, A>),
}

impl<M> Plan<M> {
    fn new(family: TypeId, any: TypeId, steps: Box<[Step<M>]>) -> Self {
        let plain = steps.iter().all(|step| step.kind == 0);
        let sync_only = steps
            .iter()
            .all(|step| step.kind == 0 || step.kind == kind::DYNAMIC);
        Plan {
            family,
            any,
            steps,
            plain,
            sync_only,
        }
    }

    /// The steps decoded for a send of `F` whose any-sender family is `A`, with each
    /// receiver's info; `None` if this plan serves neither `F` nor, as a fallback, `A`.
    #[inline(always)]
    pub(crate) fn calls<F: Family, A: Family>(
        &self,
    ) -> Option<impl Iterator<Item = (Call<'_, F, A>, &ReceiverInfo, &M)> + Clone> {
        let (f, a) = (TypeId::of::<F>(), TypeId::of::<A>());
        if self.any != a {
            return None;
        }
        let extra = if self.family == f {
            0
        } else if self.family == a {
            // The any-sender plan serving a sender that has no plan of its own: all its
            // steps are receivers of `A` (`kind` classifies `A` as the plan's own family).
            kind::ANY
        } else {
            return None;
        };
        let plain = self.plain && extra == 0;
        Some(self.steps.iter().map(move |step| {
            // SAFETY: `PlanBuilder::push_*` set `kind` from the receiver's tag: without `ANY`
            // the step was built for `self.family`, with `ANY` for `self.any` (`A`, checked
            // above). `self.family` is `F` when `extra` is 0; otherwise it is `A` and no
            // step has `ANY` (see `PlanBuilder::kind`), so `kind | extra` names `A` for
            // every step. `ASYNC` and `DYNAMIC` say which of the four pointer types it was
            // cast from. The pointers are valid as long as the plan: that is the contract
            // of `push_static` (`'static`) and `push_dynamic`.
            unsafe {
                let kind = step.kind | extra;
                // The common step first, outside the table: a sync link-time receiver of
                // the payload's own family. `plain` is the same for every step, so the
                // compiler can hoist it and run a loop with no decoding at all.
                if plain || kind == 0 {
                    let f = std::mem::transmute::<*const (), ReceiverFn<F>>(step.ptr);
                    return (Call::Sync(Callee::Static(f)), &*step.info, &step.meta);
                }
                let call = match kind {
                    kind::ANY => Call::SyncAny(Callee::Static(std::mem::transmute::<
                        *const (),
                        ReceiverFn<A>,
                    >(step.ptr))),
                    kind::DYNAMIC => {
                        Call::Sync(Callee::Dynamic(&**step.ptr.cast::<Box<DynFn<F>>>()))
                    }
                    k if k == kind::ANY | kind::DYNAMIC => {
                        Call::SyncAny(Callee::Dynamic(&**step.ptr.cast::<Box<DynFn<A>>>()))
                    }
                    kind::ASYNC => Call::Async(AsyncCallee::Static(std::mem::transmute::<
                        *const (),
                        AsyncReceiverFn<F>,
                    >(step.ptr))),
                    k if k == kind::ASYNC | kind::ANY => {
                        Call::AsyncAny(AsyncCallee::Static(std::mem::transmute::<
                            *const (),
                            AsyncReceiverFn<A>,
                        >(step.ptr)))
                    }
                    k if k == kind::ASYNC | kind::DYNAMIC => Call::Async(AsyncCallee::Dynamic(
                        &**step.ptr.cast::<Box<AsyncDynFn<F>>>(),
                    )),
                    _ => Call::AsyncAny(AsyncCallee::Dynamic(
                        &**step.ptr.cast::<Box<AsyncDynFn<A>>>(),
                    )),
                };
                (call, &*step.info, &step.meta)
            }
        }))
    }

    /// For a plain plan (only sync link-time receivers of its own family) used by a send
    /// of its own family `F`: the receivers as fn pointers, with no decoding; `None`
    /// otherwise.
    #[inline(always)]
    pub(crate) fn static_calls<F: Family>(
        &self,
    ) -> Option<impl Iterator<Item = (ReceiverFn<F>, &ReceiverInfo, &M)>> {
        // No `ANY` step here, so the any-sender family does not matter.
        let fits = self.plain && self.family == TypeId::of::<F>();
        fits.then(|| {
            self.steps.iter().map(|step| {
                // SAFETY: `plain` means every step has kind 0: a sync link-time receiver
                // built for `self.family`, which is `F` (checked above); its pointer is a
                // `ReceiverFn<F>` (see `calls`). `info` lives as long as the plan.
                unsafe {
                    let f = std::mem::transmute::<*const (), ReceiverFn<F>>(step.ptr);
                    (f, &*step.info, &step.meta)
                }
            })
        })
    }

    /// For a plan of sync receivers of its own family only (link-time or runtime) used by a
    /// send of `F`: the receivers as [`Callee`]s, told apart by one compare; `None`
    /// otherwise (use [`Plan::calls`]).
    #[inline(always)]
    pub(crate) fn sync_calls<F: Family>(
        &self,
    ) -> Option<impl Iterator<Item = (Callee<'_, F>, &ReceiverInfo, &M)>> {
        // As in `static_calls`: no `ANY` step, so only the plan's own family is checked.
        let fits = self.sync_only && self.family == TypeId::of::<F>();
        fits.then(|| {
            self.steps.iter().map(|step| {
                // SAFETY: `sync_only` means every step has kind 0 or `DYNAMIC`: a sync
                // receiver built for `self.family`, which is `F` (checked above), so its
                // pointer is a `ReceiverFn<F>` or a `Box<DynFn<F>>` (see `calls`). The
                // pointers are valid as long as the plan.
                unsafe {
                    let callee = if step.kind == 0 {
                        Callee::Static(std::mem::transmute::<*const (), ReceiverFn<F>>(step.ptr))
                    } else {
                        Callee::Dynamic(&**step.ptr.cast::<Box<DynFn<F>>>())
                    };
                    (callee, &*step.info, &step.meta)
                }
            })
        })
    }

    /// Each step's receiver and metadata, in dispatch order.
    pub(crate) fn steps(&self) -> impl Iterator<Item = (&ReceiverInfo, &M)> {
        // SAFETY: `info` is valid as long as the plan (contract of `push_*`).
        self.steps
            .iter()
            .map(|step| (unsafe { &*step.info }, &step.meta))
    }

    /// Whether the plan runs no receiver.
    pub(crate) fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// The family the plan was built for.
    pub(crate) fn family(&self) -> TypeId {
        self.family
    }
}

impl<M: Copy> Plan<M> {
    /// An empty plan for sends of `family` whose any-sender family is `any`.
    pub(crate) fn empty(family: TypeId, any: TypeId) -> Self {
        PlanBuilder::new(family, any, 0).build()
    }

    /// A copy with each step's metadata mapped by `map`, the steps it returns `None` for
    /// left out.
    pub(crate) fn filter_map(&self, map: impl Fn(M) -> Option<M>) -> Self {
        let steps = self
            .steps
            .iter()
            .filter_map(|step| map(step.meta).map(|meta| Step { meta, ..*step }));
        Plan::new(self.family, self.any, steps.collect())
    }

    /// A copy with the other steps' metadata mapped by `map`, and the runtime receiver `f`
    /// inserted before the first step whose (mapped) metadata satisfies `before` (last if
    /// none does), unless it does not belong in this plan.
    ///
    /// # Safety
    /// As [`PlanBuilder::push_dynamic`]: `f` and `info` must outlive the new plan.
    pub(crate) unsafe fn with_dynamic(
        &self,
        f: &ErasedDyn,
        info: &ReceiverInfo,
        meta: M,
        before: impl Fn(&M) -> bool,
        map: impl Fn(M) -> M,
    ) -> Self {
        let mut builder = PlanBuilder::new(self.family, self.any, self.steps.len() + 1);
        builder.steps.extend(self.steps.iter().map(|step| Step {
            meta: map(step.meta),
            ..*step
        }));
        let at = builder
            .steps
            .iter()
            .position(|step| before(&step.meta))
            .unwrap_or(builder.steps.len());
        // SAFETY: forwarded to the caller.
        unsafe { builder.push_dynamic(f, info, meta) };
        if builder.steps.len() > self.steps.len() {
            let step = builder.steps.pop().expect("just pushed");
            builder.steps.insert(at, step);
        }
        builder.build()
    }

    /// The plan of `family`, seeded from this plan of the any-sender family: the same
    /// receivers, as receivers of the any-sender family. Empty if this is not the any-sender
    /// family's plan.
    pub(crate) fn seed(&self, family: TypeId) -> Self {
        let steps = seed_steps(self.family, self.any, &self.steps, self.steps.len());
        Plan::new(family, self.any, steps.into_boxed_slice())
    }
}

/// The steps of a plan (or builder) for `family`, as `ANY` steps of another family's plan,
/// with room for `capacity`. Only the any-sender family's plan (`family == any`) holds
/// nothing but receivers of that family, with no `ANY` bit since it is its own family:
/// `ANY` then names them. Any other plan seeds nothing.
fn seed_steps<M: Copy>(
    family: TypeId,
    any: TypeId,
    steps: &[Step<M>],
    capacity: usize,
) -> Vec<Step<M>> {
    let mut seeded = Vec::with_capacity(capacity);
    if family == any {
        seeded.extend(steps.iter().map(|step| Step {
            kind: step.kind | kind::ANY,
            ..*step
        }));
    }
    seeded
}

/// Builds a [`Plan`], keeping only the receivers of its families.
pub(crate) struct PlanBuilder<M> {
    family: TypeId,
    any: TypeId,
    steps: Vec<Step<M>>,
}

impl<M> PlanBuilder<M> {
    /// A plan for sends of `family` whose any-sender family is `any`, with room for
    /// `capacity` steps.
    pub(crate) fn new(family: TypeId, any: TypeId, capacity: usize) -> Self {
        PlanBuilder {
            family,
            any,
            steps: Vec::with_capacity(capacity),
        }
    }

    /// A builder for `family` that starts with the steps of `any_plan` (a builder for the
    /// any-sender family itself), as receivers of the any-sender family.
    pub(crate) fn seeded(family: TypeId, any_plan: &PlanBuilder<M>, capacity: usize) -> Self
    where
        M: Copy,
    {
        PlanBuilder {
            family,
            any: any_plan.any,
            steps: seed_steps(any_plan.family, any_plan.any, &any_plan.steps, capacity),
        }
    }

    /// The family this builder builds a plan for.
    pub(crate) fn family(&self) -> TypeId {
        self.family
    }

    /// Whether no receiver was added.
    pub(crate) fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// The step kind of a receiver of `receiver_family` tagged `tag`, or `None` if it does
    /// not belong in this plan. The plan's own family is checked first, so a plan built
    /// for `any` itself has no `ANY` step.
    fn kind(&self, receiver_family: TypeId, tag: TypeId) -> Option<u8> {
        let base = if receiver_family == self.family {
            0
        } else if receiver_family == self.any {
            kind::ANY
        } else {
            return None;
        };
        // Sync receivers are tagged with their family, async ones with `Async<F>`.
        Some(if tag == receiver_family {
            base
        } else {
            base | kind::ASYNC
        })
    }

    /// Adds a link-time receiver if it belongs in this plan.
    pub(crate) fn push_static(&mut self, f: &ErasedFn, info: &'static ReceiverInfo, meta: M) {
        if let Some(kind) = self.kind(f.family, f.tag) {
            self.steps.push(Step {
                ptr: f.ptr,
                info,
                kind,
                meta,
            });
        }
    }

    /// Adds a runtime receiver if it belongs in this plan.
    ///
    /// # Safety
    /// `f` and `info` must stay alive, and `info` unchanged, as long as the plan this
    /// builder builds.
    pub(crate) unsafe fn push_dynamic(&mut self, f: &ErasedDyn, info: &ReceiverInfo, meta: M) {
        if let Some(kind) = self.kind(f.family, f.tag) {
            self.steps.push(Step {
                ptr: f.ptr.as_ptr().cast_const(),
                info,
                kind: kind | kind::DYNAMIC,
                meta,
            });
        }
    }

    pub(crate) fn build(self) -> Plan<M> {
        Plan::new(self.family, self.any, self.steps.into_boxed_slice())
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

    /// The any-sender family of the plan tests: same payload as `PingFamily`.
    struct AnyPing;
    impl Family for AnyPing {
        type Event<'a> = Ping<'a>;
        type Response = u32;
    }

    fn info(name: &'static str) -> ReceiverInfo {
        ReceiverInfo {
            name,
            module: "tests",
            file: file!(),
            line: line!(),
            priority: 0,
            signal: "Ping",
            sender: None,
            dispatch_uid: None,
            kind: crate::ReceiverKind::Static,
            is_async: false,
            phase: crate::vocab::phase::Phase::Immediate,
            shadowed_by: None,
        }
    }

    static INFO_DOUBLE: std::sync::LazyLock<ReceiverInfo> =
        std::sync::LazyLock::new(|| info("double"));
    static INFO_ANY: std::sync::LazyLock<ReceiverInfo> =
        std::sync::LazyLock::new(|| info("plus_ten"));
    static INFO_OTHER: std::sync::LazyLock<ReceiverInfo> =
        std::sync::LazyLock::new(|| info("other"));
    static INFO_HALF: std::sync::LazyLock<ReceiverInfo> =
        std::sync::LazyLock::new(|| info("halve"));

    fn plus_ten(p: &Ping<'_>) -> Result<u32, BoxError> {
        Ok(p.0 + 10)
    }
    fn other(_: &&str) -> Result<(), BoxError> {
        Ok(())
    }

    /// Runs every sync step of a plan decoded for `F` / `A` on `n`; async steps are polled.
    fn run_plan<F, A>(plan: &Plan<u8>, n: u32) -> Option<Vec<(String, u32, u8)>>
    where
        F: for<'a> Family<Event<'a> = Ping<'a>, Response = u32>,
        A: for<'a> Family<Event<'a> = Ping<'a>, Response = u32>,
    {
        let event = Ping(&n);
        let calls = plan.calls::<F, A>()?;
        Some(
            calls
                .map(|(call, info, meta)| {
                    let (tag, value) = match call {
                        Call::Sync(f) => ("sync", f.call(&event).unwrap()),
                        Call::SyncAny(f) => ("any", f.call(&event).unwrap()),
                        Call::Async(f) => ("async", poll_ready(f.call(&event)).unwrap()),
                        Call::AsyncAny(f) => ("async-any", poll_ready(f.call(&event)).unwrap()),
                    };
                    (format!("{tag} {}", info.name), value, *meta)
                })
                .collect(),
        )
    }

    #[test]
    fn a_plan_keeps_its_family_and_the_any_sender_one_in_order() {
        let closure = ErasedDyn::new::<PingFamily>(Box::new(|p: &Ping<'_>| Ok(*p.0 + 1)));
        let any_async = ErasedDyn::new_async::<AnyPing>(Box::new(|p: &Ping<'_>| {
            let v = *p.0;
            Box::pin(async move { Ok(v + 100) }) as BoxFuture<'_, _>
        }));
        let closure_info = info("closure");
        let any_async_info = info("any_async");
        let mut builder = PlanBuilder::new(TypeId::of::<PingFamily>(), TypeId::of::<AnyPing>(), 4);
        builder.push_static(&ErasedFn::new::<PingFamily>(double), &INFO_DOUBLE, 1);
        builder.push_static(&ErasedFn::new::<Other>(other), &INFO_OTHER, 2);
        builder.push_static(&ErasedFn::new::<AnyPing>(plus_ten), &INFO_ANY, 3);
        // SAFETY: `closure`, `any_async` and their infos outlive `plan` (dropped first).
        unsafe {
            builder.push_dynamic(&closure, &closure_info, 4);
            builder.push_dynamic(&any_async, &any_async_info, 5);
        }
        builder.push_static(&ErasedFn::new_async::<PingFamily>(halve), &INFO_HALF, 6);
        let plan = builder.build();
        assert_eq!(plan.family(), TypeId::of::<PingFamily>());
        assert_eq!(
            run_plan::<PingFamily, AnyPing>(&plan, 8).expect("built for these families"),
            [
                ("sync double".to_owned(), 16, 1),
                ("any plus_ten".to_owned(), 18, 3),
                ("sync closure".to_owned(), 9, 4),
                ("async-any any_async".to_owned(), 108, 5),
                ("async halve".to_owned(), 4, 6),
            ],
            "the receiver of another family is left out; the order is kept"
        );
        let infos: Vec<_> = plan
            .steps()
            .map(|(info, meta)| (info.name, *meta))
            .collect();
        assert_eq!(infos.len(), 5);
        assert_eq!(infos[1], ("plus_ten", 3));
        // Decoding for other families is refused, not reinterpreted.
        assert!(run_plan::<AnyPing, AnyPing>(&plan, 8).is_none());
        assert!(run_plan::<PingFamily, PingFamily>(&plan, 8).is_none());
        drop(plan);
    }

    #[test]
    fn plans_of_sync_receivers_of_their_own_family_decode_without_the_table() {
        let family = TypeId::of::<PingFamily>();
        let any = TypeId::of::<AnyPing>();
        let mut statics = PlanBuilder::new(family, any, 1);
        statics.push_static(&ErasedFn::new::<PingFamily>(double), &INFO_DOUBLE, 1u8);
        let statics = statics.build();
        let n = 4;
        let fns: Vec<u32> = statics
            .static_calls::<PingFamily>()
            .expect("only sync link-time receivers")
            .map(|(f, _, _)| f(&Ping(&n)).unwrap())
            .collect();
        assert_eq!(fns, [8]);
        assert!(statics.static_calls::<AnyPing>().is_none());

        let closure = ErasedDyn::new::<PingFamily>(Box::new(|p: &Ping<'_>| Ok(*p.0 + 1)));
        let closure_info = info("closure");
        let mut mixed = PlanBuilder::new(family, any, 2);
        mixed.push_static(&ErasedFn::new::<PingFamily>(double), &INFO_DOUBLE, 1u8);
        // SAFETY: `closure` and its info outlive `mixed`.
        unsafe { mixed.push_dynamic(&closure, &closure_info, 2) };
        let mixed = mixed.build();
        assert!(
            mixed.static_calls::<PingFamily>().is_none(),
            "has a closure"
        );
        let calls: Vec<(u32, u8)> = mixed
            .sync_calls::<PingFamily>()
            .expect("only sync receivers of its own family")
            .map(|(callee, _, meta)| (callee.call(&Ping(&n)).unwrap(), *meta))
            .collect();
        assert_eq!(calls, [(8, 1), (5, 2)]);

        // An any-sender step (or an async one) sends the plan through the general decoding.
        let mut general = PlanBuilder::new(family, any, 2);
        general.push_static(&ErasedFn::new::<AnyPing>(plus_ten), &INFO_ANY, 1u8);
        let general = general.build();
        assert!(general.sync_calls::<PingFamily>().is_none());
        assert!(general.static_calls::<PingFamily>().is_none());
        drop(mixed);
    }

    #[test]
    fn the_any_sender_plan_serves_as_fallback_and_seeds_new_families() {
        let any = TypeId::of::<AnyPing>();
        let mut any_plan = PlanBuilder::new(any, any, 2);
        any_plan.push_static(&ErasedFn::new::<AnyPing>(plus_ten), &INFO_ANY, 1);
        any_plan.push_static(&ErasedFn::new::<PingFamily>(double), &INFO_DOUBLE, 2);
        // A family met later starts with the any-sender receivers seen so far.
        let mut seeded = PlanBuilder::seeded(TypeId::of::<PingFamily>(), &any_plan, 2);
        seeded.push_static(&ErasedFn::new::<PingFamily>(double), &INFO_DOUBLE, 2);
        let (any_plan, seeded) = (any_plan.build(), seeded.build());

        // Sent as the any-sender form itself: its receivers are the payload's own.
        assert_eq!(
            run_plan::<AnyPing, AnyPing>(&any_plan, 1).unwrap(),
            [("sync plus_ten".to_owned(), 11, 1)]
        );
        // As the fallback of a sender with no plan: the same steps, as any-sender ones.
        assert_eq!(
            run_plan::<PingFamily, AnyPing>(&any_plan, 1).unwrap(),
            [("any plus_ten".to_owned(), 11, 1)]
        );
        assert_eq!(
            run_plan::<PingFamily, AnyPing>(&seeded, 5).unwrap(),
            [
                ("any plus_ten".to_owned(), 15, 1),
                ("sync double".to_owned(), 10, 2)
            ]
        );
        assert!(run_plan::<AnyPing, PingFamily>(&any_plan, 1).is_none());
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
