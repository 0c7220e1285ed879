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

use std::any::TypeId;
use std::sync::Arc;

use crate::engine::store::entry::{DynEntry, StaticSlot};
use crate::engine::store::erased::{Plan, PlanBuilder};
use crate::vocab::family::Family;
use crate::vocab::phase::Phase;
use crate::vocab::receiver::ReceiverInfo;

/// What a plan step carries besides its call: where the receiver lives and its phase.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Meta {
    /// Index in the link-time list, or in the runtime list when `dynamic`.
    index: u32,
    /// The receiver's priority (where a new runtime receiver goes).
    priority: i32,
    dynamic: bool,
    pub(crate) phase: Phase,
}

impl Meta {
    fn of(info: &ReceiverInfo, index: u32, dynamic: bool) -> Self {
        Meta {
            index,
            priority: info.priority,
            dynamic,
            phase: info.phase,
        }
    }
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
                        Meta::of(&slot.info, index, false),
                    ),
                    // SAFETY: the caller keeps the entries alive as long as the plans, and
                    // an entry's info never changes once it is in the list.
                    Merged::Dynamic(entry) => unsafe {
                        builder.push_dynamic(
                            &entry.call,
                            &entry.info,
                            Meta::of(&entry.info, index, true),
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
    pub(crate) unsafe fn inserted(&self, entry: &Arc<DynEntry>, at: usize, any: TypeId) -> Self {
        let at = at as u32;
        let family = entry.call.family();
        let meta = Meta::of(&entry.info, at, true);
        // In dispatch order it goes after every receiver of its priority or higher
        // (link-time first on ties, runtime ones in connection order).
        let before = |m: &Meta| m.priority < meta.priority;
        let shift = |mut m: Meta| {
            if m.dynamic && m.index >= at {
                m.index += 1;
            }
            m
        };
        let with_entry = |plan: &Plan<Meta>| {
            // SAFETY: forwarded to the caller.
            unsafe { plan.with_dynamic(&entry.call, &entry.info, meta, before, shift) }
        };
        let mut plans: Vec<Plan<Meta>> = self
            .plans
            .iter()
            .map(|plan| {
                if family == any || plan.family() == family {
                    with_entry(plan)
                } else {
                    plan.filter_map(|m| Some(shift(m)))
                }
            })
            .collect();
        let has_any = self.has_any || family == any;
        if family == any && !self.has_any {
            plans.insert(0, with_entry(&Plan::empty(any, any)));
        } else if family != any && !self.plans.iter().any(|p| p.family() == family) {
            // A new family: the any-sender receivers, then this one.
            let seed = match self.has_any {
                true => self.plans[0].seed(family),
                false => Plan::empty(family, any),
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
                if m.dynamic && m.index == at {
                    return None;
                }
                if m.dynamic && m.index > at {
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::store::erased::{Call, ErasedDyn, ErasedFn};
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

    fn erased_dyn(family: usize) -> ErasedDyn {
        match family {
            0 => ErasedDyn::new::<AnyF>(Box::new(|_: &u32| Ok(()))),
            1 => ErasedDyn::new::<UserF>(Box::new(|_: &u32| Ok(()))),
            _ => ErasedDyn::new::<OrderF>(Box::new(|_: &u32| Ok(()))),
        }
    }

    /// What a send of `F` runs: each receiver's name, whether it is called as an
    /// any-sender receiver, and its metadata.
    fn listing<F>(plans: &Plans) -> Vec<(&'static str, bool, Meta)>
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
        let any = TypeId::of::<AnyF>();
        // Link-time receivers in dispatch order: priority, then name. In statics (not
        // leaked), like the registry's own lists.
        static STATICS: std::sync::LazyLock<[StaticSlot; 4]> = std::sync::LazyLock::new(|| {
            [
                StaticSlot {
                    info: info("s_any_high", 2, ReceiverKind::Static),
                    call: erased_fn(0),
                },
                StaticSlot {
                    info: info("s_user", 1, ReceiverKind::Static),
                    call: erased_fn(1),
                },
                StaticSlot {
                    info: info("s_any", 0, ReceiverKind::Static),
                    call: erased_fn(0),
                },
                StaticSlot {
                    info: info("s_order_low", -1, ReceiverKind::Static),
                    call: erased_fn(2),
                },
            ]
        });
        static NAMES: std::sync::LazyLock<Vec<String>> =
            std::sync::LazyLock::new(|| (0..400).map(|i| format!("d{i}")).collect());
        let statics: &'static [StaticSlot] = &*STATICS;
        let names: Vec<&'static str> = NAMES[..rounds].iter().map(String::as_str).collect();
        let mut rng = fastrand::Rng::with_seed(6);
        // SAFETY: no runtime entries.
        let mut plans = unsafe { Plans::build(statics, &[], any) };
        let mut entries: Vec<Arc<DynEntry>> = Vec::new();
        let mut seen = [0usize; 3];
        for (step, name) in names.iter().enumerate() {
            if entries.is_empty() || rng.u8(0..10) < 6 {
                let family = rng.usize(0..3);
                seen[family] += 1;
                let priority = rng.i32(-2..3);
                let entry = Arc::new(DynEntry::new(
                    info(name, priority, ReceiverKind::Dynamic { id: step as u64 }),
                    step as u64,
                    erased_dyn(family),
                    0,
                ));
                let at = entries.partition_point(|d| d.info.priority >= priority);
                // SAFETY: `entries` keeps `entry` and every entry the old plans point into
                // alive while `plans` is used; a removed entry is first removed from the
                // plans.
                plans = unsafe { plans.inserted(&entry, at, any) };
                entries.insert(at, entry);
            } else {
                let at = rng.usize(0..entries.len());
                plans = plans.removed(at);
                entries.remove(at);
            }
            // SAFETY: `full` is dropped before `entries` changes again.
            let full = unsafe { Plans::build(statics, &entries, any) };
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
        let any = TypeId::of::<AnyF>();
        static STATICS: std::sync::LazyLock<[StaticSlot; 1]> = std::sync::LazyLock::new(|| {
            [StaticSlot {
                info: info("s_user", 0, ReceiverKind::Static),
                call: erased_fn(1),
            }]
        });
        let statics: &'static [StaticSlot] = &*STATICS;
        // SAFETY: no runtime entries.
        let plans = unsafe { Plans::build(statics, &[], any) };
        assert!(
            plans.get::<OrderF>().is_none(),
            "no any-sender receiver: no plan"
        );
        assert_eq!(listing::<UserF>(&plans).len(), 1);
        let entry = Arc::new(DynEntry::new(
            info("d_any", 5, ReceiverKind::Dynamic { id: 1 }),
            1,
            erased_dyn(0),
            0,
        ));
        // SAFETY: `entry` outlives `plans` (declared before it... and dropped after).
        let plans = unsafe { plans.inserted(&entry, 0, any) };
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
