//! The write's connection, lent to receivers: [`db`] and [`Db`].
//!
//! A hook gets SeaORM's connection as `&C` for some `C: ConnectionTrait` (the pool, a
//! `DatabaseTransaction`, ...), which is neither `'static` nor object safe. It is lent to
//! the receivers through the payload's `db` field as a
//! [`signals_core::db::Connection`], which takes a [`Request`] and answers a [`Reply`]
//! (both erased to `Any`), and [`Db`] turns it back into a `ConnectionTrait`.
//!
//! Inside [`transaction`](crate::transaction) / [`begin`](crate::begin) the signals are
//! sent owned (their deferred receivers are queued), so the payload cannot borrow `&C`:
//! there the transaction itself is shared with the hooks ([`SignalsTxn`](crate::SignalsTxn)
//! keeps it in an `Arc`) and the payload holds a weak handle to it, which works while the
//! transaction is open and refuses every request once it has ended (the `on = Commit`
//! receivers run after that).

use std::any::Any;
use std::sync::{Arc, Weak};

use sea_orm::{ConnectionTrait, DbBackend, DbErr, ExecResult, QueryResult, Statement};
use signals_core::db::{Connection, ConnectionFuture};

/// A request to a lent connection: the four raw operations of `ConnectionTrait`.
enum Request {
    Execute(Statement),
    Unprepared(String),
    QueryOne(Statement),
    QueryAll(Statement),
}

/// The answer to a [`Request`].
enum Reply {
    Exec(ExecResult),
    One(Option<QueryResult>),
    All(Vec<QueryResult>),
}

type Answer = Result<Reply, DbErr>;

fn vendor(backend: DbBackend) -> &'static str {
    match backend {
        DbBackend::Sqlite => "sqlite",
        DbBackend::Postgres => "postgres",
        DbBackend::MySql => "mysql",
        _ => backend.as_str(),
    }
}

async fn answer<C: ConnectionTrait>(conn: &C, request: Box<dyn Any + Send>) -> Answer {
    let request = request
        .downcast::<Request>()
        .map_err(|_| DbErr::Custom("signals_sea_orm: unknown connection request".into()))?;
    Ok(match *request {
        Request::Execute(stmt) => Reply::Exec(conn.execute_raw(stmt).await?),
        Request::Unprepared(sql) => Reply::Exec(conn.execute_unprepared(&sql).await?),
        Request::QueryOne(stmt) => Reply::One(conn.query_one_raw(stmt).await?),
        Request::QueryAll(stmt) => Reply::All(conn.query_all_raw(stmt).await?),
    })
}

fn boxed(answer: Answer) -> Box<dyn Any + Send> {
    Box::new(answer)
}

/// The hook's `&C`, lent for the duration of a borrowed send.
pub(crate) struct Lent<'c, C>(pub(crate) &'c C);

impl<C: ConnectionTrait> Connection for Lent<'_, C> {
    fn vendor(&self) -> &'static str {
        vendor(self.0.get_database_backend())
    }
    fn call(&self, request: Box<dyn Any + Send>) -> ConnectionFuture<'_> {
        Box::pin(async move { boxed(answer(self.0, request).await) })
    }
}

/// A transaction shared between a [`SignalsTxn`](crate::SignalsTxn) and the hooks of the
/// writes made through it. `repr(transparent)`, so that its address is the transaction's:
/// a hook tells that its `&C` is this transaction by comparing addresses.
#[repr(transparent)]
pub(crate) struct Shared<T>(pub(crate) T);

impl<T: ConnectionTrait + Send + 'static> Connection for Shared<T> {
    fn vendor(&self) -> &'static str {
        vendor(self.0.get_database_backend())
    }
    fn call(&self, request: Box<dyn Any + Send>) -> ConnectionFuture<'_> {
        Box::pin(async move { boxed(answer(&self.0, request).await) })
    }
}

/// A weak handle to a [`Shared`] transaction: what owned (queued) payloads carry.
#[derive(Clone)]
pub(crate) struct TxnHandle {
    txn: Weak<dyn Connection>,
    vendor: &'static str,
}

impl TxnHandle {
    pub(crate) fn new<T: ConnectionTrait + Send + 'static>(txn: &Arc<Shared<T>>) -> Self {
        let weak: Weak<Shared<T>> = Arc::downgrade(txn);
        TxnHandle {
            txn: weak,
            vendor: vendor(txn.0.get_database_backend()),
        }
    }

    /// Whether `db` (a hook's connection) is this transaction.
    pub(crate) fn is<C>(&self, db: &C) -> bool {
        std::ptr::addr_eq(self.txn.as_ptr(), db as *const C)
    }
}

impl Connection for TxnHandle {
    fn vendor(&self) -> &'static str {
        self.vendor
    }
    fn call(&self, request: Box<dyn Any + Send>) -> ConnectionFuture<'_> {
        Box::pin(async move {
            match self.txn.upgrade() {
                Some(txn) => txn.call(request).await,
                None => boxed(Err(DbErr::Custom(
                    "signals_sea_orm: the transaction of this write has ended (deferred \
                     receivers, `on = Commit` and the like, run after it: write through the \
                     pool)"
                        .into(),
                ))),
            }
        })
    }
}

tokio::task_local! {
    /// The [`SignalsTxn`](crate::SignalsTxn)s whose `run` is being polled in this task,
    /// innermost last.
    static OPEN: Vec<TxnHandle>;
}

/// Runs `future` with `handle` added to the open transactions of the task.
pub(crate) async fn with_open<F: Future>(handle: TxnHandle, future: F) -> F::Output {
    let mut open = OPEN.try_with(Clone::clone).unwrap_or_default();
    open.push(handle);
    OPEN.scope(open, future).await
}

/// The open [`SignalsTxn`](crate::SignalsTxn) transaction that `db` is, if any.
pub(crate) fn open_txn<C>(db: &C) -> Option<TxnHandle> {
    OPEN.try_with(|open| open.iter().rev().find(|h| h.is(db)).cloned())
        .ok()
        .flatten()
}

/// The connection (or transaction) of the write that sent a model signal, as a SeaORM
/// connection: receivers query and write through it in the write's transaction.
///
/// ```ignore
/// #[receiver(PostSave, sender = user::Model)]
/// async fn create_profile(event: &PostSave<'_, user::Model>) -> Result<(), DbErr> {
///     if event.created {
///         let db = signals_sea_orm::db(event)?;
///         profile::ActiveModel { user_id: Set(event.instance.id), ..Default::default() }
///             .insert(&db)
///             .await?;
///     }
///     Ok(())
/// }
/// ```
///
/// Made by [`db`] from an event. It implements `ConnectionTrait` (not
/// `TransactionTrait`: a receiver cannot commit the write's transaction; a savepoint is a
/// `SAVEPOINT` statement away). It is `Copy` and borrows the event.
#[derive(Clone, Copy)]
pub struct Db<'a> {
    conn: &'a dyn Connection,
}

impl std::fmt::Debug for Db<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("vendor", &self.conn.vendor())
            .finish()
    }
}

impl<'a> Db<'a> {
    /// Wraps a lent connection (the `db` field of a model signal's payload).
    pub fn new(conn: &'a dyn Connection) -> Self {
        Db { conn }
    }

    async fn ask(&self, request: Request) -> Answer {
        let answer = self.conn.call(Box::new(request)).await;
        match answer.downcast::<Answer>() {
            Ok(answer) => *answer,
            Err(_) => Err(DbErr::Custom(
                "signals_sea_orm: the lent connection is not a SeaORM one".into(),
            )),
        }
    }
}

fn unexpected() -> DbErr {
    DbErr::Custom("signals_sea_orm: mismatched reply from the lent connection".into())
}

#[sea_orm::prelude::async_trait::async_trait]
impl ConnectionTrait for Db<'_> {
    fn get_database_backend(&self) -> DbBackend {
        match self.conn.vendor() {
            "postgres" => DbBackend::Postgres,
            "mysql" => DbBackend::MySql,
            _ => DbBackend::Sqlite,
        }
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        match self.ask(Request::Execute(stmt)).await? {
            Reply::Exec(result) => Ok(result),
            _ => Err(unexpected()),
        }
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        match self.ask(Request::Unprepared(sql.to_owned())).await? {
            Reply::Exec(result) => Ok(result),
            _ => Err(unexpected()),
        }
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        match self.ask(Request::QueryOne(stmt)).await? {
            Reply::One(row) => Ok(row),
            _ => Err(unexpected()),
        }
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        match self.ask(Request::QueryAll(stmt)).await? {
            Reply::All(rows) => Ok(rows),
            _ => Err(unexpected()),
        }
    }
}

/// A model signal's payload that may carry the write's connection (its `db` field).
pub trait Lends<'a> {
    /// The connection lent with the payload, if any.
    fn lent(&self) -> Option<&'a dyn Connection>;
}

macro_rules! lends {
    ($($signal:ident),*) => {$(
        impl<'a, M: ?Sized + signals_core::models::Model> Lends<'a>
            for signals_core::models::$signal<'a, M>
        {
            fn lent(&self) -> Option<&'a dyn Connection> {
                self.db
            }
        }
    )*};
}
lends!(
    PreSave, PostSave, PreDelete, PostDelete, M2mChanged, PostInit
);

/// The connection of the write that sent `event`, to query and write in its transaction
/// (see [`Db`]). Immediate receivers always get one; the error says why there is none:
/// the event was not sent by a SeaORM hook of this crate, or it was sent inside a
/// [`transaction`](crate::transaction) by a write that did not go through that
/// transaction's handle.
pub fn db<'a, E: Lends<'a> + ?Sized>(event: &E) -> Result<Db<'a>, DbErr> {
    event.lent().map(Db::new).ok_or_else(|| {
        DbErr::Custom(
            "signals_sea_orm::db: this event lends no connection (it was not sent by a \
             SeaORM write, or the write inside `signals_sea_orm::transaction` did not go \
             through the transaction's handle)"
                .into(),
        )
    })
}
