//! The dispatch path: every send goes through here.
//!
//! 1. One atomic load of the registry state; a signal with no receivers stops there.
//! 2. The plan of the payload's family ([`crate::engine::store::plan`]): the link-time and runtime
//!    receivers of this sender and of the any-sender family, merged by priority when the
//!    lists last changed. Receivers of other senders are not in it.
//! 3. Each step is called: a sync receiver directly, an any-sender one with the payload's
//!    any-sender view, an async one only by the async sends.
//!
//! The sync sends (`send`, `send_with`, `send_robust`) and the async ones (`send_async`,
//! `send_async_robust`) differ only in what they do with each receiver and its outcome.

use std::any::TypeId;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use futures_util::FutureExt;
use tracing::Instrument;

use crate::engine::queue::{self, Delivery, Pending};
use crate::engine::{hooks, recursion, trace};
use crate::vocab::phase::Phase;

use crate::engine::payload::Payload;
use crate::engine::store::erased::Callee;
use crate::engine::store::plan::{Call, Located, Placement, Plan, Source, View};
use crate::engine::store::registry::{LinkTimeList, Loaded, Snapshot};
use crate::vocab::error::{ReceiverError, SendError};
use crate::vocab::family::{BoxError, Concurrency, EventOf};
use crate::vocab::receiver::ReceiverInfo;
use crate::vocab::response::{Collect, Failure, Failures, Report};

type Outcome<R> = Result<R, BoxError>;

/// A receiver's outcome, `None` when it did not run: its `when` predicate said no
/// ([`crate::vocab::when`]; checked on the error path only).
#[inline(always)]
fn unless_skipped<R>(outcome: Outcome<R>) -> Option<Outcome<R>> {
    match outcome {
        Err(error) if crate::vocab::when::is_skipped(&error) => None,
        outcome => Some(outcome),
    }
}

/// [`unless_skipped`] for a receiver of a plan: only a conditional receiver (a `when`
/// predicate, [`Placement::conditional`]) can have been skipped, so the plans without one
/// (the plain fast paths, where `conditional` is the constant `false`) pay nothing.
#[inline(always)]
fn checked<R>(conditional: bool, outcome: Option<Outcome<R>>) -> Option<Outcome<R>> {
    match outcome {
        Some(Err(error)) if conditional && crate::vocab::when::is_skipped(&error) => None,
        outcome => outcome,
    }
}

/// A plan step decoded for a send of `S`.
type CallOf<'p, S> = Call<'p, <S as Payload>::Family, <S as Payload>::AnySender>;

/// Calls a sync receiver; `None` for an async one (sync sends never run those).
#[inline(always)]
fn call_sync<S: Payload>(call: CallOf<'_, S>, event: &S) -> Option<Outcome<S::Response>> {
    match call {
        Call::Sync(f) => Some(event.call(f)),
        Call::SyncAny(f) => event.any_view().map(|view| f.call(&view)),
        Call::Async(_) | Call::AsyncAny(_) => None,
    }
}

/// Runs a receiver, sync or async.
async fn call_any<S: Payload>(call: CallOf<'_, S>, event: &S) -> Option<Outcome<S::Response>> {
    match call {
        Call::Async(f) => Some(event.call_async(f).await),
        Call::AsyncAny(f) => {
            let view: EventOf<'_, S::AnySender> = event.any_view()?;
            Some(f.call(&view).await)
        }
        sync => call_sync(sync, event),
    }
}

impl Source<'_> {
    /// Calls a receiver kept for a deferred delivery (resolved by its tag: it outlives the
    /// plan it came from); `None` if it does not listen to `S`.
    fn call<S: Payload>(&self, event: &S) -> Option<Outcome<S::Response>> {
        match self {
            Located::LinkTime(s) => {
                if let Some(f) = s.call.get::<S::Family>() {
                    unless_skipped(event.call(Callee::LinkTime(f)))
                } else {
                    let f = s.call.get::<S::AnySender>()?;
                    unless_skipped(Callee::LinkTime(f).call(&event.any_view()?))
                }
            }
            Located::Runtime(d) => {
                if let Some(f) = d.call.get::<S::Family>() {
                    unless_skipped(event.call(Callee::Runtime(f)))
                } else {
                    let f = d.call.get::<S::AnySender>()?;
                    unless_skipped(Callee::Runtime(f).call(&event.any_view()?))
                }
            }
        }
    }

    /// As [`Source::call`], for sync and async receivers alike.
    async fn run<S: Payload>(self, event: &S) -> Option<Outcome<S::Response>> {
        use crate::engine::store::erased::AsyncCallee;
        if !self.info().is_async {
            return self.call(event);
        }
        let (specific, any) = match self {
            Located::LinkTime(s) => (
                s.call.get_async::<S::Family>().map(AsyncCallee::LinkTime),
                s.call
                    .get_async::<S::AnySender>()
                    .map(AsyncCallee::LinkTime),
            ),
            Located::Runtime(d) => (
                d.call.get_async::<S::Family>().map(AsyncCallee::Runtime),
                d.call.get_async::<S::AnySender>().map(AsyncCallee::Runtime),
            ),
        };
        if let Some(f) = specific {
            return unless_skipped(event.call_async(f).await);
        }
        let f = any?;
        let view: EventOf<'_, S::AnySender> = event.any_view()?;
        unless_skipped(f.call(&view).await)
    }

    /// Whether an active test scope keeps this receiver from running here (decided when
    /// a delivery is queued, not when it runs).
    fn skipped(&self) -> bool {
        hooks::ENABLED
            && match self {
                Located::LinkTime(s) => hooks::skips(&s.info, 0),
                Located::Runtime(d) => hooks::skips(&d.info, d.scope),
            }
    }
}

/// Loads the receivers of `S`: one atomic load; `None` when there are none.
#[inline(always)]
fn load<S: Payload>() -> Option<Loaded> {
    S::registry().load(TypeId::of::<S::AnySender>(), S::LINK_TIME)
}

/// Whether a receiver that waits for a transaction phase is left out of a send: always
/// inside a transaction (it is queued, or the send was refused), and outside one only in
/// the `Rollback` phase (nothing can roll back).
#[inline(always)]
fn deferred_out(phase: Phase, in_transaction: bool) -> bool {
    phase != Phase::Immediate && (in_transaction || !phase.runs_without_transaction())
}

/// The receivers of a send of `S` for which `keep` holds (for refusal errors).
#[cold]
fn matching<S: Payload>(view: View<'_>, keep: impl Fn(&ReceiverInfo) -> bool) -> Vec<ReceiverInfo> {
    view.plan::<S::Family>()
        .into_iter()
        .flat_map(|plan| plan.steps())
        .map(|(info, _)| info)
        .filter(|info| keep(info))
        .copied()
        .collect()
}

/// The plan of a send of `S`, decoded; `None` when no receiver listens to its sender.
#[inline(always)]
fn plan_calls<'v, S: Payload>(
    view: View<'v>,
) -> Option<impl Iterator<Item = (CallOf<'v, S>, &'v ReceiverInfo, &'v Placement)> + Clone> {
    view.plan::<S::Family>()?.calls::<S::Family, S::AnySender>()
}

/// Runs `$body` (a loop body: `continue` and `break` work) on each receiver of `$plan` for
/// a send of `$S`, in order, with the receiver's call, info and plan metadata bound to the
/// three names. A plan of sync receivers of the payload's own family (the common case) is
/// walked with no decoding: as fn pointers when they are all link-time, with one
/// link-time-or-runtime compare per step otherwise. A macro, so that the body is inlined
/// in each of the three loops (a closure called from three places is not always).
macro_rules! for_each_call {
    ($plan:expr, $S:ty, |$call:ident, $info:ident, $meta:ident, $conditional:ident| $body:block) => {{
        let plan: &Plan<Placement> = $plan;
        if let Some(steps) = plan.link_time_calls::<<$S as Payload>::Family>() {
            for (f, $info, $meta) in steps {
                let $call: CallOf<'_, $S> = Call::Sync(Callee::LinkTime(f));
                // The shortcuts' plans have no conditional receiver (`PlanBuilder`).
                let $conditional = false;
                $body
            }
        } else if let Some(steps) = plan.sync_calls::<<$S as Payload>::Family>() {
            for (callee, $info, $meta) in steps {
                let $call: CallOf<'_, $S> = Call::Sync(callee);
                let $conditional = false;
                $body
            }
        } else if let Some(steps) =
            plan.calls::<<$S as Payload>::Family, <$S as Payload>::AnySender>()
        {
            for ($call, $info, $meta) in steps {
                let $conditional = $meta.conditional;
                $body
            }
        }
    }};
}

/// The runtime snapshot of a send, if it has runtime receivers.
#[inline(always)]
fn snapshot(guard: &Option<arc_swap::Guard<Option<Arc<Snapshot>>>>) -> Option<&Snapshot> {
    guard.as_ref().and_then(|guard| guard.as_deref())
}

#[inline]
pub(crate) fn send_with<S: Payload>(
    event: &S,
    sink: impl FnMut(&ReceiverInfo, S::Response),
) -> Result<usize, SendError> {
    send_with_mode(event, sink, false)
}

/// `owned`: the payload is owned by `transaction::send_owned`, which queues the phased
/// receivers itself; otherwise reaching one inside a transaction is an error.
#[inline(always)]
fn send_with_mode<S: Payload>(
    event: &S,
    sink: impl FnMut(&ReceiverInfo, S::Response),
    owned: bool,
) -> Result<usize, SendError> {
    hooks::on_send(event);
    // The fast path (nobody listens) stays inline in the caller; the rest does not.
    let Some(loaded) = load::<S>() else {
        return Ok(0);
    };
    let (registry, link_time, state) = loaded.into_parts();
    send_with_loaded(event, sink, owned, registry, link_time, state).map_err(|error| *error)
}

/// `send_with` once there are receivers (outlined; its rare error boxed so that its result
/// fits in two registers).
#[inline(never)]
fn send_with_loaded<S: Payload>(
    event: &S,
    sink: impl FnMut(&ReceiverInfo, S::Response),
    owned: bool,
    registry: &'static crate::engine::store::registry::Registry,
    link_time: &'static LinkTimeList,
    state: usize,
) -> Result<usize, Box<SendError>> {
    let loaded = Loaded::from_parts(registry, link_time, state);
    send_loaded(event, sink, owned, loaded).map_err(Box::new)
}

/// The sync send's walk, shared by `send` and `send_with` (inlined in each).
#[inline(always)]
fn send_loaded<S: Payload>(
    event: &S,
    mut sink: impl FnMut(&ReceiverInfo, S::Response),
    owned: bool,
    loaded: Loaded,
) -> Result<usize, SendError> {
    let guard = loaded.runtime();
    let view = loaded.view(snapshot(&guard));
    let Some(plan) = view.plan::<S::Family>() else {
        return Ok(0);
    };
    let in_transaction = loaded.may_have_phased() && queue::is_active();
    if in_transaction && !owned {
        let receivers = matching::<S>(view, |info| info.phase != Phase::Immediate);
        if !receivers.is_empty() {
            return Err(SendError::NotDeferrable {
                signal: S::NAME,
                receivers,
            });
        }
    }
    if loaded.may_have_async() {
        let receivers = matching::<S>(view, |info| {
            info.is_async && !deferred_out(info.phase, in_transaction)
        });
        if !receivers.is_empty() {
            return Err(SendError::AsyncReceivers {
                signal: S::NAME,
                receivers,
            });
        }
    }
    let _depth = recursion::enter(TypeId::of::<S::Family>(), S::MAX_DEPTH)
        .map_err(|too_deep| too_deep_error::<S>(too_deep))?;
    // An owned send runs inside the span `send_owned` opened (which also records what
    // it queued).
    let span = if owned {
        trace::current_span()
    } else {
        trace::send_span::<S>("sync")
    };
    let parent = span.as_ref();
    let _entered = parent.filter(|_| !owned).map(tracing::Span::enter);
    let mut ran = 0;
    let mut failed = None;
    let phased = loaded.may_have_phased();
    for_each_call!(plan, S, |call, info, meta, conditional| {
        if phased && deferred_out(meta.phase, in_transaction) {
            continue;
        }
        if skipped(&view, meta) {
            continue;
        }
        match checked(conditional, run_sync(parent, call, info, event)) {
            None => {}
            Some(Ok(response)) => {
                ran += 1;
                sink(info, response);
            }
            Some(Err(source)) => {
                failed = Some(SendError::from_receiver(info, source));
                break;
            }
        }
    });
    trace::record_receivers(parent, ran);
    match failed {
        Some(error) => Err(error),
        None => Ok(ran),
    }
}

fn too_deep_error<S: Payload>(too_deep: recursion::TooDeep) -> SendError {
    tracing::error!(
        target: "signals_core::dispatch",
        signal = S::NAME,
        sender = S::sender_name().unwrap_or("-"),
        limit = too_deep.limit,
        "recursion limit reached: the signal was sent again from its own receivers"
    );
    SendError::Recursion {
        signal: S::NAME,
        sender: S::sender_name(),
        limit: too_deep.limit,
        chain: Vec::new(),
    }
}

/// Calls a sync receiver, inside its own span (a child of `parent`) when tracing is on;
/// `None` for an async one.
#[inline(always)]
fn run_sync<S: Payload>(
    parent: Option<&tracing::Span>,
    call: CallOf<'_, S>,
    info: &ReceiverInfo,
    event: &S,
) -> Option<Outcome<S::Response>> {
    match parent {
        None => call_sync(call, event),
        Some(parent) => traced_call(parent, info, || call_sync(call, event)),
    }
}

/// Runs a receiver of a concurrent async send: a sync one at once, an async one awaited.
async fn run_any<S: Payload>(
    parent: Option<&tracing::Span>,
    call: CallOf<'_, S>,
    info: &ReceiverInfo,
    event: &S,
) -> Option<Outcome<S::Response>> {
    match (call, parent) {
        (call @ (Call::Sync(_) | Call::SyncAny(_)), _) => run_sync(parent, call, info, event),
        (call, None) => call_any(call, event).await,
        (call, Some(parent)) => run_traced(parent, call, info, event).await,
    }
}

/// Calls a sync receiver inside its own span, a child of `parent`.
#[inline(never)]
fn traced_call<R>(
    parent: &tracing::Span,
    info: &ReceiverInfo,
    call: impl FnOnce() -> Option<Outcome<R>>,
) -> Option<Outcome<R>> {
    let span = trace::receiver_span(parent, info);
    let started = std::time::Instant::now();
    let result = span.in_scope(|| catch_unwind(AssertUnwindSafe(call)));
    match result {
        Ok(outcome) => {
            trace::finish(&span, trace::outcome_of(&outcome), started);
            outcome
        }
        Err(panic) => {
            trace::finish(&span, "panic", started);
            std::panic::resume_unwind(panic)
        }
    }
}

#[inline]
pub(crate) fn send<S: Payload>(event: &S) -> Result<S::Output, SendError> {
    hooks::on_send(event);
    // Nobody listens: one load, and nothing here needs a saved register, because the rest
    // is a tail call to a function that returns the caller's own result.
    let Some(loaded) = load::<S>() else {
        return Ok(S::Output::default());
    };
    let (registry, link_time, state) = loaded.into_parts();
    send_collect(event, registry, link_time, state)
}

/// `send` once there are receivers: collects their responses into the signal's output.
#[inline(never)]
fn send_collect<S: Payload>(
    event: &S,
    registry: &'static crate::engine::store::registry::Registry,
    link_time: &'static LinkTimeList,
    state: usize,
) -> Result<S::Output, SendError> {
    let mut output = S::Output::default();
    let loaded = Loaded::from_parts(registry, link_time, state);
    send_loaded(event, |info, r| output.collect(info, r), false, loaded)?;
    Ok(output)
}

/// Records one failure of a robust send, logging it.
fn record_failure(
    failures: &mut Failures,
    info: &ReceiverInfo,
    position: usize,
    error: ReceiverError,
) {
    tracing::error!(
        target: "signals_core::dispatch",
        signal = info.signal,
        receiver = info.name,
        location = %format_args!("{}:{}", info.file, info.line),
        error = %format_args!("{error:#}"),
        "receiver failed in a robust send"
    );
    failures.push(Failure {
        receiver: *info,
        position,
        error,
    });
}

pub(crate) fn send_robust<S: Payload>(event: &S) -> Report<S::Output> {
    hooks::on_send(event);
    let mut output = S::Output::default();
    let mut failures = Failures::default();
    let mut position = 0;
    let Some(loaded) = load::<S>() else {
        return Report::new(output, failures);
    };
    let guard = loaded.runtime();
    let view = loaded.view(snapshot(&guard));
    let Some(plan) = view.plan::<S::Family>() else {
        return Report::new(output, failures);
    };
    let _depth = match recursion::enter(TypeId::of::<S::Family>(), S::MAX_DEPTH) {
        Ok(entered) => entered,
        Err(too_deep) => return Report::stopped(output, too_deep_error::<S>(too_deep)),
    };
    let span = trace::send_span::<S>("robust");
    let parent = span.as_ref();
    let _entered = parent.map(tracing::Span::enter);
    let robust = Robust {
        event,
        view,
        parent,
        phased: loaded.may_have_phased(),
        in_transaction: loaded.may_have_phased() && queue::is_active(),
    };
    for_each_call!(plan, S, |call, info, meta, conditional| {
        robust.run(
            call,
            info,
            meta,
            conditional,
            &mut output,
            &mut failures,
            &mut position,
        );
    });
    trace::record_receivers(parent, position);
    Report::new(output, failures)
}

/// What a robust sync send needs for each receiver.
struct Robust<'e, 'v, S> {
    event: &'e S,
    view: View<'v>,
    parent: Option<&'e tracing::Span>,
    phased: bool,
    in_transaction: bool,
}

impl<S: Payload> Robust<'_, '_, S> {
    /// Runs one receiver, catching its panic; records its response or failure.
    #[inline(always)]
    #[expect(
        clippy::too_many_arguments,
        reason = "the robust walk's loop body, inlined: separate values stay in registers"
    )]
    fn run(
        &self,
        call: CallOf<'_, S>,
        info: &ReceiverInfo,
        meta: &Placement,
        conditional: bool,
        output: &mut S::Output,
        failures: &mut Failures,
        position: &mut usize,
    ) {
        let error = if self.phased && deferred_out(meta.phase, self.in_transaction) {
            // Outside a transaction only `Rollback` receivers are left out, silently.
            match self.in_transaction {
                true => ReceiverError::NotDeferred,
                false => return,
            }
        } else if matches!(call, Call::Async(_) | Call::AsyncAny(_)) {
            ReceiverError::AsyncInSyncSend
        } else {
            if skipped(&self.view, meta) {
                return;
            }
            let event = self.event;
            match catch_unwind(AssertUnwindSafe(|| {
                run_sync(self.parent, call, info, event)
            })) {
                Ok(None) => return,
                Ok(Some(Ok(response))) => {
                    output.collect(info, response);
                    *position += 1;
                    return;
                }
                // Its `when` predicate said no: not run, no position.
                Ok(Some(Err(error))) if conditional && crate::vocab::when::is_skipped(&error) => {
                    return;
                }
                Ok(Some(Err(error))) => ReceiverError::Failed(error),
                Err(panic) => crate::vocab::error::panic_error(panic),
            }
        };
        record_failure(failures, info, *position, error);
        *position += 1;
    }
}

/// The owned snapshot an async send holds across `.await`s.
struct Held {
    link_time: &'static LinkTimeList,
    runtime: Option<Arc<Snapshot>>,
    /// Whether phased receivers are to be left out (a transaction is active).
    in_transaction: bool,
}

impl Held {
    #[inline(always)]
    fn take<S: Payload>() -> Option<Held> {
        let loaded = load::<S>()?;
        Some(Held {
            link_time: loaded.link_time,
            runtime: loaded.runtime_owned(),
            in_transaction: loaded.may_have_phased() && queue::is_active(),
        })
    }

    fn view(&self) -> View<'_> {
        self.link_time.view(self.runtime.as_deref())
    }

    /// The receivers this send runs now, with their info and whether they are conditional.
    fn runs<S: Payload>(&self) -> impl Iterator<Item = (CallOf<'_, S>, &ReceiverInfo, bool)> {
        let view = self.view();
        plan_calls::<S>(view)
            .into_iter()
            .flatten()
            .filter(move |(_, _, meta)| !self.left_out(meta))
            .map(|(call, info, meta)| (call, info, meta.conditional))
    }

    /// Whether this send leaves a receiver of its plan out (deferred, or skipped by a test
    /// scope).
    #[inline(always)]
    fn left_out(&self, meta: &Placement) -> bool {
        deferred_out(meta.phase, self.in_transaction) || skipped(&self.view(), meta)
    }

    /// The phased receivers of `S` left out while a transaction is active.
    #[inline(always)]
    fn phased<S: Payload>(&self) -> Vec<ReceiverInfo> {
        if !self.in_transaction {
            return Vec::new();
        }
        matching::<S>(self.view(), |info| info.phase != Phase::Immediate)
    }
}

/// Whether an active test scope keeps this receiver from running here.
#[inline(always)]
fn skipped(view: &View<'_>, meta: &Placement) -> bool {
    hooks::ENABLED && view.source(meta).skipped()
}

/// Runs one receiver of an async send inside its own span, a child of `parent`.
async fn run_traced<S: Payload>(
    parent: &tracing::Span,
    call: CallOf<'_, S>,
    info: &ReceiverInfo,
    event: &S,
) -> Option<Outcome<S::Response>> {
    let span = trace::receiver_span(parent, info);
    let started = std::time::Instant::now();
    match AssertUnwindSafe(call_any(call, event).instrument(span.clone()))
        .catch_unwind()
        .await
    {
        Ok(outcome) => {
            trace::finish(&span, trace::outcome_of(&outcome), started);
            outcome
        }
        Err(panic) => {
            trace::finish(&span, "panic", started);
            std::panic::resume_unwind(panic)
        }
    }
}

/// `Signal::send_async`.
pub(crate) fn send_async<S: Payload + Sync>(
    event: &S,
    concurrency: Concurrency,
) -> impl Future<Output = Result<S::Output, SendError>> + '_
where
    S::Response: Send,
{
    send_async_mode(event, concurrency, false)
}

/// An async send: one state machine inside the recursion guard (which pushes the family
/// around each poll), so nothing is nested, and moved, more than once. Nothing runs until
/// the first poll.
fn send_async_mode<S: Payload + Sync>(
    event: &S,
    concurrency: Concurrency,
    owned: bool,
) -> impl Future<Output = Result<S::Output, SendError>> + '_
where
    S::Response: Send,
{
    let family = TypeId::of::<S::Family>();
    recursion::Guarded::new(family, async move {
        hooks::on_send(event);
        let Some(held) = Held::take::<S>() else {
            return Ok(S::Output::default());
        };
        if !owned {
            let phased = held.phased::<S>();
            if !phased.is_empty() {
                return Err(SendError::NotDeferrable {
                    signal: S::NAME,
                    receivers: phased,
                });
            }
        }
        recursion::check_entered(family, S::MAX_DEPTH)
            .map_err(|too_deep| too_deep_error::<S>(too_deep))?;
        // An owned send is instrumented with the span `send_owned_async` opened.
        let span = if owned {
            trace::current_span()
        } else {
            trace::send_span::<S>("async")
        };
        let parent = span.as_ref();
        let mut output = S::Output::default();
        let mut ran = 0;
        match concurrency {
            Concurrency::Sequential => {
                // The plain plan iterator (not `runs`): it is kept across `.await`s, so its
                // size is part of every async send's future.
                let Some(calls) = plan_calls::<S>(held.view()) else {
                    return Ok(output);
                };
                for (call, info, meta) in calls {
                    if held.left_out(meta) {
                        continue;
                    }
                    // Sync receivers run in place: no future to build and poll (and no
                    // state kept across an `.await` for them).
                    let outcome = match (call, parent) {
                        (call @ (Call::Sync(_) | Call::SyncAny(_)), _) => {
                            checked(meta.conditional, run_sync(parent, call, info, event))
                        }
                        (Call::Async(f), None) => {
                            let conditional = meta.conditional;
                            checked(conditional, Some(event.call_async(f).await))
                        }
                        (call, None) => {
                            let conditional = meta.conditional;
                            checked(conditional, call_any(call, event).await)
                        }
                        // Boxed: the traced run is large and would grow this state machine.
                        (call, Some(parent)) => {
                            let conditional = meta.conditional;
                            checked(
                                conditional,
                                Box::pin(run_traced(parent, call, info, event)).await,
                            )
                        }
                    };
                    match outcome {
                        None => {}
                        Some(Ok(response)) => {
                            ran += 1;
                            output.collect(info, response);
                        }
                        Some(Err(source)) => {
                            return Err(SendError::from_receiver(info, source));
                        }
                    }
                }
            }
            Concurrency::Concurrent => {
                // Every receiver starts in order (join polls them in order); the first
                // error in completion order wins and drops the others.
                let runs = held
                    .runs::<S>()
                    .map(|(call, info, conditional)| async move {
                        match checked(conditional, run_any(parent, call, info, event).await) {
                            Some(Err(source)) => Err(SendError::from_receiver(info, source)),
                            other => Ok((info, other)),
                        }
                    });
                for (info, outcome) in futures_util::future::try_join_all(runs).await? {
                    if let Some(Ok(response)) = outcome {
                        ran += 1;
                        output.collect(info, response);
                    }
                }
            }
        }
        trace::record_receivers(parent, ran);
        Ok(output)
    })
}

/// `Signal::send_async_robust`: built like [`send_async_mode`].
pub(crate) fn send_async_robust<S: Payload + Sync>(
    event: &S,
    concurrency: Concurrency,
) -> impl Future<Output = Report<S::Output>> + '_
where
    S::Response: Send,
{
    let family = TypeId::of::<S::Family>();
    recursion::Guarded::new(family, async move {
        hooks::on_send(event);
        let Some(held) = Held::take::<S>() else {
            return Report::new(S::Output::default(), Failures::default());
        };
        if let Err(too_deep) = recursion::check_entered(family, S::MAX_DEPTH) {
            return Report::stopped(S::Output::default(), too_deep_error::<S>(too_deep));
        }
        let not_deferred = held.phased::<S>();
        let span = trace::send_span::<S>("async_robust");
        let parent = span.as_ref();
        let mut output = S::Output::default();
        let mut failures = Failures::default();
        let outcomes: Vec<(&ReceiverInfo, RobustOutcome<S::Response>)> = match concurrency {
            Concurrency::Sequential => {
                let mut all = Vec::new();
                let calls = plan_calls::<S>(held.view());
                for (call, info, meta) in calls.into_iter().flatten() {
                    if held.left_out(meta) {
                        continue;
                    }
                    let outcome = match (call, parent) {
                        (call @ (Call::Sync(_) | Call::SyncAny(_)), _) => {
                            catch_unwind(AssertUnwindSafe(|| run_sync(parent, call, info, event)))
                        }
                        (call, None) => {
                            AssertUnwindSafe(call_any(call, event)).catch_unwind().await
                        }
                        // Boxed, as in `send_async_mode`.
                        (call, Some(parent)) => {
                            Box::pin(AssertUnwindSafe(run_traced(parent, call, info, event)))
                                .catch_unwind()
                                .await
                        }
                    };
                    all.push((info, flatten(meta.conditional, outcome)));
                }
                all
            }
            Concurrency::Concurrent => {
                let runs = held
                    .runs::<S>()
                    .map(|(call, info, conditional)| async move {
                        (
                            info,
                            flatten(
                                conditional,
                                AssertUnwindSafe(run_any(parent, call, info, event))
                                    .catch_unwind()
                                    .await,
                            ),
                        )
                    });
                futures_util::future::join_all(runs).await
            }
        };
        let mut position = 0;
        for info in &not_deferred {
            record_failure(&mut failures, info, position, ReceiverError::NotDeferred);
            position += 1;
        }
        for (info, outcome) in outcomes {
            match outcome {
                None => continue,
                Some(Ok(response)) => output.collect(info, response),
                Some(Err(error)) => record_failure(&mut failures, info, position, error),
            }
            position += 1;
        }
        trace::record_receivers(parent, position);
        Report::new(output, failures)
    })
}

/// A receiver's outcome in a robust send: `None` when it does not listen to this sender.
type RobustOutcome<R> = Option<Result<R, ReceiverError>>;

fn flatten<R>(
    conditional: bool,
    caught: Result<Option<Outcome<R>>, Box<dyn std::any::Any + Send>>,
) -> RobustOutcome<R> {
    match caught {
        Ok(outcome) => checked(conditional, outcome).map(|o| o.map_err(ReceiverError::Failed)),
        Err(panic) => Some(Err(crate::vocab::error::panic_error(panic))),
    }
}

#[inline]
pub(crate) fn has_receivers<S: Payload>(any_sender: bool) -> bool {
    let Some(loaded) = load::<S>() else {
        return false;
    };
    // `load` found a receiver of some sender.
    any_sender || loaded.has_receivers_of::<S::Family>(TypeId::of::<S::AnySender>())
}

/// Whether any receiver of `S`'s signal (any sender, any phase) is async: the state bits
/// a sync send checks first.
#[inline]
pub(crate) fn has_async_receivers<S: Payload>() -> bool {
    load::<S>().is_some_and(|loaded| loaded.may_have_async())
}

pub(crate) fn receivers<S: Payload>() -> Vec<ReceiverInfo> {
    let Some(loaded) = load::<S>() else {
        return Vec::new();
    };
    let guard = loaded.runtime();
    matching::<S>(loaded.view(snapshot(&guard)), |_| true)
}

/// `transaction::send_owned`: immediate receivers now, phased ones queued (or now when no
/// transaction is open).
pub(crate) fn send_owned<F, O, B, X, A>(owned: O, build: B) -> Result<X, SendError>
where
    F: crate::vocab::family::Family,
    O: Send + Sync + 'static,
    B: for<'o> Fn(&'o O) -> EventOf<'o, F> + Send + Sync + 'static,
    for<'o> EventOf<'o, F>:
        Payload<Family = F, Response = F::Response, Output = X, AnySender = A> + Send + Sync,
    A: crate::vocab::family::Family<Response = F::Response>,
    for<'x> EventOf<'x, A>: Send,
    X: crate::vocab::response::Collect<F::Response>,
{
    if !queue::is_active() {
        return send(&build(&owned));
    }
    let owned = Arc::new(owned);
    let build = Arc::new(build);
    let event = build(&owned);
    let span = trace::send_span::<EventOf<'_, F>>("owned");
    let _entered = span.as_ref().map(tracing::Span::enter);
    let mut output = X::default();
    send_with_mode(
        &event,
        |info, response| output.collect(info, response),
        true,
    )?;
    let queued = queue_phased::<F, O, B, A>(&owned, &build, span.as_ref());
    trace::record_queued(span.as_ref(), queued);
    Ok(output)
}

/// `transaction::send_owned_async`.
pub(crate) async fn send_owned_async<F, O, B, X, A>(owned: O, build: B) -> Result<X, SendError>
where
    F: crate::vocab::family::Family,
    F::Response: Send,
    O: Send + Sync + 'static,
    B: for<'o> Fn(&'o O) -> EventOf<'o, F> + Send + Sync + 'static,
    for<'o> EventOf<'o, F>:
        Payload<Family = F, Response = F::Response, Output = X, AnySender = A> + Send + Sync,
    A: crate::vocab::family::Family<Response = F::Response>,
    for<'x> EventOf<'x, A>: Send,
    X: crate::vocab::response::Collect<F::Response> + Send,
{
    if !queue::is_active() {
        return send_async(&build(&owned), <EventOf<'_, F> as Payload>::CONCURRENCY).await;
    }
    let owned = Arc::new(owned);
    let build = Arc::new(build);
    let event = build(&owned);
    let span = trace::send_span::<EventOf<'_, F>>("owned_async");
    let send = send_async_mode(&event, <EventOf<'_, F> as Payload>::CONCURRENCY, true);
    let output = match &span {
        Some(span) => send.instrument(span.clone()).await?,
        None => send.await?,
    };
    let queued = queue_phased::<F, O, B, A>(&owned, &build, span.as_ref());
    trace::record_queued(span.as_ref(), queued);
    Ok(output)
}

/// Queues a delivery for every phased receiver of the signal in the active transaction, in
/// dispatch order, and returns how many it queued.
///
/// What a test scope mutes (or a scope-connected receiver outside its scope) is decided
/// here, at queue time: the commit may come after the scope ended. A runtime receiver is
/// checked again when its delivery runs: disconnected by then, it is not called.
fn queue_phased<F, O, B, A>(
    owned: &Arc<O>,
    build: &Arc<B>,
    queued_by: Option<&tracing::Span>,
) -> usize
where
    F: crate::vocab::family::Family,
    O: Send + Sync + 'static,
    B: for<'o> Fn(&'o O) -> EventOf<'o, F> + Send + Sync + 'static,
    for<'o> EventOf<'o, F>:
        Payload<Family = F, Response = F::Response, AnySender = A> + Send + Sync,
    A: crate::vocab::family::Family<Response = F::Response>,
    for<'x> EventOf<'x, A>: Send,
{
    let Some(loaded) = load::<EventOf<'_, F>>() else {
        return 0;
    };
    if !loaded.may_have_phased() {
        return 0;
    }
    let guard = loaded.runtime();
    let view = loaded.view(snapshot(&guard));
    let mut queued = 0;
    for (info, meta) in view.plan::<F>().into_iter().flat_map(|plan| plan.steps()) {
        if meta.phase == Phase::Immediate {
            continue;
        }
        if view.source(meta).skipped() {
            continue;
        }
        let info = *info;
        let keep = view.source(meta).keep();
        let (owned, build) = (Arc::clone(owned), Arc::clone(build));
        let run: Box<dyn FnOnce() -> Pending + Send> = if info.is_async {
            Box::new(move || {
                if !keep.is_connected() {
                    queue::quiet_drop(&info, (owned, build));
                    return Pending::Disconnected;
                }
                Pending::Future(Box::pin(async move {
                    let outcome = {
                        let event = build(&owned);
                        match keep.source().run(&event).await {
                            Some(Err(error)) => Err(ReceiverError::Failed(error)),
                            _ => Ok(()),
                        }
                    };
                    // The payload's `Drop` is not the receiver's failure.
                    queue::quiet_drop(&info, (owned, build));
                    outcome
                }))
            })
        } else {
            Box::new(move || {
                let outcome = keep.is_connected().then(|| {
                    let event = build(&owned);
                    match keep.source().call(&event) {
                        Some(Err(error)) => Err(ReceiverError::Failed(error)),
                        _ => Ok(()),
                    }
                });
                queue::quiet_drop(&info, (owned, build));
                outcome.map_or(Pending::Disconnected, Pending::Done)
            })
        };
        // Only called with a transaction active (checked by the callers).
        queue::enqueue(Delivery {
            phase: info.phase,
            info,
            run,
            queued_by: queued_by.cloned(),
        });
        queued += 1;
    }
    queued
}
