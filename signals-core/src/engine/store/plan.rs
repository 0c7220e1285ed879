//! Dispatch plans: for each family (signal and sender) that has receivers, the receivers a
//! send runs, in dispatch order, precomputed when the receiver lists change.
//!
//! A signal's receivers belong to several families (`PostSave<User>`, `PostSave<Order>`,
//! the any-sender `PostSave`). Rather than scanning every receiver on every send and
//! skipping the other senders' ones, the registry keeps one [`Plan`] per family: the
//! link-time and runtime receivers of that family and of the any-sender family, merged by
//! priority (link-time first on ties). A send looks its plan up (a few `TypeId` compares)
//! and runs it: receivers of other senders cost nothing, and each step is one indirect
//! call.
//!
//! Link-time plans are built once, with the link-time list ([`Plans::build`]). Each
//! `connect` and `disconnect` derives the next plans from the current ones
//! ([`Plans::inserted`], [`Plans::removed`]: copy the dense steps, add or drop one), in the
//! snapshot it publishes, without visiting the other receivers; a test checks that this
//! always equals a full rebuild.
//!
//! A [`Plan`] is a list of [`Step`]s: an erased receiver's pointer (from
//! [`ErasedFn`]/[`ErasedClosure`], whose tag [`PlanBuilder`] reads once), its info and a
//! [`Placement`]. [`Plan::calls`] compares the send's families with the plan's once and
//! casts each step back (the `unsafe` of the send path, with its `SAFETY` comments);
//! [`Plan::link_time_calls`] and [`Plan::sync_calls`] are the two shortcuts for the common
//! plans.

use std::any::TypeId;
use std::sync::Arc;

use crate::engine::store::entry::{LinkTimeSlot, RuntimeEntry};
use crate::engine::store::erased::{
    AsyncCallee, AsyncReceiverClosure, AsyncReceiverFn, Callee, ErasedClosure, ErasedFn,
    ReceiverClosure, ReceiverFn,
};
use crate::vocab::family::Family;
use crate::vocab::phase::Phase;
use crate::vocab::receiver::ReceiverInfo;

/// Where a plan step's receiver is placed: which list and index it lives at, its priority
/// (where a new runtime receiver goes) and its phase. (The public `meta` module is about
/// something else: signals sent about connections.)
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Placement {
    /// Index in the link-time list, or in the runtime list when `runtime`.
    index: u32,
    /// The receiver's priority (where a new runtime receiver goes).
    priority: i32,
    runtime: bool,
    pub(crate) phase: Phase,
    /// A conditional receiver (`when = predicate`): the walk checks whether it was skipped.
    pub(crate) conditional: bool,
}

impl Placement {
    fn of(info: &ReceiverInfo, index: u32, runtime: bool) -> Self {
        Placement {
            index,
            priority: info.priority,
            runtime,
            conditional: info.when.is_some(),
            phase: info.phase,
        }
    }
}

/// The plans of one receiver list (link-time alone, or link-time and runtime).
pub(crate) struct Plans {
    /// One per family that has receivers, the any-sender family's first when it has some.
    plans: Box<[Plan<Placement>]>,
    /// Whether `plans[0]` is the any-sender family's (the fallback for other senders).
    has_any: bool,
}

impl Plans {
    /// The plans of `link_time` and `runtime` for a signal whose any-sender family is `any`.
    ///
    /// # Safety
    /// The entries of `runtime` must outlive the returned plans (their steps point into
    /// them).
    pub(crate) unsafe fn build(
        link_time: &'static [LinkTimeSlot],
        runtime: &[Arc<RuntimeEntry>],
        signal_key: TypeId,
    ) -> Self {
        let total = link_time.len() + runtime.len();
        // One pass in dispatch order. `builders[0]` is the any-sender family's; a family met
        // for the first time starts with the any-sender receivers seen so far.
        let mut builders = vec![PlanBuilder::new(signal_key, signal_key, total)];
        for (index, source) in merged(link_time, runtime) {
            let family = match source {
                Located::LinkTime(slot) => slot.call.family(),
                Located::Runtime(entry) => entry.call.family(),
            };
            let targets = if family == signal_key {
                &mut builders[..]
            } else {
                let at = match builders.iter().position(|b| b.family() == family) {
                    Some(at) => at,
                    None => {
                        let seeded = PlanBuilder::seeded(family, &builders[0], total);
                        builders.push(seeded);
                        builders.len() - 1
                    }
                };
                &mut builders[at..=at]
            };
            for builder in targets {
                match source {
                    Located::LinkTime(slot) => builder.push_link_time(
                        &slot.call,
                        &slot.info,
                        Placement::of(&slot.info, index, false),
                    ),
                    // SAFETY: the caller keeps the entries alive as long as the plans, and
                    // an entry's info never changes once it is in the list.
                    Located::Runtime(entry) => unsafe {
                        builder.push_runtime(
                            &entry.call,
                            &entry.info,
                            Placement::of(&entry.info, index, true),
                        )
                    },
                }
            }
        }
        let has_any = !builders[0].is_empty();
        if !has_any {
            builders.remove(0);
        }
        Plans {
            plans: builders.into_iter().map(PlanBuilder::build).collect(),
            has_any,
        }
    }

    /// The plans once `entry` is inserted at `at` in the runtime list (which is sorted by
    /// descending priority, then connection order: `at` is after every entry of its
    /// priority). Built from these plans, without visiting the other receivers.
    ///
    /// # Safety
    /// As [`Plans::build`]: `entry`, and the entries these plans point into, must outlive
    /// the returned plans.
    pub(crate) unsafe fn inserted(
        &self,
        entry: &Arc<RuntimeEntry>,
        at: usize,
        signal_key: TypeId,
    ) -> Self {
        let at = at as u32;
        let family = entry.call.family();
        let meta = Placement::of(&entry.info, at, true);
        // In dispatch order it goes after every receiver of its priority or higher
        // (link-time first on ties, runtime ones in connection order).
        let before = |m: &Placement| m.priority < meta.priority;
        let shift = |mut m: Placement| {
            if m.runtime && m.index >= at {
                m.index += 1;
            }
            m
        };
        let with_entry = |plan: &Plan<Placement>| {
            // SAFETY: forwarded to the caller.
            unsafe { plan.with_dynamic(&entry.call, &entry.info, meta, before, shift) }
        };
        let mut plans: Vec<Plan<Placement>> = self
            .plans
            .iter()
            .map(|plan| {
                if family == signal_key || plan.family() == family {
                    with_entry(plan)
                } else {
                    plan.filter_map(|m| Some(shift(m)))
                }
            })
            .collect();
        let has_any = self.has_any || family == signal_key;
        if family == signal_key && !self.has_any {
            plans.insert(0, with_entry(&Plan::empty(signal_key, signal_key)));
        } else if family != signal_key && !self.plans.iter().any(|p| p.family() == family) {
            // A new family: the any-sender receivers, then this one.
            let seed = match self.has_any {
                true => self.plans[0].seed(family),
                false => Plan::empty(family, signal_key),
            };
            plans.push(with_entry(&seed));
        }
        Plans {
            plans: plans.into_boxed_slice(),
            has_any,
        }
    }

    /// The plans once the runtime entry at `at` is removed.
    pub(crate) fn removed(&self, at: usize) -> Self {
        let at = at as u32;
        let plans = self.plans.iter().map(|plan| {
            plan.filter_map(|mut m| {
                if m.runtime && m.index == at {
                    return None;
                }
                if m.runtime && m.index > at {
                    m.index -= 1;
                }
                Some(m)
            })
        });
        Plans {
            plans: plans.collect(),
            has_any: self.has_any,
        }
    }

    /// The plan of a send of family `F`: its own, else the any-sender one; `None` when no
    /// receiver listens to `F`.
    #[inline(always)]
    pub(crate) fn get<F: Family>(&self) -> Option<&Plan<Placement>> {
        let family = TypeId::of::<F>();
        match self.plans.iter().find(|plan| plan.family() == family) {
            Some(plan) => Some(plan),
            None if self.has_any => self.plans.first(),
            None => None,
        }
    }
}

/// A receiver, by where it lives: the link-time list or the runtime one. `R` is how a
/// runtime receiver is held: borrowed from a send's snapshot ([`Source`]) or owned, by a
/// deferred delivery that outlives the send ([`Kept`]).
#[derive(Clone, Copy)]
pub(crate) enum Located<R> {
    LinkTime(&'static LinkTimeSlot),
    Runtime(R),
}

/// A receiver as a send sees it (borrowed from the send's snapshot).
pub(crate) type Source<'r> = Located<&'r Arc<RuntimeEntry>>;

/// A receiver kept by a deferred delivery (it outlives the send's snapshot).
pub(crate) type Kept = Located<Arc<RuntimeEntry>>;

impl<'r> Source<'r> {
    /// The receiver's info.
    pub(crate) fn info(&self) -> &'r ReceiverInfo {
        match self {
            Located::LinkTime(slot) => &slot.info,
            Located::Runtime(entry) => &entry.info,
        }
    }

    /// Kept beyond the send: a runtime receiver's entry is shared, not copied.
    pub(crate) fn keep(&self) -> Kept {
        match *self {
            Located::LinkTime(slot) => Located::LinkTime(slot),
            Located::Runtime(entry) => Located::Runtime(Arc::clone(entry)),
        }
    }
}

impl Kept {
    /// Borrowed again, as a send sees it.
    pub(crate) fn source(&self) -> Source<'_> {
        match self {
            Located::LinkTime(slot) => Located::LinkTime(slot),
            Located::Runtime(entry) => Located::Runtime(entry),
        }
    }

    /// Whether the receiver is still connected (link-time ones always are).
    pub(crate) fn is_connected(&self) -> bool {
        match self {
            Located::LinkTime(_) => true,
            Located::Runtime(entry) => entry.is_connected(),
        }
    }
}

/// Link-time and runtime receivers (each list sorted already) merged by priority,
/// link-time first on ties, with their index in their own list.
fn merged<'r>(
    link_time: &'static [LinkTimeSlot],
    runtime: &'r [Arc<RuntimeEntry>],
) -> impl Iterator<Item = (u32, Source<'r>)> {
    let (mut s, mut d) = (0usize, 0usize);
    std::iter::from_fn(move || match (link_time.get(s), runtime.get(d)) {
        (Some(st), Some(dy)) if dy.info.priority > st.info.priority => {
            d += 1;
            Some(((d - 1) as u32, Located::Runtime(dy)))
        }
        (Some(st), _) => {
            s += 1;
            Some(((s - 1) as u32, Located::LinkTime(st)))
        }
        (None, Some(dy)) => {
            d += 1;
            Some(((d - 1) as u32, Located::Runtime(dy)))
        }
        (None, None) => None,
    })
}

/// The lists one send sees, with their plans.
#[derive(Clone, Copy)]
pub(crate) struct View<'r> {
    pub(crate) link_time: &'static [LinkTimeSlot],
    pub(crate) runtime: &'r [Arc<RuntimeEntry>],
    pub(crate) plans: &'r Plans,
}

impl<'r> View<'r> {
    /// The plan of a send of family `F` (`None`: no receiver listens to it).
    #[inline(always)]
    pub(crate) fn plan<F: Family>(&self) -> Option<&'r Plan<Placement>> {
        self.plans.get::<F>()
    }

    /// Where the receiver of a plan step lives.
    #[inline(always)]
    pub(crate) fn source(&self, meta: &Placement) -> Source<'r> {
        match meta.runtime {
            true => Located::Runtime(&self.runtime[meta.index as usize]),
            false => Located::LinkTime(&self.link_time[meta.index as usize]),
        }
    }
}

// ---- One family's plan: its steps, decoded for a send --------------------------------

/// How a [`Plan`] step calls its receiver: bits of [`Step::kind`].
mod kind {
    /// A runtime closure (`ptr` is the leaked `Box<Box<..>>` of an [`ErasedClosure`](super::ErasedClosure)); otherwise a fn pointer.
    pub(super) const RUNTIME: u8 = 1;
    /// Written for the any-sender family: called with the payload's any-sender view.
    pub(super) const ANY: u8 = 2;
    /// An async receiver.
    pub(super) const ASYNC: u8 = 4;
    /// A conditional receiver (`when = predicate`): not a pointer type, only what keeps
    /// the step out of the two shortcuts (`plain`, `sync_only`), whose walks do not check
    /// for a skipped receiver. Masked out before decoding.
    pub(super) const WHEN: u8 = 8;
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
// `ErasedClosure`), and a pointer to a `ReceiverInfo` (plain data), none of which it owns.
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
    signal_key: TypeId,
    steps: Box<[Step<M>]>,
    /// Every step is a sync link-time receiver of the plan's own family (kind 0): the
    /// common case, a list of fn pointers ([`Plan::link_time_calls`]).
    plain: bool,
    /// Every step is a sync receiver of the plan's own family, link-time or runtime (kind 0
    /// or `RUNTIME`): decoded with one compare per step ([`Plan::sync_calls`]).
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
    fn new(family: TypeId, signal_key: TypeId, steps: Box<[Step<M>]>) -> Self {
        let plain = steps.iter().all(|step| step.kind == 0);
        let sync_only = steps
            .iter()
            .all(|step| step.kind == 0 || step.kind == kind::RUNTIME);
        Plan {
            family,
            signal_key,
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
        if self.signal_key != a {
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
            // the step was built for `self.family`, with `ANY` for `self.signal_key` (`A`, checked
            // above). `self.family` is `F` when `extra` is 0; otherwise it is `A` and no
            // step has `ANY` (see `PlanBuilder::kind`), so `kind | extra` names `A` for
            // every step. `ASYNC` and `RUNTIME` say which of the four pointer types it was
            // cast from. The pointers are valid as long as the plan: that is the contract
            // of `push_link_time` (`'static`) and `push_runtime`.
            unsafe {
                let kind = (step.kind | extra) & !kind::WHEN;
                // The common step first, outside the table: a sync link-time receiver of
                // the payload's own family. `plain` is the same for every step, so the
                // compiler can hoist it and run a loop with no decoding at all.
                if plain || kind == 0 {
                    let f = std::mem::transmute::<*const (), ReceiverFn<F>>(step.ptr);
                    return (Call::Sync(Callee::LinkTime(f)), &*step.info, &step.meta);
                }
                let call = match kind {
                    kind::ANY => Call::SyncAny(Callee::LinkTime(std::mem::transmute::<
                        *const (),
                        ReceiverFn<A>,
                    >(step.ptr))),
                    kind::RUNTIME => Call::Sync(Callee::Runtime(
                        &**step.ptr.cast::<Box<ReceiverClosure<F>>>(),
                    )),
                    k if k == kind::ANY | kind::RUNTIME => Call::SyncAny(Callee::Runtime(
                        &**step.ptr.cast::<Box<ReceiverClosure<A>>>(),
                    )),
                    kind::ASYNC => {
                        Call::Async(AsyncCallee::LinkTime(std::mem::transmute::<
                            *const (),
                            AsyncReceiverFn<F>,
                        >(step.ptr)))
                    }
                    k if k == kind::ASYNC | kind::ANY => {
                        Call::AsyncAny(AsyncCallee::LinkTime(std::mem::transmute::<
                            *const (),
                            AsyncReceiverFn<A>,
                        >(step.ptr)))
                    }
                    k if k == kind::ASYNC | kind::RUNTIME => Call::Async(AsyncCallee::Runtime(
                        &**step.ptr.cast::<Box<AsyncReceiverClosure<F>>>(),
                    )),
                    _ => Call::AsyncAny(AsyncCallee::Runtime(
                        &**step.ptr.cast::<Box<AsyncReceiverClosure<A>>>(),
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
    pub(crate) fn link_time_calls<F: Family>(
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
        // As in `link_time_calls`: no `ANY` step, so only the plan's own family is checked.
        let fits = self.sync_only && self.family == TypeId::of::<F>();
        fits.then(|| {
            self.steps.iter().map(|step| {
                // SAFETY: `sync_only` means every step has kind 0 or `RUNTIME`: a sync
                // receiver built for `self.family`, which is `F` (checked above), so its
                // pointer is a `ReceiverFn<F>` or a `Box<ReceiverClosure<F>>` (see `calls`). The
                // pointers are valid as long as the plan.
                unsafe {
                    let callee = if step.kind == 0 {
                        Callee::LinkTime(std::mem::transmute::<*const (), ReceiverFn<F>>(step.ptr))
                    } else {
                        Callee::Runtime(&**step.ptr.cast::<Box<ReceiverClosure<F>>>())
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
    pub(crate) fn empty(family: TypeId, signal_key: TypeId) -> Self {
        PlanBuilder::new(family, signal_key, 0).build()
    }

    /// A copy with each step's metadata mapped by `map`, the steps it returns `None` for
    /// left out.
    pub(crate) fn filter_map(&self, map: impl Fn(M) -> Option<M>) -> Self {
        let steps = self
            .steps
            .iter()
            .filter_map(|step| map(step.meta).map(|meta| Step { meta, ..*step }));
        Plan::new(self.family, self.signal_key, steps.collect())
    }

    /// A copy with the other steps' metadata mapped by `map`, and the runtime receiver `f`
    /// inserted before the first step whose (mapped) metadata satisfies `before` (last if
    /// none does), unless it does not belong in this plan.
    ///
    /// # Safety
    /// As [`PlanBuilder::push_runtime`]: `f` and `info` must outlive the new plan.
    pub(crate) unsafe fn with_dynamic(
        &self,
        f: &ErasedClosure,
        info: &ReceiverInfo,
        meta: M,
        before: impl Fn(&M) -> bool,
        map: impl Fn(M) -> M,
    ) -> Self {
        let mut builder = PlanBuilder::new(self.family, self.signal_key, self.steps.len() + 1);
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
        unsafe { builder.push_runtime(f, info, meta) };
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
        let steps = seed_steps(self.family, self.signal_key, &self.steps, self.steps.len());
        Plan::new(family, self.signal_key, steps.into_boxed_slice())
    }
}

/// The steps of a plan (or builder) for `family`, as `ANY` steps of another family's plan,
/// with room for `capacity`. Only the any-sender family's plan (`family == any`) holds
/// nothing but receivers of that family, with no `ANY` bit since it is its own family:
/// `ANY` then names them. Any other plan seeds nothing.
fn seed_steps<M: Copy>(
    family: TypeId,
    signal_key: TypeId,
    steps: &[Step<M>],
    capacity: usize,
) -> Vec<Step<M>> {
    let mut seeded = Vec::with_capacity(capacity);
    if family == signal_key {
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
    signal_key: TypeId,
    steps: Vec<Step<M>>,
}

impl<M> PlanBuilder<M> {
    /// A plan for sends of `family` whose any-sender family is `any`, with room for
    /// `capacity` steps.
    pub(crate) fn new(family: TypeId, signal_key: TypeId, capacity: usize) -> Self {
        PlanBuilder {
            family,
            signal_key,
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
            signal_key: any_plan.signal_key,
            steps: seed_steps(
                any_plan.family,
                any_plan.signal_key,
                &any_plan.steps,
                capacity,
            ),
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
        } else if receiver_family == self.signal_key {
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
    pub(crate) fn push_link_time(&mut self, f: &ErasedFn, info: &'static ReceiverInfo, meta: M) {
        if let Some(kind) = self.kind(f.family, f.tag) {
            let kind = match info.when {
                Some(_) => kind | kind::WHEN,
                None => kind,
            };
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
    pub(crate) unsafe fn push_runtime(&mut self, f: &ErasedClosure, info: &ReceiverInfo, meta: M) {
        if let Some(kind) = self.kind(f.family, f.tag) {
            self.steps.push(Step {
                ptr: f.ptr.as_ptr().cast_const(),
                info,
                kind: kind | kind::RUNTIME,
                meta,
            });
        }
    }

    pub(crate) fn build(self) -> Plan<M> {
        Plan::new(self.family, self.signal_key, self.steps.into_boxed_slice())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::family::BoxError;
    use crate::vocab::receiver::ReceiverKind;

    macro_rules! families {
        ($($name:ident),*) => {$(
            struct $name;
            impl Family for $name {
                type Event<'a> = u32;
                type Response = ();
            }
        )*};
    }
    // `AnyF`: the any-sender family; `UserF`, `OrderF`: two senders; `NobodyF`: a sender
    // nobody listens to.
    families!(AnyF, UserF, OrderF, NobodyF);

    fn info(name: &'static str, priority: i32, kind: ReceiverKind) -> ReceiverInfo {
        ReceiverInfo {
            name,
            module: "tests",
            file: file!(),
            line: 1,
            priority,
            signal: "Saved",
            sender: None,
            dispatch_uid: None,
            kind,
            is_async: false,
            phase: Phase::Immediate,
            shadowed_by: None,
            when: None,
            offload: None,
        }
    }

    fn ok(_: &u32) -> Result<(), BoxError> {
        Ok(())
    }

    fn erased_fn(family: usize) -> ErasedFn {
        match family {
            0 => ErasedFn::new::<AnyF>(ok),
            1 => ErasedFn::new::<UserF>(ok),
            _ => ErasedFn::new::<OrderF>(ok),
        }
    }

    fn erased_dyn(family: usize) -> ErasedClosure {
        match family {
            0 => ErasedClosure::new::<AnyF>(Box::new(|_: &u32| Ok(()))),
            1 => ErasedClosure::new::<UserF>(Box::new(|_: &u32| Ok(()))),
            _ => ErasedClosure::new::<OrderF>(Box::new(|_: &u32| Ok(()))),
        }
    }

    /// What a send of `F` runs: each receiver's name, whether it is called as an
    /// any-sender receiver, and its metadata.
    fn listing<F>(plans: &Plans) -> Vec<(&'static str, bool, Placement)>
    where
        F: for<'a> Family<Event<'a> = u32, Response = ()>,
    {
        let Some(plan) = plans.get::<F>() else {
            return Vec::new();
        };
        plan.calls::<F, AnyF>()
            .expect("plans are built for these families")
            .map(|(call, info, meta)| (info.name, matches!(call, Call::SyncAny(_)), *meta))
            .collect()
    }

    fn assert_same(incremental: &Plans, full: &Plans, step: usize) {
        assert_eq!(
            listing::<AnyF>(incremental),
            listing::<AnyF>(full),
            "step {step}"
        );
        assert_eq!(
            listing::<UserF>(incremental),
            listing::<UserF>(full),
            "step {step}"
        );
        assert_eq!(
            listing::<OrderF>(incremental),
            listing::<OrderF>(full),
            "step {step}"
        );
        assert_eq!(
            listing::<NobodyF>(incremental),
            listing::<NobodyF>(full),
            "step {step}"
        );
    }

    /// Connecting and disconnecting one runtime receiver at a time gives the same plans as
    /// building them from the whole lists, whatever the families and priorities.
    #[test]
    fn incremental_plans_match_a_full_rebuild() {
        let rounds = if cfg!(miri) { 40 } else { 400 };
        let signal_key = TypeId::of::<AnyF>();
        // Link-time receivers in dispatch order: priority, then name. In link_time (not
        // leaked), like the registry's own lists.
        static STATICS: std::sync::LazyLock<[LinkTimeSlot; 4]> = std::sync::LazyLock::new(|| {
            [
                LinkTimeSlot {
                    info: info("s_any_high", 2, ReceiverKind::Static),
                    call: erased_fn(0),
                },
                LinkTimeSlot {
                    info: info("s_user", 1, ReceiverKind::Static),
                    call: erased_fn(1),
                },
                LinkTimeSlot {
                    info: info("s_any", 0, ReceiverKind::Static),
                    call: erased_fn(0),
                },
                LinkTimeSlot {
                    info: info("s_order_low", -1, ReceiverKind::Static),
                    call: erased_fn(2),
                },
            ]
        });
        static NAMES: std::sync::LazyLock<Vec<String>> =
            std::sync::LazyLock::new(|| (0..400).map(|i| format!("d{i}")).collect());
        let link_time: &'static [LinkTimeSlot] = &*STATICS;
        let names: Vec<&'static str> = NAMES[..rounds].iter().map(String::as_str).collect();
        let mut rng = fastrand::Rng::with_seed(6);
        // SAFETY: no runtime entries.
        let mut plans = unsafe { Plans::build(link_time, &[], signal_key) };
        let mut entries: Vec<Arc<RuntimeEntry>> = Vec::new();
        let mut seen = [0usize; 3];
        for (step, name) in names.iter().enumerate() {
            if entries.is_empty() || rng.u8(0..10) < 6 {
                let family = rng.usize(0..3);
                seen[family] += 1;
                let priority = rng.i32(-2..3);
                let entry = Arc::new(RuntimeEntry::new(
                    info(name, priority, ReceiverKind::Dynamic { id: step as u64 }),
                    step as u64,
                    erased_dyn(family),
                    0,
                ));
                let at = entries.partition_point(|d| d.info.priority >= priority);
                // SAFETY: `entries` keeps `entry` and every entry the old plans point into
                // alive while `plans` is used; a removed entry is first removed from the
                // plans.
                plans = unsafe { plans.inserted(&entry, at, signal_key) };
                entries.insert(at, entry);
            } else {
                let at = rng.usize(0..entries.len());
                plans = plans.removed(at);
                entries.remove(at);
            }
            // SAFETY: `full` is dropped before `entries` changes again.
            let full = unsafe { Plans::build(link_time, &entries, signal_key) };
            assert_same(&plans, &full, step);
        }
        assert!(
            seen.iter().all(|&n| n > 3),
            "every family was connected: {seen:?}"
        );
        // The order is the dispatch order: priority first.
        let user = listing::<UserF>(&plans);
        assert!(user.windows(2).all(|w| w[0].2.priority >= w[1].2.priority));
    }

    #[test]
    fn a_sender_without_receivers_of_its_own_gets_the_any_sender_plan() {
        let signal_key = TypeId::of::<AnyF>();
        static STATICS: std::sync::LazyLock<[LinkTimeSlot; 1]> = std::sync::LazyLock::new(|| {
            [LinkTimeSlot {
                info: info("s_user", 0, ReceiverKind::Static),
                call: erased_fn(1),
            }]
        });
        let link_time: &'static [LinkTimeSlot] = &*STATICS;
        // SAFETY: no runtime entries.
        let plans = unsafe { Plans::build(link_time, &[], signal_key) };
        assert!(
            plans.get::<OrderF>().is_none(),
            "no any-sender receiver: no plan"
        );
        assert_eq!(listing::<UserF>(&plans).len(), 1);
        let entry = Arc::new(RuntimeEntry::new(
            info("d_any", 5, ReceiverKind::Dynamic { id: 1 }),
            1,
            erased_dyn(0),
            0,
        ));
        // SAFETY: `entry` outlives `plans` (declared before it... and dropped after).
        let plans = unsafe { plans.inserted(&entry, 0, signal_key) };
        let order: Vec<_> = listing::<OrderF>(&plans)
            .into_iter()
            .map(|(name, as_any, _)| (name, as_any))
            .collect();
        assert_eq!(order, [("d_any", true)]);
        let user: Vec<_> = listing::<UserF>(&plans)
            .into_iter()
            .map(|(name, as_any, _)| (name, as_any))
            .collect();
        assert_eq!(user, [("d_any", true), ("s_user", false)]);
        let own: Vec<_> = listing::<AnyF>(&plans)
            .into_iter()
            .map(|(name, as_any, _)| (name, as_any))
            .collect();
        assert_eq!(
            own,
            [("d_any", false)],
            "sent as the any-sender form itself"
        );
        drop(plans);
    }
}

/// Plan decoding: families, the any-sender fallback, the two shortcuts, seeding.
#[cfg(test)]
mod decode_tests {
    use super::*;
    use crate::engine::store::erased::tests::{Other, Ping, PingFamily, double, halve, poll_ready};
    use crate::vocab::family::{BoxError, BoxFuture};

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
            when: None,
            offload: None,
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
        let closure = ErasedClosure::new::<PingFamily>(Box::new(|p: &Ping<'_>| Ok(*p.0 + 1)));
        let any_async = ErasedClosure::new_async::<AnyPing>(Box::new(|p: &Ping<'_>| {
            let v = *p.0;
            Box::pin(async move { Ok(v + 100) }) as BoxFuture<'_, _>
        }));
        let closure_info = info("closure");
        let any_async_info = info("any_async");
        let mut builder = PlanBuilder::new(TypeId::of::<PingFamily>(), TypeId::of::<AnyPing>(), 4);
        builder.push_link_time(&ErasedFn::new::<PingFamily>(double), &INFO_DOUBLE, 1);
        builder.push_link_time(&ErasedFn::new::<Other>(other), &INFO_OTHER, 2);
        builder.push_link_time(&ErasedFn::new::<AnyPing>(plus_ten), &INFO_ANY, 3);
        // SAFETY: `closure`, `any_async` and their infos outlive `plan` (dropped first).
        unsafe {
            builder.push_runtime(&closure, &closure_info, 4);
            builder.push_runtime(&any_async, &any_async_info, 5);
        }
        builder.push_link_time(&ErasedFn::new_async::<PingFamily>(halve), &INFO_HALF, 6);
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
        let signal_key = TypeId::of::<AnyPing>();
        let mut link_time = PlanBuilder::new(family, signal_key, 1);
        link_time.push_link_time(&ErasedFn::new::<PingFamily>(double), &INFO_DOUBLE, 1u8);
        let link_time = link_time.build();
        let n = 4;
        let fns: Vec<u32> = link_time
            .link_time_calls::<PingFamily>()
            .expect("only sync link-time receivers")
            .map(|(f, _, _)| f(&Ping(&n)).unwrap())
            .collect();
        assert_eq!(fns, [8]);
        assert!(link_time.link_time_calls::<AnyPing>().is_none());

        let closure = ErasedClosure::new::<PingFamily>(Box::new(|p: &Ping<'_>| Ok(*p.0 + 1)));
        let closure_info = info("closure");
        let mut mixed = PlanBuilder::new(family, signal_key, 2);
        mixed.push_link_time(&ErasedFn::new::<PingFamily>(double), &INFO_DOUBLE, 1u8);
        // SAFETY: `closure` and its info outlive `mixed`.
        unsafe { mixed.push_runtime(&closure, &closure_info, 2) };
        let mixed = mixed.build();
        assert!(
            mixed.link_time_calls::<PingFamily>().is_none(),
            "has a closure"
        );
        let calls: Vec<(u32, u8)> = mixed
            .sync_calls::<PingFamily>()
            .expect("only sync receivers of its own family")
            .map(|(callee, _, meta)| (callee.call(&Ping(&n)).unwrap(), *meta))
            .collect();
        assert_eq!(calls, [(8, 1), (5, 2)]);

        // An any-sender step (or an async one) sends the plan through the general decoding.
        let mut general = PlanBuilder::new(family, signal_key, 2);
        general.push_link_time(&ErasedFn::new::<AnyPing>(plus_ten), &INFO_ANY, 1u8);
        let general = general.build();
        assert!(general.sync_calls::<PingFamily>().is_none());
        assert!(general.link_time_calls::<PingFamily>().is_none());
        drop(mixed);
    }

    #[test]
    fn the_any_sender_plan_serves_as_fallback_and_seeds_new_families() {
        let signal_key = TypeId::of::<AnyPing>();
        let mut any_plan = PlanBuilder::new(signal_key, signal_key, 2);
        any_plan.push_link_time(&ErasedFn::new::<AnyPing>(plus_ten), &INFO_ANY, 1);
        any_plan.push_link_time(&ErasedFn::new::<PingFamily>(double), &INFO_DOUBLE, 2);
        // A family met later starts with the any-sender receivers seen so far.
        let mut seeded = PlanBuilder::seeded(TypeId::of::<PingFamily>(), &any_plan, 2);
        seeded.push_link_time(&ErasedFn::new::<PingFamily>(double), &INFO_DOUBLE, 2);
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
}
