//! `PostSave::connect(..)` in expression position needs no `::<User>` (nor `<PostSave>`):
//! the sender comes from the closure's parameter type (Rust applies no default type
//! parameter there, so the derive's inherent `connect` forms take it from the closure).
use signals_core::models::{Model, PostSave};

pub struct User;
impl Model for User {}

fn main() {
    let _user = PostSave::connect(|event: &PostSave<'_, User>| {
        let _ = event.created;
    });
    let _any = PostSave::connect(|event: &PostSave<'_>| {
        let _ = event.created;
    });
    let _named = PostSave::connect_with(
        signals_core::ConnectOptions::new().name("audit"),
        |event: &PostSave<'_, User>| {
            let _ = event.instance;
        },
    )
    .unwrap();
    let _async = PostSave::connect_async(|event: &PostSave<'_, User>| {
        let created = event.created;
        Box::pin(async move {
            let _ = created;
        })
    });
}
