use signals_core::prelude::*;

pub trait Model: 'static {}

#[derive(Signal)]
#[signal(sender = Model)]
pub struct Saved<'a, M: ?Sized + Model = dyn Model> {
    pub instance: &'a M,
}

fn main() {}
