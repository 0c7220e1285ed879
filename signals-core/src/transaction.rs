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

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::SendError;
use crate::engine::local::lock;
use crate::engine::queue::{self, ACTIVE, Deliveries, TxState, lose, quiet_drop};
pub use crate::engine::queue::{Finishing, RunToCompletion, run_to_completion};
use crate::signal::Signal;
use crate::vocab::family::EventOf;
pub use crate::vocab::phase::{LostReason, Phase};
use crate::vocab::response::Failure;

/// Whether a transaction is active here.
pub fn is_active() -> bool {
    queue::is_active()
}

/// Marks a savepoint in the transaction active here (see [`Transaction::savepoint`]), for
/// code that opens a nested transaction without holding the outermost [`Transaction`]
/// (an ORM integration's nested `transaction(..)` call). `None` when no transaction is
/// active: then the nested call is the outermost one and should [`Transaction::begin`].
pub fn savepoint() -> Option<Savepoint> {
    queue::current().map(|state| {
        let mark = lock(&state.queue).len();
        Savepoint { state, mark }
    })
}

/// How many deferred deliveries this process could not run, since it started: each was
/// also logged (`tracing` error, target `signals_core::transaction`, naming the signal and
/// the receiver) and sent as [`DeliveryLost`](crate::meta::DeliveryLost). See
/// [`LostReason`] for when it happens; a healthy application keeps it at `0`.
pub fn lost_deliveries() -> u64 {
    queue::lost_deliveries()
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
        queue::on_lost(crate::meta::lost);
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
