//! Receivers that wait for the transaction: `#[receiver(PostSave, sender = User, on = Commit)]`.
//!
//! Django's most reported signal bug is that `post_save` runs before the surrounding
//! transaction commits: emails go out for users that were rolled back, and background jobs
//! start before their row is visible. Here a receiver declares its [`Phase`]:
//!
//! | phase | inside a transaction | no transaction open |
//! |---|---|---|
//! | `Immediate` (default) | during the send | during the send |
//! | `Commit` | after the outermost commit succeeds; dropped on rollback | during the send |
//! | `Rollback` | after a rollback; dropped on commit | never (nothing to roll back) |
//! | `Completion` | after the commit or the rollback | during the send |
//!
//! (Spring's `@TransactionalEventListener` phases, and Django's `transaction.on_commit`
//! made declarative.)
//!
//! A [`Transaction`] is a queue scoped to the code that runs it: a thread
//! ([`Transaction::run`]) or a future ([`Transaction::run_async`], active whenever it is
//! polled, on any worker), so concurrent requests never see each other's deliveries.
//! Nested transactions (savepoints) join the outermost one: only its commit delivers.
//! ORM integrations (such as `signals-sea-orm`) open and finish it around the database
//! transaction; the core is ORM-agnostic.
//!
//! A deferred receiver runs after the send returned, so it needs a payload that outlives
//! the send. Senders that own their data send with [`send_owned`] (the ORM integration
//! does: its hooks get the saved row by value). A plain `send()` inside a transaction that
//! would reach a deferred receiver fails with
//! [`SendError::NotDeferrable`] before running anything,
//! rather than delivering too early or silently dropping the delivery.
//!
//! Deliveries are robust: a failing or panicking deferred receiver is logged and reported
//! by [`Transaction::commit`], never un-commits anything and never stops the others. A
//! panic in a payload's or a receiver capture's `Drop` is caught and logged too: `commit`
//! and `rollback` never panic.
//!
//! # Guarantees
//!
//! * **Disconnected means never called.** A runtime receiver disconnected (its guard
//!   dropped, [`Connection::disconnect`](crate::Connection::disconnect),
//!   [`Signal::disconnect`]) after a delivery was queued for it
//!   is not called by that delivery.
//! * **Cancellation loses nothing.** [`Transaction::commit_async`] takes the deliveries
//!   when it is called; if its future is dropped midway, the rest, the delivery in flight
//!   included, finishes detached ([`Finishing`], [`run_to_completion`]), each exactly once.
//! * **Nothing lost silently.** A delivery that cannot run (its transaction dropped
//!   without `commit` or `rollback`, or a detached run cut short by a runtime shutting
//!   down) is logged at `ERROR` (target `signals_core::transaction`, naming the signal and
//!   the receiver), counted by [`lost_deliveries`] and sent as
//!   [`DeliveryLost`](crate::meta::DeliveryLost); see [`LostReason`].
//! * **Observable.** Each delivery runs in a `signal.delivery` span that follows from the
//!   `signal.send` span which queued it; that send records how many it `queued`.
//! * Test scopes (`signals_core::testing`, feature `testing`) decide whether a
//!   deferred receiver is muted when its delivery is queued.
//!
//! ```
//! use signals_core::prelude::*;
//! use signals_core::transaction::{self, Transaction};
//! use std::sync::atomic::{AtomicUsize, Ordering};
//!
//! #[derive(Signal)]
//! struct Registered<'a> { email: &'a str }
//!
//! static WELCOMED: AtomicUsize = AtomicUsize::new(0);
//!
//! #[receiver(Registered, on = Commit)]
//! fn send_welcome(event: &Registered<'_>) {
//!     WELCOMED.fetch_add(1, Ordering::SeqCst);
//! }
//!
//! let tx = Transaction::begin();
//! tx.run(|| transaction::send_owned::<Registered, _>("ada@example.com".to_owned(), |email: &String| {
//!     Registered { email }
//! }))?;
//! assert_eq!(WELCOMED.load(Ordering::SeqCst), 0, "not before the commit");
//! assert!(tx.commit().is_empty(), "no delivery failed");
//! assert_eq!(WELCOMED.load(Ordering::SeqCst), 1);
//!
//! let tx = Transaction::begin();
//! tx.run(|| transaction::send_owned::<Registered, _>("grace@example.com".to_owned(), |email: &String| {
//!     Registered { email }
//! }))?;
//! tx.rollback();
//! assert_eq!(WELCOMED.load(Ordering::SeqCst), 1, "rolled back: no email");
//! # Ok::<(), signals_core::SendError>(())
//! ```

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;

use crate::SendError;
use crate::engine::local::lock;
use crate::signal::Signal;
use crate::vocab::error::ReceiverError;
use crate::vocab::family::BoxFuture;
use crate::vocab::family::EventOf;
pub use crate::vocab::phase::LostReason;
pub use crate::vocab::phase::Phase;
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

#[derive(Default)]
struct TxState {
    queue: Mutex<Vec<Delivery>>,
}

thread_local! {
    static ACTIVE: crate::engine::local::Stack<Arc<TxState>> = const { RefCell::new(Vec::new()) };
}

/// The transaction active here (the innermost on this thread, or the one whose future is
/// being polled), if any.
fn current() -> Option<Arc<TxState>> {
    ACTIVE.with_borrow(|stack| stack.last().cloned())
}

/// Whether a transaction is active here.
pub fn is_active() -> bool {
    ACTIVE.with_borrow(|stack| !stack.is_empty())
}

/// Marks a savepoint in the transaction active here (see [`Transaction::savepoint`]), for
/// code that opens a nested transaction without holding the outermost [`Transaction`]
/// (an ORM integration's nested `transaction(..)` call). `None` when no transaction is
/// active: then the nested call is the outermost one and should [`Transaction::begin`].
pub fn savepoint() -> Option<Savepoint> {
    current().map(|state| {
        let mark = lock(&state.queue).len();
        Savepoint { state, mark }
    })
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

/// How many deferred deliveries this process could not run, since it started: each was
/// also logged (`tracing` error, target `signals_core::transaction`, naming the signal and
/// the receiver) and sent as [`DeliveryLost`](crate::meta::DeliveryLost). See
/// [`LostReason`] for when it happens; a healthy application keeps it at `0`.
pub fn lost_deliveries() -> u64 {
    LOST.load(Ordering::Relaxed)
}

/// Reports a delivery that will never run, then drops it (catching a panic from its
/// payload's `Drop`).
#[cold]
fn lose(delivery: Delivery, reason: LostReason) {
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
    crate::meta::lost(info, reason);
}

/// Drops `value` (a delivery, its payload, a receiver's future), catching and logging a
/// panic from a `Drop` in it: a commit or rollback never unwinds because of one.
pub(crate) fn quiet_drop<T>(info: &ReceiverInfo, value: T) {
    if let Err(panic) = catch_unwind(AssertUnwindSafe(move || drop(value))) {
        crate::engine::trace::drop_panicked(Some(info), &*panic);
    }
}

/// A deferred-delivery queue for one (outermost) database transaction.
///
/// Open it when the outermost transaction begins, run the transaction's code inside it,
/// then call [`commit`](Transaction::commit) after the database commit succeeded or
/// [`rollback`](Transaction::rollback) after it rolled back (or failed).
///
/// Dropping it without either means the outcome is unknown (a caller that gave up while
/// the database commit was in flight, say): its deliveries cannot run, and each is
/// reported as lost ([`LostReason::Unfinished`]), never dropped silently.
#[must_use = "call commit() or rollback() when the database transaction ends"]
pub struct Transaction {
    state: Arc<TxState>,
}

impl fmt::Debug for Transaction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transaction")
            .field("queued", &self.queued())
            .finish()
    }
}

impl Transaction {
    /// A new, empty queue. Savepoints do not need one: code running inside this
    /// transaction's scope queues into it.
    pub fn begin() -> Transaction {
        Transaction {
            state: Arc::new(TxState::default()),
        }
    }

    /// How many deliveries are waiting.
    pub fn queued(&self) -> usize {
        lock(&self.state.queue).len()
    }

    /// Runs `f` with this transaction active on the current thread.
    pub fn run<T>(&self, f: impl FnOnce() -> T) -> T {
        let _active = crate::engine::local::push(&ACTIVE, Arc::clone(&self.state));
        f()
    }

    /// Wraps `future` so this transaction is active whenever it is polled.
    pub fn run_async<F: Future>(&self, future: F) -> InTransaction<F> {
        InTransaction {
            inner: crate::engine::local::Within::new(&ACTIVE, Arc::clone(&self.state), future),
        }
    }

    /// Marks a savepoint (a nested transaction). Deliveries queued after it are dropped
    /// if it rolls back ([`Savepoint::rollback`]); nothing is delivered when it is
    /// released: only the outermost commit delivers.
    pub fn savepoint(&self) -> Savepoint {
        Savepoint {
            state: Arc::clone(&self.state),
            mark: self.queued(),
        }
    }

    /// The deliveries that run when the transaction ends with `committed`, in the order
    /// they were queued; the others are dropped here (outside the queue's lock, catching
    /// a panic from a payload's `Drop`).
    fn take(self, committed: bool) -> Deliveries {
        let queued = std::mem::take(&mut *lock(&self.state.queue));
        let mut runs = Vec::with_capacity(queued.len());
        for delivery in queued {
            if delivery.phase.runs_on(committed) {
                runs.push(delivery);
            } else {
                let info = delivery.info;
                quiet_drop(&info, delivery);
            }
        }
        Deliveries::new(runs)
    }

    /// The database transaction committed: runs the `Commit` and `Completion` deliveries,
    /// in the order they were queued. Async receivers cannot run here and are reported;
    /// use [`commit_async`](Transaction::commit_async) from async code.
    ///
    /// Returns the deliveries that failed (each also logged). It never panics: a
    /// receiver's panic is a failure, and a panic in a payload's `Drop` is caught and
    /// logged; neither keeps the other deliveries from running.
    pub fn commit(self) -> Vec<Failure> {
        self.take(true).run_sync()
    }

    /// The database transaction rolled back: runs the `Rollback` and `Completion`
    /// deliveries and drops the `Commit` ones. Returns the deliveries that failed.
    pub fn rollback(self) -> Vec<Failure> {
        self.take(false).run_sync()
    }

    /// [`commit`](Transaction::commit) for async code: sync and async deliveries alike.
    ///
    /// The deliveries are taken from the queue when this is called, not when the future
    /// is first polled. **Cancellation loses nothing**: if the returned future is dropped
    /// before it completes (a `tokio::time::timeout`, a `select!`, a client that went
    /// away), the deliveries still to run, the one in flight included, continue detached
    /// from the caller, each exactly once; see [`Finishing`].
    pub fn commit_async(self) -> Finishing {
        Finishing::new(self.take(true))
    }

    /// [`rollback`](Transaction::rollback) for async code; cancelled, it finishes
    /// detached as [`commit_async`](Transaction::commit_async) does.
    pub fn rollback_async(self) -> Finishing {
        Finishing::new(self.take(false))
    }
}

impl Drop for Transaction {
    fn drop(&mut self) {
        // commit() and rollback() empty the queue first; anything left was never finished.
        let left = std::mem::take(&mut *lock(&self.state.queue));
        for delivery in left {
            lose(delivery, LostReason::Unfinished);
        }
    }
}

/// A savepoint inside a [`Transaction`]; see [`Transaction::savepoint`].
#[must_use = "call release() or rollback() when the savepoint ends"]
pub struct Savepoint {
    state: Arc<TxState>,
    mark: usize,
}

impl fmt::Debug for Savepoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Savepoint")
            .field("mark", &self.mark)
            .finish()
    }
}

impl Savepoint {
    /// The savepoint was released: its deliveries stay queued for the outermost commit.
    pub fn release(self) {}

    /// The savepoint was rolled back: the deliveries queued since it was taken are
    /// dropped (their rows no longer exist), whatever their phase. Their payloads are
    /// dropped after the queue's lock is released.
    pub fn rollback(self) {
        let dropped = {
            let mut queue = lock(&self.state.queue);
            let mark = self.mark.min(queue.len());
            queue.split_off(mark)
        };
        for delivery in dropped {
            let info = delivery.info;
            quiet_drop(&info, delivery);
        }
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
struct Deliveries {
    queue: std::vec::IntoIter<Delivery>,
    next: usize,
    in_flight: Option<(Running, BoxFuture<'static, Result<(), ReceiverError>>)>,
    failures: Vec<Failure>,
}

impl Deliveries {
    fn new(runs: Vec<Delivery>) -> Self {
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
        Some((
            running,
            started.map_err(crate::engine::dispatch::panic_error),
        ))
    }

    /// Runs every delivery in place; async ones fail with `AsyncInSyncSend`.
    fn run_sync(mut self) -> Vec<Failure> {
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
                    Err(panic) => Err(crate::engine::dispatch::panic_error(panic)),
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

/// The future of [`Transaction::commit_async`] and [`Transaction::rollback_async`]: runs
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
    fn new(deliveries: Deliveries) -> Self {
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
/// This is what makes [`Transaction::commit_async`] cancellation-safe, and what an ORM
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

pin_project_lite::pin_project! {
    /// A future running inside a [`Transaction`]; see [`Transaction::run_async`].
    pub struct InTransaction<F> {
        #[pin]
        inner: crate::engine::local::Within<Arc<TxState>, F>,
    }
}

impl<F: Future> Future for InTransaction<F> {
    type Output = F::Output;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.project().inner.poll(cx)
    }
}

/// Sends the payload that `build` makes from `owned`: immediate receivers run now, and
/// deferred ones (`on = Commit`, ...) are queued with `owned` in the active transaction,
/// or run now when none is open. Returns what the immediate send returned.
///
/// `S` names the signal: `send_owned::<Signup, _>(email, |email: &String| Signup { email })`.
/// `build` is called once now and once per deferred delivery. The payload must be `Send +
/// Sync`, since deliveries may run on another thread after the commit.
pub fn send_owned<S, O>(
    owned: O,
    build: impl for<'o> Fn(&'o O) -> EventOf<'o, S::Family> + Send + Sync + 'static,
) -> Result<S::Output, SendError>
where
    S: Signal,
    O: Send + Sync + 'static,
    for<'o> EventOf<'o, S::Family>: Signal<
            Family = S::Family,
            Response = S::Response,
            Output = S::Output,
            AnySender = S::AnySender,
        > + Send
        + Sync,
    for<'x> EventOf<'x, S::AnySender>: Send,
{
    crate::engine::dispatch::send_owned(owned, build)
}

/// The async form of [`send_owned`]: immediate receivers (sync and async) run now.
pub async fn send_owned_async<S, O>(
    owned: O,
    build: impl for<'o> Fn(&'o O) -> EventOf<'o, S::Family> + Send + Sync + 'static,
) -> Result<S::Output, SendError>
where
    S: Signal,
    S::Response: Send,
    S::Output: Send,
    O: Send + Sync + 'static,
    for<'o> EventOf<'o, S::Family>: Signal<
            Family = S::Family,
            Response = S::Response,
            Output = S::Output,
            AnySender = S::AnySender,
        > + Send
        + Sync,
    for<'x> EventOf<'x, S::AnySender>: Send,
{
    crate::engine::dispatch::send_owned_async(owned, build).await
}
