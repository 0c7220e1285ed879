use signals_core::prelude::*;

#[derive(Signal)]
pub struct Tick {
    pub n: u64,
}

#[receiver(Tick, priority = 3000000000)]
fn handler(_event: &Tick) {}

fn main() {}
