use signals_core::prelude::*;

#[derive(Signal)]
#[signal(max_depth = 0)]
pub struct Loop;

fn main() {}
