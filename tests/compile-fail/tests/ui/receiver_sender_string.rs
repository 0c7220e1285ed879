use signals_core::models::{Model, PostSave};
use signals_core::prelude::*;

pub struct User;
impl Model for User {}

// Django's lazy `sender="auth.User"`: here the sender is the type itself.
#[receiver(PostSave, sender = "User")]
fn welcome(event: &PostSave<'_, User>) {
    let _ = event.created;
}

fn main() {}
