use signals_core::models::{Model, PostSave};
use signals_core::prelude::*;

pub struct User;
impl Model for User {}

// The parameter names the sender, the attribute does not.
#[receiver(PostSave)]
fn welcome(event: &PostSave<'_, User>) {
    let _ = event.created;
}

fn main() {}
