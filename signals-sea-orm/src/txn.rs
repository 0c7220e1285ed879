//! SeaORM transactions that carry a `signals_core` transaction queue, so that receivers
//! declared `on = Commit` (or `Rollback`, `Completion`) run when the database transaction
//! ends, not during the write. See the crate docs, "Transactions".

use std::fmt::{Debug, Display};
use std::future::Future;
use std::ops::Deref;
use std::pin::Pin;
use std::sync::Arc;

use sea_orm::{DbErr, TransactionError, TransactionSession, TransactionTrait};
use signals_core::Failure;
use signals_core::transaction::{self, Savepoint, Transaction};

use crate::conn::{Shared, TxnHandle, with_open};

/// The signal queue of a [`SignalsTxn`]: its own for the outermost transaction, a mark in
/// the enclosing one for a nested transaction (a savepoint).
enum Queue {
    Outermost(Transaction),
    Savepoint(Savepoint),
}

/// A SeaORM transaction (`DatabaseTransaction`, or a savepoint inside one) with the
/// deferred-delivery queue of the signals it sends. Made by [`begin`]; [`transaction()`] is
/// the closure form.
///
/// Run the transaction's writes through [`run`](SignalsTxn::run), which makes the queue
/// active while they run, on the transaction itself ([`conn`](SignalsTxn::conn), or
/// `&*txn`), then call [`commit`](SignalsTxn::commit) or
/// [`rollback`](SignalsTxn::rollback):
///
/// ```ignore
/// let txn = signals_sea_orm::begin(&db).await?;
/// let user = txn.run(signup.insert(txn.conn())).await?;
/// let failures = txn.commit().await?; // on-commit receivers ran; these failed (logged)
/// ```
///
/// A write made outside `run` is not part of the queue: its `on = Commit` receivers run at
/// once, as for a write outside any transaction. Dropping a `SignalsTxn` without `commit`
/// or `rollback` rolls the database transaction back (SeaORM's `Drop`), and its queued
/// deliveries with it: `Commit` receivers never run; `Rollback` and `Completion` receivers
/// run detached on the current runtime, since a drop cannot await them (call
/// [`rollback`](SignalsTxn::rollback) to await them and get their failures).
#[must_use = "call commit() or rollback(): dropping it rolls the transaction back"]
pub struct SignalsTxn<T> {
    // Shared with the hooks of the writes made through it, which lend it to receivers
    // (weakly: see `crate::conn`).
    txn: Option<Arc<Shared<T>>>,
    handle: TxnHandle,
    queue: Option<Queue>,
}

impl<T: Debug> Debug for SignalsTxn<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignalsTxn")
            .field("txn", &self.txn.as_ref().map(|shared| &shared.0))
            .field("outermost", &self.is_outermost())
            .finish()
    }
}

/// Begins a transaction on `db` (a `DatabaseConnection`, or a `DatabaseTransaction` for a
/// nested one: a savepoint) together with its signal queue.
///
/// The outermost transaction of the running task gets a new queue
/// ([`signals_core::transaction::Transaction`]); a transaction begun while one is active
/// (inside [`SignalsTxn::run`] or [`transaction()`]) is nested: its deliveries join the
/// outermost queue, dropped if the nested transaction rolls back, delivered only by the
/// outermost commit. Nesting is told by the task, not by `db`: a transaction begun on the
/// pool from inside another one (not a savepoint for the database) still hands its
/// deliveries to the enclosing one, so begin independent transactions outside.
pub async fn begin<C>(db: &C) -> Result<SignalsTxn<C::Transaction>, DbErr>
where
    C: TransactionTrait,
    C::Transaction: 'static,
{
    let txn = Arc::new(Shared(db.begin().await?));
    let handle = TxnHandle::new(&txn);
    let queue = match transaction::savepoint() {
        Some(savepoint) => Queue::Savepoint(savepoint),
        None => Queue::Outermost(Transaction::begin()),
    };
    Ok(SignalsTxn {
        txn: Some(txn),
        handle,
        queue: Some(queue),
    })
}

impl<T> SignalsTxn<T> {
    /// The database transaction, to write through.
    pub fn conn(&self) -> &T {
        &self
            .txn
            .as_ref()
            .expect("a SignalsTxn holds its transaction until commit or rollback")
            .0
    }

    /// `false` for a nested transaction (a savepoint of the one active when it began).
    pub fn is_outermost(&self) -> bool {
        matches!(self.queue, Some(Queue::Outermost(_)))
    }

    /// Runs `future` (the transaction's writes) with this transaction's signal queue
    /// active: deferred receivers of the signals it sends are queued until
    /// [`commit`](SignalsTxn::commit) or [`rollback`](SignalsTxn::rollback). The
    /// transaction is lent to the immediate receivers of the writes made through it
    /// ([`db`](crate::db)).
    pub fn run<F: Future>(&self, future: F) -> impl Future<Output = F::Output> {
        let future = with_open(self.handle.clone(), future);
        let scoped = match &self.queue {
            Some(Queue::Outermost(tx)) => Ok(tx.run_async(future)),
            // A savepoint queues into the enclosing transaction, active around this call.
            _ => Err(future),
        };
        async move {
            match scoped {
                Ok(future) => future.await,
                Err(future) => future.await,
            }
        }
    }
}

impl<T: TransactionSession + Send + 'static> SignalsTxn<T> {
    /// Commits the database transaction, then, for the outermost one, runs the `Commit`
    /// and `Completion` deliveries (sync and async receivers, in the order they were
    /// queued) and returns those that failed. Each failure is also logged (target
    /// `signals_core::transaction`); none of them undoes the commit or stops the others.
    ///
    /// A nested transaction (savepoint) delivers nothing here: its deliveries wait for the
    /// outermost commit. If the database commit fails, the transaction did not commit: the
    /// deliveries are handled as for [`rollback`](SignalsTxn::rollback) and the error is
    /// returned.
    ///
    /// # Cancellation
    ///
    /// The commit and its deliveries run to their end even if this future is dropped
    /// midway (a `tokio::time::timeout`, a `select!`, a request whose client went away):
    /// the rest continues as a task on the current runtime
    /// ([`run_to_completion`](signals_core::transaction::run_to_completion)), so a
    /// committed row never misses its `on = Commit` receivers and no receiver runs twice.
    pub fn commit(mut self) -> impl Future<Output = Result<Vec<Failure>, DbErr>> + Send {
        let (txn, queue) = self.take();
        transaction::run_to_completion(async move {
            let committed = match txn {
                Ok(txn) => txn.commit().await,
                Err(err) => Err(err),
            };
            match committed {
                Ok(()) => Ok(match queue {
                    Queue::Outermost(tx) => tx.commit_async().await,
                    Queue::Savepoint(savepoint) => {
                        savepoint.release();
                        Vec::new()
                    }
                }),
                Err(err) => {
                    rolled_back(queue).await;
                    Err(err)
                }
            }
        })
    }

    /// Rolls the database transaction back, then drops the queued `Commit` deliveries
    /// and, for the outermost transaction, runs the `Rollback` and `Completion` ones;
    /// returns those that failed (each also logged). A nested transaction drops every
    /// delivery queued inside it: its rows no longer exist. Cancelled midway, it finishes
    /// detached, as [`commit`](SignalsTxn::commit) does.
    pub fn rollback(mut self) -> impl Future<Output = Result<Vec<Failure>, DbErr>> + Send {
        let (txn, queue) = self.take();
        transaction::run_to_completion(async move {
            let result = match txn {
                Ok(txn) => txn.rollback().await,
                Err(err) => Err(err),
            };
            let failures = rolled_back(queue).await;
            result.map(|()| failures)
        })
    }
}

impl<T> SignalsTxn<T> {
    fn take(&mut self) -> (Result<T, DbErr>, Queue) {
        match (self.txn.take(), self.queue.take()) {
            // Receivers borrow the transaction only while they run (a weak handle), so it
            // is not shared any more, unless a receiver kept a `Db` alive past its return.
            (Some(txn), Some(queue)) => (
                Arc::try_unwrap(txn).map(|shared| shared.0).map_err(|_| {
                    DbErr::Custom(
                        "signals_sea_orm: the transaction is still in use by a receiver".into(),
                    )
                }),
                queue,
            ),
            _ => unreachable!("commit and rollback take the SignalsTxn by value"),
        }
    }
}

async fn rolled_back(queue: Queue) -> Vec<Failure> {
    match queue {
        Queue::Outermost(tx) => tx.rollback_async().await,
        Queue::Savepoint(savepoint) => {
            savepoint.rollback();
            Vec::new()
        }
    }
}

impl<T> Deref for SignalsTxn<T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.conn()
    }
}

impl<T> Drop for SignalsTxn<T> {
    fn drop(&mut self) {
        // Neither committed nor rolled back: the database transaction rolls back when `txn`
        // drops (SeaORM's `Drop`), so this is a rollback for the deliveries too: a
        // savepoint's are dropped, and the outermost queue's `Rollback` and `Completion`
        // receivers run, detached (a drop cannot await them).
        match self.queue.take() {
            Some(Queue::Savepoint(savepoint)) => savepoint.rollback(),
            Some(Queue::Outermost(tx)) => drop(tx.rollback_async()),
            None => {}
        }
    }
}

/// SeaORM's `TransactionTrait::transaction`, with signal phases: runs `callback` in a
/// transaction on `db`, commits it if the callback returns `Ok`, rolls it back if it
/// returns `Err`, and then runs the deferred receivers of the signals sent inside it:
/// `on = Commit` after a successful commit, `on = Rollback` after a rollback,
/// `on = Completion` after either.
///
/// ```ignore
/// let user = signals_sea_orm::transaction(&db, |txn| {
///     Box::pin(async move {
///         let user = signup.insert(txn).await?;   // PostSave(created): queued for on = Commit
///         profile_for(&user).insert(txn).await?;
///         Ok::<_, DbErr>(user)
///     })
/// })
/// .await?;                                        // committed: the welcome email went out
/// ```
///
/// Called with a `DatabaseTransaction` as `db`, or from inside another `transaction`
/// (nested), it is a savepoint: its deliveries join the outermost transaction, dropped if
/// it rolls back, delivered only when the outermost one commits.
///
/// A failing deferred receiver never undoes the commit and never stops the others: it is
/// logged (`tracing` error, target `signals_core::transaction`). To get the failures as
/// values, use [`begin`] and [`SignalsTxn::commit`].
pub async fn transaction<C, F, T, E>(db: &C, callback: F) -> Result<T, TransactionError<E>>
where
    C: TransactionTrait,
    F: for<'c> FnOnce(
            &'c C::Transaction,
        ) -> Pin<Box<dyn Future<Output = Result<T, E>> + Send + 'c>>
        + Send,
    C::Transaction: Send + 'static,
    T: Send,
    E: Display + Debug + Send,
{
    let txn = begin(db).await.map_err(TransactionError::Connection)?;
    let result = txn.run(callback(txn.conn())).await;
    match result {
        Ok(value) => {
            txn.commit().await.map_err(TransactionError::Connection)?;
            Ok(value)
        }
        Err(err) => {
            txn.rollback().await.map_err(TransactionError::Connection)?;
            Err(TransactionError::Transaction(err))
        }
    }
}
