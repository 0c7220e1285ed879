//! The transaction queue: deliveries waiting for their transaction to end, and how they
//! run when it does. `transaction` (the public API) opens, scopes and finishes the queues;
//! dispatch (`send_owned`) fills them.
//!
//! * A [`Delivery`] is one deferred receiver and its owned payload. Queued in the
//!   [`TxState`] active here (a thread-local stack, pushed per thread or per poll).
//! * [`Deliveries`] runs a finished transaction's deliveries in order, sync in place or
//!   as a future; dropped early, it reports what it still held as lost.
//! * [`Finishing`] / [`RunToCompletion`]: cancellation-safe futures; dropped midway, the
//!   rest is detached ([`detach`]), on the current Tokio runtime (feature `tokio`) or a
//!   thread of its own.
//! * Nothing is lost silently: [`lose`] logs, counts and reports (through the hook the
//!   public layer sets, which sends `meta::DeliveryLost`). Every drop of user data here
//!   is a [`quiet_drop`]: outside the queue's lock, with a `Drop` panic caught.

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::Instant;

use crate::engine::local::lock;
use crate::vocab::error::ReceiverError;
use crate::vocab::family::BoxFuture;
use crate::vocab::phase::{LostReason, Phase};
use crate::vocab::receiver::ReceiverInfo;
use crate::vocab::response::Failure;

/// A queued delivery: one deferred receiver and the owned payload it will see.
pub(crate) struct Delivery {
    pub(crate) phase: Phase,
    pub(crate) info: ReceiverInfo,
    pub(crate) run: Box<dyn FnOnce() -> Pending + Send>,
    /// The span of the send that queued it, when tracing was on: the delivery's own span
    /// follows from it.
    pub(crate) queued_by: Option<tracing::Span>,
}

/// What running a delivery gives: done (sync receiver), a future (async receiver), or
/// nothing (its receiver was disconnected after it was queued).
pub(crate) enum Pending {
    Done(Result<(), ReceiverError>),
    Future(BoxFuture<'static, Result<(), ReceiverError>>),
    Disconnected,
}

/// The deliveries queued in one (outermost) transaction, in the order they were queued.
#[derive(Default)]
pub(crate) struct TxState {
    pub(crate) queue: Mutex<Vec<Delivery>>,
}

thread_local! {
    pub(crate) static ACTIVE: crate::engine::local::Stack<Arc<TxState>> = const { RefCell::new(Vec::new()) };
}

/// The transaction active here (the innermost on this thread, or the one whose future is
/// being polled), if any.
pub(crate) fn current() -> Option<Arc<TxState>> {
    ACTIVE.with_borrow(|stack| stack.last().cloned())
}

/// Whether a transaction is active here.
pub(crate) fn is_active() -> bool {
    ACTIVE.with_borrow(|stack| !stack.is_empty())
}

/// Queues `delivery` in the active transaction. Only called with one active; if none is,
/// the delivery is reported lost rather than dropped silently.
pub(crate) fn enqueue(delivery: Delivery) {
    match current() {
        Some(tx) => lock(&tx.queue).push(delivery),
        None => lose(delivery, LostReason::Unfinished),
    }
}

static LOST: AtomicU64 = AtomicU64::new(0);

/// How many deliveries were lost (see `transaction::lost_deliveries`).
pub(crate) fn lost_deliveries() -> u64 {
    LOST.load(Ordering::Relaxed)
}

/// Reports a delivery that will never run, then drops it (catching a panic from its
/// payload's `Drop`).
#[cold]
pub(crate) fn lose(delivery: Delivery, reason: LostReason) {
    let info = delivery.info;
    quiet_drop(&info, delivery);
    report_lost(&info, reason);
}

#[cold]
fn report_lost(info: &ReceiverInfo, reason: LostReason) {
    LOST.fetch_add(1, Ordering::Relaxed);
    tracing::error!(
        target: "signals_core::transaction",
        signal = info.signal,
        receiver = info.name,
        location = %format_args!("{}:{}", info.file, info.line),
        phase = info.phase.as_str(),
        reason = reason.as_str(),
        "deferred delivery lost: the receiver will not run"
    );
    if let Some(hook) = ON_LOST.get() {
        hook(info, reason);
    }
}

/// What else reports a lost delivery: the public layer sends `meta::DeliveryLost` (the
/// engine cannot name a signal). Set once, by the first `Transaction::begin`: deliveries
/// exist only inside a transaction.
static ON_LOST: OnceLock<fn(&ReceiverInfo, LostReason)> = OnceLock::new();

/// Sets the [`ON_LOST`] hook (the first call wins; later ones are no-ops).
pub(crate) fn on_lost(hook: fn(&ReceiverInfo, LostReason)) {
    let _ = ON_LOST.get_or_init(|| hook);
}

/// Drops `value` (a delivery, its payload, a receiver's future), catching and logging a
/// panic from a `Drop` in it: a commit or rollback never unwinds because of one.
pub(crate) fn quiet_drop<T>(info: &ReceiverInfo, value: T) {
    if let Err(panic) = catch_unwind(AssertUnwindSafe(move || drop(value))) {
        crate::engine::store::drop_panicked(Some(info), &*panic);
    }
}

fn failed(failures: &mut Vec<Failure>, info: &ReceiverInfo, position: usize, error: ReceiverError) {
    tracing::error!(
        target: "signals_core::transaction",
        signal = info.signal,
        receiver = info.name,
        location = %format_args!("{}:{}", info.file, info.line),
        error = %format_args!("{error:#}"),
        "deferred receiver failed (the transaction is not affected)"
    );
    failures.push(Failure {
        receiver: *info,
        position,
        error,
    });
}

/// One delivery being run: its span (when tracing is on) and when it started.
struct Running {
    info: ReceiverInfo,
    position: usize,
    span: Option<tracing::Span>,
    started: Instant,
}

impl Running {
    fn new(delivery: &Delivery, position: usize) -> Self {
        Running {
            info: delivery.info,
            position,
            span: crate::engine::trace::delivery_span(&delivery.info, delivery.queued_by.as_ref()),
            started: Instant::now(),
        }
    }

    fn in_span<T>(&self, f: impl FnOnce() -> T) -> T {
        match &self.span {
            Some(span) => span.in_scope(f),
            None => f(),
        }
    }

    /// Records the outcome on the span, and a failure in `failures`.
    fn finish(self, outcome: Result<(), ReceiverError>, failures: &mut Vec<Failure>) {
        if let Some(span) = &self.span {
            let name = match &outcome {
                Ok(()) => "ok",
                Err(ReceiverError::Panicked { .. }) => "panic",
                Err(_) => "error",
            };
            crate::engine::trace::finish(span, name, self.started);
        }
        if let Err(error) = outcome {
            self.in_span(|| failed(failures, &self.info, self.position, error));
        }
    }
}

/// The deliveries of a finished transaction, run in order: what `commit` and
/// `rollback` run in place, and what [`Finishing`] polls (and detaches when dropped).
///
/// Dropped before every delivery ran (only when a detached run is itself cancelled, e.g.
/// by a runtime shutting down), it reports each remaining one as lost.
pub(crate) struct Deliveries {
    queue: std::vec::IntoIter<Delivery>,
    next: usize,
    in_flight: Option<(Running, BoxFuture<'static, Result<(), ReceiverError>>)>,
    failures: Vec<Failure>,
}

impl Deliveries {
    pub(crate) fn new(runs: Vec<Delivery>) -> Self {
        Deliveries {
            queue: runs.into_iter(),
            next: 0,
            in_flight: None,
            failures: Vec::new(),
        }
    }

    fn is_done(&self) -> bool {
        self.in_flight.is_none() && self.queue.len() == 0
    }

    /// Starts the next delivery: `None` when there is none left, else the delivery and
    /// what starting it gave (a sync receiver has run to its end; an async one gave its
    /// future), a panic already turned into a failure.
    fn start_next(&mut self) -> Option<(Running, Result<Pending, ReceiverError>)> {
        let delivery = self.queue.next()?;
        let running = Running::new(&delivery, self.next);
        self.next += 1;
        let run = delivery.run;
        let started = running.in_span(|| catch_unwind(AssertUnwindSafe(run)));
        // The rest of the delivery (its span link) holds no user data.
        drop(delivery.queued_by);
        Some((running, started.map_err(crate::vocab::error::panic_error)))
    }

    /// Runs every delivery in place; async ones fail with `AsyncInSyncSend`.
    pub(crate) fn run_sync(mut self) -> Vec<Failure> {
        while let Some((running, started)) = self.start_next() {
            let outcome = match started {
                Ok(Pending::Done(result)) => result,
                Ok(Pending::Disconnected) => continue,
                Ok(Pending::Future(future)) => {
                    quiet_drop(&running.info, future);
                    Err(ReceiverError::AsyncInSyncSend)
                }
                Err(panic) => Err(panic),
            };
            running.finish(outcome, &mut self.failures);
        }
        std::mem::take(&mut self.failures)
    }
}

impl Future for Deliveries {
    type Output = Vec<Failure>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Vec<Failure>> {
        let this = &mut *self;
        loop {
            if let Some((running, future)) = &mut this.in_flight {
                let polled =
                    running.in_span(|| catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx))));
                let outcome = match polled {
                    Ok(Poll::Pending) => return Poll::Pending,
                    Ok(Poll::Ready(result)) => result,
                    Err(panic) => Err(crate::vocab::error::panic_error(panic)),
                };
                if let Some((running, future)) = this.in_flight.take() {
                    // A future that panicked still holds its payload: drop it quietly.
                    quiet_drop(&running.info, future);
                    running.finish(outcome, &mut this.failures);
                }
                continue;
            }
            let Some((running, started)) = this.start_next() else {
                return Poll::Ready(std::mem::take(&mut this.failures));
            };
            match started {
                Ok(Pending::Done(result)) => running.finish(result, &mut this.failures),
                Ok(Pending::Disconnected) => {}
                Ok(Pending::Future(future)) => this.in_flight = Some((running, future)),
                Err(panic) => running.finish(Err(panic), &mut this.failures),
            }
        }
    }
}

impl Drop for Deliveries {
    fn drop(&mut self) {
        if let Some((running, future)) = self.in_flight.take() {
            quiet_drop(&running.info, future);
            report_lost(&running.info, LostReason::Cancelled);
        }
        for delivery in self.queue.by_ref() {
            lose(delivery, LostReason::Cancelled);
        }
    }
}

/// The future of [`Transaction::commit_async`](crate::transaction::Transaction::commit_async) and [`Transaction::rollback_async`](crate::transaction::Transaction::rollback_async): runs
/// the deliveries in the order they were queued and gives the ones that failed.
///
/// # Cancellation
///
/// Dropped before it completes, it hands the deliveries still to run (the one in flight
/// included, so none runs twice and none is cut short) to a detached task, which finishes
/// them; their failures are logged as usual. See [`run_to_completion`] for where that
/// task runs. If even that task cannot finish (the runtime shuts down under it), each
/// delivery it still held is reported lost ([`LostReason::Cancelled`]).
#[must_use = "futures do nothing unless polled; dropped unpolled, its deliveries run detached"]
pub struct Finishing {
    run: RunToCompletion<Vec<Failure>>,
}

impl fmt::Debug for Finishing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Finishing")
            .field("done", &self.run.future.is_none())
            .finish()
    }
}

impl Finishing {
    pub(crate) fn new(deliveries: Deliveries) -> Self {
        let run = if deliveries.is_done() {
            // Nothing to run: nothing to detach either.
            RunToCompletion { future: None }
        } else {
            run_to_completion(deliveries)
        };
        Finishing { run }
    }
}

impl Future for Finishing {
    type Output = Vec<Failure>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Vec<Failure>> {
        match self.run.future {
            None => Poll::Ready(Vec::new()),
            Some(_) => Pin::new(&mut self.run).poll(cx),
        }
    }
}

/// Wraps `future` so that it runs to its end even if the returned future is dropped
/// first: the rest of it then continues detached from the caller, and its output is
/// dropped.
///
/// This is what makes [`Transaction::commit_async`](crate::transaction::Transaction::commit_async) cancellation-safe, and what an ORM
/// integration wraps around "commit the database transaction, then run the deliveries"
/// so that a caller giving up midway (`tokio::time::timeout`, `select!`, a dropped
/// request) can neither leave a committed transaction undelivered nor cut a receiver
/// short.
///
/// The detached rest runs on the current Tokio runtime when the `tokio` feature is on
/// and the drop happens inside one; otherwise on a thread of its own
/// (`futures_executor::block_on`), where futures that need a Tokio reactor fail (and are
/// reported as failed deliveries): turn the feature on in Tokio applications.
///
/// ```
/// use signals_core::transaction::run_to_completion;
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicBool, Ordering};
///
/// let finished = Arc::new(AtomicBool::new(false));
/// let flag = finished.clone();
/// let (tx, rx) = std::sync::mpsc::channel::<()>();
/// let work = run_to_completion(async move {
///     flag.store(true, Ordering::SeqCst);
///     let _ = tx.send(());
/// });
/// drop(work); // never polled: it still runs, detached
/// rx.recv().unwrap();
/// assert!(finished.load(Ordering::SeqCst));
/// ```
pub fn run_to_completion<F>(future: F) -> RunToCompletion<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    RunToCompletion {
        future: Some(Box::pin(future)),
    }
}

/// The future of [`run_to_completion`]: its wrapped future's output, and the guarantee
/// that the wrapped future finishes even if this one is dropped first.
#[must_use = "futures do nothing unless polled; dropped unpolled, it runs detached"]
pub struct RunToCompletion<T: 'static> {
    future: Option<BoxFuture<'static, T>>,
}

impl<T: 'static> fmt::Debug for RunToCompletion<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunToCompletion")
            .field("done", &self.future.is_none())
            .finish()
    }
}

impl<T: 'static> Future for RunToCompletion<T> {
    type Output = T;

    /// # Panics
    ///
    /// If polled again after it completed (as any future may).
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let future = self
            .future
            .as_mut()
            .expect("RunToCompletion polled after it completed");
        let output = std::task::ready!(future.as_mut().poll(cx));
        self.future = None;
        Poll::Ready(output)
    }
}

impl<T: 'static> Drop for RunToCompletion<T> {
    fn drop(&mut self) {
        if let Some(future) = self.future.take() {
            detach(future);
        }
    }
}

/// Runs the rest of a dropped [`RunToCompletion`] to its end, away from the caller.
fn detach<T: 'static>(future: BoxFuture<'static, T>) {
    tracing::debug!(
        target: "signals_core::transaction",
        "future dropped before it completed: the rest continues detached"
    );
    // Erase the output type: it is dropped when the future completes, on the detached
    // side (`T: Send` is part of `BoxFuture`'s `Send`).
    let run: BoxFuture<'static, ()> = Box::pin(async move {
        let _output = future.await;
    });
    #[cfg(feature = "tokio")]
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        drop(runtime.spawn(run));
        return;
    }
    let spawned = std::thread::Builder::new()
        .name("signals-detached".to_owned())
        .spawn(move || futures_executor::block_on(run));
    // A thread that cannot start drops `run`; deliveries in it are reported lost.
    if let Err(error) = spawned {
        tracing::error!(
            target: "signals_core::transaction",
            %error,
            "could not start a thread to finish a detached future"
        );
    }
}
