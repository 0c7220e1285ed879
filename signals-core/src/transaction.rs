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
//! by [`Transaction::commit`], never un-commits anything and never stops the others.
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
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use futures_util::FutureExt;

use crate::SendError;
use crate::erased::BoxFuture;
use crate::error::ReceiverError;
use crate::receiver::ReceiverInfo;
use crate::response::Failure;
use crate::signal::{EventOf, Signal};

/// When a receiver runs relative to the transaction its signal was sent in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Phase {
    /// During the send (the default).
    #[default]
    Immediate,
    /// After the outermost transaction commits; dropped if it rolls back.
    Commit,
    /// After the outermost transaction rolls back; dropped if it commits.
    Rollback,
    /// After the outermost transaction ends, either way.
    Completion,
}

impl Phase {
    /// The phase's name: `immediate`, `commit`, `rollback`, `completion`.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Immediate => "immediate",
            Phase::Commit => "commit",
            Phase::Rollback => "rollback",
            Phase::Completion => "completion",
        }
    }

    /// Whether a delivery in this phase runs when the transaction ends with `committed`.
    fn runs_on(self, committed: bool) -> bool {
        match self {
            Phase::Immediate => false,
            Phase::Commit => committed,
            Phase::Rollback => !committed,
            Phase::Completion => true,
        }
    }

    /// Whether a receiver in this phase runs during a send made outside any transaction.
    pub(crate) fn runs_without_transaction(self) -> bool {
        !matches!(self, Phase::Rollback)
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A queued delivery: one deferred receiver and the owned payload it will see.
pub(crate) struct Delivery {
    pub(crate) phase: Phase,
    pub(crate) info: ReceiverInfo,
    pub(crate) run: Box<dyn FnOnce() -> Pending + Send>,
}

/// What running a delivery gives: done (sync receiver) or a future (async receiver).
pub(crate) enum Pending {
    Done(Result<(), ReceiverError>),
    Future(BoxFuture<'static, Result<(), ReceiverError>>),
}

#[derive(Default)]
struct TxState {
    queue: Mutex<Vec<Delivery>>,
}

thread_local! {
    static ACTIVE: crate::local::Stack<Arc<TxState>> = const { RefCell::new(Vec::new()) };
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
        let mark = state.queue.lock().unwrap_or_else(|p| p.into_inner()).len();
        Savepoint { state, mark }
    })
}

/// Queues `delivery` in the active transaction; returns `false` (and drops it) if none is.
pub(crate) fn enqueue(delivery: Delivery) -> bool {
    match current() {
        Some(tx) => {
            tx.queue
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(delivery);
            true
        }
        None => false,
    }
}

/// A deferred-delivery queue for one (outermost) database transaction.
///
/// Open it when the outermost transaction begins, run the transaction's code inside it,
/// then call [`commit`](Transaction::commit) after the database commit succeeded or
/// [`rollback`](Transaction::rollback) after it rolled back (or failed). Dropping it without
/// either is a rollback for its deliveries: `Commit` receivers never run.
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
        self.state
            .queue
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .len()
    }

    /// Runs `f` with this transaction active on the current thread.
    pub fn run<T>(&self, f: impl FnOnce() -> T) -> T {
        let _active = crate::local::push(&ACTIVE, Arc::clone(&self.state));
        f()
    }

    /// Wraps `future` so this transaction is active whenever it is polled.
    pub fn run_async<F: Future>(&self, future: F) -> InTransaction<F> {
        InTransaction {
            inner: crate::local::Within::new(&ACTIVE, Arc::clone(&self.state), future),
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

    fn take(self, committed: bool) -> Vec<Delivery> {
        let queued =
            std::mem::take(&mut *self.state.queue.lock().unwrap_or_else(|p| p.into_inner()));
        queued
            .into_iter()
            .filter(|d| d.phase.runs_on(committed))
            .collect()
    }

    /// The database transaction committed: runs the `Commit` and `Completion` deliveries,
    /// in the order they were queued. Async receivers cannot run here and are reported;
    /// use [`commit_async`](Transaction::commit_async) from async code.
    ///
    /// Returns the deliveries that failed (each also logged).
    pub fn commit(self) -> Vec<Failure> {
        finish_sync(self.take(true))
    }

    /// The database transaction rolled back: runs the `Rollback` and `Completion`
    /// deliveries and drops the `Commit` ones. Returns the deliveries that failed.
    pub fn rollback(self) -> Vec<Failure> {
        finish_sync(self.take(false))
    }

    /// [`commit`](Transaction::commit) for async code: sync and async deliveries alike.
    pub async fn commit_async(self) -> Vec<Failure> {
        finish_async(self.take(true)).await
    }

    /// [`rollback`](Transaction::rollback) for async code.
    pub async fn rollback_async(self) -> Vec<Failure> {
        finish_async(self.take(false)).await
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
    /// dropped (their rows no longer exist), whatever their phase.
    pub fn rollback(self) {
        let mut queue = self.state.queue.lock().unwrap_or_else(|p| p.into_inner());
        queue.truncate(self.mark);
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

fn start(delivery: Delivery) -> Result<Pending, ReceiverError> {
    catch_unwind(AssertUnwindSafe(delivery.run)).map_err(crate::dispatch::panic_error)
}

fn finish_sync(deliveries: Vec<Delivery>) -> Vec<Failure> {
    let mut failures = Vec::new();
    for (position, delivery) in deliveries.into_iter().enumerate() {
        let info = delivery.info;
        let outcome = match start(delivery) {
            Ok(Pending::Done(result)) => result,
            Ok(Pending::Future(_)) => Err(ReceiverError::AsyncInSyncSend),
            Err(panic) => Err(panic),
        };
        if let Err(error) = outcome {
            failed(&mut failures, &info, position, error);
        }
    }
    failures
}

async fn finish_async(deliveries: Vec<Delivery>) -> Vec<Failure> {
    let mut failures = Vec::new();
    for (position, delivery) in deliveries.into_iter().enumerate() {
        let info = delivery.info;
        let outcome = match start(delivery) {
            Ok(Pending::Done(result)) => result,
            Ok(Pending::Future(future)) => match AssertUnwindSafe(future).catch_unwind().await {
                Ok(result) => result,
                Err(panic) => Err(crate::dispatch::panic_error(panic)),
            },
            Err(panic) => Err(panic),
        };
        if let Err(error) = outcome {
            failed(&mut failures, &info, position, error);
        }
    }
    failures
}

pin_project_lite::pin_project! {
    /// A future running inside a [`Transaction`]; see [`Transaction::run_async`].
    pub struct InTransaction<F> {
        #[pin]
        inner: crate::local::Within<Arc<TxState>, F>,
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
    crate::dispatch::send_owned(owned, build)
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
    crate::dispatch::send_owned_async(owned, build).await
}
