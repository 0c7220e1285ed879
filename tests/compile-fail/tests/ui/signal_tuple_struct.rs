use signals_core::prelude::*;

#[derive(Signal)]
pub struct Saved<'a>(pub &'a str);

fn main() {}
