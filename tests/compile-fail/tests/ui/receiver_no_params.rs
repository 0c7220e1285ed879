use signals_core::prelude::*;

#[derive(Signal)]
pub struct Tick {
    pub n: u64,
}

#[receiver(Tick)]
fn handler() {}

fn main() {}
