//! Loads that send `PostInit` (Django's `post_init` for rows read from the database).
//!
//! SeaORM builds a `Model` straight from the row, through no hook, so its `find`, `one`
//! and `all` send nothing. Opt in per query with [`SelectExt::with_signals`]: the same
//! query, whose `one` / `all` send [`PostInit`] for every row loaded, in order, lending
//! the query's connection ([`db`](crate::db)):
//!
//! ```ignore
//! use signals_sea_orm::SelectExt;
//!
//! let users = user::Entity::find().filter(user::Column::Active.eq(true)).with_signals().all(&db).await?;
//! let ada = user::Entity::find_by_id(1).with_signals().one(&db).await?;
//! ```
//!
//! `PreInit` is not sent: it describes constructor arguments, and a loaded row has none
//! (SeaORM decodes the columns into the `Model` in one step). A `PostInit` receiver's
//! error comes back as the load's `DbErr` (with a [`SignalError`](crate::SignalError)
//! whose `signal()` is `"PostInit"`). Nothing is cloned or queried when `PostInit` has no
//! receiver for the entity's `Model`.

use sea_orm::{ConnectionTrait, DbErr, EntityTrait, Select};
use signals_core::Signal;
use signals_core::models::{Model, PostInit};

use crate::SignalError;
use crate::conn::Lent;

/// Adds [`with_signals`](SelectExt::with_signals) to SeaORM's `Select`.
pub trait SelectExt<E: EntityTrait> {
    /// This query, sending [`PostInit`] for each row its `one` / `all` load.
    fn with_signals(self) -> Loading<E>;
}

impl<E: EntityTrait> SelectExt<E> for Select<E> {
    fn with_signals(self) -> Loading<E> {
        Loading { select: self }
    }
}

/// A `Select` whose loads send [`PostInit`] (see [`SelectExt`]).
#[derive(Clone, Debug)]
pub struct Loading<E: EntityTrait> {
    select: Select<E>,
}

async fn post_init<M: Model, C: ConnectionTrait>(db: &C, row: &M) -> Result<(), DbErr> {
    let lent = Lent(db);
    let mut event = PostInit::new(row);
    event.db = Some(&lent);
    event
        .send_async()
        .await
        .map(drop)
        .map_err(|e| SignalError::db_err("PostInit", row.model_name(), false, e))
}

impl<E> Loading<E>
where
    E: EntityTrait,
    E::Model: Model,
{
    /// The first row (SeaORM's `Select::one`), after its [`PostInit`].
    pub async fn one<C: ConnectionTrait>(self, db: &C) -> Result<Option<E::Model>, DbErr> {
        let row = self.select.one(db).await?;
        if let Some(row) = &row
            && PostInit::<E::Model>::has_receivers()
        {
            post_init(db, row).await?;
        }
        Ok(row)
    }

    /// Every row (SeaORM's `Select::all`), after one [`PostInit`] each, in order.
    pub async fn all<C: ConnectionTrait>(self, db: &C) -> Result<Vec<E::Model>, DbErr> {
        let rows = self.select.all(db).await?;
        if PostInit::<E::Model>::has_receivers() {
            for row in &rows {
                post_init(db, row).await?;
            }
        }
        Ok(rows)
    }

    /// The query without signals.
    pub fn into_inner(self) -> Select<E> {
        self.select
    }
}
