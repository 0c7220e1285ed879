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
//! Link-time plans are built once, with the link-time list; runtime plans are rebuilt by
//! every `connect` and `disconnect`, in the snapshot they publish.

use std::any::TypeId;
use std::sync::Arc;

use crate::erased::{Plan, PlanBuilder};
use crate::receiver::ReceiverInfo;
use crate::registry::{DynEntry, StaticSlot};
use crate::signal::Family;
use crate::transaction::Phase;

/// What a plan step carries besides its call: where the receiver lives and its phase.
#[derive(Clone, Copy)]
pub(crate) struct Meta {
    /// Index in the link-time list, or in the runtime list when `dynamic`.
    index: u32,
    dynamic: bool,
    pub(crate) phase: Phase,
}

/// The plans of one receiver list (link-time alone, or link-time and runtime).
pub(crate) struct Plans {
    /// One per family that has receivers, the any-sender family's first when it has some.
    plans: Box<[Plan<Meta>]>,
    /// Whether `plans[0]` is the any-sender family's (the fallback for other senders).
    has_any: bool,
}

impl Plans {
    /// The plans of `statics` and `dynamic` for a signal whose any-sender family is `any`.
    ///
    /// # Safety
    /// The entries of `dynamic` must outlive the returned plans (their steps point into
    /// them).
    pub(crate) unsafe fn build(
        statics: &'static [StaticSlot],
        dynamic: &[Arc<DynEntry>],
        any: TypeId,
    ) -> Self {
        let total = statics.len() + dynamic.len();
        // One pass in dispatch order. `builders[0]` is the any-sender family's; a family met
        // for the first time starts with the any-sender receivers seen so far.
        let mut builders = vec![PlanBuilder::new(any, any, total)];
        for (index, source) in merged(statics, dynamic) {
            let family = match source {
                Merged::Static(slot) => slot.call.family(),
                Merged::Dynamic(entry) => entry.call.family(),
            };
            let targets = if family == any {
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
                    Merged::Static(slot) => builder.push_static(
                        &slot.call,
                        &slot.info,
                        Meta {
                            index,
                            dynamic: false,
                            phase: slot.info.phase,
                        },
                    ),
                    // SAFETY: the caller keeps the entries alive as long as the plans, and
                    // an entry's info never changes once it is in the list.
                    Merged::Dynamic(entry) => unsafe {
                        builder.push_dynamic(
                            &entry.call,
                            &entry.info,
                            Meta {
                                index,
                                dynamic: true,
                                phase: entry.info.phase,
                            },
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

    /// The plan of a send of family `F`: its own, else the any-sender one; `None` when no
    /// receiver listens to `F`.
    #[inline(always)]
    pub(crate) fn get<F: Family>(&self) -> Option<&Plan<Meta>> {
        let family = TypeId::of::<F>();
        match self.plans.iter().find(|plan| plan.family() == family) {
            Some(plan) => Some(plan),
            None if self.has_any => self.plans.first(),
            None => None,
        }
    }
}

/// Where a receiver lives: the link-time list or the runtime one.
#[derive(Clone, Copy)]
pub(crate) enum Source<'r> {
    Static(&'static StaticSlot),
    Dynamic(&'r Arc<DynEntry>),
}

impl<'r> Source<'r> {
    pub(crate) fn info(&self) -> &'r ReceiverInfo {
        match self {
            Source::Static(slot) => &slot.info,
            Source::Dynamic(entry) => &entry.info,
        }
    }
}

/// A receiver in merge order.
#[derive(Clone, Copy)]
enum Merged<'r> {
    Static(&'static StaticSlot),
    Dynamic(&'r Arc<DynEntry>),
}

/// Link-time and runtime receivers (each list sorted already) merged by priority,
/// link-time first on ties, with their index in their own list.
fn merged<'r>(
    statics: &'static [StaticSlot],
    dynamic: &'r [Arc<DynEntry>],
) -> impl Iterator<Item = (u32, Merged<'r>)> {
    let (mut s, mut d) = (0usize, 0usize);
    std::iter::from_fn(move || match (statics.get(s), dynamic.get(d)) {
        (Some(st), Some(dy)) if dy.info.priority > st.info.priority => {
            d += 1;
            Some(((d - 1) as u32, Merged::Dynamic(dy)))
        }
        (Some(st), _) => {
            s += 1;
            Some(((s - 1) as u32, Merged::Static(st)))
        }
        (None, Some(dy)) => {
            d += 1;
            Some(((d - 1) as u32, Merged::Dynamic(dy)))
        }
        (None, None) => None,
    })
}

/// The lists one send sees, with their plans.
#[derive(Clone, Copy)]
pub(crate) struct View<'r> {
    pub(crate) statics: &'static [StaticSlot],
    pub(crate) dynamic: &'r [Arc<DynEntry>],
    pub(crate) plans: &'r Plans,
}

impl<'r> View<'r> {
    /// The plan of a send of family `F` (`None`: no receiver listens to it).
    #[inline(always)]
    pub(crate) fn plan<F: Family>(&self) -> Option<&'r Plan<Meta>> {
        self.plans.get::<F>()
    }

    /// Where the receiver of a plan step lives.
    #[inline(always)]
    pub(crate) fn source(&self, meta: &Meta) -> Source<'r> {
        match meta.dynamic {
            true => Source::Dynamic(&self.dynamic[meta.index as usize]),
            false => Source::Static(&self.statics[meta.index as usize]),
        }
    }

    /// Whether an active test scope keeps this receiver from running here.
    #[cfg(feature = "testing")]
    #[inline(always)]
    pub(crate) fn skipped(&self, meta: &Meta) -> bool {
        match meta.dynamic {
            true => {
                let entry = &self.dynamic[meta.index as usize];
                crate::testing::skips(&entry.info, entry.scope)
            }
            false => crate::testing::skips(&self.statics[meta.index as usize].info, 0),
        }
    }
}
