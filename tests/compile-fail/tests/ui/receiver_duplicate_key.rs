use signals_core::prelude::*;

#[derive(Signal)]
pub struct Tick {
    pub n: u64,
}

#[receiver(Tick, priority = 1, priority = 2)]
fn handler(_event: &Tick) {}

fn main() {}
