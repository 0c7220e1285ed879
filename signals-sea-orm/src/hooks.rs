//! The hook bodies that [`behavior!`](crate::behavior) wires into `ActiveModelBehavior`.
//!
//! Call them yourself when an entity needs its own hook logic as well:
//!
//! ```ignore
//! #[async_trait::async_trait]
//! impl ActiveModelBehavior for ActiveModel {
//!     async fn before_save<C: ConnectionTrait>(mut self, db: &C, insert: bool) -> Result<Self, DbErr> {
//!         self.updated_at = Set(now());
//!         signals_sea_orm::hooks::before_save(self, db, insert).await
//!     }
//!     async fn after_save<C: ConnectionTrait>(model: Model, db: &C, insert: bool) -> Result<Model, DbErr> {
//!         signals_sea_orm::hooks::after_save::<ActiveModel, C>(model, db, insert).await
//!     }
//!     // before_delete / after_delete likewise
//! }
//! ```
//!
//! `Model` and `ActiveModel` must both implement [`signals_core::models::Model`]
//! ([`behavior!`](crate::behavior) does that); with a hand-written
//! `ActiveModelBehavior`, use [`model!`](crate::model) for the two impls.
//!
//! # Cost
//!
//! `async_trait` boxes each hook's future on every write, so its size is paid per write
//! (an allocation and a copy): SeaORM's empty hooks box little beyond their arguments.
//! These hooks keep theirs small by boxing the rare paths instead of carrying them:
//! `before_save` with no `PreSave` receiver (and no old row to read) only parks an
//! update's columns and returns (a 216-byte future, was 2.6 KB); `after_save`'s send
//! inside a signals transaction, and `before_delete`'s read and send, are boxed where they
//! happen. The hooks of an insert
//! with three sync `PostSave` receivers cost about 0.1–0.3 µs more than SeaORM's empty
//! ones, well under 1 % of an insert on in-memory SQLite (`signals-sea-orm/benches/insert.rs`;
//! the figures are in the repository's docs/PERFORMANCE.md).

use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, IdenStatic,
    IntoActiveModel, Iterable, ModelTrait, PrimaryKeyToColumn, QueryFilter, QuerySelect,
    TryIntoModel,
};
use signals_core::models::{
    M2mAction, M2mChanged, Model, PostDelete, PostSave, PreDelete, PreSave,
};
use signals_core::{SendError, Signal, transaction};

use crate::alias::using;
use crate::conn::{Lent, TxnHandle, open_txn};
use crate::{ModelKey, SignalError, stash};

/// Inside a signals transaction, the handle of the transaction `db` is (lent to the
/// receivers of owned sends); `None` outside one (borrowed sends lend `db` itself).
pub(crate) fn txn_handle<C>(db: &C) -> Option<TxnHandle> {
    if transaction::is_active() {
        open_txn(db)
    } else {
        None
    }
}

pub(crate) fn lent(conn: &Option<TxnHandle>) -> Option<&dyn signals_core::db::Connection> {
    conn.as_ref()
        .map(|h| h as &dyn signals_core::db::Connection)
}

/// What a save signal is built from, owned, so that deferred receivers (`on = Commit`, ...)
/// get it after the hook returned.
#[derive(Clone)]
struct SaveOwned<M> {
    instance: M,
    created: bool,
    using: &'static str,
    fields: Option<Vec<&'static str>>,
    old: Option<M>,
    conn: Option<TxnHandle>,
}

/// What a `PreSave` is built from, owned: the row as it will be written, and the active
/// model (lent as the payload's `draft`).
#[derive(Clone)]
struct PreSaveOwned<M, A> {
    instance: M,
    draft: A,
    using: &'static str,
    fields: Option<Vec<&'static str>>,
    conn: Option<TxnHandle>,
}

fn pre_save_event<M: Model, A: Send + Sync + 'static>(o: &PreSaveOwned<M, A>) -> PreSave<'_, M> {
    let mut event = PreSave::new(&o.instance).using(o.using);
    event.db = lent(&o.conn);
    event.draft = Some(&o.draft);
    if let Some(fields) = &o.fields {
        event = event.update_fields(fields);
    }
    event
}

fn post_save_event<M: Model>(o: &SaveOwned<M>) -> PostSave<'_, M> {
    let mut event = PostSave::new(&o.instance, o.created).using(o.using);
    event.db = lent(&o.conn);
    event.previous = o
        .old
        .as_ref()
        .map(|m| m as &(dyn std::any::Any + Send + Sync));
    if let Some(fields) = &o.fields {
        event = event.update_fields(fields);
    }
    event
}

/// What a delete signal is built from, owned.
#[derive(Clone)]
struct DeleteOwned<M> {
    instance: M,
    using: &'static str,
    conn: Option<TxnHandle>,
}

fn pre_delete_event<M: Model>(o: &DeleteOwned<M>) -> PreDelete<'_, M> {
    let mut event = PreDelete::new(&o.instance).using(o.using);
    event.db = lent(&o.conn);
    event
}

fn post_delete_event<M: Model>(o: &DeleteOwned<M>) -> PostDelete<'_, M> {
    let mut event = PostDelete::new(&o.instance).using(o.using);
    event.db = lent(&o.conn);
    event
}

/// What an `M2mChanged` is built from, owned: `instance` is the [`ModelKey`] of a junction
/// row's first side (hooks) or the instance a [`crate::m2m`] call came from.
#[derive(Clone)]
pub(crate) struct M2mOwned<I> {
    pub(crate) instance: I,
    pub(crate) action: M2mAction,
    pub(crate) reverse: bool,
    pub(crate) model: &'static str,
    pub(crate) pk_set: Option<Vec<i64>>,
    pub(crate) using: &'static str,
    pub(crate) conn: Option<TxnHandle>,
}

pub(crate) fn m2m_event<M: Model, I: Model>(o: &M2mOwned<I>) -> M2mChanged<'_, M> {
    let mut event = M2mChanged::new(&o.instance, o.action, o.model, o.pk_set.as_deref())
        .using(o.using)
        .reverse(o.reverse);
    event.db = lent(&o.conn);
    event
}

/// Sends the signal that `$build` makes from `$owned` (an expression of a `Clone` type):
/// inside a [`signals_core::transaction::Transaction`] (see [`crate::transaction`]) with
/// `transaction::send_owned_async` on a clone, so that deferred receivers are queued (the
/// payload lends the transaction's weak handle, `$owned.conn`); else borrowed, with no
/// clone, lending the hook's connection `$db` itself. Evaluates to `Result<(), SendError>`.
///
/// The owned send's future is boxed: it is large, and every hook future (which
/// `async_trait` boxes, and moves, on each write) would otherwise be as large as it, also
/// outside transactions (see the module's Cost section).
macro_rules! send_phased {
    ($signal:ty, $db:expr, $owned:expr, $build:expr) => {{
        let owned = &$owned;
        let sent: Result<(), SendError> = if transaction::is_active() {
            Box::pin(transaction::send_owned_async::<$signal, _>(
                owned.clone(),
                $build,
            ))
            .await
            .map(drop)
        } else {
            let lent = Lent($db);
            let mut event = ($build)(owned);
            event.db = Some(&lent);
            event.send_async().await.map(drop)
        };
        sent
    }};
}

/// The entity's `Model` type of the active model `A`.
pub type ModelOf<A> = <<A as ActiveModelTrait>::Entity as EntityTrait>::Model;

/// The columns an `UPDATE` of `am` writes: those `Set`, primary key excluded.
pub fn set_columns<A: ActiveModelTrait>(am: &A) -> Vec<&'static str> {
    let keys: Vec<&'static str> = <A::Entity as EntityTrait>::PrimaryKey::iter()
        .map(|k| k.into_column().as_str())
        .collect();
    <A::Entity as EntityTrait>::Column::iter()
        .filter(|c| am.get(*c).is_set() && !keys.contains(&c.as_str()))
        .map(|c| c.as_str())
        .collect()
}

fn am_key<A: ActiveModelTrait>(am: &A) -> Option<String> {
    am.get_primary_key_value().map(|v| format!("{v:?}"))
}

fn model_key<M: ModelTrait>(model: &M) -> String {
    format!("{:?}", model.get_primary_key_value())
}

/// The row `am` points at, read from the database by primary key (`None` when the key is
/// not set or no row matches); `lock`: `FOR UPDATE` (SeaQuery writes no lock for SQLite).
async fn reload<A, C>(am: &A, db: &C, lock: bool) -> Result<Option<ModelOf<A>>, DbErr>
where
    A: ActiveModelTrait,
    C: ConnectionTrait,
{
    let mut condition = Condition::all();
    for key in <A::Entity as EntityTrait>::PrimaryKey::iter() {
        let column = key.into_column();
        match am.get(column).into_value() {
            Some(value) => condition = condition.add(column.eq(value)),
            None => return Ok(None),
        }
    }
    let select = <A::Entity as EntityTrait>::find().filter(condition);
    if lock {
        select.lock_exclusive().one(db).await
    } else {
        select.one(db).await
    }
}

/// The row about to be deleted: the active model itself when every column is known,
/// else the row re-read by primary key (parked for [`after_delete`]).
async fn doomed<A, C>(am: &A, db: &C) -> Result<Option<ModelOf<A>>, DbErr>
where
    A: ActiveModelTrait + TryIntoModel<ModelOf<A>> + Clone + 'static,
    ModelOf<A>: Model,
    C: ConnectionTrait,
{
    if let Ok(model) = am.clone().try_into_model() {
        return Ok(Some(model));
    }
    let model = reload(am, db, false).await?;
    if let (Some(model), Some(key)) = (&model, am_key(am)) {
        stash::put::<A, ModelOf<A>>(key, model.clone());
    }
    Ok(model)
}

/// The deleted row: what [`doomed`] parked, else the active model itself.
fn deleted<A>(am: &A) -> Option<ModelOf<A>>
where
    A: ActiveModelTrait + TryIntoModel<ModelOf<A>> + Clone + 'static,
    ModelOf<A>: Model,
{
    am_key(am)
        .and_then(|key| stash::take::<A, ModelOf<A>>(key))
        .or_else(|| am.clone().try_into_model().ok())
}

/// `before_save`: sends [`PreSave`] with the entity's `Model` as sender, like every
/// other model signal of the entity. Its `instance` is the row as it will be written: the
/// active model's values over, for an insert, the columns' `Default`s (an auto-increment
/// key reads `0`: the database assigns it), for an update of a partial active model, the
/// stored row (read first, only when a `PreSave` receiver exists). The active model itself
/// is the payload's `draft` ([`active_model`](crate::active_model)). A receiver error
/// aborts the write with a [`DbErr`] that carries a [`SignalError`].
///
/// `update_fields` is `None` on insert and the `Set` columns (primary key excluded) on
/// update, which are exactly the columns SeaORM's `UPDATE` writes.
pub async fn before_save<A, C>(am: A, db: &C, insert: bool) -> Result<A, DbErr>
where
    A: ActiveModelTrait + TryIntoModel<ModelOf<A>> + Send + Sync + 'static,
    ModelOf<A>: Model + IntoActiveModel<A>,
    C: ConnectionTrait,
{
    save_before(am, db, insert, false).await
}

/// [`before_save`] of an entity with old values
/// ([`behavior!`](crate::behavior)`(ActiveModel, old_values)`): an update first reads the
/// stored row by primary key on the write's connection (`SELECT .. FOR UPDATE` on
/// PostgreSQL and MySQL, which locks it until the transaction ends; SQLite has no row
/// locks and needs none: a write transaction locks the database), only when a `PostSave`
/// receiver exists, and [`after_save_with_old`] lends it as `PostSave::old`. One query per
/// update; none on insert.
pub async fn before_save_with_old<A, C>(am: A, db: &C, insert: bool) -> Result<A, DbErr>
where
    A: ActiveModelTrait + TryIntoModel<ModelOf<A>> + Send + Sync + 'static,
    ModelOf<A>: Model + IntoActiveModel<A>,
    C: ConnectionTrait,
{
    save_before(am, db, insert, true).await
}

/// The stash kind of the old row of an `A` (the fields use `A` itself).
struct OldRow<A>(std::marker::PhantomData<A>);

async fn save_before<A, C>(am: A, db: &C, insert: bool, with_old: bool) -> Result<A, DbErr>
where
    A: ActiveModelTrait + TryIntoModel<ModelOf<A>> + Send + Sync + 'static,
    ModelOf<A>: Model + IntoActiveModel<A>,
    C: ConnectionTrait,
{
    let reads_old = with_old && !insert && PostSave::<ModelOf<A>>::has_receivers();
    if !reads_old && !PreSave::<ModelOf<A>>::has_receivers() {
        // Nothing to read or send: no future beyond this one's arguments (the module's
        // Cost section).
        if !insert && let Some(key) = am_key(&am) {
            stash::put::<A, Vec<&'static str>>(key, set_columns(&am));
        }
        return Ok(am);
    }
    Box::pin(save_before_sending(am, db, insert, reads_old)).await
}

/// [`save_before`] when it reads the old row (`reads_old`) or a `PreSave` receiver exists.
async fn save_before_sending<A, C>(am: A, db: &C, insert: bool, reads_old: bool) -> Result<A, DbErr>
where
    A: ActiveModelTrait + TryIntoModel<ModelOf<A>> + Send + Sync + 'static,
    ModelOf<A>: Model + IntoActiveModel<A>,
    C: ConnectionTrait,
{
    let fields = (!insert).then(|| set_columns(&am));
    // The stored row, when the old values are wanted (read once, also for `pending_row`).
    let mut stored = None;
    if reads_old && let Some(key) = am_key(&am) {
        let row = reload(&am, db, true).await?;
        if let Some(row) = &row {
            stash::put::<OldRow<A>, ModelOf<A>>(key, row.clone());
        }
        stored = Some(row);
    }
    if PreSave::<ModelOf<A>>::has_receivers()
        && let Some(instance) = pending_row(&am, db, insert, stored).await?
    {
        let owned = PreSaveOwned {
            instance,
            draft: am.clone(),
            using: using(db),
            fields: fields.clone(),
            conn: txn_handle(db),
        };
        send_phased!(
            PreSave<'_, ModelOf<A>>,
            db,
            owned,
            pre_save_event::<ModelOf<A>, A>
        )
        .map_err(|e| SignalError::db_err("PreSave", owned.instance.model_name(), false, e))?;
    }
    if let (Some(fields), Some(key)) = (fields, am_key(&am)) {
        stash::put::<A, Vec<&'static str>>(key, fields);
    }
    Ok(am)
}

/// The row `am` will write (see [`before_save`]); `None` when a column has neither a
/// value nor a `Default`.
async fn pending_row<A, C>(
    am: &A,
    db: &C,
    insert: bool,
    stored: Option<Option<ModelOf<A>>>,
) -> Result<Option<ModelOf<A>>, DbErr>
where
    A: ActiveModelTrait + TryIntoModel<ModelOf<A>>,
    ModelOf<A>: IntoActiveModel<A>,
    C: ConnectionTrait,
{
    if let Ok(model) = am.clone().try_into_model() {
        return Ok(Some(model));
    }
    let mut base = if insert {
        A::default_values()
    } else {
        let stored = match stored {
            Some(stored) => stored,
            None => reload(am, db, false).await?,
        };
        match stored {
            Some(stored) => stored.into_active_model(),
            None => A::default_values(),
        }
    };
    for column in <A::Entity as EntityTrait>::Column::iter() {
        if let Some(value) = am.get(column).into_value() {
            base.try_set(column, value)?;
        }
    }
    Ok(base.try_into_model().ok())
}

/// `after_save`: sends [`PostSave`] with the saved `Model` as sender, `created` from
/// SeaORM's `insert` flag and, for updates, the columns [`before_save`] saw `Set`.
///
/// A receiver error comes back as a [`DbErr`] carrying a [`SignalError`] (with
/// [`SignalError::written`] `true`): the row is written, as with Django's `post_save`.
pub async fn after_save<A, C>(model: ModelOf<A>, db: &C, insert: bool) -> Result<ModelOf<A>, DbErr>
where
    A: ActiveModelTrait + 'static,
    ModelOf<A>: Model,
    C: ConnectionTrait,
{
    save_after::<A, C>(model, db, insert, false).await
}

/// [`after_save`] of an entity with old values: `PostSave::old` is the row
/// [`before_save_with_old`] read (`None` on insert).
pub async fn after_save_with_old<A, C>(
    model: ModelOf<A>,
    db: &C,
    insert: bool,
) -> Result<ModelOf<A>, DbErr>
where
    A: ActiveModelTrait + 'static,
    ModelOf<A>: Model,
    C: ConnectionTrait,
{
    save_after::<A, C>(model, db, insert, true).await
}

async fn save_after<A, C>(
    model: ModelOf<A>,
    db: &C,
    insert: bool,
    with_old: bool,
) -> Result<ModelOf<A>, DbErr>
where
    A: ActiveModelTrait + 'static,
    ModelOf<A>: Model,
    C: ConnectionTrait,
{
    let (fields, old) = if insert {
        (None, None)
    } else {
        let key = model_key(&model);
        let old = if with_old {
            stash::take::<OldRow<A>, ModelOf<A>>(key.clone())
        } else {
            None
        };
        (stash::take::<A, Vec<&'static str>>(key), old)
    };
    let owned = SaveOwned {
        instance: model,
        created: insert,
        using: using(db),
        fields,
        old,
        conn: txn_handle(db),
    };
    send_phased!(
        PostSave<'_, ModelOf<A>>,
        db,
        owned,
        post_save_event::<ModelOf<A>>
    )
    .map_err(|e| SignalError::db_err("PostSave", owned.instance.model_name(), true, e))?;
    Ok(owned.instance)
}

/// `before_delete`: sends [`PreDelete`] with the row's `Model` as sender. An active model
/// with unset columns (`ActiveModel { id: Set(3), ..Default::default() }`) is completed
/// by reading the row first (only when a `PreDelete` or `PostDelete` receiver exists); if
/// no row matches, nothing is sent. A receiver error aborts the delete.
pub async fn before_delete<A, C>(am: A, db: &C) -> Result<A, DbErr>
where
    A: ActiveModelTrait + TryIntoModel<ModelOf<A>> + Clone + 'static,
    ModelOf<A>: Model,
    C: ConnectionTrait,
{
    if !PreDelete::<ModelOf<A>>::has_receivers() && !PostDelete::<ModelOf<A>>::has_receivers() {
        return Ok(am);
    }
    Box::pin(delete_before_sending(am, db)).await
}

/// [`before_delete`] when a delete receiver exists.
async fn delete_before_sending<A, C>(am: A, db: &C) -> Result<A, DbErr>
where
    A: ActiveModelTrait + TryIntoModel<ModelOf<A>> + Clone + 'static,
    ModelOf<A>: Model,
    C: ConnectionTrait,
{
    let Some(model) = doomed(&am, db).await? else {
        return Ok(am);
    };
    let owned = DeleteOwned {
        instance: model,
        using: using(db),
        conn: txn_handle(db),
    };
    send_phased!(
        PreDelete<'_, ModelOf<A>>,
        db,
        owned,
        pre_delete_event::<ModelOf<A>>
    )
    .map_err(|e| SignalError::db_err("PreDelete", owned.instance.model_name(), false, e))?;
    Ok(am)
}

/// `after_delete`: sends [`PostDelete`] with the deleted row's `Model` as sender (the
/// active model, or the row [`before_delete`] read). A receiver error comes back as a
/// [`DbErr`] carrying a [`SignalError`]; the row is deleted.
pub async fn after_delete<A, C>(am: A, db: &C) -> Result<A, DbErr>
where
    A: ActiveModelTrait + TryIntoModel<ModelOf<A>> + Clone + 'static,
    ModelOf<A>: Model,
    C: ConnectionTrait,
{
    let Some(model) = deleted(&am) else {
        return Ok(am);
    };
    let owned = DeleteOwned {
        instance: model,
        using: using(db),
        conn: txn_handle(db),
    };
    send_phased!(
        PostDelete<'_, ModelOf<A>>,
        db,
        owned,
        post_delete_event::<ModelOf<A>>
    )
    .map_err(|e| SignalError::db_err("PostDelete", owned.instance.model_name(), true, e))?;
    Ok(am)
}

/// The two keys of a junction (many-to-many "through") row, as integers.
///
/// Implemented by [`behavior!`](crate::behavior)`(ActiveModel, junction(a => "A", b => "B"))`.
pub trait Junction: ActiveModelTrait {
    /// The model name of the first key's side: the `instance` of [`M2mChanged`].
    const FROM: &'static str;
    /// The model name of the second key's side: the `model` of [`M2mChanged`].
    const TO: &'static str;
    /// `(from, to)` keys of an active row, if both are set.
    fn keys(&self) -> Option<(i64, i64)>;
    /// `(from, to)` keys of a stored row.
    fn model_keys(model: &ModelOf<Self>) -> (i64, i64);
    /// The `(from, to)` key columns.
    fn columns() -> (
        <Self::Entity as EntityTrait>::Column,
        <Self::Entity as EntityTrait>::Column,
    );
    /// A new junction row linking `from` to `to` (other columns as
    /// `ActiveModelBehavior::new` leaves them).
    fn with_keys(from: i64, to: i64) -> Self;
}

/// `true` when the junction row `(from, to)` exists already.
async fn linked<J: Junction, C: ConnectionTrait>(
    db: &C,
    (from, to): (i64, i64),
) -> Result<bool, DbErr> {
    let (from_col, to_col) = J::columns();
    Ok(<J::Entity as EntityTrait>::find()
        .filter(from_col.eq(from))
        .filter(to_col.eq(to))
        .one(db)
        .await?
        .is_some())
}

async fn send_m2m<J, C>(
    db: &C,
    action: M2mAction,
    (from, to): (i64, i64),
    written: bool,
) -> Result<(), DbErr>
where
    J: Junction + 'static,
    ModelOf<J>: Model,
    C: ConnectionTrait,
{
    let owned = M2mOwned {
        instance: ModelKey::new(J::FROM, from),
        action,
        reverse: false,
        model: J::TO,
        pk_set: Some(vec![to]),
        using: using(db),
        conn: txn_handle(db),
    };
    send_phased!(
        M2mChanged<'_, ModelOf<J>>,
        db,
        owned,
        m2m_event::<ModelOf<J>, ModelKey>
    )
    .map_err(|e| SignalError::db_err("M2mChanged", J::FROM, written, e))
}

/// `before_save` of a junction row: an insert sends [`M2mChanged`] `PreAdd` (a receiver
/// error aborts the insert); an update is an ordinary [`before_save`].
pub async fn junction_before_save<J, C>(am: J, db: &C, insert: bool) -> Result<J, DbErr>
where
    J: Junction + TryIntoModel<ModelOf<J>> + Send + Sync + 'static,
    ModelOf<J>: Model + IntoActiveModel<J>,
    C: ConnectionTrait,
{
    if !insert {
        return before_save(am, db, insert).await;
    }
    // SeaORM's link path runs `before_save` for every requested link, existing ones
    // included (its `INSERT .. ON CONFLICT DO NOTHING` then skips them, and their
    // `after_save`): an existing row is no addition, so it gets no `PreAdd`.
    if let Some(keys) = am.keys()
        && M2mChanged::<ModelOf<J>>::has_receivers()
        && !linked::<J, C>(db, keys).await?
    {
        send_m2m::<J, C>(db, M2mAction::PreAdd, keys, false).await?;
    }
    Ok(am)
}

/// `after_save` of a junction row: an insert sends [`M2mChanged`] `PostAdd`; an update is
/// an ordinary [`after_save`].
pub async fn junction_after_save<J, C>(
    model: ModelOf<J>,
    db: &C,
    insert: bool,
) -> Result<ModelOf<J>, DbErr>
where
    J: Junction + 'static,
    ModelOf<J>: Model,
    C: ConnectionTrait,
{
    if !insert {
        return after_save::<J, C>(model, db, insert).await;
    }
    send_m2m::<J, C>(db, M2mAction::PostAdd, J::model_keys(&model), true).await?;
    Ok(model)
}

/// `before_delete` of a junction row: sends [`M2mChanged`] `PreRemove` (a receiver error
/// aborts the delete). A partial active model is completed by reading the row.
pub async fn junction_before_delete<J, C>(am: J, db: &C) -> Result<J, DbErr>
where
    J: Junction + TryIntoModel<ModelOf<J>> + Clone + 'static,
    ModelOf<J>: Model,
    C: ConnectionTrait,
{
    if !M2mChanged::<ModelOf<J>>::has_receivers() {
        return Ok(am);
    }
    let keys = match am.keys() {
        Some(keys) => Some(keys),
        None => doomed(&am, db).await?.map(|m| J::model_keys(&m)),
    };
    if let Some(keys) = keys {
        send_m2m::<J, C>(db, M2mAction::PreRemove, keys, false).await?;
    }
    Ok(am)
}

/// `after_delete` of a junction row: sends [`M2mChanged`] `PostRemove`.
pub async fn junction_after_delete<J, C>(am: J, db: &C) -> Result<J, DbErr>
where
    J: Junction + TryIntoModel<ModelOf<J>> + Clone + 'static,
    ModelOf<J>: Model,
    C: ConnectionTrait,
{
    let keys = match deleted(&am) {
        Some(model) => Some(J::model_keys(&model)),
        None => am.keys(),
    };
    if let Some(keys) = keys {
        send_m2m::<J, C>(db, M2mAction::PostRemove, keys, true).await?;
    }
    Ok(am)
}
