//! Which columns a save changed: `event.changed(user::Column::Email)`.
//!
//! ```ignore
//! use signals_sea_orm::Changed;
//!
//! #[receiver(PostSave, sender = user::Model)]
//! fn reverify(event: &PostSave<'_, user::Model>) {
//!     if !event.created && event.changed(user::Column::Email) {
//!         send_verification(&event.instance.email);
//!     }
//! }
//! ```
//!
//! A column is changed when the write wrote it: every column on insert, the columns the
//! active model had `Set` on update (`update_fields`; SeaORM's `UPDATE` writes exactly
//! those). A column `Set` to the value it already had counts as changed (SeaORM's
//! `set_if_not_equals` leaves an equal value `Unchanged`, so it does not). No query is
//! made.

use sea_orm::IdenStatic;
use signals_core::models::{Model, PostSave, PreSave};

/// `changed(column)` on [`PostSave`] and [`PreSave`] (see the [module](self)).
pub trait Changed {
    /// `true` when this save writes `column`: always on insert, else when `column` is in
    /// `update_fields`.
    fn changed<C: IdenStatic>(&self, column: C) -> bool;
}

fn written(update_fields: Option<&[&str]>, column: &str) -> bool {
    match update_fields {
        None => true,
        Some(fields) => fields.contains(&column),
    }
}

impl<M: ?Sized + Model> Changed for PostSave<'_, M> {
    fn changed<C: IdenStatic>(&self, column: C) -> bool {
        written(self.update_fields, column.as_str())
    }
}

impl<M: ?Sized + Model> Changed for PreSave<'_, M> {
    fn changed<C: IdenStatic>(&self, column: C) -> bool {
        written(self.update_fields, column.as_str())
    }
}
