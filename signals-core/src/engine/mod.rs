//! The engine: how receivers are stored and how a send reaches them. Crate-private; the
//! public API (`Signal`, `connect`, `transaction`, `meta`) sits on top of it.
//!
//! # What a send does
//!
//! [`dispatch`] is the one place every send goes through (`send`, `send_with`,
//! `send_robust`, the async sends, and the owned sends of `transaction::send_owned`):
//!
//! 1. **One atomic load** of the signal's registry state ([`store::registry`]): `INIT`
//!    set and no receiver bit is the whole cost of sending to nobody (one compare).
//! 2. **The family's plan** ([`store::plan`]). Per family (signal and sender) with
//!    receivers, the registry keeps the link-time and runtime receivers of that sender and
//!    of the any sender, merged in dispatch order when the lists last changed (link-time
//!    plans once, at first use; runtime ones by each `connect`/`disconnect`, derived from
//!    the previous plans without visiting the other receivers). Receivers of other senders
//!    cost nothing, and the family's `TypeId` is compared once per send.
//! 3. **The walk.** A plan of sync receivers of the payload's own family (the common case)
//!    is walked as a list of fn pointers (all link-time) or with one compare per step;
//!    other plans decode each step ([`store::erased`]). Deferred receivers (`on = Commit`,
//!    ...) are queued for the transaction instead (`crate::transaction`), async ones run
//!    only by the async sends.
//! 4. **Around the walk:** the recursion guard ([`recursion`]: a push and a pop on a const
//!    thread-local array), the `DEBUG` level check for the send span ([`trace`]: one load),
//!    the snapshot guard when runtime receivers exist, and the `Result`.
//!
//! # What a send sees
//!
//! One chain of types, from the registry to the walk; "link-time" receivers come from
//! `#[receiver]` (inventory), "runtime" ones from `connect`:
//!
//! | type | what it is | lives |
//! |---|---|---|
//! | [`store::registry::LinkTimeList`] | the link-time receivers in dispatch order and their plans | leaked at first use |
//! | [`store::registry::Snapshot`] | the runtime receivers, and the plans of both lists together | published by `connect`/`disconnect`, replaced whole |
//! | [`store::registry::Loaded`] | what the one atomic load returned: the link-time list and the state bits | one send |
//! | [`store::plan::View`] | the lists and plans one send walks (borrowed from the two above) | one send |
//! | `dispatch::Held` | the same, owned (the snapshot's `Arc`), for async sends that `.await` | one async send |
//!
//! A receiver found through a view is a [`store::plan::Source`] (borrowed); a deferred
//! delivery keeps it as a [`store::plan::Kept`] (owned); both are one
//! [`store::plan::Located`]: link-time or runtime. A signal is keyed in its registry by
//! the `TypeId` of its any-sender family, called `signal_key` throughout.
//!
//! A send holds the snapshot it loaded for its whole duration: a receiver connected during
//! it runs from the next send on; one disconnected during it may still run in this one,
//! never afterwards (also not from a delivery queued earlier).
//!
//! # Rules every engine module keeps
//!
//! * No user code (closures, captures, payload drops) runs while an engine lock is held:
//!   what a writer replaces is dropped after it unlocks, and a panic from a captured
//!   value's `Drop` is caught and logged where the engine frees it.
//! * The only `unsafe` code of the crate is in [`store`]; its module docs state the
//!   invariants the rest relies on.
//! * [`hooks`] is the test kit's entry into dispatch, a no-op twin without the `testing`
//!   feature, so the dispatch code has no `cfg(feature = "testing")` of its own.

pub(crate) mod dispatch;
pub(crate) mod hooks;
pub(crate) mod local;
pub(crate) mod payload;
pub(crate) mod queue;
pub(crate) mod recursion;
#[allow(unsafe_code)]
pub(crate) mod store;
pub(crate) mod trace;
