//! The dispatch path: every send goes through [`Receivers`].
//!
//! 1. One atomic load of the registry state; a signal with no receivers stops there.
//! 2. The link-time list (sorted once) and a snapshot of the runtime list are merged by
//!    priority, link-time first on ties ([`Receivers`]).
//! 3. Each receiver whose family is the payload's (sender-specific) or the any-sender family
//!    is called ([`Target`]); the others belong to other senders and are skipped.
//!
//! The sync sends (`send`, `send_with`, `send_robust`) and the async ones (`send_async`,
//! `send_async_robust`) differ only in what they do with each receiver and its outcome.

use std::any::TypeId;
use std::ops::ControlFlow;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use futures_util::FutureExt;
use tracing::Instrument;

use crate::transaction::{self, Delivery, Pending, Phase};
use crate::{recursion, trace};

use crate::error::{ReceiverError, SendError};
use crate::receiver::ReceiverInfo;
use crate::registry::{DynEntry, Loaded, StaticSlot};
use crate::response::{Collect, Failure, Report};
use crate::signal::{AsyncCallee, BoxError, Callee, Concurrency, EventOf, Signal};

/// One receiver about to run.
#[derive(Clone, Copy)]
enum Target<'r> {
    /// Link-time receivers live for the whole program.
    Static(&'static StaticSlot),
    Dynamic(&'r Arc<DynEntry>),
}

type Outcome<R> = Result<R, BoxError>;

impl Target<'_> {
    #[inline(always)]
    fn info(&self) -> &ReceiverInfo {
        match self {
            Target::Static(s) => &s.info,
            Target::Dynamic(d) => &d.info,
        }
    }

    /// Calls a sync receiver listening to this payload's sender; `None` if the receiver
    /// is for another sender or is async.
    #[inline(always)]
    fn call<S: Signal>(&self, event: &S) -> Option<Outcome<S::Response>> {
        #[cfg(feature = "testing")]
        if self.skipped() {
            return None;
        }
        match self {
            Target::Static(s) => {
                if let Some(f) = s.call.get::<S::Family>() {
                    Some(event.__call(Callee::Static(f)))
                } else {
                    let f = s.call.get::<S::AnySender>()?;
                    event.__any_view().map(|view| Callee::Static(f).call(&view))
                }
            }
            Target::Dynamic(d) => {
                if let Some(f) = d.call.get::<S::Family>() {
                    Some(event.__call(Callee::Dynamic(f)))
                } else {
                    let f = d.call.get::<S::AnySender>()?;
                    event
                        .__any_view()
                        .map(|view| Callee::Dynamic(f).call(&view))
                }
            }
        }
    }

    /// Runs the receiver if it listens to this payload's sender, sync or async.
    async fn run<S: Signal>(self, event: &S) -> Option<Outcome<S::Response>> {
        if !self.info().is_async {
            return self.call(event);
        }
        #[cfg(feature = "testing")]
        if self.skipped() {
            return None;
        }
        let (specific, any) = match self {
            Target::Static(s) => (
                s.call.get_async::<S::Family>().map(AsyncCallee::Static),
                s.call.get_async::<S::AnySender>().map(AsyncCallee::Static),
            ),
            Target::Dynamic(d) => (
                d.call.get_async::<S::Family>().map(AsyncCallee::Dynamic),
                d.call.get_async::<S::AnySender>().map(AsyncCallee::Dynamic),
            ),
        };
        if let Some(f) = specific {
            return Some(event.__call_async(f).await);
        }
        let f = any?;
        let view: EventOf<'_, S::AnySender> = event.__any_view()?;
        Some(f.call(&view).await)
    }

    /// Whether an active test scope keeps this receiver from running here.
    #[cfg(feature = "testing")]
    fn skipped(&self) -> bool {
        match self {
            Target::Static(s) => crate::testing::skips(&s.info, 0),
            Target::Dynamic(d) => crate::testing::skips(&d.info, d.scope),
        }
    }

    /// Whether this receiver listens to a send of `S` (sync or async alike).
    #[inline(always)]
    fn matches<S: Signal>(&self) -> bool {
        let family = match self {
            Target::Static(s) => s.call.family(),
            Target::Dynamic(d) => d.call.family(),
        };
        family == TypeId::of::<S::Family>() || family == TypeId::of::<S::AnySender>()
    }
}

/// The receivers of one send in dispatch order: link-time and runtime lists merged by
/// priority, link-time first on ties. Indices, not iterators: the merge compiles to a few
/// compares per receiver.
struct Receivers<'r> {
    statics: &'static [StaticSlot],
    dynamic: &'r [Arc<DynEntry>],
    s: usize,
    d: usize,
}

impl<'r> Receivers<'r> {
    fn new(statics: &'static [StaticSlot], dynamic: &'r [Arc<DynEntry>]) -> Self {
        Receivers {
            statics,
            dynamic,
            s: 0,
            d: 0,
        }
    }
}

impl<'r> Iterator for Receivers<'r> {
    type Item = Target<'r>;

    #[inline(always)]
    fn next(&mut self) -> Option<Target<'r>> {
        match (self.statics.get(self.s), self.dynamic.get(self.d)) {
            (Some(s), Some(e)) if e.info.priority > s.info.priority => {
                self.d += 1;
                Some(Target::Dynamic(e))
            }
            (Some(s), _) => {
                self.s += 1;
                Some(Target::Static(s))
            }
            (None, Some(e)) => {
                self.d += 1;
                Some(Target::Dynamic(e))
            }
            (None, None) => None,
        }
    }
}

/// Loads the receivers of `S`: one atomic load; `None` when there are none.
#[inline(always)]
fn load<S: Signal>() -> Option<Loaded<'static>> {
    S::__registry().load(TypeId::of::<S::AnySender>())
}

/// Whether a receiver that waits for a transaction phase is left out of a send: always
/// inside a transaction (it is queued, or the send was refused), and outside one only in
/// the `Rollback` phase (nothing can roll back).
#[inline(always)]
fn deferred_out(info: &ReceiverInfo, in_transaction: bool) -> bool {
    info.phase != Phase::Immediate && (in_transaction || !info.phase.runs_without_transaction())
}

/// The receivers of a send of `S` for which `keep` holds (for refusal errors).
#[cold]
fn matching<S: Signal>(
    loaded: Loaded<'static>,
    keep: impl Fn(&ReceiverInfo) -> bool,
) -> Vec<ReceiverInfo> {
    let mut found = Vec::new();
    walk(loaded, |target| {
        if keep(target.info()) && target.matches::<S>() {
            found.push(*target.info());
        }
        ControlFlow::Continue(())
    });
    found
}

/// Visits the loaded receivers in dispatch order until `visit` breaks.
#[inline(always)]
fn walk(loaded: Loaded<'static>, mut visit: impl FnMut(Target<'_>) -> ControlFlow<()>) {
    let snapshot = loaded.dynamic();
    let dynamic = match snapshot.as_ref() {
        Some(guard) => guard.as_deref().map(Vec::as_slice).unwrap_or(&[]),
        None => &[],
    };
    // One call site for `visit`, so it stays inlined.
    for target in Receivers::new(loaded.statics, dynamic) {
        if visit(target).is_break() {
            return;
        }
    }
}

#[inline]
pub(crate) fn send_with<S: Signal>(
    event: &S,
    sink: impl FnMut(&ReceiverInfo, S::Response),
) -> Result<usize, SendError> {
    send_with_mode(event, sink, false)
}

/// `owned`: the payload is owned by `transaction::send_owned`, which queues the phased
/// receivers itself; otherwise reaching one inside a transaction is an error.
#[inline(always)]
fn send_with_mode<S: Signal>(
    event: &S,
    sink: impl FnMut(&ReceiverInfo, S::Response),
    owned: bool,
) -> Result<usize, SendError> {
    #[cfg(feature = "testing")]
    crate::testing::on_send(event);
    // The fast path (nobody listens) stays inline in the caller; the rest does not.
    let Some(loaded) = load::<S>() else {
        return Ok(0);
    };
    send_loaded(event, sink, owned, loaded)
}

#[inline(never)]
fn send_loaded<S: Signal>(
    event: &S,
    mut sink: impl FnMut(&ReceiverInfo, S::Response),
    owned: bool,
    loaded: Loaded<'static>,
) -> Result<usize, SendError> {
    let in_transaction = loaded.may_have_phased() && transaction::is_active();
    if in_transaction && !owned {
        let receivers = matching::<S>(loaded, |info| info.phase != Phase::Immediate);
        if !receivers.is_empty() {
            return Err(SendError::NotDeferrable {
                signal: S::NAME,
                receivers,
            });
        }
    }
    if loaded.may_have_async() {
        let receivers = matching::<S>(loaded, |info| {
            info.is_async && !deferred_out(info, in_transaction)
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
    let span = trace::send_span::<S>("sync");
    let traced = !span.is_disabled();
    let _entered = traced.then(|| span.enter());
    let mut ran = 0;
    let mut failed = None;
    walk(loaded, |target| {
        match deferred_out(target.info(), in_transaction) {
            true => ControlFlow::Continue(()),
            false => match traced_call(traced, &target, event) {
                None => ControlFlow::Continue(()),
                Some(Ok(response)) => {
                    ran += 1;
                    sink(target.info(), response);
                    ControlFlow::Continue(())
                }
                Some(Err(source)) => {
                    failed = Some(SendError::from_receiver(target.info(), source));
                    ControlFlow::Break(())
                }
            },
        }
    });
    span.record("receivers", ran);
    match failed {
        Some(error) => Err(error),
        None => Ok(ran),
    }
}

fn too_deep_error<S: Signal>(too_deep: recursion::TooDeep) -> SendError {
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

/// Calls a sync receiver, inside its own span when tracing is on.
#[inline(always)]
fn traced_call<S: Signal>(
    traced: bool,
    target: &Target<'_>,
    event: &S,
) -> Option<Outcome<S::Response>> {
    if !traced || !target.matches::<S>() {
        return target.call(event);
    }
    let span = trace::receiver_span(target.info());
    let started = std::time::Instant::now();
    let result = span.in_scope(|| catch_unwind(AssertUnwindSafe(|| target.call(event))));
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
pub(crate) fn send<S: Signal>(event: &S) -> Result<S::Output, SendError> {
    let mut output = S::Output::default();
    send_with(event, |info, response| output.collect(info, response))?;
    Ok(output)
}

/// Records one failure of a robust send, logging it.
fn record_failure(
    failures: &mut Vec<Failure>,
    info: &ReceiverInfo,
    position: usize,
    error: ReceiverError,
) {
    tracing::error!(
        target: "signals_core::dispatch",
        signal = info.signal,
        receiver = info.name,
        location = %format_args!("{}:{}", info.file, info.line),
        error = %error,
        "receiver failed in a robust send"
    );
    failures.push(Failure {
        receiver: *info,
        position,
        error,
    });
}

pub(crate) fn panic_error(panic: Box<dyn std::any::Any + Send>) -> ReceiverError {
    let message = if let Some(s) = panic.downcast_ref::<&'static str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "Box<dyn Any>".to_owned()
    };
    ReceiverError::Panicked { message }
}

pub(crate) fn send_robust<S: Signal>(event: &S) -> Report<S::Output> {
    #[cfg(feature = "testing")]
    crate::testing::on_send(event);
    let mut output = S::Output::default();
    let mut failures = Vec::new();
    let mut position = 0;
    let Some(loaded) = load::<S>() else {
        return Report::new(output, failures);
    };
    let _depth = match recursion::enter(TypeId::of::<S::Family>(), S::MAX_DEPTH) {
        Ok(entered) => entered,
        Err(too_deep) => return Report::stopped(output, too_deep_error::<S>(too_deep)),
    };
    let span = trace::send_span::<S>("robust");
    let traced = !span.is_disabled();
    let _entered = traced.then(|| span.enter());
    let in_transaction = loaded.may_have_phased() && transaction::is_active();
    walk(loaded, |target| {
        if deferred_out(target.info(), in_transaction) {
            if in_transaction && target.matches::<S>() {
                record_failure(
                    &mut failures,
                    target.info(),
                    position,
                    ReceiverError::NotDeferred,
                );
                position += 1;
            }
            return ControlFlow::Continue(());
        }
        if target.info().is_async {
            if target.matches::<S>() {
                record_failure(
                    &mut failures,
                    target.info(),
                    position,
                    ReceiverError::AsyncInSyncSend,
                );
                position += 1;
            }
            return ControlFlow::Continue(());
        }
        let outcome = match catch_unwind(AssertUnwindSafe(|| traced_call(traced, &target, event))) {
            Ok(None) => return ControlFlow::Continue(()),
            Ok(Some(outcome)) => outcome.map_err(ReceiverError::Failed),
            Err(panic) => Err(panic_error(panic)),
        };
        match outcome {
            Ok(response) => output.collect(target.info(), response),
            Err(error) => record_failure(&mut failures, target.info(), position, error),
        }
        position += 1;
        ControlFlow::Continue(())
    });
    span.record("receivers", position);
    Report::new(output, failures)
}

/// The owned snapshot an async send holds across `.await`s.
struct Snapshot {
    statics: &'static [StaticSlot],
    dynamic: Option<Arc<crate::registry::DynList>>,
    /// Whether phased receivers are to be left out (a transaction is active).
    in_transaction: bool,
}

impl Snapshot {
    fn take<S: Signal>() -> Option<Snapshot> {
        let loaded = load::<S>()?;
        Some(Snapshot {
            statics: loaded.statics,
            dynamic: loaded.dynamic_full(),
            in_transaction: loaded.may_have_phased() && transaction::is_active(),
        })
    }

    fn all(&self) -> Receivers<'_> {
        Receivers::new(
            self.statics,
            self.dynamic.as_deref().map(Vec::as_slice).unwrap_or(&[]),
        )
    }

    /// The receivers this send runs now.
    fn receivers(&self) -> impl Iterator<Item = Target<'_>> {
        self.all()
            .filter(|t| !deferred_out(t.info(), self.in_transaction))
    }

    /// The phased receivers of `S` left out while a transaction is active.
    fn phased<S: Signal>(&self) -> Vec<ReceiverInfo> {
        if !self.in_transaction {
            return Vec::new();
        }
        self.all()
            .filter(|t| t.info().phase != Phase::Immediate && t.matches::<S>())
            .map(|t| *t.info())
            .collect()
    }
}

/// Runs one receiver of an async send, inside its own span when tracing is on.
async fn run_traced<S: Signal>(
    traced: bool,
    target: Target<'_>,
    event: &S,
) -> Option<Outcome<S::Response>> {
    if !traced || !target.matches::<S>() {
        return target.run(event).await;
    }
    let span = trace::receiver_span(target.info());
    let started = std::time::Instant::now();
    match AssertUnwindSafe(target.run(event).instrument(span.clone()))
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

pub(crate) async fn send_async<S: Signal + Sync>(
    event: &S,
    concurrency: Concurrency,
) -> Result<S::Output, SendError>
where
    S::Response: Send,
{
    send_async_mode(event, concurrency, false).await
}

async fn send_async_mode<S: Signal + Sync>(
    event: &S,
    concurrency: Concurrency,
    owned: bool,
) -> Result<S::Output, SendError>
where
    S::Response: Send,
{
    #[cfg(feature = "testing")]
    crate::testing::on_send(event);
    let Some(snapshot) = Snapshot::take::<S>() else {
        return Ok(S::Output::default());
    };
    let phased = snapshot.phased::<S>();
    if !phased.is_empty() && !owned {
        return Err(SendError::NotDeferrable {
            signal: S::NAME,
            receivers: phased,
        });
    }
    let family = TypeId::of::<S::Family>();
    recursion::check(family, S::MAX_DEPTH).map_err(|too_deep| too_deep_error::<S>(too_deep))?;
    let span = trace::send_span::<S>("async");
    let traced = !span.is_disabled();
    let send = send_async_traced(event, concurrency, snapshot, traced, span.clone());
    recursion::Guarded::new(family, send).instrument(span).await
}

async fn send_async_traced<S: Signal + Sync>(
    event: &S,
    concurrency: Concurrency,
    snapshot: Snapshot,
    traced: bool,
    span: tracing::Span,
) -> Result<S::Output, SendError>
where
    S::Response: Send,
{
    let mut output = S::Output::default();
    let mut ran = 0;
    match concurrency {
        Concurrency::Sequential => {
            for target in snapshot.receivers() {
                match run_traced(traced, target, event).await {
                    None => {}
                    Some(Ok(response)) => {
                        ran += 1;
                        output.collect(target.info(), response);
                    }
                    Some(Err(source)) => {
                        return Err(SendError::from_receiver(target.info(), source));
                    }
                }
            }
        }
        Concurrency::Concurrent => {
            // Every receiver starts in order (join polls them in order); the first error
            // in completion order wins and drops the others.
            let runs = snapshot.receivers().map(|target| async move {
                match run_traced(traced, target, event).await {
                    Some(Err(source)) => Err(SendError::from_receiver(target.info(), source)),
                    other => Ok((target, other)),
                }
            });
            for (target, outcome) in futures_util::future::try_join_all(runs).await? {
                if let Some(Ok(response)) = outcome {
                    ran += 1;
                    output.collect(target.info(), response);
                }
            }
        }
    }
    span.record("receivers", ran);
    Ok(output)
}

pub(crate) async fn send_async_robust<S: Signal + Sync>(
    event: &S,
    concurrency: Concurrency,
) -> Report<S::Output>
where
    S::Response: Send,
{
    #[cfg(feature = "testing")]
    crate::testing::on_send(event);
    let Some(snapshot) = Snapshot::take::<S>() else {
        return Report::new(S::Output::default(), Vec::new());
    };
    let family = TypeId::of::<S::Family>();
    if let Err(too_deep) = recursion::check(family, S::MAX_DEPTH) {
        return Report::stopped(S::Output::default(), too_deep_error::<S>(too_deep));
    }
    let not_deferred = snapshot.phased::<S>();
    let span = trace::send_span::<S>("async_robust");
    let traced = !span.is_disabled();
    let send = send_async_robust_traced(
        event,
        concurrency,
        snapshot,
        not_deferred,
        traced,
        span.clone(),
    );
    recursion::Guarded::new(family, send).instrument(span).await
}

async fn send_async_robust_traced<S: Signal + Sync>(
    event: &S,
    concurrency: Concurrency,
    snapshot: Snapshot,
    not_deferred: Vec<ReceiverInfo>,
    traced: bool,
    span: tracing::Span,
) -> Report<S::Output>
where
    S::Response: Send,
{
    let mut output = S::Output::default();
    let mut failures = Vec::new();
    let outcomes: Vec<(Target<'_>, RobustOutcome<S::Response>)> = match concurrency {
        Concurrency::Sequential => {
            let mut all = Vec::new();
            for target in snapshot.receivers() {
                all.push((
                    target,
                    flatten(
                        AssertUnwindSafe(run_traced(traced, target, event))
                            .catch_unwind()
                            .await,
                    ),
                ));
            }
            all
        }
        Concurrency::Concurrent => {
            let runs = snapshot.receivers().map(|target| async move {
                (
                    target,
                    flatten(
                        AssertUnwindSafe(run_traced(traced, target, event))
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
    for (target, outcome) in outcomes {
        match outcome {
            None => continue,
            Some(Ok(response)) => output.collect(target.info(), response),
            Some(Err(error)) => record_failure(&mut failures, target.info(), position, error),
        }
        position += 1;
    }
    span.record("receivers", position);
    Report::new(output, failures)
}

/// A receiver's outcome in a robust send: `None` when it does not listen to this sender.
type RobustOutcome<R> = Option<Result<R, ReceiverError>>;

fn flatten<R>(
    caught: Result<Option<Outcome<R>>, Box<dyn std::any::Any + Send>>,
) -> RobustOutcome<R> {
    match caught {
        Ok(None) => None,
        Ok(Some(outcome)) => Some(outcome.map_err(ReceiverError::Failed)),
        Err(panic) => Some(Err(panic_error(panic))),
    }
}

pub(crate) fn has_receivers<S: Signal>(any_sender: bool) -> bool {
    let mut found = false;
    let Some(loaded) = load::<S>() else {
        return false;
    };
    walk(loaded, |target| {
        if any_sender || target.matches::<S>() {
            found = true;
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    });
    found
}

pub(crate) fn receivers<S: Signal>() -> Vec<ReceiverInfo> {
    let mut list = Vec::new();
    let Some(loaded) = load::<S>() else {
        return list;
    };
    walk(loaded, |target| {
        if target.matches::<S>() {
            list.push(*target.info());
        }
        ControlFlow::Continue(())
    });
    list
}

/// A receiver kept for a deferred delivery (outliving the send's snapshot).
enum Kept {
    Static(&'static StaticSlot),
    Dynamic(Arc<DynEntry>),
}

impl Kept {
    fn target(&self) -> Target<'_> {
        match self {
            Kept::Static(s) => Target::Static(s),
            Kept::Dynamic(d) => Target::Dynamic(d),
        }
    }
}

/// `transaction::send_owned`: immediate receivers now, phased ones queued (or now when no
/// transaction is open).
pub(crate) fn send_owned<F, O, B, X, A>(owned: O, build: B) -> Result<X, SendError>
where
    F: crate::signal::Family,
    O: Send + Sync + 'static,
    B: for<'o> Fn(&'o O) -> EventOf<'o, F> + Send + Sync + 'static,
    for<'o> EventOf<'o, F>:
        Signal<Family = F, Response = F::Response, Output = X, AnySender = A> + Send + Sync,
    A: crate::signal::Family<Response = F::Response>,
    for<'x> EventOf<'x, A>: Send,
    X: crate::response::Collect<F::Response>,
{
    if !transaction::is_active() {
        return build(&owned).send();
    }
    let owned = Arc::new(owned);
    let build = Arc::new(build);
    let event = build(&owned);
    let mut output = X::default();
    send_with_mode(
        &event,
        |info, response| output.collect(info, response),
        true,
    )?;
    queue_phased::<F, O, B, A>(&owned, &build);
    Ok(output)
}

/// `transaction::send_owned_async`.
pub(crate) async fn send_owned_async<F, O, B, X, A>(owned: O, build: B) -> Result<X, SendError>
where
    F: crate::signal::Family,
    F::Response: Send,
    O: Send + Sync + 'static,
    B: for<'o> Fn(&'o O) -> EventOf<'o, F> + Send + Sync + 'static,
    for<'o> EventOf<'o, F>:
        Signal<Family = F, Response = F::Response, Output = X, AnySender = A> + Send + Sync,
    A: crate::signal::Family<Response = F::Response>,
    for<'x> EventOf<'x, A>: Send,
    X: crate::response::Collect<F::Response> + Send,
{
    if !transaction::is_active() {
        return send_async(&build(&owned), <EventOf<'_, F> as Signal>::CONCURRENCY).await;
    }
    let owned = Arc::new(owned);
    let build = Arc::new(build);
    let event = build(&owned);
    let output = send_async_mode(&event, <EventOf<'_, F> as Signal>::CONCURRENCY, true).await?;
    queue_phased::<F, O, B, A>(&owned, &build);
    Ok(output)
}

/// Queues a delivery for every phased receiver of the signal in the active transaction, in
/// dispatch order.
fn queue_phased<F, O, B, A>(owned: &Arc<O>, build: &Arc<B>)
where
    F: crate::signal::Family,
    O: Send + Sync + 'static,
    B: for<'o> Fn(&'o O) -> EventOf<'o, F> + Send + Sync + 'static,
    for<'o> EventOf<'o, F>: Signal<Family = F, Response = F::Response, AnySender = A> + Send + Sync,
    A: crate::signal::Family<Response = F::Response>,
    for<'x> EventOf<'x, A>: Send,
{
    let Some(loaded) = load::<EventOf<'_, F>>() else {
        return;
    };
    if !loaded.may_have_phased() {
        return;
    }
    let snapshot = loaded.dynamic_full();
    let dynamic: &[Arc<DynEntry>] = snapshot.as_deref().map(Vec::as_slice).unwrap_or(&[]);
    for target in Receivers::new(loaded.statics, dynamic) {
        let info = *target.info();
        if info.phase == Phase::Immediate || !target.matches::<EventOf<'_, F>>() {
            continue;
        }
        let keep = match target {
            Target::Static(slot) => Kept::Static(slot),
            Target::Dynamic(entry) => Kept::Dynamic(Arc::clone(entry)),
        };
        let (owned, build) = (Arc::clone(owned), Arc::clone(build));
        let run: Box<dyn FnOnce() -> Pending + Send> = if info.is_async {
            Box::new(move || {
                Pending::Future(Box::pin(async move {
                    let event = build(&owned);
                    match keep.target().run(&event).await {
                        Some(Err(error)) => Err(ReceiverError::Failed(error)),
                        _ => Ok(()),
                    }
                }))
            })
        } else {
            Box::new(move || {
                let event = build(&owned);
                Pending::Done(match keep.target().call(&event) {
                    Some(Err(error)) => Err(ReceiverError::Failed(error)),
                    _ => Ok(()),
                })
            })
        };
        // Only called with a transaction active (checked by the callers).
        transaction::enqueue(Delivery {
            phase: info.phase,
            info,
            run,
        });
    }
}
