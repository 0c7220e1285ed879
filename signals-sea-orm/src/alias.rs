//! Database aliases: [`Alias`] names a connection, and every model signal of a write
//! through it carries that name as `using`.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;

use sea_orm::{
    AccessMode, ConnectionTrait, DbBackend, DbErr, ExecResult, IsolationLevel, QueryResult,
    Statement, TransactionError, TransactionOptions, TransactionSession, TransactionTrait,
};

thread_local! {
    /// Set by [`Alias::get_database_backend`]: how a hook, which sees only `&C`, learns the
    /// alias of its connection (see [`using`]).
    static ASKED: Cell<Option<&'static str>> = const { Cell::new(None) };
}

/// The `using` of signals sent for a write on `db`: the name of the [`Alias`] it goes
/// through, else the backend ([`crate::alias`]).
pub(crate) fn using<C: ConnectionTrait + ?Sized>(db: &C) -> &'static str {
    ASKED.set(None);
    let backend = db.get_database_backend();
    ASKED.take().unwrap_or_else(|| crate::alias(backend))
}

/// A SeaORM connection with a name: the `using` of every model signal its writes send
/// (Django's database alias, `DATABASES = {"default": .., "replica": ..}`). Without it,
/// `using` is the backend's name (`"sqlite"`, `"postgres"`), which cannot tell two
/// databases of one backend apart.
///
/// ```ignore
/// let default = signals_sea_orm::Alias::new("default", Database::connect(primary_url).await?);
/// let archive = signals_sea_orm::Alias::new("archive", Database::connect(archive_url).await?);
/// user.insert(&archive).await?;                       // PostSave { using: "archive", .. }
/// signals_sea_orm::transaction(&default, |txn| ..)    // txn is an Alias too: "default"
/// ```
///
/// It implements `ConnectionTrait` and `TransactionTrait` by forwarding to the wrapped
/// connection; its transactions are `Alias`es of the same name. Use it wherever the
/// connection is used. Receivers writing through [`db`](crate::db) report the backend.
#[derive(Clone, Debug)]
pub struct Alias<C> {
    name: &'static str,
    conn: C,
}

impl<C> Alias<C> {
    /// `conn`, named `name` (a literal, or `Box::leak`ed from configuration).
    pub fn new(name: &'static str, conn: C) -> Self {
        Alias { name, conn }
    }

    /// The alias.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The wrapped connection.
    pub fn inner(&self) -> &C {
        &self.conn
    }

    /// The wrapped connection, unwrapped.
    pub fn into_inner(self) -> C {
        self.conn
    }
}

#[sea_orm::prelude::async_trait::async_trait]
impl<C: ConnectionTrait + Send> ConnectionTrait for Alias<C> {
    fn get_database_backend(&self) -> DbBackend {
        let backend = self.conn.get_database_backend();
        ASKED.set(Some(self.name));
        backend
    }
    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.conn.execute_raw(stmt).await
    }
    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.conn.execute_unprepared(sql).await
    }
    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        self.conn.query_one_raw(stmt).await
    }
    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.conn.query_all_raw(stmt).await
    }
    fn support_returning(&self) -> bool {
        self.conn.support_returning()
    }
    fn is_mock_connection(&self) -> bool {
        self.conn.is_mock_connection()
    }
}

#[sea_orm::prelude::async_trait::async_trait]
impl<T: TransactionSession + Send> TransactionSession for Alias<T> {
    async fn commit(self) -> Result<(), DbErr> {
        self.conn.commit().await
    }
    async fn rollback(self) -> Result<(), DbErr> {
        self.conn.rollback().await
    }
}

#[sea_orm::prelude::async_trait::async_trait]
impl<C> TransactionTrait for Alias<C>
where
    C: TransactionTrait + Send,
    C::Transaction: Sync,
{
    type Transaction = Alias<C::Transaction>;

    async fn begin(&self) -> Result<Self::Transaction, DbErr> {
        Ok(Alias::new(self.name, self.conn.begin().await?))
    }

    async fn begin_with_config(
        &self,
        isolation_level: Option<IsolationLevel>,
        access_mode: Option<AccessMode>,
    ) -> Result<Self::Transaction, DbErr> {
        let txn = self
            .conn
            .begin_with_config(isolation_level, access_mode)
            .await?;
        Ok(Alias::new(self.name, txn))
    }

    async fn begin_with_options(
        &self,
        options: TransactionOptions,
    ) -> Result<Self::Transaction, DbErr> {
        Ok(Alias::new(
            self.name,
            self.conn.begin_with_options(options).await?,
        ))
    }

    async fn transaction<F, T, E>(&self, callback: F) -> Result<T, TransactionError<E>>
    where
        F: for<'c> FnOnce(
                &'c Self::Transaction,
            ) -> Pin<Box<dyn Future<Output = Result<T, E>> + Send + 'c>>
            + Send,
        T: Send,
        E: std::fmt::Display + std::fmt::Debug + Send,
    {
        let txn = self.begin().await.map_err(TransactionError::Connection)?;
        finish(txn, callback).await
    }

    async fn transaction_with_config<F, T, E>(
        &self,
        callback: F,
        isolation_level: Option<IsolationLevel>,
        access_mode: Option<AccessMode>,
    ) -> Result<T, TransactionError<E>>
    where
        F: for<'c> FnOnce(
                &'c Self::Transaction,
            ) -> Pin<Box<dyn Future<Output = Result<T, E>> + Send + 'c>>
            + Send,
        T: Send,
        E: std::fmt::Display + std::fmt::Debug + Send,
    {
        let txn = self
            .begin_with_config(isolation_level, access_mode)
            .await
            .map_err(TransactionError::Connection)?;
        finish(txn, callback).await
    }
}

async fn finish<X, F, T, E>(txn: X, callback: F) -> Result<T, TransactionError<E>>
where
    X: TransactionSession,
    F: for<'c> FnOnce(&'c X) -> Pin<Box<dyn Future<Output = Result<T, E>> + Send + 'c>>,
{
    match callback(&txn).await {
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
