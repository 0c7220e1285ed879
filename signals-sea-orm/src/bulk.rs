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

use std::marker::PhantomData;

use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DbErr, DeleteMany, EntityTrait, IntoActiveModel, UpdateMany,
};
use signals_core::Signal;
use signals_core::models::Model;

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

type ModelOf<E> = <E as EntityTrait>::Model;

fn views<M: Model>(rows: &[M]) -> Vec<&dyn Model> {
    rows.iter().map(|m| m as &dyn Model).collect()
}

fn model_name<M: Model>(rows: &[M]) -> &'static str {
    rows.first()
        .map(Model::model_name)
        .unwrap_or_else(|| std::any::type_name::<M>())
}

/// Inserts `models` in one statement (SeaORM's `insert_many`, no per-row hooks) and sends
/// [`PostBulkInsert`] with the inserted rows. Nothing is sent for an empty list.
pub async fn insert_many<A, C, I>(db: &C, models: I) -> Result<Vec<ModelOf<A::Entity>>, DbErr>
where
    A: ActiveModelTrait,
    ModelOf<A::Entity>: IntoActiveModel<A> + Model,
    C: ConnectionTrait,
    I: IntoIterator<Item = A>,
{
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

/// Runs `query` (built with `Entity::update_many()`) and sends [`PostBulkUpdate`] with
/// the updated rows. Nothing is sent when no row matched.
pub async fn update_many<E, C>(db: &C, query: UpdateMany<E>) -> Result<Vec<ModelOf<E>>, DbErr>
where
    E: EntityTrait,
    ModelOf<E>: Model,
    C: ConnectionTrait,
{
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

/// Runs `query` (built with `Entity::delete_many()`) and sends [`PostBulkDelete`] with
/// the deleted rows. Nothing is sent when no row matched.
pub async fn delete_many<E, C>(db: &C, query: DeleteMany<E>) -> Result<Vec<ModelOf<E>>, DbErr>
where
    E: EntityTrait,
    ModelOf<E>: Model,
    C: ConnectionTrait,
{
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
