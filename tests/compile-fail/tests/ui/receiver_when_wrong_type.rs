use signals_core::models::{Model, PostSave};
use signals_core::prelude::*;

pub struct User {
    pub staff: bool,
}
impl Model for User {}
pub struct Order;
impl Model for Order {}

// A predicate on another payload than the receiver's.
fn is_new_order(event: &PostSave<'_, Order>) -> bool {
    event.created
}

#[receiver(PostSave, sender = User, when = is_new_order)]
fn welcome(_event: &PostSave<'_, User>) {}

// A predicate that does not return `bool`.
fn staff(event: &PostSave<'_, User>) -> Option<bool> {
    Some(event.instance.staff)
}

#[receiver(PostSave, sender = User, when = staff)]
fn notify(_event: &PostSave<'_, User>) {}

fn main() {}
