//! The write's connection a model signal lends its receivers (re-exported as
//! `signals_core::db::Connection`): vocabulary, since model signals, offloaded receivers
//! and ORM integrations all speak it.

/// The future a [`Connection`] answers a request with.
pub type ConnectionFuture<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Box<dyn std::any::Any + Send>> + Send + 'a>>;

/// The live database connection (or transaction) of the write that sent a model signal,
/// lent to its immediate receivers through the payload's `db` field, so that a receiver
/// reads and writes in the same transaction as the write (Django's default).
///
/// This crate knows no ORM, so the connection is erased to one method that takes the ORM
/// integration's own request type and answers with its own response type, both as
/// [`Any`](std::any::Any). Receivers do not call it: the integration wraps it back into
/// its ORM's connection type (`signals_sea_orm::db(&event)` is a SeaORM
/// `ConnectionTrait`).
///
/// It borrows the write's connection, so it lives only as long as the send; receivers
/// that run later (`on = Commit`, ...) get one that refuses every request, or none.
pub trait Connection: Send + Sync {
    /// The backend: `sqlite`, `postgres`, `mysql`, ...
    fn vendor(&self) -> &'static str;
    /// Runs `request` (a value of the integration's request type) on the connection.
    fn call(&self, request: Box<dyn std::any::Any + Send>) -> ConnectionFuture<'_>;
}

impl std::fmt::Debug for dyn Connection + '_ {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Connection({})", self.vendor())
    }
}
