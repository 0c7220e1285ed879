use signals_core::models::{ModelEvent, PostDelete, PostSave};
use signals_core::prelude::*;

// A Python list of signals: `@receiver([post_save, post_delete])`.
#[receiver([PostSave, PostDelete])]
fn invalidate(event: &dyn ModelEvent) {
    let _ = event.model_name();
}

fn main() {
    let _ = (<PostSave>::NAME, <PostDelete>::NAME);
}
