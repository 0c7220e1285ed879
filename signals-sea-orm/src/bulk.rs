//! Bulk writes that send bulk signals.
//!
//! SeaORM's `Entity::insert_many`, `update_many` and `delete_many` run no hooks, so they
//! send no model signals (as Django's `bulk_create` and `QuerySet.update`). The helpers
//! here run the same statements with `RETURNING` and then send one bulk signal with every
//! affected row:
//!
//! ```ignore
//! use signals_sea_orm::bulk;
//!
//! let rows = bulk::insert_many(&db, [a, b, c]).await?;            // PostBulkInsert
//! let rows = bulk::update_many(&db, user::Entity::update_many()
//!     .col_expr(user::Column::Active, Expr::value(false))
//!     .filter(user::Column::Id.lt(10))).await?;                   // PostBulkUpdate
//! let rows = bulk::delete_many(&db, user::Entity::delete_many()
//!     .filter(user::Column::Active.eq(false))).await?;            // PostBulkDelete
//! ```
//!
//! Each sends a pre-bulk signal first ([`PreBulkInsert`] with the active models,
//! [`PreBulkUpdate`] / [`PreBulkDelete`] with the statement): a receiver's error there
//! vetoes the write (nothing is written; [`SignalError::written`] is `false`).
//!
//! SeaORM's bulk delete runs no per-row hook. Opt in to per-row signals with
//! [`delete_rows`], which takes a `Select` instead: it loads the matching rows, sends
//! [`PreDelete`] for each (any error vetoes the whole delete), [`PreBulkDelete`], deletes
//! exactly those rows by primary key, then sends [`PostDelete`] for every row deleted and
//! [`PostBulkDelete`]. Run it in a transaction for the read and the delete to be atomic.
//!
//! ```ignore
//! let gone = bulk::delete_rows(&db, user::Entity::find().filter(user::Column::Active.eq(false))).await?;
//! ```
//!
//! They need `RETURNING`: PostgreSQL and SQLite 3.35+ (the bundled one; SeaORM's feature
//! `sqlite-use-returning-for-3_35`, enabled by this crate), not MySQL.
//!
//! A receiver's error comes back as a `DbErr` carrying a [`SignalError`]
//! ([`SignalError::written`] is `true`: the rows are written).
//!
//! Receivers take the typed rows through `models()`:
//!
//! ```
//! use signals_core::prelude::*;
//! use signals_core::models::Model;
//! use signals_sea_orm::bulk::PostBulkInsert;
//!
//! pub struct Product { pub id: i64 }
//! impl Model for Product {}
//!
//! #[receiver(PostBulkInsert, sender = Product)]
//! fn restock(event: &PostBulkInsert<'_, Product>) {
//!     for product in event.models() {
//!         println!("new product {}", product.id);
//!     }
//! }
//! ```

use std::any::Any;
use std::marker::PhantomData;

use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DbErr, DeleteMany, EntityTrait,
    IntoActiveModel, Iterable, ModelTrait, PrimaryKeyToColumn, QueryFilter, QueryTrait, Select,
    UpdateMany,
};
use signals_core::Signal;
use signals_core::models::{Model, PostDelete, PreDelete};

use crate::SignalError;
use crate::alias::using;
use crate::conn::Lent;

macro_rules! bulk_signal {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(signals_core::Signal)]
        #[signal(sender = M)]
        #[non_exhaustive]
        pub struct $name<'a, M: ?Sized + Model = dyn Model> {
            #[doc = concat!("The ", $what, " rows, as returned by the database.")]
            pub instances: &'a [&'a dyn Model],
            /// The database alias (see [`Alias`](crate::Alias)).
            pub using: &'a str,
            /// The connection (or transaction) of the write, lent to the receivers: see
            /// [`db`](crate::db).
            pub db: Option<&'a dyn signals_core::db::Connection>,
            /// The sender type.
            pub model: PhantomData<&'a M>,
        }

        impl<'a, M: ?Sized + Model> crate::Lends<'a> for $name<'a, M> {
            fn lent(&self) -> Option<&'a dyn signals_core::db::Connection> {
                self.db
            }
        }

        impl<'a, M: ?Sized + Model> $name<'a, M> {
            #[doc = concat!("A `", stringify!($name), "` for `instances` on the database `using`.")]
            pub fn new(instances: &'a [&'a dyn Model], using: &'a str) -> Self {
                $name { instances, using, db: None, model: PhantomData }
            }
        }

        impl<'a, M: Model> $name<'a, M> {
            /// The rows as the sender's type.
            pub fn models(&self) -> impl Iterator<Item = &'a M> + use<'a, M> {
                self.instances.iter().filter_map(|m| m.downcast_ref::<M>())
            }
        }
    };
}

bulk_signal!(
    /// Sent after [`insert_many`] inserted rows (no Django counterpart).
    PostBulkInsert,
    "inserted"
);
bulk_signal!(
    /// Sent after [`update_many`] updated rows (no Django counterpart).
    PostBulkUpdate,
    "updated"
);
bulk_signal!(
    /// Sent after [`delete_many`] deleted rows (no Django counterpart).
    PostBulkDelete,
    "deleted"
);

macro_rules! pre_bulk_signal {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(signals_core::Signal)]
        #[signal(sender = M)]
        #[non_exhaustive]
        pub struct $name<'a, M: ?Sized + Model = dyn Model> {
            #[doc = concat!("The `", $what, "` statement about to run, as built for the database (values inlined).")]
            pub statement: &'a str,
            /// The database alias (see [`Alias`](crate::Alias)).
            pub using: &'a str,
            /// The connection (or transaction) of the write, lent to the receivers: see
            /// [`db`](crate::db).
            pub db: Option<&'a dyn signals_core::db::Connection>,
            /// The sender type.
            pub model: PhantomData<&'a M>,
        }

        impl<'a, M: ?Sized + Model> crate::Lends<'a> for $name<'a, M> {
            fn lent(&self) -> Option<&'a dyn signals_core::db::Connection> {
                self.db
            }
        }

        impl<'a, M: ?Sized + Model> $name<'a, M> {
            #[doc = concat!("A `", stringify!($name), "` for `statement` on the database `using`.")]
            pub fn new(statement: &'a str, using: &'a str) -> Self {
                $name { statement, using, db: None, model: PhantomData }
            }
        }
    };
}

pre_bulk_signal!(
    /// Sent before [`update_many`] runs its statement; a receiver's error vetoes it.
    PreBulkUpdate,
    "UPDATE"
);
pre_bulk_signal!(
    /// Sent before [`delete_many`] and [`delete_rows`] run their statement; a receiver's
    /// error vetoes it.
    PreBulkDelete,
    "DELETE"
);

/// Sent before [`insert_many`] inserts rows; a receiver's error vetoes the insert.
#[derive(signals_core::Signal)]
#[signal(sender = M)]
#[non_exhaustive]
pub struct PreBulkInsert<'a, M: ?Sized + Model = dyn Model> {
    /// The active models about to be inserted (get them typed with
    /// [`active_models`](PreBulkInsert::active_models)).
    pub drafts: &'a [&'a (dyn Any + Send + Sync)],
    /// The database alias (see [`Alias`](crate::Alias)).
    pub using: &'a str,
    /// The connection (or transaction) of the write, lent to the receivers: see
    /// [`db`](crate::db).
    pub db: Option<&'a dyn signals_core::db::Connection>,
    /// The sender type.
    pub model: PhantomData<&'a M>,
}

impl<'a, M: ?Sized + Model> crate::Lends<'a> for PreBulkInsert<'a, M> {
    fn lent(&self) -> Option<&'a dyn signals_core::db::Connection> {
        self.db
    }
}

impl<'a, M: ?Sized + Model> PreBulkInsert<'a, M> {
    /// A `PreBulkInsert` for `drafts` on the database `using`.
    pub fn new(drafts: &'a [&'a (dyn Any + Send + Sync)], using: &'a str) -> Self {
        PreBulkInsert {
            drafts,
            using,
            db: None,
            model: PhantomData,
        }
    }

    /// The drafts as the entity's active model `A` (`user::ActiveModel`).
    pub fn active_models<A: 'static>(&self) -> impl Iterator<Item = &'a A> + use<'a, A, M> {
        self.drafts.iter().filter_map(|d| d.downcast_ref::<A>())
    }
}

type ModelOf<E> = <E as EntityTrait>::Model;

fn name_of<M: Model>() -> &'static str {
    let full = std::any::type_name::<M>();
    full.rsplit("::").nth(1).unwrap_or(full)
}

/// Sends a pre-bulk signal built by `$build` (borrowed, lending `$db`), mapping an error
/// to a `DbErr` with `written = false`.
macro_rules! send_pre {
    ($db:expr, $event:expr, $signal:literal, $model:expr) => {{
        let lent = Lent($db);
        let mut event = $event;
        event.db = Some(&lent);
        event
            .send_async()
            .await
            .map_err(|e| SignalError::db_err($signal, $model, false, e))?;
    }};
}

fn views<M: Model>(rows: &[M]) -> Vec<&dyn Model> {
    rows.iter().map(|m| m as &dyn Model).collect()
}

fn model_name<M: Model>(rows: &[M]) -> &'static str {
    rows.first()
        .map(Model::model_name)
        .unwrap_or_else(|| std::any::type_name::<M>())
}

/// Sends [`PreBulkInsert`] (a receiver's error vetoes the insert), inserts `models` in
/// one statement (SeaORM's `insert_many`, no per-row hooks) and sends [`PostBulkInsert`]
/// with the inserted rows. Nothing is sent (or run) for an empty list.
pub async fn insert_many<A, C, I>(db: &C, models: I) -> Result<Vec<ModelOf<A::Entity>>, DbErr>
where
    A: ActiveModelTrait,
    ModelOf<A::Entity>: IntoActiveModel<A> + Model,
    C: ConnectionTrait,
    A: Send + Sync + 'static,
    I: IntoIterator<Item = A>,
{
    let models: Vec<A> = models.into_iter().collect();
    if !models.is_empty() && PreBulkInsert::<ModelOf<A::Entity>>::has_receivers() {
        let drafts: Vec<&(dyn Any + Send + Sync)> = models
            .iter()
            .map(|m| m as &(dyn Any + Send + Sync))
            .collect();
        send_pre!(
            db,
            PreBulkInsert::<ModelOf<A::Entity>>::new(&drafts, using(db)),
            "PreBulkInsert",
            name_of::<ModelOf<A::Entity>>()
        );
    }
    if models.is_empty() {
        return Ok(Vec::new());
    }
    let rows = A::Entity::insert_many(models)
        .exec_with_returning(db)
        .await?;
    if !rows.is_empty() {
        let instances = views(&rows);
        let lent = Lent(db);
        let mut event = PostBulkInsert::<ModelOf<A::Entity>>::new(&instances, using(db));
        event.db = Some(&lent);
        event
            .send_async()
            .await
            .map_err(|e| SignalError::db_err("PostBulkInsert", model_name(&rows), true, e))?;
    }
    Ok(rows)
}

/// Sends [`PreBulkUpdate`] (a receiver's error vetoes the update), runs `query` (built
/// with `Entity::update_many()`) and sends [`PostBulkUpdate`] with the updated rows
/// (not when no row matched).
pub async fn update_many<E, C>(db: &C, query: UpdateMany<E>) -> Result<Vec<ModelOf<E>>, DbErr>
where
    E: EntityTrait,
    ModelOf<E>: Model,
    C: ConnectionTrait,
{
    if PreBulkUpdate::<ModelOf<E>>::has_receivers() {
        let statement = query.build(db.get_database_backend()).to_string();
        send_pre!(
            db,
            PreBulkUpdate::<ModelOf<E>>::new(&statement, using(db)),
            "PreBulkUpdate",
            name_of::<ModelOf<E>>()
        );
    }
    let rows = query.exec_with_returning(db).await?;
    if !rows.is_empty() {
        let instances = views(&rows);
        let lent = Lent(db);
        let mut event = PostBulkUpdate::<ModelOf<E>>::new(&instances, using(db));
        event.db = Some(&lent);
        event
            .send_async()
            .await
            .map_err(|e| SignalError::db_err("PostBulkUpdate", model_name(&rows), true, e))?;
    }
    Ok(rows)
}

/// Sends [`PreBulkDelete`] (a receiver's error vetoes the delete), runs `query` (built
/// with `Entity::delete_many()`) and sends [`PostBulkDelete`] with the deleted rows (not
/// when no row matched). No per-row signal: see [`delete_rows`] for those.
pub async fn delete_many<E, C>(db: &C, query: DeleteMany<E>) -> Result<Vec<ModelOf<E>>, DbErr>
where
    E: EntityTrait,
    ModelOf<E>: Model,
    C: ConnectionTrait,
{
    if PreBulkDelete::<ModelOf<E>>::has_receivers() {
        let statement = query.build(db.get_database_backend()).to_string();
        send_pre!(
            db,
            PreBulkDelete::<ModelOf<E>>::new(&statement, using(db)),
            "PreBulkDelete",
            name_of::<ModelOf<E>>()
        );
    }
    let rows = query.exec_with_returning(db).await?;
    if !rows.is_empty() {
        let instances = views(&rows);
        let lent = Lent(db);
        let mut event = PostBulkDelete::<ModelOf<E>>::new(&instances, using(db));
        event.db = Some(&lent);
        event
            .send_async()
            .await
            .map_err(|e| SignalError::db_err("PostBulkDelete", model_name(&rows), true, e))?;
    }
    Ok(rows)
}

/// The per-row form of [`delete_many`] (opt in by calling it): loads the rows `select`
/// matches, sends [`PreDelete`] for each (the first error vetoes the whole delete), then
/// [`PreBulkDelete`], deletes exactly those rows by primary key (`RETURNING`), and sends
/// [`PostBulkDelete`] with all of them, then [`PostDelete`] for every row deleted. Returns
/// the deleted rows. Nothing is sent when no row matched. One extra `SELECT`; run it in a
/// transaction for the read and the delete to be atomic.
pub async fn delete_rows<E, C>(db: &C, select: Select<E>) -> Result<Vec<ModelOf<E>>, DbErr>
where
    E: EntityTrait,
    ModelOf<E>: Model,
    C: ConnectionTrait,
{
    let doomed = select.all(db).await?;
    if doomed.is_empty() {
        return Ok(doomed);
    }
    let alias = using(db);
    for row in &doomed {
        send_pre!(
            db,
            PreDelete::new(row).using(alias),
            "PreDelete",
            row.model_name()
        );
    }
    let mut keys = Condition::any();
    for row in &doomed {
        let mut key = Condition::all();
        for pk in E::PrimaryKey::iter() {
            let column = pk.into_column();
            key = key.add(column.eq(row.get(column)));
        }
        keys = keys.add(key);
    }
    let rows = delete_many(db, E::delete_many().filter(keys)).await?;
    for row in &rows {
        let lent = Lent(db);
        let mut event = PostDelete::new(row).using(alias);
        event.db = Some(&lent);
        event
            .send_async()
            .await
            .map_err(|e| SignalError::db_err("PostDelete", row.model_name(), true, e))?;
    }
    Ok(rows)
}
