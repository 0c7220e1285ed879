use signals_core::prelude::*;

pub trait Model: 'static {}

#[derive(Signal)]
#[signal(sender = M)]
pub struct Exported<'a, M: ?Sized + Model = dyn Model> {
    pub instance: &'a M,
    pub format: String,
    pub rows: u32,
}

fn main() {}
