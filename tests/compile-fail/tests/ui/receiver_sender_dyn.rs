use signals_core::models::PostSave;
use signals_core::prelude::*;

// `dyn Model` is the any-sender form, the default: no `sender =` is needed.
#[receiver(PostSave, sender = dyn Model)]
fn audit(event: &PostSave<'_>) {
    let _ = event.created;
}

fn main() {}
