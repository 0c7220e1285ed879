use signals_core::prelude::*;

pub trait Model: 'static {}

#[derive(Signal)]
#[signal(sender = M)]
pub struct Saved<'a, M: ?Sized + Model> {
    pub instance: &'a M,
}

fn main() {}
