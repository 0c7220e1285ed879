use signals_core::models::{Model, PostSave};
use signals_core::prelude::*;

pub struct User;
impl Model for User {}

fn main() {
    // In expression position Rust does not apply `PostSave`'s default sender (`dyn Model`):
    // write `<PostSave>::connect` (any sender) or `PostSave::<User>::connect`.
    let _connection = PostSave::connect(|event: &PostSave<'_, User>| {
        let _ = event.created;
    });
}
