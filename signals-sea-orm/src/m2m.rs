//! Many-to-many changes as Django's related managers make them: one `M2mChanged` per
//! call, from the side the call came from.
//!
//! SeaORM's own link path (`establish_links`, the `ActiveModelEx` nested saves) runs the
//! junction's hooks row by row, which know neither the calling side nor the batch (see
//! the crate docs, "Many-to-many"). The calls here write the junction with
//! `insert_many` / `delete_many` (no per-row hooks) and send the signals Django sends:
//!
//! | call | signals | `pk_set` |
//! |---|---|---|
//! | [`Links::add`] | `PreAdd`, `PostAdd` | the keys not linked yet (already-linked keys are in neither; Django sends the two even when that set is empty) |
//! | [`Links::remove`] | `PreRemove`, `PostRemove` | the keys submitted |
//! | [`Links::clear`] | `PreClear`, `PostClear` | `None` |
//! | [`Links::set`] | `remove` of the keys no longer wanted, then `add` of the new ones | as those |
//!
//! `instance` is the model the call starts from and `model` the other side's name;
//! `reverse` is `true` when that instance is the junction's second side
//! (`junction(post_id => "Post", tag_id => "Tag")`: starting from a tag). A pre-receiver's
//! error aborts the write (nothing is written); a post-receiver's error comes back with
//! [`SignalError::written`](crate::SignalError::written) `true`.
//!
//! ```ignore
//! use signals_sea_orm::m2m;
//!
//! // post_tag: behavior!(ActiveModel, junction(post_id => "Post", tag_id => "Tag"))
//! let added = m2m::links::<post_tag::ActiveModel, _>(&post)?.add(&db, [1, 2]).await?;
//! m2m::links::<post_tag::ActiveModel, _>(&tag)?.add(&db, [post.id]).await?; // reverse = true
//! m2m::links::<post_tag::ActiveModel, _>(&post)?.clear(&db).await?;        // PreClear, PostClear
//! // Self-referential (follow: junction(follower => "User", followee => "User")):
//! m2m::links::<follow::ActiveModel, _>(&ada)?.add(&db, [bob.id]).await?;         // ada follows bob
//! m2m::reverse_links::<follow::ActiveModel, _>(&bob).add(&db, [cy.id]).await?;  // cy follows bob
//! ```
//!
//! The existing links are read first (one `SELECT` per `add`); wrap the call in a
//! transaction ([`crate::transaction`]) for the read and the write to be atomic.

use std::marker::PhantomData;

use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};
use signals_core::models::{M2mAction, M2mChanged, Model};
use signals_core::{SendError, Signal, transaction};

use crate::SignalError;
use crate::alias::using;
use crate::conn::Lent;
use crate::hooks::{Junction, M2mOwned, ModelOf, m2m_event, txn_handle};

/// The links of one instance through the junction `J`: made by [`links`] or
/// [`reverse_links`].
pub struct Links<'a, J, M> {
    instance: &'a M,
    pk: i64,
    reverse: bool,
    junction: PhantomData<fn() -> J>,
}

/// The links of `instance` through the junction `J`, from the side named like its
/// [`model_name`](Model::model_name): the first side (`reverse = false`) when it is
/// `J::FROM`, else the second when it is `J::TO`. For a self-referential junction (both
/// sides the same model) this is the first side; use [`reverse_links`] for the second.
///
/// An error when the name is neither side's or the instance has no integer key.
pub fn links<J: Junction, M: Model>(instance: &M) -> Result<Links<'_, J, M>, DbErr> {
    let name = instance.model_name();
    let reverse = if name == J::FROM {
        false
    } else if name == J::TO {
        true
    } else {
        return Err(DbErr::Custom(format!(
            "signals_sea_orm::m2m: {name} is neither side of the junction ({} => {})",
            J::FROM,
            J::TO
        )));
    };
    side(instance, reverse)
}

/// The links of `instance` from the junction's second side (`reverse = true`): the one
/// way to reach the second side of a self-referential junction. An error when the
/// instance has no integer key.
pub fn reverse_links<J: Junction, M: Model>(instance: &M) -> Result<Links<'_, J, M>, DbErr> {
    side(instance, true)
}

fn side<J: Junction, M: Model>(instance: &M, reverse: bool) -> Result<Links<'_, J, M>, DbErr> {
    let pk = instance.pk().ok_or_else(|| {
        DbErr::Custom(format!(
            "signals_sea_orm::m2m: the {} has no integer primary key",
            instance.model_name()
        ))
    })?;
    Ok(Links {
        instance,
        pk,
        reverse,
        junction: PhantomData,
    })
}

impl<J, M> Links<'_, J, M>
where
    J: Junction + Send + 'static,
    ModelOf<J>: Model,
    M: Model + Clone,
{
    /// `(own column, other column)`.
    fn columns(
        &self,
    ) -> (
        <J::Entity as EntityTrait>::Column,
        <J::Entity as EntityTrait>::Column,
    ) {
        let (from, to) = J::columns();
        if self.reverse { (to, from) } else { (from, to) }
    }

    /// The other side's model name.
    fn other(&self) -> &'static str {
        if self.reverse { J::FROM } else { J::TO }
    }

    /// The junction row linking this instance to `other`.
    fn row(&self, other: i64) -> J {
        if self.reverse {
            J::with_keys(other, self.pk)
        } else {
            J::with_keys(self.pk, other)
        }
    }

    async fn send<C: ConnectionTrait>(
        &self,
        db: &C,
        action: M2mAction,
        pk_set: Option<Vec<i64>>,
        written: bool,
    ) -> Result<(), DbErr> {
        let owned = M2mOwned {
            instance: self.instance.clone(),
            action,
            reverse: self.reverse,
            model: self.other(),
            pk_set,
            using: using(db),
            conn: txn_handle(db),
        };
        send_phased!(
            M2mChanged<'_, ModelOf<J>>,
            db,
            owned,
            m2m_event::<ModelOf<J>, M>
        )
        .map_err(|e| SignalError::db_err("M2mChanged", self.instance.model_name(), written, e))
    }

    /// The other side's keys linked to this instance now.
    pub async fn keys<C: ConnectionTrait>(&self, db: &C) -> Result<Vec<i64>, DbErr> {
        let (own, _) = self.columns();
        let rows = <J::Entity as EntityTrait>::find()
            .filter(own.eq(self.pk))
            .all(db)
            .await?;
        Ok(rows
            .iter()
            .map(|row| {
                let (from, to) = J::model_keys(row);
                if self.reverse { from } else { to }
            })
            .collect())
    }

    /// Links this instance to the `others` not linked yet (Django's `add`): `PreAdd`,
    /// the `INSERT`, `PostAdd`, both with those keys only (in submission order, each
    /// once; Django too sends them when that set is empty). Nothing is sent for an empty
    /// `others`. Returns the keys added.
    pub async fn add<C: ConnectionTrait>(
        &self,
        db: &C,
        others: impl IntoIterator<Item = i64>,
    ) -> Result<Vec<i64>, DbErr> {
        let mut wanted: Vec<i64> = Vec::new();
        for key in others {
            if !wanted.contains(&key) {
                wanted.push(key);
            }
        }
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        let missing: Vec<i64> = {
            let (own, other) = self.columns();
            let existing: Vec<i64> = <J::Entity as EntityTrait>::find()
                .filter(own.eq(self.pk))
                .filter(other.is_in(wanted.clone()))
                .all(db)
                .await?
                .iter()
                .map(|row| {
                    let (from, to) = J::model_keys(row);
                    if self.reverse { from } else { to }
                })
                .collect();
            wanted
                .into_iter()
                .filter(|k| !existing.contains(k))
                .collect()
        };
        self.send(db, M2mAction::PreAdd, Some(missing.clone()), false)
            .await?;
        if !missing.is_empty() {
            <J::Entity as EntityTrait>::insert_many(missing.iter().map(|&k| self.row(k)))
                .exec_without_returning(db)
                .await?;
        }
        self.send(db, M2mAction::PostAdd, Some(missing.clone()), true)
            .await?;
        Ok(missing)
    }

    /// Unlinks `others` (Django's `remove`): `PreRemove`, the `DELETE`, `PostRemove`, both
    /// with the keys submitted (each once), linked or not. Nothing is sent for an empty
    /// `others`. Returns the rows deleted.
    pub async fn remove<C: ConnectionTrait>(
        &self,
        db: &C,
        others: impl IntoIterator<Item = i64>,
    ) -> Result<u64, DbErr> {
        let mut keys: Vec<i64> = Vec::new();
        for key in others {
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
        if keys.is_empty() {
            return Ok(0);
        }
        self.send(db, M2mAction::PreRemove, Some(keys.clone()), false)
            .await?;
        let (own, other) = self.columns();
        let deleted = <J::Entity as EntityTrait>::delete_many()
            .filter(own.eq(self.pk))
            .filter(other.is_in(keys.clone()))
            .exec(db)
            .await?
            .rows_affected;
        self.send(db, M2mAction::PostRemove, Some(keys), true)
            .await?;
        Ok(deleted)
    }

    /// Removes every link of this instance (Django's `clear`): `PreClear`, the `DELETE`,
    /// `PostClear`, with no key set. Returns the rows deleted.
    pub async fn clear<C: ConnectionTrait>(&self, db: &C) -> Result<u64, DbErr> {
        self.send(db, M2mAction::PreClear, None, false).await?;
        let (own, _) = self.columns();
        let deleted = <J::Entity as EntityTrait>::delete_many()
            .filter(own.eq(self.pk))
            .exec(db)
            .await?
            .rows_affected;
        self.send(db, M2mAction::PostClear, None, true).await?;
        Ok(deleted)
    }

    /// Makes `others` the whole set (Django's `set`): [`remove`](Links::remove) of the
    /// linked keys not in it, then [`add`](Links::add) of the keys not linked yet; each
    /// only when it has keys (so a `set` to the current set sends nothing).
    pub async fn set<C: ConnectionTrait>(
        &self,
        db: &C,
        others: impl IntoIterator<Item = i64>,
    ) -> Result<(), DbErr> {
        let wanted: Vec<i64> = others.into_iter().collect();
        let current = self.keys(db).await?;
        let stale: Vec<i64> = current
            .iter()
            .copied()
            .filter(|k| !wanted.contains(k))
            .collect();
        self.remove(db, stale).await?;
        let new: Vec<i64> = wanted
            .into_iter()
            .filter(|k| !current.contains(k))
            .collect();
        self.add(db, new).await?;
        Ok(())
    }
}
