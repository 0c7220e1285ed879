use signals_core::prelude::*;

#[derive(Signal)]
pub struct Exported<'a, T: 'static> {
    pub value: &'a T,
}

fn main() {}
