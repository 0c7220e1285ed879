use signals_core::prelude::*;

pub trait Model: 'static {}

#[derive(Signal)]
#[signal(sender = M)]
pub struct Saved<'a, M: ?Sized + Model = dyn Model> {
    pub instance: &'a M,
}

#[receiver(Saved, sender = String)]
fn handler(_event: &Saved<'_, String>) {}

fn main() {}
