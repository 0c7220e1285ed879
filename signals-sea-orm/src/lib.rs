//! [SeaORM](https://www.sea-ql.org/SeaORM) 2.x integration for `signals-core`: SeaORM's
//! `ActiveModelBehavior` hooks send the model signals (`PreSave`, `PostSave`, `PreDelete`,
//! `PostDelete`, `M2mChanged`), [`bulk`] helpers send bulk signals for the statements
//! that skip hooks, and [`transaction`] runs `on = Commit` receivers after the commit
//! (see [Transactions](#transactions-receivers-that-wait-for-the-commit)).
//!
//! One line per entity, in place of `impl ActiveModelBehavior for ActiveModel {}`:
//!
//! ```
//! mod user {
//!     use sea_orm::entity::prelude::*;
//!
//!     #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
//!     #[sea_orm(table_name = "users")]
//!     pub struct Model {
//!         #[sea_orm(primary_key)]
//!         pub id: i64,
//!         pub email: String,
//!     }
//!
//!     #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
//!     pub enum Relation {}
//!
//!     signals_sea_orm::behavior!(ActiveModel);
//! }
//!
//! use signals_core::prelude::*;
//! use signals_core::models::PostSave;
//!
//! #[receiver(PostSave, sender = user::Model)]
//! fn welcome(event: &PostSave<'_, user::Model>) {
//!     if event.created {
//!         println!("welcome, {} (on {})", event.instance.email, event.using);
//!     }
//! }
//! ```
//!
//! # What each SeaORM call sends
//!
//! | call | signals |
//! |---|---|
//! | `ActiveModel::insert` | `PreSave`, `PostSave { created: true }` |
//! | `ActiveModel::update` | `PreSave`, `PostSave { created: false }`, both with `update_fields` = the `Set` columns |
//! | `ActiveModel::save` | as `insert` when the primary key is unset, else as `update` |
//! | `ActiveModel::update_without_returning` | `PreSave` only (SeaORM runs no `after_save`) |
//! | `ActiveModel::delete` | `PreDelete`, `PostDelete` (sender `Model`) |
//! | a junction row's `insert` / `delete`, including SeaORM's many-to-many link path | `M2mChanged` `PreAdd`/`PostAdd`, `PreRemove`/`PostRemove`, one per row |
//! | [`m2m::Links`] `add` / `remove` / `clear` / `set` | `M2mChanged` as Django's related managers (see [Many-to-many](#many-to-many)) |
//! | `Entity::find()..`[`.with_signals()`](SelectExt::with_signals)`.one(db)` / `.all(db)` | `PostInit` per row loaded (opt-in; see [`SelectExt`]) |
//! | `Entity::insert(..).exec`, `insert_many`, `update_many`, `delete_many`, `delete_by_id`, raw SQL | nothing (SeaORM runs no hooks, as Django's `bulk_create` and `QuerySet.update`) |
//! | [`bulk::insert_many`], [`bulk::update_many`], [`bulk::delete_many`] | [`PreBulkInsert`](bulk::PreBulkInsert) (can veto), [`PostBulkInsert`](bulk::PostBulkInsert); `PreBulkUpdate`, `PostBulkUpdate`; `PreBulkDelete`, `PostBulkDelete` |
//! | [`bulk::delete_rows`] (opt-in per-row) | `PreDelete` per row, `PreBulkDelete`, `PostBulkDelete`, `PostDelete` per deleted row |
//!
//! * **One sender per entity: its `Model`.** Every model signal of an entity (`PreSave`,
//!   `PostSave`, `PreDelete`, `PostDelete`, `M2mChanged` of a junction, the bulk signals)
//!   takes the entity's `Model` as sender: `#[receiver(PreSave, sender = user::Model)]`.
//!   The `Model` is what receivers want to read (`event.instance.email`, a `String`, not
//!   an `ActiveValue`), and the `Entity` is a unit struct with no row to lend. Naming the
//!   `ActiveModel` or the `Entity` is a compile error ("`ActiveModel` is not a model")
//!   whose help names `user::Model`. `PreSave`'s `instance` is the row as it will be
//!   written: the active model's values over the columns' `Default`s on insert (an
//!   auto-increment key reads `0`, as it has no value yet) or over the stored row for a
//!   partial update (one `SELECT`, only when a `PreSave` receiver exists); the active
//!   model itself is [`active_model`]`::<user::ActiveModel>(event)`. The `Model` reports
//!   the [`model_name`](signals_core::models::Model::model_name) (the entity module's name
//!   in UpperCamelCase, `user` → `User`, unless given with `name = "..."`) and the integer
//!   primary key as [`pk`](signals_core::models::Model::pk).
//! * **`using`.** The database's alias: the name of the [`Alias`] the write goes through
//!   (`Alias::new("archive", conn)`, and its transactions), else the backend,
//!   `"sqlite"`, `"postgres"` or `"mysql"` (see [`alias()`]).
//! * **`update_fields`.** `None` on insert (all columns); on update, the columns the
//!   active model has `Set`, primary key excluded: exactly what SeaORM's `UPDATE` writes.
//!   `PostSave` gets them from `PreSave` of the same write (see `hooks`).
//!   [`Changed`]: `event.changed(user::Column::Email)` asks the same question by column.
//! * **Old values** (opt-in per entity, see [below](#old-values)): `PostSave`'s `event.old()`.
//! * **Deletes of partial active models** (`ActiveModel { id: Set(3), ..Default::default() }`)
//!   read the row first so that receivers get a full `Model`, only when a delete receiver
//!   exists. No row, no signals.
//! * **Receivers run through `send_async`**, so sync and `async` receivers both work.
//!
//! # Receivers in the write's transaction
//!
//! Django runs `post_save` inside the save's transaction, so `create_profile` commits or
//! rolls back with the user. Here every model signal sent by a hook lends the write's
//! connection (the pool, SeaORM's `DatabaseTransaction`, or the transaction of
//! [`transaction`] / [`begin`]) to its immediate receivers: [`db`]`(event)` returns it as
//! a [`Db`], a SeaORM `ConnectionTrait`:
//!
//! ```ignore
//! #[receiver(PostSave, sender = user::Model)]
//! async fn create_profile(event: &PostSave<'_, user::Model>) -> Result<(), DbErr> {
//!     if event.created {
//!         let db = signals_sea_orm::db(event)?;
//!         profile::ActiveModel { user_id: Set(event.instance.id), ..Default::default() }
//!             .insert(&db)
//!             .await?;
//!     }
//!     Ok(())
//! }
//! ```
//!
//! * Receivers writing through the pool instead are outside the transaction (and, on
//!   in-memory SQLite, whose pool has one connection, wait for the transaction's).
//! * Deferred receivers (`on = Commit`, ...) run after the transaction ended: their `db`
//!   refuses every request with an error; write through the pool there.
//! * Inside [`transaction`], write through the transaction handle: a write through the
//!   pool from inside it lends nothing ([`db`] returns an error), since its connection is
//!   not the transaction's and cannot outlive the hook.
//! * Sync receivers get the connection too, but SeaORM is `async`: use an `async`
//!   receiver to query.
//! * The bulk signals ([`bulk`]) lend the connection as well.
//!
//! `examples/atomic_profile.rs` shows the rollback removing both rows.
//!
//! # Features
//!
//! `sqlite` and `postgres` (both on by default) and `mysql` select SeaORM's sqlx drivers.
//! A SQLite-only application builds no Postgres driver with
//! `signals-sea-orm = { version = "0.1", default-features = false, features = ["sqlite"] }`.
//! `migration` (off by default) adds `signals_sea_orm::migration::{up, down}`:
//! sea-orm-migration's `MigratorTrait::up` / `down` between `PreMigrate` and `PostMigrate`
//! (same version line as sea-orm, same sqlx).
//!
//! # Errors
//!
//! A `PreSave`, `PreDelete` or pre-`M2mChanged` receiver error aborts the write: nothing
//! is written, and the caller gets a [`DbErr`] that keeps the receiver's error.
//! [`signal_error`] gets it back:
//!
//! ```ignore
//! match user.insert(&db).await {
//!     Err(err) => match signals_sea_orm::signal_error(&err) {
//!         Some(signal) => assert!(signal.downcast_ref::<QuotaExceeded>().is_some()),
//!         None => return Err(err), // a database error
//!     },
//!     Ok(model) => { /* ... */ }
//! }
//! ```
//!
//! `DbErr` has no variant for foreign errors except `DbErr::TryIntoErr`, whose `source`
//! is an `Arc<dyn Error + Send + Sync>`; [`SignalError`] travels there (`from` is
//! `"signal receiver"`, `into` is `"database write"`). So the error is kept whole, without
//! any global state, survives `?` and moves between threads, and `std::error::Error::source`
//! walks from the `DbErr` to the [`SignalError`] (which names the receiver) and on to the
//! receiver's own error. The one cost is the `Display` of that variant, which reads
//! "Error converting `signal receiver` into `database write`: ...", followed by the
//! [`SignalError`]'s message. Its `Debug` (what `unwrap` and `fn main() -> Result<(),
//! DbErr>` print) shows the [`SignalError`]'s report, causes included; for one line with
//! every cause, print [`signals_core::error::chain`]`(&err)`.
//!
//! A `PostSave` or `PostDelete` receiver error also comes back as such a `DbErr`, with
//! [`SignalError::written`] `true`: the row is written (or deleted) already, as with
//! Django's `post_save`. Run the write in a transaction to undo it.
//!
//! # Old values
//!
//! `event.changed(Column)` says which columns an update wrote, not what they held: SeaORM's
//! `Set` overwrites the loaded value. An entity declared with
//! `signals_sea_orm::behavior!(ActiveModel, old_values)` gets it back: `event.old()`
//! (`PostSave::old`) is the row as it was before the update, `None` on insert.
//!
//! ```ignore
//! #[receiver(PostSave, sender = user::Model)]
//! fn email_changed(event: &PostSave<'_, user::Model>) {
//!     if let Some(old) = event.old() && old.email != event.instance.email {
//!         notify(&old.email, &event.instance.email);
//!     }
//! }
//! ```
//!
//! * **Cost: one query per update.** `before_save` reads the stored row by primary key on
//!   the write's own connection or transaction, so it sees exactly the row the `UPDATE`
//!   replaces. On PostgreSQL and MySQL the read is `SELECT .. FOR UPDATE`: inside a
//!   transaction the row stays locked until it ends, so no concurrent write slips in
//!   between (outside one, the statement is its own transaction and the lock ends with it).
//!   SQLite has no row locks (a write transaction locks the whole database). Inserts read
//!   nothing; nor does any write while no `PostSave` receiver of the entity is connected;
//!   an entity without `old_values` never reads. A partial update with a `PreSave`
//!   receiver reuses the row read, so it still makes one query.
//! * Not with `junction(..)`; `update_without_returning` runs no `after_save`, so there the
//!   read is wasted (and its leftover is dropped, see `stash`).

//! # Many-to-many
//!
//! Declare the junction entity with its two keys:
//! `signals_sea_orm::behavior!(ActiveModel, junction(post_id => "Post", tag_id => "Tag"));`.
//!
//! **Django's semantics: [`m2m`].** `m2m::links::<post_tag::ActiveModel, _>(&post)?`
//! `.add(&db, [1, 2])`, `.remove(..)`, `.clear(..)`, `.set(..)` send one `M2mChanged` pair
//! per call, as Django's related managers: `PreAdd`/`PostAdd` with only the keys actually
//! added (an already-linked key is in neither), `PreRemove`/`PostRemove` with the keys
//! submitted, `PreClear`/`PostClear` with no key set; `instance` is the caller's model and
//! `reverse` is `true` when the call starts from the second side (a tag), including the
//! second side of a self-referential junction ([`m2m::reverse_links`]).
//!
//! **SeaORM's writes.** Inserting a junction row sends `M2mChanged` `PreAdd` and
//! `PostAdd`, deleting one `PreRemove` and `PostRemove`, with the junction `Model` as
//! sender. That covers SeaORM 2.0's many-to-many link path
//! (`ActiveModelTrait::establish_links`, used by the `ActiveModelEx` derive's nested
//! saves), which runs these hooks on each junction row it adds and each leftover it
//! removes. SeaORM runs `before_save` for already-linked rows too (its
//! `ON CONFLICT DO NOTHING` then skips them): the hook reads the junction row first (one
//! `SELECT` per link, only when an `M2mChanged` receiver exists) and sends no `PreAdd`
//! for an existing one, so `PreAdd` and `PostAdd` report the same keys. What these hooks
//! cannot tell, and so differs from Django:
//!
//! * one signal per junction row, with a one-key `pk_set`, not one per call;
//! * `instance` is a [`ModelKey`] (model name and key of the `junction(first => ..)` side),
//!   not the owning instance, which the hooks never see; `reverse` is always `false`;
//! * `PreClear`/`PostClear` are never sent: SeaORM clears links (`delete_links`) with
//!   `delete_many`, which runs no hooks. Use [`m2m::Links::clear`].
//!
//! Updates of junction rows send the ordinary `PreSave`/`PostSave`.
//!
//! # Transactions: receivers that wait for the commit
//!
//! Django's `post_save` runs before the transaction commits: the welcome email goes out for
//! a signup that is then rolled back. Here a receiver declares its transaction phase, and
//! [`transaction`] (SeaORM's `TransactionTrait::transaction`, same signature) runs it at the
//! right time:
//!
//! | receiver | inside [`transaction`] / [`begin`] | no transaction |
//! |---|---|---|
//! | `#[receiver(PostSave, sender = user::Model)]` (immediate) | during the write | during the write |
//! | `.., on = Commit` | after the outermost commit succeeded; never if it rolls back | during the write |
//! | `.., on = Rollback` | after the outermost rollback; never if it commits | never |
//! | `.., on = Completion` | after the outermost commit or rollback | during the write |
//!
//! ```
//! # mod user {
//! #     use sea_orm::entity::prelude::*;
//! #     #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
//! #     #[sea_orm(table_name = "users")]
//! #     pub struct Model {
//! #         #[sea_orm(primary_key)]
//! #         pub id: i64,
//! #         pub email: String,
//! #     }
//! #     #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
//! #     pub enum Relation {}
//! #     signals_sea_orm::behavior!(ActiveModel);
//! # }
//! use sea_orm::{ActiveModelTrait, ConnectionTrait, Database, DbErr, Schema, Set};
//! use signals_core::models::PostSave;
//! use signals_core::prelude::*;
//! use std::sync::Mutex;
//!
//! static OUTBOX: Mutex<Vec<String>> = Mutex::new(Vec::new());
//!
//! #[receiver(PostSave, sender = user::Model, on = Commit)]
//! async fn welcome_email(event: &PostSave<'_, user::Model>) {
//!     if event.created {
//!         OUTBOX.lock().unwrap().push(event.instance.email.clone());
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let db = Database::connect("sqlite::memory:").await?;
//! # db.execute(&Schema::new(db.get_database_backend()).create_table_from_entity(user::Entity)).await?;
//! let signup = |email: &str| user::ActiveModel { email: Set(email.into()), ..Default::default() };
//!
//! // Committed: the email goes out after the COMMIT, not during the INSERT.
//! let ada = signup("ada@example.com");
//! signals_sea_orm::transaction(&db, |txn| {
//!     Box::pin(async move {
//!         ada.insert(txn).await?;
//!         assert!(OUTBOX.lock().unwrap().is_empty(), "not before the commit");
//!         Ok::<_, DbErr>(())
//!     })
//! })
//! .await?;
//! assert_eq!(*OUTBOX.lock().unwrap(), ["ada@example.com"]);
//!
//! // Rolled back (the closure returned Err): no email, ever.
//! let ghost = signup("ghost@example.com");
//! let rolled_back = signals_sea_orm::transaction(&db, |txn| {
//!     Box::pin(async move {
//!         ghost.insert(txn).await?;
//!         Err::<(), DbErr>(DbErr::Custom("card declined".into()))
//!     })
//! })
//! .await;
//! assert!(rolled_back.is_err());
//! assert_eq!(*OUTBOX.lock().unwrap(), ["ada@example.com"]);
//! # Ok(())
//! # }
//! ```
//!
//! * **Which signals wait.** Every hook signal (`PreSave`, `PostSave`, `PreDelete`,
//!   `PostDelete`, `M2mChanged`) is sent with
//!   [`transaction::send_owned_async`](signals_core::transaction::send_owned_async) inside
//!   a transaction: immediate receivers run during the write as always (a pre-receiver's
//!   error still aborts it), and receivers declared with a phase get a clone of the row,
//!   queued. `on = Commit` is meant for post signals; a pre signal's `on = Rollback`
//!   receiver is useful too: it sees the write that was attempted and undone. Outside a
//!   transaction nothing is cloned. The [`bulk`] signals are sent borrowed (their payload is
//!   a slice of references), so they are immediate only: a phased bulk receiver makes a bulk
//!   write inside a transaction fail with
//!   [`SendError::NotDeferrable`] (as a `DbErr`).
//! * **Nested transactions are savepoints.** [`transaction`] or [`begin`] called while a
//!   transaction is active in the task (with the `DatabaseTransaction` as `db`) is a
//!   savepoint: its deliveries join the outermost transaction, are dropped if the savepoint
//!   rolls back, and are delivered only by the outermost commit.
//! * **Scoped to the task.** The queue is active while the transaction's future is polled
//!   ([`signals_core::transaction::Transaction::run_async`]), so concurrent requests on a
//!   multi-threaded runtime never see each other's deliveries. Write through the
//!   transaction handle inside it: a write through the pool's `DatabaseConnection` from
//!   inside the closure is not part of the database transaction, but its deferred
//!   deliveries would still wait for it.
//! * **Failures never un-commit.** Deferred receivers run after the database commit
//!   returned, in the order they were queued, sync and `async` alike. One that fails or
//!   panics is logged (`tracing` error, target `signals_core::transaction`) and the others
//!   still run; [`transaction`] still returns `Ok`. To get the failures as values, use
//!   the explicit form, whose [`SignalsTxn::commit`] returns them:
//!
//! ```ignore
//! let txn = signals_sea_orm::begin(&db).await?;
//! let user = txn.run(signup.insert(txn.conn())).await?; // writes inside run(): queued
//! for failure in txn.commit().await? {                  // Vec<signals_core::Failure>
//!     eprintln!("{} failed: {}", failure.receiver.name(), failure.error);
//! }
//! ```
//!
//! A plain SeaORM transaction (`db.begin()`, `db.transaction(..)`) opens no queue: its
//! hooks behave as outside any transaction (immediate, `on = Commit` at once), Django's
//! behaviour.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs)]
#![warn(rust_2018_idioms, unreachable_pub)]

mod alias;
pub mod bulk;
mod conn;
#[macro_use]
pub mod hooks;
pub mod changed;
mod load;
pub use changed::Changed;
pub mod m2m;
#[cfg(feature = "migration")]
#[cfg_attr(docsrs, doc(cfg(feature = "migration")))]
pub mod migration;
pub use load::{Loading, SelectExt};
mod stash;
mod txn;

use std::sync::Arc;

use sea_orm::{DbBackend, DbErr};
use signals_core::SendError;

pub use alias::Alias;
pub use conn::{Db, Lends, db};

/// The active model of the write that sent `event` (`PreSave`'s `draft`): which columns
/// are `Set`, `NotSet` or `Unchanged`. `None` for other senders, or another `A`.
///
/// ```ignore
/// #[receiver(PreSave, sender = user::Model)]
/// fn audit(event: &PreSave<'_, user::Model>) {
///     let am = signals_sea_orm::active_model::<user::ActiveModel>(event).unwrap();
///     if am.email.is_set() { /* the email changes */ }
/// }
/// ```
pub fn active_model<'a, A: 'static>(
    event: &signals_core::models::PreSave<'a, impl ?Sized + signals_core::models::Model>,
) -> Option<&'a A> {
    event.draft?.downcast_ref::<A>()
}
pub use hooks::Junction;
pub use txn::{SignalsTxn, begin, transaction};

/// The `using` value of signals sent for a connection of `backend` that is not an
/// [`Alias`]: `"sqlite"`, `"postgres"` or `"mysql"`.
pub fn alias(backend: DbBackend) -> &'static str {
    match backend {
        DbBackend::Sqlite => "sqlite",
        DbBackend::Postgres => "postgres",
        DbBackend::MySql => "mysql",
        _ => backend.as_str(),
    }
}

/// A signal receiver failed during a SeaORM write. Carried inside the [`DbErr`] the write
/// returns; get it with [`signal_error`].
///
/// # Printing
///
/// As `signals-core`'s errors (see [`signals_core::error`]): `{}` is this error alone
/// (`PreSave receiver app::veto (src/app.rs:12) failed: the write of User was aborted`),
/// `{:#}` adds the causes (`...: the write of User was aborted: title is empty`), `{:?}`
/// is a report with one cause per line, `{:#?}` the structural dump.
///
/// Its [`source()`](std::error::Error::source) is the receiver's own error: the message
/// already names the receiver, so the [`SendError`] saying the same (kept in
/// [`send_error`](SignalError::send_error)) is skipped. For a send refused as a whole (the
/// recursion limit, [`SendError::Recursion`]), it is that `SendError`.
///
/// A [`DbErr`]'s own `Display` repeats this message after `Error converting ...: `, and
/// its derived `Debug` shows this error's report as its `source`; to print a `DbErr` with
/// every cause on one line, use [`signals_core::error::chain`]`(&db_err)`.
pub struct SignalError {
    signal: &'static str,
    model: &'static str,
    written: bool,
    source: SendError,
}

impl SignalError {
    /// The [`DbErr`] that carries this error (see the crate docs for the variant).
    pub fn db_err(
        signal: &'static str,
        model: &'static str,
        written: bool,
        source: SendError,
    ) -> DbErr {
        DbErr::TryIntoErr {
            from: "signal receiver",
            into: "database write",
            source: Arc::new(SignalError {
                signal,
                model,
                written,
                source,
            }),
        }
    }

    /// The signal whose receiver failed: `PreSave`, `PostSave`, `PreDelete`,
    /// `PostDelete` or `M2mChanged`.
    pub fn signal(&self) -> &'static str {
        self.signal
    }

    /// The model written (its [`model_name`](signals_core::models::Model::model_name)).
    pub fn model(&self) -> &'static str {
        self.model
    }

    /// `true` when the write happened before the receiver failed (post signals); `false`
    /// when the failure aborted it.
    pub fn written(&self) -> bool {
        self.written
    }

    /// The dispatcher's error, naming the receiver.
    pub fn send_error(&self) -> &SendError {
        &self.source
    }

    /// The receiver's own error, if it is an `E`.
    pub fn downcast_ref<E: std::error::Error + 'static>(&self) -> Option<&E> {
        self.source.downcast_ref::<E>()
    }
}

impl std::fmt::Display for SignalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if f.alternate() {
            return std::fmt::Display::fmt(&signals_core::error::chain(self), f);
        }
        let signal = self.signal;
        let who = match self.source.receiver() {
            Some(receiver) => format!("{signal} receiver {receiver}"),
            None => format!("{signal} send"),
        };
        if self.written {
            write!(f, "{} was written, then {who} failed", self.model)
        } else {
            write!(f, "{who} failed: the write of {} was aborted", self.model)
        }
    }
}

impl std::fmt::Debug for SignalError {
    /// `{:?}`: the report (message and causes); `{:#?}`: the structural dump.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if !f.alternate() {
            return std::fmt::Debug::fmt(&signals_core::error::chain(self), f);
        }
        f.debug_struct("SignalError")
            .field("signal", &self.signal)
            .field("model", &self.model)
            .field("written", &self.written)
            .field("source", &self.source)
            .finish()
    }
}

impl std::error::Error for SignalError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.source {
            // The message names the receiver already: go straight to its error.
            SendError::Receiver { source, .. } => Some(&**source),
            other => Some(other),
        }
    }
}

/// The signal receiver's failure carried by `err`, if a receiver caused it (else `err` is
/// a database error).
pub fn signal_error(err: &DbErr) -> Option<&SignalError> {
    match err {
        DbErr::TryIntoErr { source, .. } => source.downcast_ref::<SignalError>(),
        _ => None,
    }
}

/// A stand-in instance known only by model name and key: the `instance` of the
/// `M2mChanged` signals sent for junction rows, whose hooks see the keys, not the rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ModelKey {
    /// The model's name.
    pub name: &'static str,
    /// Its primary key.
    pub pk: i64,
}

impl ModelKey {
    /// The instance of model `name` with key `pk`.
    pub fn new(name: &'static str, pk: i64) -> Self {
        ModelKey { name, pk }
    }
}

impl signals_core::models::Model for ModelKey {
    fn model_name(&self) -> &'static str {
        self.name
    }
    fn pk(&self) -> Option<i64> {
        Some(self.pk)
    }
}

/// Implements [`signals_core::models::Model`] for an entity's `Model` (the sender of all
/// its model signals; the `ActiveModel` is named for compatibility and gets no impl), for
/// entities that write their own `ActiveModelBehavior` and call [`hooks`] from it.
///
/// ```ignore
/// signals_sea_orm::model!(Model, ActiveModel);                 // name from the module
/// signals_sea_orm::model!(Model, ActiveModel, name = "User");
/// ```
#[macro_export]
macro_rules! model {
    ($model:ident, $active:ident) => {
        $crate::model!(
            $model,
            $active,
            name = $crate::__private::module_name(module_path!())
        );
    };
    ($model:ident, $active:ident, name = $name:expr) => {
        fn __signals_model_name() -> &'static str {
            static NAME: ::std::sync::OnceLock<&'static str> = ::std::sync::OnceLock::new();
            NAME.get_or_init(|| $name)
        }
        impl $crate::__private::SignalModel for $model {
            fn model_name(&self) -> &'static str {
                __signals_model_name()
            }
            fn pk(&self) -> ::std::option::Option<i64> {
                $crate::__private::model_pk(self)
            }
        }
        // `$active` is not a `Model`: the entity's model signals all take `$model` as
        // sender, so naming the active model in `#[receiver(.., sender = ..)]` fails to
        // compile (see `signals_core::models::Model`'s diagnostic).
        const _: ::std::marker::PhantomData<$active> = ::std::marker::PhantomData;
    };
}

/// Implements SeaORM's `ActiveModelBehavior` for an entity so that its writes send model
/// signals, and [`signals_core::models::Model`] for its `Model` and `ActiveModel`.
///
/// Use it in the entity's module, in place of `impl ActiveModelBehavior for ActiveModel {}`:
///
/// ```ignore
/// signals_sea_orm::behavior!(ActiveModel);
/// signals_sea_orm::behavior!(ActiveModel, name = "Customer");   // model_name
/// signals_sea_orm::behavior!(ActiveModel, model = Row);         // the Model type, if not `Model`
/// // PostSave::old: the row before an update (one SELECT .. FOR UPDATE per update).
/// signals_sea_orm::behavior!(ActiveModel, old_values);
/// // A many-to-many junction: inserts and deletes send M2mChanged.
/// signals_sea_orm::behavior!(ActiveModel, junction(post_id => "Post", tag_id => "Tag"));
/// ```
///
/// The options come in the order `model`, `name`, then `junction(..)` or `old_values`,
/// each optional (see [Old values](crate#old-values)). The name
/// defaults to the module's name in UpperCamelCase (`post_tag` → `PostTag`). The junction
/// keys are field names of integer columns; the first side is reported as `instance`, the
/// second as `model` and `pk_set`.
#[macro_export]
macro_rules! behavior {
    ($active:ident $(, model = $model:ident)? $(, name = $name:expr)? $(, junction($from:ident => $from_name:expr, $to:ident => $to_name:expr))? $(,)?) => {
        $crate::__behavior_model!(
            [$($model)?] $active,
            [$($name)?]
        );
        $crate::__behavior_impl!(
            [$($model)?] $active,
            [$($from, $from_name, $to, $to_name)?]
            [before_save after_save]
        );
    };
    ($active:ident $(, model = $model:ident)? $(, name = $name:expr)?, old_values $(,)?) => {
        $crate::__behavior_model!(
            [$($model)?] $active,
            [$($name)?]
        );
        $crate::__behavior_impl!(
            [$($model)?] $active,
            []
            [before_save_with_old after_save_with_old]
        );
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __behavior_model {
    ([] $active:ident, [$($name:expr)?]) => {
        $crate::__behavior_model!([Model] $active, [$($name)?]);
    };
    ([$model:ident] $active:ident, []) => {
        $crate::model!($model, $active);
    };
    ([$model:ident] $active:ident, [$name:expr]) => {
        $crate::model!($model, $active, name = $name);
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __behavior_impl {
    ([] $active:ident, [$($junction:tt)*] [$before:ident $after:ident]) => {
        $crate::__behavior_impl!([Model] $active, [$($junction)*] [$before $after]);
    };
    ([$model:ident] $active:ident, [] [$before:ident $after:ident]) => {
        #[$crate::__private::async_trait]
        impl $crate::__private::sea_orm::ActiveModelBehavior for $active {
            async fn before_save<C>(self, db: &C, insert: bool)
                -> ::std::result::Result<Self, $crate::__private::sea_orm::DbErr>
            where
                C: $crate::__private::sea_orm::ConnectionTrait,
            {
                $crate::hooks::$before(self, db, insert).await
            }
            async fn after_save<C>(model: $model, db: &C, insert: bool)
                -> ::std::result::Result<$model, $crate::__private::sea_orm::DbErr>
            where
                C: $crate::__private::sea_orm::ConnectionTrait,
            {
                $crate::hooks::$after::<Self, C>(model, db, insert).await
            }
            async fn before_delete<C>(self, db: &C)
                -> ::std::result::Result<Self, $crate::__private::sea_orm::DbErr>
            where
                C: $crate::__private::sea_orm::ConnectionTrait,
            {
                $crate::hooks::before_delete(self, db).await
            }
            async fn after_delete<C>(self, db: &C)
                -> ::std::result::Result<Self, $crate::__private::sea_orm::DbErr>
            where
                C: $crate::__private::sea_orm::ConnectionTrait,
            {
                $crate::hooks::after_delete(self, db).await
            }
        }
    };
    ([$model:ident] $active:ident, [$from:ident, $from_name:expr, $to:ident, $to_name:expr] [$before:ident $after:ident]) => {
        impl $crate::Junction for $active {
            const FROM: &'static str = $from_name;
            const TO: &'static str = $to_name;
            fn keys(&self) -> ::std::option::Option<(i64, i64)> {
                ::std::option::Option::Some((
                    *self.$from.try_as_ref()? as i64,
                    *self.$to.try_as_ref()? as i64,
                ))
            }
            fn model_keys(model: &$model) -> (i64, i64) {
                (model.$from as i64, model.$to as i64)
            }
            fn columns() -> (Column, Column) {
                (
                    stringify!($from).parse().expect("junction key column"),
                    stringify!($to).parse().expect("junction key column"),
                )
            }
            fn with_keys(from: i64, to: i64) -> Self {
                let mut am = <Self as $crate::__private::sea_orm::ActiveModelBehavior>::new();
                am.$from = $crate::__private::sea_orm::ActiveValue::Set(from as _);
                am.$to = $crate::__private::sea_orm::ActiveValue::Set(to as _);
                am
            }
        }
        #[$crate::__private::async_trait]
        impl $crate::__private::sea_orm::ActiveModelBehavior for $active {
            async fn before_save<C>(self, db: &C, insert: bool)
                -> ::std::result::Result<Self, $crate::__private::sea_orm::DbErr>
            where
                C: $crate::__private::sea_orm::ConnectionTrait,
            {
                $crate::hooks::junction_before_save(self, db, insert).await
            }
            async fn after_save<C>(model: $model, db: &C, insert: bool)
                -> ::std::result::Result<$model, $crate::__private::sea_orm::DbErr>
            where
                C: $crate::__private::sea_orm::ConnectionTrait,
            {
                $crate::hooks::junction_after_save::<Self, C>(model, db, insert).await
            }
            async fn before_delete<C>(self, db: &C)
                -> ::std::result::Result<Self, $crate::__private::sea_orm::DbErr>
            where
                C: $crate::__private::sea_orm::ConnectionTrait,
            {
                $crate::hooks::junction_before_delete(self, db).await
            }
            async fn after_delete<C>(self, db: &C)
                -> ::std::result::Result<Self, $crate::__private::sea_orm::DbErr>
            where
                C: $crate::__private::sea_orm::ConnectionTrait,
            {
                $crate::hooks::junction_after_delete(self, db).await
            }
        }
    };
}

/// Items used by the macros. Not public API: no semver guarantee.
#[doc(hidden)]
pub mod __private {
    pub use sea_orm;
    pub use sea_orm::prelude::async_trait::async_trait;
    pub use signals_core::models::Model as SignalModel;

    use sea_orm::{ActiveModelTrait, ModelTrait, Value, sea_query::ValueTuple};

    /// `user` → `User`, `post_tag` → `PostTag`, from the last segment of a module path.
    pub fn module_name(path: &str) -> &'static str {
        let last = path.rsplit("::").next().unwrap_or(path);
        let mut name = String::with_capacity(last.len());
        for part in last.split('_').filter(|p| !p.is_empty()) {
            let mut chars = part.chars();
            if let Some(first) = chars.next() {
                name.extend(first.to_uppercase());
                name.push_str(chars.as_str());
            }
        }
        Box::leak(name.into_boxed_str())
    }

    fn integer(value: &Value) -> Option<i64> {
        match value {
            Value::TinyInt(v) => v.map(i64::from),
            Value::SmallInt(v) => v.map(i64::from),
            Value::Int(v) => v.map(i64::from),
            Value::BigInt(v) => *v,
            Value::TinyUnsigned(v) => v.map(i64::from),
            Value::SmallUnsigned(v) => v.map(i64::from),
            Value::Unsigned(v) => v.map(i64::from),
            Value::BigUnsigned(v) => v.and_then(|v| i64::try_from(v).ok()),
            _ => None,
        }
    }

    fn single(tuple: ValueTuple) -> Option<i64> {
        match tuple {
            ValueTuple::One(value) => integer(&value),
            _ => None,
        }
    }

    /// A single-column integer primary key of a stored row.
    pub fn model_pk<M: ModelTrait>(model: &M) -> Option<i64> {
        single(model.get_primary_key_value())
    }

    /// A single-column integer primary key of an active model, if set.
    pub fn active_pk<A: ActiveModelTrait>(am: &A) -> Option<i64> {
        single(am.get_primary_key_value()?)
    }
}
