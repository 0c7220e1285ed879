//! Model signals (Django's `django.db.models.signals`) and an ORM-agnostic way to emit them.
//!
//! The sender is the model type: `PostSave<'_, User>` is sent when a `User` is saved, and
//! `#[receiver(PostSave, sender = User)]` receives only those. `PostSave` on its own
//! (`PostSave<'_, dyn Model>`) receives every model's saves, with the instance as
//! `&dyn Model` (Django's `sender=None`).
//!
//! Any persistence code can emit them today through [`save`] and [`delete`], which wrap
//! the write you supply:
//!
//! ```
//! use signals_core::prelude::*;
//! use signals_core::models::{self, Model, PostSave, Saved};
//!
//! pub struct User { pub id: i64, pub email: String }
//! impl Model for User {
//!     fn pk(&self) -> Option<i64> { Some(self.id) }
//! }
//!
//! #[receiver(PostSave, sender = User)]
//! fn welcome(event: &PostSave<'_, User>) {
//!     if event.created {
//!         println!("welcome, {}", event.instance.email);
//!     }
//! }
//!
//! let user = User { id: 1, email: "ada@example.com".into() };
//! let rows = models::save(&user, |u| {
//!     // INSERT INTO users ... (any database code)
//!     Ok::<_, std::io::Error>(Saved::Created(1))
//! })?;
//! assert_eq!(rows, 1);
//! # Ok::<(), models::ModelError<std::io::Error>>(())
//! ```
//!
//! Like Django, only writes that go through these wrappers send signals; bulk statements
//! you run yourself do not.

use std::any::Any;
use std::marker::PhantomData;

use crate::{SendError, Signal};

/// A persisted type that can be the sender of model signals.
///
/// Every method has a default, so `impl Model for User {}` is enough.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a model: it cannot be the sender of model signals",
    label = "not a `signals_core::models::Model`",
    note = "for a SeaORM entity, every model signal (PreSave, PostSave, PreDelete, PostDelete, M2mChanged, the bulk signals) takes the entity's `Model` as sender: write `sender = <module>::Model` (the `Model` next to `{Self}`), not its `ActiveModel` or `Entity`",
    note = "any other type: implement `signals_core::models::Model` for it"
)]
pub trait Model: Any + Send + Sync {
    /// The model's name, by default the last segment of its type name (`User`).
    fn model_name(&self) -> &'static str {
        short_type_name(std::any::type_name::<Self>())
    }
    /// The primary key, if the model has an integer one and it is known.
    fn pk(&self) -> Option<i64> {
        None
    }
}

impl dyn Model {
    /// The instance as a `T`, if it is one (for any-sender receivers).
    pub fn downcast_ref<T: Model>(&self) -> Option<&T> {
        (self as &dyn Any).downcast_ref::<T>()
    }
}

impl std::fmt::Debug for dyn Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.pk() {
            Some(pk) => write!(f, "{}(pk={pk})", self.model_name()),
            None => write!(f, "{}", self.model_name()),
        }
    }
}

fn short_type_name(full: &'static str) -> &'static str {
    let base = full.split('<').next().unwrap_or(full);
    base.rsplit("::").next().unwrap_or(base)
}

/// The database alias used when none is given, as in Django.
pub const DEFAULT_DB: &str = "default";

/// Sent before a model instance is constructed (Django's `pre_init`).
///
/// Rust has no `__init__` arguments; `fields` carries the named values the instance is
/// about to be built from, as the constructor chooses to describe them.
#[derive(crate::Signal)]
#[signal(sender = M)]
#[non_exhaustive]
pub struct PreInit<'a, M: ?Sized + Model = dyn Model> {
    /// The values the instance is built from.
    pub fields: &'a [(&'a str, &'a (dyn std::fmt::Debug + Sync))],
    /// The sender type.
    pub model: PhantomData<&'a M>,
}

impl<'a, M: ?Sized + Model> PreInit<'a, M> {
    /// A `PreInit` for the model `M`.
    pub fn new(fields: &'a [(&'a str, &'a (dyn std::fmt::Debug + Sync))]) -> Self {
        PreInit {
            fields,
            model: PhantomData,
        }
    }
}

/// Sent after a model instance is constructed or loaded (Django's `post_init`).
#[derive(crate::Signal)]
#[signal(sender = M)]
#[non_exhaustive]
pub struct PostInit<'a, M: ?Sized + Model = dyn Model> {
    /// The new instance.
    pub instance: &'a M,
    /// The connection (or transaction) of the write, for receivers that query or write
    /// in the same transaction; `None` when the sender lends none (see
    /// [`Connection`](crate::db::Connection)).
    pub db: Option<&'a dyn crate::db::Connection>,
}

impl<'a, M: ?Sized + Model> PostInit<'a, M> {
    /// A `PostInit` for `instance`.
    pub fn new(instance: &'a M) -> Self {
        PostInit { instance, db: None }
    }
    /// Lends the write's connection to the receivers (see [`Connection`](crate::db::Connection)).
    pub fn db(mut self, db: &'a dyn crate::db::Connection) -> Self {
        self.db = Some(db);
        self
    }
}

/// Sent before an instance is written (Django's `pre_save`). A receiver error aborts the
/// write when sent through [`save`].
#[derive(crate::Signal)]
#[signal(sender = M)]
#[non_exhaustive]
pub struct PreSave<'a, M: ?Sized + Model = dyn Model> {
    /// The instance about to be saved.
    pub instance: &'a M,
    /// `true` when the row is loaded as-is (fixtures): do not touch other data.
    pub raw: bool,
    /// The database alias.
    pub using: &'a str,
    /// The fields being written, or `None` for all of them.
    pub update_fields: Option<&'a [&'a str]>,
    /// The ORM's own pending form of the write, when it has one (SeaORM: the
    /// `ActiveModel`, with its `Set` and `NotSet` columns); see the integration's docs.
    pub draft: Option<&'a (dyn Any + Send + Sync)>,
    /// The connection (or transaction) of the write, for receivers that query or write
    /// in the same transaction; `None` when the sender lends none (see
    /// [`Connection`](crate::db::Connection)).
    pub db: Option<&'a dyn crate::db::Connection>,
}

impl<'a, M: ?Sized + Model> PreSave<'a, M> {
    /// A `PreSave` for `instance` on the default database, all fields, not raw.
    pub fn new(instance: &'a M) -> Self {
        PreSave {
            instance,
            raw: false,
            using: DEFAULT_DB,
            update_fields: None,
            db: None,
            draft: None,
        }
    }
    /// Sets the database alias.
    pub fn using(mut self, using: &'a str) -> Self {
        self.using = using;
        self
    }
    /// Lends the write's connection to the receivers (see [`Connection`](crate::db::Connection)).
    pub fn db(mut self, db: &'a dyn crate::db::Connection) -> Self {
        self.db = Some(db);
        self
    }
    /// Marks the save as raw (fixture loading).
    pub fn raw(mut self, raw: bool) -> Self {
        self.raw = raw;
        self
    }
    /// Restricts the save to these fields.
    pub fn update_fields(mut self, fields: &'a [&'a str]) -> Self {
        self.update_fields = Some(fields);
        self
    }
}

/// Sent after an instance is written (Django's `post_save`).
#[derive(crate::Signal)]
#[signal(sender = M)]
#[non_exhaustive]
pub struct PostSave<'a, M: ?Sized + Model = dyn Model> {
    /// The saved instance.
    pub instance: &'a M,
    /// `true` when a new row was inserted, `false` for an update.
    pub created: bool,
    /// `true` when the row was loaded as-is (fixtures).
    pub raw: bool,
    /// The database alias.
    pub using: &'a str,
    /// The fields written, or `None` for all of them.
    pub update_fields: Option<&'a [&'a str]>,
    /// The row as it was before an update (an `M`), when the sender loads it (an opt-in
    /// of the integration: it costs a read per update); `None` on insert or when not
    /// loaded. Read it typed with [`PostSave::old`].
    pub previous: Option<&'a (dyn Any + Send + Sync)>,
    /// The connection (or transaction) of the write, for receivers that query or write
    /// in the same transaction; `None` when the sender lends none (see
    /// [`Connection`](crate::db::Connection)).
    pub db: Option<&'a dyn crate::db::Connection>,
}

impl<'a, M: ?Sized + Model> PostSave<'a, M> {
    /// A `PostSave` for `instance` on the default database, all fields, not raw.
    pub fn new(instance: &'a M, created: bool) -> Self {
        PostSave {
            instance,
            created,
            raw: false,
            using: DEFAULT_DB,
            update_fields: None,
            previous: None,
            db: None,
        }
    }
    /// Sets the database alias.
    pub fn using(mut self, using: &'a str) -> Self {
        self.using = using;
        self
    }
    /// Lends the write's connection to the receivers (see [`Connection`](crate::db::Connection)).
    pub fn db(mut self, db: &'a dyn crate::db::Connection) -> Self {
        self.db = Some(db);
        self
    }
    /// Marks the save as raw (fixture loading).
    pub fn raw(mut self, raw: bool) -> Self {
        self.raw = raw;
        self
    }
    /// Records that only these fields were written.
    pub fn update_fields(mut self, fields: &'a [&'a str]) -> Self {
        self.update_fields = Some(fields);
        self
    }
}

impl<'a, M: Model> PostSave<'a, M> {
    /// The row as it was before this update (from [`previous`](PostSave::previous)), if the
    /// sender loaded it: `None` on insert.
    pub fn old(&self) -> Option<&'a M> {
        self.previous?.downcast_ref::<M>()
    }
    /// Gives the row as it was before this update.
    pub fn previous(mut self, old: &'a M) -> Self {
        self.previous = Some(old);
        self
    }
}

/// Sent before an instance is deleted (Django's `pre_delete`). A receiver error aborts the
/// delete when sent through [`delete`].
#[derive(crate::Signal)]
#[signal(sender = M)]
#[non_exhaustive]
pub struct PreDelete<'a, M: ?Sized + Model = dyn Model> {
    /// The instance about to be deleted.
    pub instance: &'a M,
    /// The database alias.
    pub using: &'a str,
    /// The instance whose deletion caused this one (cascades), if not the instance itself.
    pub origin: Option<&'a dyn Model>,
    /// The connection (or transaction) of the write, for receivers that query or write
    /// in the same transaction; `None` when the sender lends none (see
    /// [`Connection`](crate::db::Connection)).
    pub db: Option<&'a dyn crate::db::Connection>,
}

impl<'a, M: ?Sized + Model> PreDelete<'a, M> {
    /// A `PreDelete` for `instance` on the default database.
    pub fn new(instance: &'a M) -> Self {
        PreDelete {
            instance,
            using: DEFAULT_DB,
            origin: None,
            db: None,
        }
    }
    /// Sets the database alias.
    pub fn using(mut self, using: &'a str) -> Self {
        self.using = using;
        self
    }
    /// Lends the write's connection to the receivers (see [`Connection`](crate::db::Connection)).
    pub fn db(mut self, db: &'a dyn crate::db::Connection) -> Self {
        self.db = Some(db);
        self
    }
    /// Sets the instance whose deletion cascaded to this one.
    pub fn origin(mut self, origin: &'a dyn Model) -> Self {
        self.origin = Some(origin);
        self
    }
}

/// Sent after an instance is deleted (Django's `post_delete`); the instance still holds
/// its primary key.
#[derive(crate::Signal)]
#[signal(sender = M)]
#[non_exhaustive]
pub struct PostDelete<'a, M: ?Sized + Model = dyn Model> {
    /// The deleted instance.
    pub instance: &'a M,
    /// The database alias.
    pub using: &'a str,
    /// The instance whose deletion caused this one (cascades), if not the instance itself.
    pub origin: Option<&'a dyn Model>,
    /// The connection (or transaction) of the write, for receivers that query or write
    /// in the same transaction; `None` when the sender lends none (see
    /// [`Connection`](crate::db::Connection)).
    pub db: Option<&'a dyn crate::db::Connection>,
}

impl<'a, M: ?Sized + Model> PostDelete<'a, M> {
    /// A `PostDelete` for `instance` on the default database.
    pub fn new(instance: &'a M) -> Self {
        PostDelete {
            instance,
            using: DEFAULT_DB,
            origin: None,
            db: None,
        }
    }
    /// Sets the database alias.
    pub fn using(mut self, using: &'a str) -> Self {
        self.using = using;
        self
    }
    /// Lends the write's connection to the receivers (see [`Connection`](crate::db::Connection)).
    pub fn db(mut self, db: &'a dyn crate::db::Connection) -> Self {
        self.db = Some(db);
        self
    }
    /// Sets the instance whose deletion cascaded to this one.
    pub fn origin(mut self, origin: &'a dyn Model) -> Self {
        self.origin = Some(origin);
        self
    }
}

/// What happened to a many-to-many relation (Django's `action` strings).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum M2mAction {
    /// Before objects are added.
    PreAdd,
    /// After objects were added.
    PostAdd,
    /// Before objects are removed.
    PreRemove,
    /// After objects were removed.
    PostRemove,
    /// Before the relation is cleared.
    PreClear,
    /// After the relation was cleared.
    PostClear,
}

/// Sent when a many-to-many relation changes (Django's `m2m_changed`). The sender is the
/// through (junction) model.
#[derive(crate::Signal)]
#[signal(sender = M)]
#[non_exhaustive]
pub struct M2mChanged<'a, M: ?Sized + Model = dyn Model> {
    /// The instance whose relation changed.
    pub instance: &'a dyn Model,
    /// What happened.
    pub action: M2mAction,
    /// `true` when the change was made from the reverse side of the relation.
    pub reverse: bool,
    /// Name of the model of the added or removed objects.
    pub model: &'a str,
    /// Primary keys added or removed; `None` for clears.
    pub pk_set: Option<&'a [i64]>,
    /// The database alias.
    pub using: &'a str,
    /// `true` when loading fixtures.
    pub raw: bool,
    /// The connection (or transaction) of the write, for receivers that query or write
    /// in the same transaction; `None` when the sender lends none (see
    /// [`Connection`](crate::db::Connection)).
    pub db: Option<&'a dyn crate::db::Connection>,
    /// The through model (sender).
    pub through: PhantomData<&'a M>,
}

impl<'a, M: ?Sized + Model> M2mChanged<'a, M> {
    /// An `M2mChanged` on the default database, not reversed, not raw.
    pub fn new(
        instance: &'a dyn Model,
        action: M2mAction,
        model: &'a str,
        pk_set: Option<&'a [i64]>,
    ) -> Self {
        M2mChanged {
            instance,
            action,
            reverse: false,
            model,
            pk_set,
            using: DEFAULT_DB,
            raw: false,
            db: None,
            through: PhantomData,
        }
    }
    /// Marks the change as made from the reverse side.
    pub fn reverse(mut self, reverse: bool) -> Self {
        self.reverse = reverse;
        self
    }
    /// Sets the database alias.
    pub fn using(mut self, using: &'a str) -> Self {
        self.using = using;
        self
    }
    /// Lends the write's connection to the receivers (see [`Connection`](crate::db::Connection)).
    pub fn db(mut self, db: &'a dyn crate::db::Connection) -> Self {
        self.db = Some(db);
        self
    }
    /// Marks the change as made while loading fixtures.
    pub fn raw(mut self, raw: bool) -> Self {
        self.raw = raw;
        self
    }
}

/// What the save and delete signals have in common, so one receiver can take several of
/// them: `#[receiver(PostSave, PostDelete, sender = Article)] fn f(e: &dyn ModelEvent)`.
pub trait ModelEvent {
    /// The signal's name (`PostSave`, ...).
    fn signal(&self) -> &'static str;
    /// The instance.
    fn instance(&self) -> &dyn Model;
    /// The instance's model name.
    fn model_name(&self) -> &'static str {
        self.instance().model_name()
    }
    /// The database alias.
    fn using(&self) -> &str;
}

macro_rules! model_event {
    ($($signal:ident),*) => {$(
        impl<M: Model> ModelEvent for $signal<'_, M> {
            fn signal(&self) -> &'static str { stringify!($signal) }
            fn instance(&self) -> &dyn Model { self.instance }
            fn using(&self) -> &str { self.using }
        }
        impl ModelEvent for $signal<'_, dyn Model> {
            fn signal(&self) -> &'static str { stringify!($signal) }
            fn instance(&self) -> &dyn Model { self.instance }
            fn using(&self) -> &str { self.using }
        }
    )*};
}
model_event!(PreSave, PostSave, PreDelete, PostDelete);

/// What a save wrote: the wrapped closure says whether it inserted or updated, which
/// becomes [`PostSave::created`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Saved<T> {
    /// A new row was inserted.
    Created(T),
    /// An existing row was updated.
    Updated(T),
}

/// Options for [`save_with`]: database alias, raw, update fields.
#[derive(Clone, Copy, Debug)]
pub struct SaveOptions<'a> {
    /// The database alias (default `"default"`).
    pub using: &'a str,
    /// Fixture loading.
    pub raw: bool,
    /// Only these fields are written.
    pub update_fields: Option<&'a [&'a str]>,
}

impl Default for SaveOptions<'_> {
    fn default() -> Self {
        SaveOptions {
            using: DEFAULT_DB,
            raw: false,
            update_fields: None,
        }
    }
}

/// Why a [`save`] or [`delete`] failed.
///
/// Prints as [`SendError`] does (see [`error`](crate::error)): `{}` is this error alone,
/// `{:#}` adds the causes, `{:?}` is a report with one cause per line, `{:#?}` the
/// structural dump.
///
/// `Display` and `Debug` need `E: Error` (the cause's message is printed).
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum ModelError<E> {
    /// A `PreSave` or `PreDelete` receiver failed; nothing was written.
    Aborted {
        /// `PreSave` or `PreDelete`.
        signal: &'static str,
        /// The receiver's error.
        #[source]
        source: SendError,
    },
    /// The persistence closure failed; no post signal was sent.
    Write(#[source] E),
    /// The write succeeded, then a `PostSave` or `PostDelete` receiver failed (as in
    /// Django, the write is not undone).
    AfterWrite {
        /// `PostSave` or `PostDelete`.
        signal: &'static str,
        /// The receiver's error.
        #[source]
        source: SendError,
    },
}

// By hand (thiserror derives only `source()`): `{:#}` needs the formatter, and thiserror's
// `#[error(fmt = ...)]` cannot add the `E: Error` bound that printing `Write`'s cause needs.
impl<E: std::error::Error + 'static> std::fmt::Display for ModelError<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if f.alternate() {
            return std::fmt::Display::fmt(&crate::vocab::error::chain(self), f);
        }
        match self {
            ModelError::Aborted { signal, .. } => {
                write!(f, "the write was aborted by a {signal} receiver")
            }
            ModelError::Write(_) => f.write_str("the write failed"),
            ModelError::AfterWrite { signal, .. } => {
                write!(f, "the write succeeded but a {signal} receiver failed")
            }
        }
    }
}

impl<E: std::error::Error + 'static> std::fmt::Debug for ModelError<E> {
    /// `{:?}`: the report (message and causes); `{:#?}`: the structural dump.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if !f.alternate() {
            return std::fmt::Debug::fmt(&crate::vocab::error::chain(self), f);
        }
        match self {
            ModelError::Aborted { signal, source } => f
                .debug_struct("Aborted")
                .field("signal", signal)
                .field("source", source)
                .finish(),
            ModelError::Write(source) => f.debug_tuple("Write").field(source).finish(),
            ModelError::AfterWrite { signal, source } => f
                .debug_struct("AfterWrite")
                .field("signal", signal)
                .field("source", source)
                .finish(),
        }
    }
}

/// Saves `instance` through `persist`, sending [`PreSave`] before and [`PostSave`] after.
///
/// A `PreSave` receiver error aborts: `persist` is not called. `persist` returns
/// [`Saved::Created`] or [`Saved::Updated`], which sets `created`.
pub fn save<M: Model, T, E>(
    instance: &M,
    persist: impl FnOnce(&M) -> Result<Saved<T>, E>,
) -> Result<T, ModelError<E>> {
    save_with(SaveOptions::default(), instance, persist)
}

/// [`save`] with a database alias, `raw` or `update_fields`.
pub fn save_with<M: Model, T, E>(
    options: SaveOptions<'_>,
    instance: &M,
    persist: impl FnOnce(&M) -> Result<Saved<T>, E>,
) -> Result<T, ModelError<E>> {
    let pre = PreSave {
        instance,
        raw: options.raw,
        using: options.using,
        update_fields: options.update_fields,
        db: None,
        draft: None,
    };
    pre.send().map_err(|source| ModelError::Aborted {
        signal: "PreSave",
        source,
    })?;
    let (value, created) = match persist(instance).map_err(ModelError::Write)? {
        Saved::Created(v) => (v, true),
        Saved::Updated(v) => (v, false),
    };
    let post = PostSave {
        instance,
        created,
        raw: options.raw,
        using: options.using,
        update_fields: options.update_fields,
        previous: None,
        db: None,
    };
    post.send().map_err(|source| ModelError::AfterWrite {
        signal: "PostSave",
        source,
    })?;
    Ok(value)
}

/// Deletes `instance` through `remove`, sending [`PreDelete`] before and [`PostDelete`]
/// after. A `PreDelete` receiver error aborts: `remove` is not called.
pub fn delete<M: Model, T, E>(
    instance: &M,
    remove: impl FnOnce(&M) -> Result<T, E>,
) -> Result<T, ModelError<E>> {
    delete_using(DEFAULT_DB, instance, remove)
}

/// [`delete`] on the database `using`.
pub fn delete_using<M: Model, T, E>(
    using: &str,
    instance: &M,
    remove: impl FnOnce(&M) -> Result<T, E>,
) -> Result<T, ModelError<E>> {
    PreDelete {
        instance,
        using,
        origin: None,
        db: None,
    }
    .send()
    .map_err(|source| ModelError::Aborted {
        signal: "PreDelete",
        source,
    })?;
    let value = remove(instance).map_err(ModelError::Write)?;
    PostDelete {
        instance,
        using,
        origin: None,
        db: None,
    }
    .send()
    .map_err(|source| ModelError::AfterWrite {
        signal: "PostDelete",
        source,
    })?;
    Ok(value)
}

/// The model signals that lend the write's connection: an offloaded receiver
/// (`offload = ..`) writes its outbox row through it, in the write's transaction.
macro_rules! lends_db {
    ($($signal:ident),*) => {$(
        impl<M: ?Sized + Model> crate::offload::HasDb for $signal<'_, M> {
            fn lent_db(&self) -> Option<&dyn crate::db::Connection> {
                self.db
            }
        }
    )*};
}
lends_db!(
    PreSave, PostSave, PreDelete, PostDelete, M2mChanged, PostInit
);
