use signals_core::prelude::*;

#[derive(Signal)]
pub enum Event {
    Saved,
    Deleted,
}

fn main() {}
