use signals_core::models::{Model, PostSave};
use signals_core::prelude::*;

pub struct User;
impl Model for User {}

// Django's `def welcome(sender, instance, created, **kwargs)`.
#[receiver(PostSave, sender = User)]
fn welcome(instance: &User, created: bool) {
    let _ = (instance, created);
}

fn main() {
    let _ = <PostSave<'_, User>>::NAME;
}
